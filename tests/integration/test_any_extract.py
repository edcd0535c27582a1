"""Any service's extract reaches the store through the real command (issue #16): a
counts-only territory, counts at every level the territory knows (the real SDIS 91 weekly
département totals included), a spring-forward hour in hourly counts, a one-column extract of
alarm times, times with UTC offsets.

Each case writes a small extract (and, when needed, a territory file) in `tmp_path` and runs
`previsecours --home tmp_path …` in-process.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from previsecours.adapters.store import read_counts, read_events
from previsecours.cli import app
from previsecours.settings import load_settings

CATEGORIES = ["SUAP", "ACCI", "INCU", "INCN", "AUTR"]


def run(home: Path, *args: str) -> tuple[int, str]:
    """`previsecours --home HOME ARGS…` in-process: exit code and output (with any crash)."""
    # DVC's log handlers keep the stream of the first run, which CliRunner closes after it.
    for handler in logging.getLogger("dvc").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.stream = sys.__stderr__
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.output + (f"\n{crash!r}" if crash else "")


def write_yaml(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def counts_only_territory(folder: Path) -> Path:
    """A county whose service publishes daily counts only, under its own column names."""
    return write_yaml(
        folder / "countyland.yaml",
        {
            "name": "countyland",
            "timezone": "America/New_York",
            "holidays": {"country": "US", "subdivision": "PA"},
            "bounding_box": {"lat_min": 39.9, "lat_max": 40.5, "lon_min": -75.8, "lon_max": -75.0},
            "categories": ["EMS", "FIRE"],
            "frequency": "day",
            "extract": {
                "counts_columns": {
                    "period_start": "day",
                    "area_code": "district",
                    "category": "kind",
                    "count": "calls",
                },
                "categories": {"Medical": "EMS", "Fire": "FIRE"},
            },
        },
    )


def test_a_counts_only_territory_loads_takes_counts_and_refuses_events(tmp_path: Path) -> None:
    path = counts_only_territory(tmp_path)
    code, out = run(tmp_path, "territory", "-t", str(path))
    assert code == 0, out
    days = pd.date_range("2024-03-01", periods=10, freq="D").strftime("%Y-%m-%d")
    counts = pd.DataFrame(
        [
            (d, a, k, str(i % 7))
            for i, d in enumerate(days)
            for a in "AB"
            for k in ("Medical", "Fire")
        ],
        columns=["day", "district", "kind", "calls"],
    )
    counts.to_csv(tmp_path / "daily.csv", index=False)
    code, out = run(
        tmp_path, "ingest", str(tmp_path / "daily.csv"), "-t", str(path), "--format", "counts"
    )
    assert code == 0, out
    assert "ACCEPTED — 40 rows read, 40 added" in out
    settings = load_settings(str(path), tmp_path)
    stored = read_counts(settings.paths, settings.territory, "day")
    assert sorted(stored["category"].unique()) == ["EMS", "FIRE"]
    assert int(stored["count"].sum()) == sum(int(c) for c in counts["calls"])

    # A counts-only territory's extracts are counts without --format: the scheduled ingestion
    # of its inbox (no option at all) takes them.
    code, out = run(tmp_path, "ingest", str(tmp_path / "daily.csv"), "-t", str(path))
    assert code == 0, out
    assert "ACCEPTED — 40 rows read, 0 added, 40 already stored" in out
    code, out = run(
        tmp_path, "ingest", str(tmp_path / "daily.csv"), "-t", str(path), "--format", "events"
    )
    assert code == 1
    assert "REJECTED" in out
    assert "territory countyland maps no event columns" in " ".join(out.split())


def canonical_weekly(area: str, weeks: int = 8) -> pd.DataFrame:
    mondays = pd.date_range("2023-01-02", periods=weeks, freq="7D").strftime("%Y-%m-%d")
    return pd.DataFrame(
        [(m, area, c, str(100 + i)) for i, m in enumerate(mondays) for c in CATEGORIES],
        columns=["period_start", "area_code", "category", "count"],
    )


@pytest.mark.parametrize(
    ("area", "stored_as"),
    [("91", "essonne"), ("essonne", "essonne"), ("EVRY", "EVRY"), ("91228", "91228")],
)
def test_counts_at_any_level_essonne_knows_enter_its_store(
    tmp_path: Path, area: str, stored_as: str
) -> None:
    canonical_weekly(area).to_csv(tmp_path / "weekly.csv", index=False)
    code, out = run(
        tmp_path, "ingest", str(tmp_path / "weekly.csv"), "-t", "essonne", "--format", "counts"
    )
    assert code == 0, out
    assert "ACCEPTED — 40 rows read, 40 added" in out
    settings = load_settings("essonne", tmp_path)
    stored = read_counts(settings.paths, settings.territory, "week")
    assert set(stored["area_code"]) == {stored_as}


def test_one_store_of_counts_holds_one_level(tmp_path: Path) -> None:
    canonical_weekly("91228").to_csv(tmp_path / "communes.csv", index=False)
    canonical_weekly("91").to_csv(tmp_path / "departement.csv", index=False)
    mixed = pd.concat([canonical_weekly("91228", 2), canonical_weekly("EVRY", 2)])
    mixed.to_csv(tmp_path / "mixed.csv", index=False)
    counts = ("-t", "essonne", "--format", "counts")
    assert run(tmp_path, "ingest", str(tmp_path / "communes.csv"), *counts)[0] == 0
    code, out = run(tmp_path, "ingest", str(tmp_path / "departement.csv"), *counts)
    assert code == 1
    assert "counts at departement level, but the store holds commune counts" in out
    code, out = run(tmp_path, "ingest", str(tmp_path / "mixed.csv"), *counts)
    assert code == 1
    assert "its area codes mix levels" in out


def test_the_real_sdis91_weekly_totals_enter_essonne(tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / "sdis91" / "weekly_totals_by_category_2010_2015.csv"
    code, out = run(
        tmp_path,
        "ingest",
        str(source),
        "-t",
        "essonne",
        "--format",
        "counts",
        "--preset",
        "sdis91-weekly-totals",
    )
    assert code == 0, out
    assert "ACCEPTED — 1555 rows read, 1555 added" in out  # 311 weeks × 5 categories
    settings = load_settings("essonne", tmp_path)
    stored = read_counts(settings.paths, settings.territory, "week")
    raw = pd.read_csv(source)
    assert set(stored["area_code"]) == {"essonne"}
    assert int(stored["count"].sum()) == int(raw[CATEGORIES].to_numpy().sum())
    starts = stored["period_start"].dt.strftime("%G%V").astype(int)
    assert 201501 not in set(starts)  # missing in the source: stays unknown, never zero
    assert starts.nunique() == len(raw) == 311


def test_an_hourly_count_in_the_skipped_spring_hour_is_added_to_the_next(tmp_path: Path) -> None:
    """Naive-local hourly counts on 31 March 2024 (Paris: 02:00 does not exist). The service's
    02:00 row is the hour after 01:00: added to 03:00; the real 03:00 row is kept."""
    hours = [f"2024-03-31T{h:02d}:00:00" for h in range(24)] + ["2024-03-30T23:00:00"]
    counts = pd.DataFrame(
        {
            "period_start": hours,
            "area_code": "91228",
            "category": "SUAP",
            "count": [str(h + 1) for h in range(24)] + ["5"],
        }
    )
    counts.to_csv(tmp_path / "hourly.csv", index=False)
    code, out = run(
        tmp_path, "ingest", str(tmp_path / "hourly.csv"), "-t", "essonne", "--format", "counts"
    )
    assert code == 0, out
    # Rows are told as read: both rows of the sum are added (to one stored hour).
    assert "ACCEPTED — 25 rows read, 25 added, 0 already stored, 0 replaced, 0 quarantined" in out
    settings = load_settings("essonne", tmp_path)
    stored = read_counts(settings.paths, settings.territory, "hour")
    assert len(stored) == 24
    at = stored.set_index(stored["period_start"].dt.strftime("%Y-%m-%d %H:%M"))["count"]
    assert int(at["2024-03-31 03:00"]) == 3 + 4  # the 02:00 row (3) plus the real 03:00 (4)
    assert int(stored["count"].sum()) == sum(int(c) for c in counts["count"])
    # The same file again: nothing twice, both rows "already stored".
    code, out = run(
        tmp_path, "ingest", str(tmp_path / "hourly.csv"), "-t", "essonne", "--format", "counts"
    )
    assert code == 0, out
    assert "25 rows read, 0 added, 25 already stored" in out


def toronto_territory(folder: Path, **extract: Any) -> Path:
    return write_yaml(
        folder / "toronto.yaml",
        {
            "name": "toronto",
            "timezone": "America/Toronto",
            "holidays": {"country": "CA", "subdivision": "ON"},
            "bounding_box": {
                "lat_min": 43.58,
                "lat_max": 43.86,
                "lon_min": -79.64,
                "lon_max": -79.11,
            },
            "categories": ["FIRE"],
            "extract": {
                "columns": {"alert_time": "tfs_alarm_time"},
                "id_from": ["tfs_alarm_time"],
                "constants": {"commune_code": "toronto", "category": "FIRE"},
                **extract,
            },
        },
    )


def alarm_times(start: str, periods: int, suffix: str = "") -> list[str]:
    times = pd.date_range(start, periods=periods, freq="97min")
    return [t.strftime("%Y-%m-%dT%H:%M:%S") + suffix for t in times]


def test_a_one_column_extract_of_alarm_times_ingests_with_constant_area_and_category(
    tmp_path: Path,
) -> None:
    path = toronto_territory(tmp_path)
    extract = tmp_path / "fire_incidents.csv"
    extract.write_text("tfs_alarm_time\n" + "\n".join(alarm_times("2024-06-03", 90)) + "\n")
    code, out = run(tmp_path, "ingest", str(extract), "-t", str(path))
    assert code == 0, out
    assert "ACCEPTED — 90 rows read, 90 added" in out
    events = read_events(
        load_settings(str(path), tmp_path).paths, load_settings(str(path), tmp_path).territory
    )
    assert set(events["commune_code"]) == {"toronto"} and set(events["category"]) == {"FIRE"}
    assert events["intervention_id"].is_unique
    code, out = run(tmp_path, "ingest", str(extract), "-t", str(path))
    assert "90 already stored" in out


@pytest.mark.parametrize(
    ("suffix", "zone_suffix", "first_local"),
    [
        ("Z", None, "2024-06-03 14:00"),  # 18:00 UTC is 14:00 in Toronto (EDT, UTC-4)
        ("+02:00", None, "2024-06-03 12:00"),
        ("Z", "local", "2024-06-03 18:00"),  # the export's Z is in fact local wall-clock time
    ],
)
def test_times_with_an_offset_are_instants_unless_the_mapping_says_local(
    tmp_path: Path, suffix: str, zone_suffix: str | None, first_local: str
) -> None:
    extra = {"time_zone_suffix": zone_suffix} if zone_suffix else {}
    path = toronto_territory(tmp_path, **extra)
    extract = tmp_path / "offsets.csv"
    times = alarm_times("2024-06-03 18:00", 90, suffix)
    extract.write_text("tfs_alarm_time\n" + "\n".join(times) + "\n")
    code, out = run(tmp_path, "ingest", str(extract), "-t", str(path))
    assert code == 0, out
    settings = load_settings(str(path), tmp_path)
    events = read_events(settings.paths, settings.territory)
    assert events["alert_time"].min().strftime("%Y-%m-%d %H:%M") == first_local
