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


def _essonne_doc(repo_root: Path) -> dict:  # type: ignore[type-arg]
    """Essonne's document without its tables, for errors found before they are read."""
    doc = yaml.safe_load((repo_root / "territories" / "essonne.yaml").read_text())
    doc.pop("areas")
    doc.pop("geometry")
    return dict(doc)


DELETE = object()


@pytest.mark.parametrize(
    ("keys", "value", "message"),
    [
        (("extract",), DELETE, r"missing key 'extract' \(the column mapping: see docs/data-and"),
        (
            ("extract", "colums"),
            {"alert_time": "x"},
            r"extract: unknown key 'colums'; a typo of 'c",
        ),
        (("timezone",), DELETE, r"missing key 'timezone' \(an IANA time zone such as Europe"),
        (("holidays", "country"), DELETE, r"missing key 'holidays.country'"),
        (("bounding_box", "lat_min"), DELETE, r"missing key 'bounding_box.lat_min'"),
        (("timezone",), None, r"key 'timezone' has no value"),
        (("extract",), "columns", r"extract: expected a mapping, found str"),
        (("categories",), "SUAP", r"categories: expected a list"),
        (("bounding_box", "lat_min"), "north", r"lat_min: 'north' is not a number"),
        (
            ("timezone",),
            "Mars/Olympus",
            r"unknown time zone 'Mars/Olympus' \(an IANA name such as Europe/Paris\)",
        ),
    ],
)
def test_a_missing_or_wrong_entry_is_named_in_one_line(
    tmp_path: Path, repo_root: Path, keys: tuple[str, ...], value: object, message: str
) -> None:
    doc = _essonne_doc(repo_root)
    section = doc
    for key in keys[:-1]:
        section = section[key]
    if value is DELETE:
        section.pop(keys[-1])
    else:
        section[keys[-1]] = value
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(TerritoryError, match=message) as info:
        load_territory(path)
    assert str(info.value).startswith(f"territory file {path}: ")
    assert "\n" not in str(info.value)
    assert "KeyError" not in str(info.value)


def test_a_misspelt_section_is_suggested(tmp_path: Path, repo_root: Path) -> None:
    doc = _essonne_doc(repo_root)
    doc["extracts"] = doc.pop("extract")
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(TerritoryError, match=r"missing key 'extract' .*; found 'extracts', a typo"):
        load_territory(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n  timezone: [\n", r"invalid YAML at line 2, column 11: mapping values"),
        ("- essonne\n- paris\n", r"expected a YAML mapping .*, found a list"),
        ("", r"expected a YAML mapping .*, found an empty file"),
    ],
)
def test_an_unreadable_territory_file_says_why_in_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(TerritoryError, match=message) as info:
        load_territory(path)
    assert str(info.value).startswith(f"territory file {path}: ")
    assert "\n" not in str(info.value)


def test_a_missing_territory_file_lists_the_known_ones(repo_root: Path) -> None:
    with pytest.raises(
        TerritoryError, match=r"known territories: berlin, denver, essonne, montgomery-pa; or"
    ):
        resolve_territory_path(str(repo_root / "nowhere.yaml"), repo_root / "territories")


def test_a_table_row_missing_a_column_names_it(tmp_path: Path, repo_root: Path) -> None:
    doc = _essonne_doc(repo_root)
    (tmp_path / "communes.csv").write_text("code,name\n91001,Abbéville-la-Rivière\n")
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc | {"areas": {"communes": "communes.csv"}}))
    with pytest.raises(TerritoryError, match=r"communes.csv, line 2: missing column 'population'"):
        load_territory(path)


# ---------------------------------------------------------------- extract mapping (issue #16)


def _extract_doc(repo_root: Path, **extract: Any) -> dict[str, Any]:
    doc = _essonne_doc(repo_root)
    doc["extract"] = extract
    return doc


def _load(tmp_path: Path, doc: dict[str, Any]) -> Territory:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_territory(path)


def test_a_counts_only_territory_maps_no_event_columns(tmp_path: Path, repo_root: Path) -> None:
    """Before: `extract.columns: required canonical columns not mapped: ['intervention_id']`."""
    counts = {"period_start": "semaine", "area_code": "zone", "category": "type", "count": "n"}
    t = _load(tmp_path, _extract_doc(repo_root, counts_columns=counts, counts_preset=None))
    assert not t.mapping.maps_events
    assert t.mapping.counts_columns == counts
    essonne = load_territory(repo_root / "territories" / "essonne.yaml")
    assert essonne.mapping.maps_events


@pytest.mark.parametrize(
    ("extract", "message"),
    [
        ({"columns": {"alert_time": "t"}}, r"not mapped: \['intervention_id', 'commune_code'"),
        ({"columns": {"count": "n"}}, r"\['count'\] are columns of counts: map them under"),
        ({"counts_columns": {"total": "n"}}, r"counts_columns: unknown canonical count column"),
        ({"constants": {"alert_time": "x"}}, r"constants: \['alert_time'\] cannot be constant"),
        (
            {"columns": {"category": "c"}, "constants": {"category": "SUAP"}},
            r"constants: \['category'\] are also mapped",
        ),
        ({"time_zone_suffix": "utc"}, r"time_zone_suffix: 'utc' is not one of offset, local"),
        ({"naive_times": "gmt"}, r"naive_times: 'gmt' is not one of local, utc"),
        ({"wide_counts": {"columns": {}}}, r"wide_counts.columns: map at least one category"),
        ({"wide_counts": {"columns": {"SUAP": "s"}, "tot": "t"}}, r"unknown key\(s\) \['tot'\]"),
        ({"wide_counts": {"columns": {"EMS": "e"}}}, r"undeclared categories \['EMS'\]"),
        (
            {"wide_counts": {"columns": {"SUAP": "s"}, "total": "all"}},
            r"total and remainder go together",
        ),
        (
            {"wide_counts": {"columns": {"SUAP": "s"}, "total": "t", "remainder": "SUAP"}},
            r"remainder: 'SUAP' also has a column",
        ),
        (
            {"wide_counts": {"columns": {"SUAP": "n", "ACCI": "n"}}},
            r"export column\(s\) \['n'\] used twice",
        ),
        (
            {"wide_counts": {"columns": {"SUAP": "s"}}, "counts_columns": {"count": "n"}},
            r"\['count'\] come from the wide columns",
        ),
    ],
)
def test_a_wrong_extract_mapping_is_named(
    tmp_path: Path, repo_root: Path, extract: dict[str, Any], message: str
) -> None:
    with pytest.raises(TerritoryError, match=message):
        _load(tmp_path, _extract_doc(repo_root, **extract))


def test_constants_complete_an_event_mapping_and_survive_writing(
    tmp_path: Path, repo_root: Path
) -> None:
    from previsecours.adapters.territory_files import write_territory

    extract = {
        "columns": {"alert_time": "tfs_alarm_time"},
        "id_from": ["tfs_alarm_time"],
        "constants": {"commune_code": "toronto", "category": "SUAP"},
        "time_zone_suffix": "local",
        "territory_codes": ["T1"],
    }
    t = _load(tmp_path, _extract_doc(repo_root, **extract))
    assert t.mapping.maps_events
    again = load_territory(write_territory(t, tmp_path / "written"))
    assert again.mapping == t.mapping


def test_a_wide_counts_mapping_survives_writing(tmp_path: Path, repo_root: Path) -> None:
    from previsecours.adapters.territory_files import write_territory

    extract = {
        "counts_columns": {"period_start": "day"},
        "constants": {"area_code": "91"},
        "naive_times": "utc",
        "wide_counts": {"columns": {"SUAP": "s", "ACCI": "a"}, "total": "t", "remainder": "AUTR"},
    }
    t = _load(tmp_path, _extract_doc(repo_root, **extract))
    assert t.mapping.wide_counts is not None
    assert t.mapping.wide_counts.categories == ("ACCI", "SUAP", "AUTR")  # the remainder last
    again = load_territory(write_territory(t, tmp_path / "written"))
    assert again.mapping == t.mapping
