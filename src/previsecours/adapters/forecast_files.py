"""Forecast files on disk: `forecasts/<territory>/<issued>.{parquet,csv,staffing.parquet,...}`.

The contract is `core.forecast_schema` (columns, levels, quantiles). Guarantees:
- every file of an issue is written to a temporary name then renamed, the `.json` metadata
  last: an issue whose `.json` exists is complete, and `latest_forecast` only reads those;
- columns are checked against the contract before anything is written;
- the Parquet holds every row; the CSV beside it is for people with a spreadsheet, so it stays
  small: hours only at the station and département levels (`CSV_HOURLY_LEVELS`), days and weeks
  at every level. It opens right in a French spreadsheet (`core.forecast_table.spreadsheet_csv`:
  `;`, decimal comma, French headers, local times with their UTC offset, UTF-8 with a BOM, text
  neutralised against formula injection).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from previsecours.core.forecast_schema import DRIVER_COLUMNS, FORECAST_COLUMNS, STAFFING_COLUMNS
from previsecours.core.forecast_table import spreadsheet_csv
from previsecours.paths import Paths

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
STAMP = re.compile(r"^(\d{8}T\d{6}Z)\.json$")
ANY_ISSUE_FILE = re.compile(
    r"^\.?(\d{8}T\d{6}Z)\.(parquet|csv|staffing\.parquet|drivers\.parquet|json)(\.tmp)?$"
)
# What a forecast killed mid-write leaves (temporary files, an issue's files without its
# metadata, which is written last) is swept once older than this: a forecast writing now is
# never disturbed.
ABANDONED_AFTER_S = 3600.0
# Hourly rows of the CSV: a commune's hours (every commune × category × hour) are the Parquet's.
CSV_HOURLY_LEVELS = ("station", "departement")


@dataclass(frozen=True)
class ForecastFiles:
    forecast: Path
    csv: Path
    staffing: Path
    drivers: Path
    metadata: Path


@dataclass(frozen=True)
class StoredForecast:
    issued_at: pd.Timestamp
    forecast: pd.DataFrame
    staffing: pd.DataFrame
    drivers: pd.DataFrame
    metadata: dict[str, Any]
    files: ForecastFiles


def issue_stamp(issued_at: pd.Timestamp) -> str:
    """`YYYYMMDDTHHMMSSZ` of the issue time in UTC."""
    stamp = pd.Timestamp(issued_at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime(STAMP_FORMAT)


def issue_files(paths: Paths, territory: str, stamp: str) -> ForecastFiles:
    folder = paths.forecasts / territory
    return ForecastFiles(
        forecast=folder / f"{stamp}.parquet",
        csv=folder / f"{stamp}.csv",
        staffing=folder / f"{stamp}.staffing.parquet",
        drivers=folder / f"{stamp}.drivers.parquet",
        metadata=folder / f"{stamp}.json",
    )


def write_forecast(
    paths: Paths,
    territory: str,
    issued_at: pd.Timestamp,
    *,
    forecast: pd.DataFrame,
    staffing: pd.DataFrame,
    drivers: pd.DataFrame,
    metadata: Mapping[str, Any],
) -> ForecastFiles:
    """Write one issue's files; the metadata gets `territory` and `issued_at` added."""
    _check(forecast, FORECAST_COLUMNS, "forecast")
    _check(staffing, STAFFING_COLUMNS, "staffing")
    _check(drivers, DRIVER_COLUMNS, "drivers")
    files = issue_files(paths, territory, issue_stamp(issued_at))
    files.forecast.parent.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(files.forecast.parent)
    table = forecast[list(FORECAST_COLUMNS)]
    _atomic(files.forecast, lambda p: table.to_parquet(p, index=False))
    _atomic(files.csv, lambda p: p.write_text(spreadsheet_csv(csv_rows(table)), encoding="utf-8"))
    _atomic(files.staffing, lambda p: staffing[list(STAFFING_COLUMNS)].to_parquet(p, index=False))
    _atomic(files.drivers, lambda p: drivers[list(DRIVER_COLUMNS)].to_parquet(p, index=False))
    doc = {
        "territory": territory,
        "issued_at": pd.Timestamp(issued_at).tz_convert("UTC").isoformat(),
        **metadata,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
    _atomic(files.metadata, lambda p: p.write_text(text, encoding="utf-8"))
    return files


def sweep_abandoned(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove what killed forecasts left in `folder`: temporary files, and files of an issue
    whose metadata (written last: an issue is complete with it) is missing — once they are
    older than `ABANDONED_AFTER_S`. Returns the files removed."""
    clock = time.time() if now is None else now
    complete = {m.group(1) for p in folder.iterdir() if (m := STAMP.match(p.name))}
    removed = []
    for path in folder.iterdir():
        match = ANY_ISSUE_FILE.match(path.name)
        if not match or not path.is_file():
            continue
        temporary = path.name.endswith(".tmp")
        if not temporary and match.group(1) in complete:
            continue
        if clock - path.stat().st_mtime > ABANDONED_AFTER_S:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def list_issues(paths: Paths, territory: str) -> list[str]:
    """Stamps of the complete issues of a territory, oldest first."""
    folder = paths.forecasts / territory
    if not folder.is_dir():
        return []
    return sorted(m.group(1) for p in folder.iterdir() if (m := STAMP.match(p.name)))


def latest_forecast(paths: Paths, territory: str) -> StoredForecast | None:
    """The newest complete issue of a territory (None when there is none)."""
    issues = list_issues(paths, territory)
    return read_issue(paths, territory, issues[-1]) if issues else None


def read_metadata(paths: Paths, territory: str, stamp: str) -> dict[str, Any]:
    """An issue's `.json` metadata (model, data version, `start` = its first period, …)."""
    text = issue_files(paths, territory, stamp).metadata.read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def read_forecast_rows(
    paths: Paths,
    territory: str,
    stamp: str,
    *,
    frequencies: tuple[str, ...],
    since: pd.Timestamp,
) -> pd.DataFrame:
    """The forecast rows of an issue at `frequencies` whose period starts at `since` or later,
    read without loading the rest of the issue."""
    filters = [("frequency", "in", list(frequencies)), ("period_start", ">=", since)]
    return pd.read_parquet(issue_files(paths, territory, stamp).forecast, filters=filters)


def read_issue(paths: Paths, territory: str, stamp: str) -> StoredForecast:
    files = issue_files(paths, territory, stamp)
    metadata = read_metadata(paths, territory, stamp)
    return StoredForecast(
        issued_at=pd.Timestamp(metadata["issued_at"]),
        forecast=pd.read_parquet(files.forecast),
        staffing=pd.read_parquet(files.staffing),
        drivers=pd.read_parquet(files.drivers),
        metadata=metadata,
        files=files,
    )


def _check(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: columns missing from the forecast contract: {missing}")


def csv_rows(forecast: pd.DataFrame) -> pd.DataFrame:
    """The rows of the CSV: hours at `CSV_HOURLY_LEVELS` only, days and weeks at every level."""
    keep = (forecast["frequency"] != "hour") | forecast["level"].isin(CSV_HOURLY_LEVELS)
    return forecast[keep]


def _atomic(target: Path, write: Any) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    write(tmp)
    tmp.replace(target)


def read_current_crews(paths: Paths, name: str | None) -> dict[str, int] | None:
    """Crews held today per station, from the optional CSV `staffing.current_crews_file`
    (`station_code,crews`; relative to the home)."""
    if not name:
        return None
    path = Path(name) if Path(name).is_absolute() else paths.home / name
    table = pd.read_csv(path, dtype={"station_code": str})
    return {
        str(code): int(crews)
        for code, crews in zip(table["station_code"], table["crews"], strict=True)
    }
