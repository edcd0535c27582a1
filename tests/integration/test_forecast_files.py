"""Forecast files: the contract's columns, complete issues only, spreadsheet-friendly CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from previsecours.adapters import forecast_files
from previsecours.core.forecast_schema import DRIVER_COLUMNS, FORECAST_COLUMNS, STAFFING_COLUMNS
from previsecours.paths import Paths

TZ = "Europe/Paris"


def _frames(issued: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    starts = pd.date_range(pd.Timestamp("2025-10-26 01:00", tz=TZ), periods=3, freq="h")
    forecast = pd.DataFrame(
        {
            "territory": "essonne",
            "issued_at": issued,
            "frequency": "hour",
            "period_start": starts,
            "period_end": starts + pd.Timedelta(hours=1),
            "level": "commune",
            "area_code": "91228",
            "area_name": "Évry-Courcouronnes",
            "category": "SUAP",
            "mean": [1.5, 1.2, 0.9],
            "p02_5": 0.0,
            "p10": 0.0,
            "p50": 1.0,
            "p90": 3.0,
            "p97_5": 4.0,
            "ref_3y_mean": [1.0, float("nan"), 2.0],
            "model_name": "previsecours-essonne",
            "model_version": "3",
            "data_version": "abc",
        }
    )
    staffing = pd.DataFrame({c: [1] for c in STAFFING_COLUMNS})
    drivers = pd.DataFrame({c: ["x"] for c in DRIVER_COLUMNS})
    return forecast, staffing, drivers


def test_write_then_read_the_latest_complete_issue(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    assert forecast_files.latest_forecast(paths, "essonne") is None
    older = pd.Timestamp("2026-01-05 06:00", tz="UTC")
    newer = pd.Timestamp("2026-01-06 06:00", tz="UTC")
    for issued in (older, newer):
        forecast, staffing, drivers = _frames(issued)
        files = forecast_files.write_forecast(
            paths,
            "essonne",
            issued,
            forecast=forecast,
            staffing=staffing,
            drivers=drivers,
            metadata={"model_version": "3", "inputs": {"interventions": "2026-01-05T23:59:00"}},
        )
    assert files.forecast.name == "20260106T060000Z.parquet"
    # An issue whose metadata is not written yet is incomplete: readers skip it.
    (files.forecast.parent / "20260107T060000Z.parquet").write_bytes(b"partial")
    stored = forecast_files.latest_forecast(paths, "essonne")
    assert stored is not None
    assert stored.issued_at == newer
    assert tuple(stored.forecast.columns) == FORECAST_COLUMNS
    assert str(stored.forecast["period_start"].dt.tz) == TZ
    assert stored.metadata["territory"] == "essonne"
    assert forecast_files.list_issues(paths, "essonne") == ["20260105T060000Z", "20260106T060000Z"]
    # A commune's hours are the Parquet's only: the CSV keeps hours at station level and above.
    assert forecast_files.csv_rows(stored.forecast).empty
    assert json.loads(files.metadata.read_text("utf-8"))["issued_at"] == newer.isoformat()


def test_a_frame_breaking_the_contract_is_refused(tmp_path: Path) -> None:
    forecast, staffing, drivers = _frames(pd.Timestamp("2026-01-05", tz="UTC"))
    with pytest.raises(ValueError, match="ref_3y_mean"):
        forecast_files.write_forecast(
            Paths(tmp_path),
            "essonne",
            pd.Timestamp("2026-01-05", tz="UTC"),
            forecast=forecast.drop(columns="ref_3y_mean"),
            staffing=staffing,
            drivers=drivers,
            metadata={},
        )
    assert not (tmp_path / "forecasts").exists() or not any((tmp_path / "forecasts").rglob("*"))


def test_the_csv_opens_right_in_a_french_spreadsheet_and_stays_small(tmp_path: Path) -> None:
    issued = pd.Timestamp("2025-10-25 04:00", tz="UTC")
    hourly, staffing, drivers = _frames(issued)
    station = hourly.assign(level="station", area_code="EVRY", area_name="=CSP EVRY")
    daily = hourly.iloc[:1].assign(
        frequency="day",
        period_start=pd.Timestamp("2025-10-26", tz=TZ),
        period_end=pd.Timestamp("2025-10-27", tz=TZ),
        category="ALL",
        mean=36.25,
    )
    forecast = pd.concat([hourly, station, daily], ignore_index=True)
    files = forecast_files.write_forecast(
        Paths(tmp_path),
        "essonne",
        issued,
        forecast=forecast,
        staffing=staffing,
        drivers=drivers,
        metadata={},
    )
    raw = files.csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: the accents read right
    text = raw.decode("utf-8-sig")
    header = text.splitlines()[0]
    assert header.split(";")[:8] == [
        "Territoire",
        "Émise le",
        "Pas de temps",
        "Début de période",
        "Décalage UTC",
        "Fin de période",
        "Niveau",
        "Code zone",
    ]
    assert "Prévision moyenne;Intervalle 95 % bas;Intervalle 80 % bas;Médiane" in header
    csv = pd.read_csv(files.csv, sep=";", decimal=",", encoding="utf-8-sig", dtype=str)
    # Hours of the station, not of the commune; the commune's day is there.
    assert list(zip(csv["Pas de temps"], csv["Niveau"], strict=True)) == [
        ("heure", "zone de couverture"),
        ("heure", "zone de couverture"),
        ("heure", "zone de couverture"),
        ("jour", "commune"),
    ]
    # Local times a spreadsheet reads as dates; the repeated autumn hour keeps its offset.
    assert list(csv["Début de période"]) == [
        "26/10/2025 01:00",
        "26/10/2025 02:00",
        "26/10/2025 02:00",
        "26/10/2025 00:00",
    ]
    assert list(csv["Décalage UTC"]) == ["UTC+02:00", "UTC+02:00", "UTC+01:00", "UTC+02:00"]
    assert csv["Émise le"].iloc[0] == "25/10/2025 06:00"
    assert list(csv["Prévision moyenne"]) == ["1,5", "1,2", "0,9", "36,25"]
    assert list(csv["Même période, moyenne sur 3 ans"].fillna("")) == ["1", "", "2", "1"]
    assert csv["Catégorie"].iloc[-1] == "toutes catégories"
    # A name a spreadsheet would run as a formula is text.
    assert csv["Zone"].iloc[0] == "'=CSP EVRY"
    assert csv["Zone"].iloc[-1] == "Évry-Courcouronnes"
    numbers = pd.read_csv(files.csv, sep=";", decimal=",", encoding="utf-8-sig")
    assert numbers["Prévision moyenne"].sum() == pytest.approx(1.5 + 1.2 + 0.9 + 36.25)


def test_what_a_killed_forecast_left_is_swept_once_abandoned(tmp_path: Path) -> None:
    """A forecast killed mid-write leaves `.<file>.tmp` files and an issue without its
    metadata (written last): the next forecast removes them once older than an hour, and
    never touches a complete issue or a write still under way (issue #17, item 7)."""
    import os
    import time

    paths = Paths(tmp_path)
    issued = pd.Timestamp("2026-01-05 06:00", tz="UTC")
    forecast, staffing, drivers = _frames(issued)
    kept = forecast_files.write_forecast(
        paths,
        "essonne",
        issued,
        forecast=forecast,
        staffing=staffing,
        drivers=drivers,
        metadata={},
    )
    folder = kept.forecast.parent
    killed = [folder / "20260106T060000Z.parquet", folder / ".20260106T060000Z.csv.tmp"]
    writing = folder / ".20260107T060000Z.parquet.tmp"  # another forecast, writing now
    for path in (*killed, writing):
        path.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    for path in (*killed, kept.forecast, kept.metadata):
        os.utime(path, (two_hours_ago, two_hours_ago))
    later = pd.Timestamp("2026-01-08 06:00", tz="UTC")
    forecast_files.write_forecast(
        paths,
        "essonne",
        later,
        forecast=_frames(later)[0],
        staffing=staffing,
        drivers=drivers,
        metadata={},
    )
    assert not any(p.exists() for p in killed)
    assert writing.exists() and kept.forecast.exists() and kept.metadata.exists()
    assert forecast_files.list_issues(paths, "essonne") == ["20260105T060000Z", "20260108T060000Z"]
