"""The territory model: Essonne loads, and every broken definition names its file and entry."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

from previsecours.adapters.territory_files import load_territory, resolve_territory_path
from previsecours.core.territory import Territory, TerritoryError

EditDoc = Callable[[dict[str, Any]], object]
EditLines = Callable[[list[str]], list[str]]


class WriteTerritory(Protocol):
    def __call__(
        self,
        edit_doc: EditDoc | None = None,
        table: str | None = None,
        edit_lines: EditLines | None = None,
    ) -> Path: ...


def test_essonne_has_its_areas(essonne: Territory) -> None:
    assert len(essonne.communes) == 196
    assert len(essonne.stations) == 50
    assert len(essonne.coverage_zones) == 34
    assert sum(c.population for c in essonne.communes) == 1_338_485
    assert {s.type for s in essonne.stations} == {"CSP", "CS", "CPI"}
    shares = essonne.shares_by_commune()
    assert all(abs(sum(z.values()) - 1) < 1e-9 for z in shares.values())
    for zone in essonne.coverage_zones:
        assert essonne.zone_station(zone) is not None, zone


def test_resolves_name_or_path(repo_root: Path) -> None:
    tdir = repo_root / "territories"
    assert resolve_territory_path("essonne", tdir) == (tdir / "essonne.yaml").resolve()
    assert resolve_territory_path(str(tdir / "essonne.yaml"), tdir).name == "essonne.yaml"
    with pytest.raises(TerritoryError, match="no such territory file"):
        resolve_territory_path("atlantis", tdir)


@pytest.fixture
def broken(tmp_path: Path, repo_root: Path) -> WriteTerritory:
    """A writable copy of the Essonne territory, and a function to edit it."""
    shutil.copytree(repo_root / "territories" / "essonne", tmp_path / "essonne")
    yaml_path = tmp_path / "essonne.yaml"
    doc = yaml.safe_load((repo_root / "territories" / "essonne.yaml").read_text())

    def write(
        edit_doc: EditDoc | None = None,
        table: str | None = None,
        edit_lines: EditLines | None = None,
    ) -> Path:
        if edit_doc:
            edit_doc(doc)
        yaml_path.write_text(yaml.safe_dump(doc))
        if table:
            assert edit_lines is not None, "a table is edited by edit_lines"
            path = tmp_path / "essonne" / table
            lines = path.read_text().splitlines()
            path.write_text("\n".join(edit_lines(lines)) + "\n")
        return yaml_path

    return write


def _duplicate_first(lines: list[str]) -> list[str]:
    return [*lines, lines[1]]


def _station_far_away(lines: list[str]) -> list[str]:
    fields = lines[1].split(",")
    fields[4] = "45.0"
    return [lines[0], ",".join(fields), *lines[2:]]


def _shares_off(lines: list[str]) -> list[str]:
    fields = lines[1].split(",")
    fields[2] = str(float(fields[2]) - 5)
    return [lines[0], ",".join(fields), *lines[2:]]


@pytest.mark.parametrize(
    ("edit_doc", "table", "edit_lines", "message"),
    [
        (None, "communes.csv", _duplicate_first, r"communes: duplicate code '91001'"),
        (None, "stations.csv", _station_far_away, r"stations: ARPAJ .* outside the bounding box"),
        (None, "coverage_shares.csv", _shares_off, r"commune 91001 sum to 95\.00"),
        (lambda d: d.update(timezone="Europe/Atlantis"), None, None, r"unknown time zone"),
        (lambda d: d["holidays"].update(country="XX"), None, None, r"unknown holiday country"),
        (lambda d: d.update(frequency="minute"), None, None, r"frequency: 'minute'"),
        (lambda d: d["extract"]["columns"].pop("alert_time"), None, None, r"alert_time"),
        (lambda d: d["extract"]["categories"].update(XYZ="FOO"), None, None, r"\['FOO'\]"),
    ],
)
def test_broken_territory_names_file_and_entry(
    broken: WriteTerritory,
    edit_doc: EditDoc | None,
    table: str | None,
    edit_lines: EditLines | None,
    message: str,
) -> None:
    path = broken(edit_doc, table, edit_lines)
    with pytest.raises(TerritoryError, match=message) as info:
        load_territory(path)
    assert str(path) in str(info.value)


def test_areas_may_be_omitted(broken: WriteTerritory) -> None:
    """A service whose extract only names districts still has a usable territory."""
    path = broken(lambda d: d.pop("areas"))
    t = load_territory(path)
    assert not t.lists_areas
    assert t.coverage_shares == ()
