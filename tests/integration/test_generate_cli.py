"""`previsecours generate` end to end: files, bytes, the dirty manifest checked against the file."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from previsecours.adapters.export_files import FileFormat
from previsecours.cli import app
from previsecours.core.territory import Territory
from previsecours.ops.generate import GenerateRequest, generate_extract

HEADER = [
    "num_intervention",
    "date_heure_alerte",
    "code_insee",
    "nom_commune",
    "categorie",
    "motif",
    "cis_premier_engage",
    "latitude",
    "longitude",
    "duree_engagement_min",
]
TIME_FORMAT = "%d/%m/%Y %H:%M:%S"


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generate_help() -> None:
    output = run("generate", "--help")
    for option in ("--start", "--end", "--seed", "--out", "--format", "--dirty", "--encoding"):
        assert option in output


def test_a_small_cli_run(tmp_path: Path) -> None:
    out = tmp_path / "extract.csv"
    output = run(
        "--home", str(tmp_path), "generate", "--start", "2024-07-13", "--end", "2024-07-15",
        "--seed", "3", "--out", str(out),
    )  # fmt: skip
    assert "interventions" in output
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ";".join(HEADER)
    frame = pd.read_csv(out, sep=";", dtype=str)
    assert len(frame) > 500  # ~250 a day
    parsed = pd.to_datetime(frame["date_heure_alerte"], format=TIME_FORMAT)
    assert parsed.min() >= pd.Timestamp("2024-07-13") and parsed.max() < pd.Timestamp("2024-07-16")


def test_the_default_output_goes_to_the_inbox(tmp_path: Path) -> None:
    run("--home", str(tmp_path), "generate", "--start", "2024-01-01", "--end", "2024-01-01")
    assert (tmp_path / "data" / "inbox" / "essonne_2024-01-01_2024-01-01.csv").is_file()


@pytest.mark.parametrize(
    ("file_format", "dirty"), [("csv", False), ("parquet", False), ("csv", True)]
)
def test_same_seed_same_bytes_other_seed_other_bytes(
    tmp_path: Path, essonne: Territory, file_format: FileFormat, dirty: bool
) -> None:
    def write(name: str, seed: int) -> Path:
        request = GenerateRequest(
            start=date(2024, 3, 25), end=date(2024, 4, 3), seed=seed,
            out=tmp_path / f"{name}.{file_format}", file_format=file_format,
            dirty=dirty,
        )  # fmt: skip
        generate_extract(essonne, request)
        return request.out

    first, again, other = write("a", 7), write("b", 7), write("c", 8)
    assert digest(first) == digest(again)
    assert digest(first) != digest(other)


def test_latin1_encoding(tmp_path: Path, essonne: Territory) -> None:
    out = tmp_path / "latin.csv"
    request = GenerateRequest(date(2024, 5, 1), date(2024, 5, 2), 1, out, encoding="latin-1")
    generate_extract(essonne, request)
    text = out.read_bytes().decode("latin-1")
    assert "é" in text  # accented names and motifs survive
    with pytest.raises(UnicodeDecodeError):
        out.read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def dirty_file(tmp_path_factory: pytest.TempPathFactory, essonne: Territory) -> Path:
    out = tmp_path_factory.mktemp("dirty") / "dirty.csv"
    request = GenerateRequest(date(2024, 2, 1), date(2024, 2, 29), 9, out, dirty=True)
    generate_extract(essonne, request)
    return out


def found_defects(fields: list[str], n_columns: int, essonne: Territory) -> set[str]:
    """The defects a row really has, judged from its text alone (ids are checked apart)."""
    if len(fields) < n_columns:
        return {"truncated_row"}
    row = dict(zip(HEADER, fields, strict=False))
    found = set()
    if row["code_insee"] not in essonne.commune_codes:
        found.add("unknown_commune")
    if row["categorie"] not in essonne.mapping.categories:
        found.add("unknown_category")
    time = row["date_heure_alerte"]
    if time == "":
        found.add("missing_time")
    else:
        try:
            moment = datetime.strptime(time, TIME_FORMAT)
        except ValueError:
            found.add("unparsable_time")
        else:
            if moment.year > 2030:
                found.add("future_time")
    box = essonne.bounding_box
    if not box.contains(float(row["latitude"]), float(row["longitude"])):
        found.add("outside_territory")
    return found


def test_the_manifest_matches_the_file_row_for_row(dirty_file: Path, essonne: Territory) -> None:
    manifest = json.loads(dirty_file.with_name("dirty.csv.manifest.json").read_text("utf-8"))
    raw = dirty_file.read_bytes()
    assert not raw.endswith(b"\n")
    lines = list(csv.reader(raw.decode("latin-1").splitlines(), delimiter=";"))
    header, data = lines[0], lines[1:]
    assert header == [*HEADER, "nom_victime", "adresse", "telephone"]
    assert manifest["file"] == "dirty.csv"
    assert manifest["encoding"] == "latin-1" and manifest["separator"] == ";"
    assert manifest["rows"] == len(data)
    assert manifest["personal_data_columns"] == ["nom_victime", "adresse", "telephone"]
    assert manifest["truncated_last_line"] is True

    listed = {d["row"]: d for d in manifest["defects"]}
    assert len(listed) == len(manifest["defects"])  # one defect per row
    id_count = Counter(fields[0] for fields in data)
    for number, fields in enumerate(data, start=1):
        found = found_defects(fields, len(header), essonne)
        if id_count[fields[0]] > 1:
            found.add("duplicate_id")
        expected = {listed[number]["defect"]} if number in listed else set()
        assert found == expected, (number, fields)
        if number in listed:
            assert listed[number]["intervention_id"] == fields[0]
            assert listed[number]["column"] in header
    codes = Counter(d["defect"] for d in manifest["defects"])
    assert len(codes) == 8
    assert sum(codes.values()) <= 0.02 * len(data)


def test_a_dirty_parquet_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--home", str(tmp_path), "generate", "--start", "2024-01-01", "--end", "2024-01-02",
         "--format", "parquet", "--dirty"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "dirty" in result.output
