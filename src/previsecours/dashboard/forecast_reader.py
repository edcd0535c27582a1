"""Read the latest forecast file set of a territory, as `core.forecast_schema` defines it.

`latest_issue` finds the newest complete issue (`<YYYYMMDDTHHMMSSZ>.parquet` and its `.json`)
under `forecasts/<territory>/`; `read_forecast_set` loads it with its staffing, drivers and
metadata. The forecast file is required; the others are optional (a missing one becomes an
empty frame, missing metadata is taken from the forecast's own columns), so the page still
shows what exists. Columns are checked against the contract: a file that breaks it
raises `ForecastFileError` naming the file and the missing columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from previsecours.adapters import forecast_files
from previsecours.core.forecast_schema import DRIVER_COLUMNS, FORECAST_COLUMNS, STAFFING_COLUMNS
from previsecours.errors import StepError
from previsecours.paths import Paths


class ForecastFileError(StepError, ValueError):
    """A forecast file that does not follow the contract."""


@dataclass(frozen=True)
class Metadata:
    """What the page always shows: which model, which data, when, and how fresh each input is."""

    issued_at: pd.Timestamp
    model_name: str
    model_version: str
    data_version: str
    horizon: str
    inputs: dict[str, pd.Timestamp | None] = field(default_factory=dict)
    # Written by the forecast step since issue #16 (absent from older files: empty).
    data_stale: dict[str, Any] | None = None
    champion_backtest: dict[str, Any] = field(default_factory=dict)
    staffing_note: str = ""


@dataclass(frozen=True)
class ForecastSet:
    """One issue of the forecast: the four files, read."""

    path: Path
    forecast: pd.DataFrame
    staffing: pd.DataFrame
    drivers: pd.DataFrame
    metadata: Metadata


def latest_issue(paths: Paths, territory: str) -> Path | None:
    """The forecast file of the newest complete issue of `territory` (None if none).

    Completeness is the writer's own rule (`adapters.forecast_files`: the `.json` metadata is
    written last), so a forecast being written is never read half-done.
    """
    for stamp in reversed(forecast_files.list_issues(paths, territory)):
        path = forecast_files.issue_files(paths, territory, stamp).forecast
        if path.is_file():
            return path
    return None


def read_forecast_set(path: Path, timezone: str) -> ForecastSet:
    """Read `<issued>.parquet` and its sibling files; period times in the territory's zone."""
    stem = path.name.removesuffix(".parquet")
    forecast = _read_checked(path, FORECAST_COLUMNS)
    for column in ("period_start", "period_end"):
        forecast[column] = _local(forecast[column], timezone)
    staffing = _read_optional(path.with_name(f"{stem}.staffing.parquet"), STAFFING_COLUMNS)
    for column in ("shift_start", "shift_end"):
        staffing[column] = _local(staffing[column], timezone)
    drivers = _read_optional(path.with_name(f"{stem}.drivers.parquet"), DRIVER_COLUMNS)
    drivers["period_start"] = _local(drivers["period_start"], timezone)
    metadata = _metadata(path.with_name(f"{stem}.json"), forecast, stem)
    return ForecastSet(path, forecast, staffing, drivers, metadata)


def _read_checked(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ForecastFileError(f"{path}: columns missing from the forecast contract: {missing}")
    return frame


def _read_optional(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    return _read_checked(path, columns)


def _local(series: pd.Series, timezone: str) -> pd.Series:
    """Timestamps in the territory's zone (naive values are taken as already local)."""
    values = pd.to_datetime(series)
    if values.dt.tz is None:
        return values.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    return values.dt.tz_convert(timezone)


def _metadata(path: Path, forecast: pd.DataFrame, stem: str) -> Metadata:
    """The `.json` metadata, falling back to the forecast's own columns for what it lacks."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    model: dict[str, Any] = doc["model"] if isinstance(doc.get("model"), dict) else {}

    def first(*values: Any) -> str:
        return next((str(v) for v in values if v not in (None, "")), "inconnu")

    def column(name: str) -> Any:
        return forecast[name].iloc[0] if len(forecast) else None

    issued = doc.get("issued_at") or pd.to_datetime(stem, format="%Y%m%dT%H%M%SZ", utc=True)
    inputs: dict[str, Any] = doc["inputs"] if isinstance(doc.get("inputs"), dict) else {}
    return Metadata(
        issued_at=_utc(issued),
        model_name=first(doc.get("model_name"), model.get("name"), column("model_name")),
        model_version=first(
            doc.get("model_version"), model.get("version"), column("model_version")
        ),
        data_version=first(doc.get("data_version"), column("data_version")),
        horizon=first(doc.get("horizon")),
        inputs={str(k): (_utc(v) if v else None) for k, v in inputs.items()},
        data_stale=doc["data_stale"] if isinstance(doc.get("data_stale"), dict) else None,
        champion_backtest=_dict(doc.get("champion_backtest")),
        staffing_note=str(_dict(doc.get("staffing")).get("note") or ""),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _utc(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
