"""What becomes of each row of a validated extract: accepted, quarantined (and why), merged.

Guarantees:
- every row of an extract ends in exactly one place: quarantined (with every reason and the
  column at fault), already stored (identical content), added, or replacing a stored row; the
  counts reconcile (read = quarantined + accepted);
- a row whose key is already stored with different content is a `conflict`: quarantined, unless
  the caller asked its corrected extract to win (`replace`);
- the merged store never holds one key twice;
- the volume check compares whole days of the extract with the history of the same weekday.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from previsecours.config import IngestParams
from previsecours.core.ingest import ROW
from previsecours.core.ingest_report import RowReason
from previsecours.core.schema import COUNT_COLUMNS
from previsecours.core.territory import Territory

EVENT_KEY: Final = ("intervention_id",)
COUNT_KEY: Final = ("period_start", "area_code", "category")
CONFLICT: Final = "conflict"
TRUNCATED: Final = "truncated_row"


@dataclass(frozen=True)
class RowFailure:
    """One row-level expectation that failed: its reason, the column, the failing positions."""

    reason: str
    column: str
    positions: tuple[int, ...]


def row_issues(failures: Sequence[RowFailure], frame: pd.DataFrame) -> pd.DataFrame:
    """One line per (row, reason): `position` (0-based), `row` (1-based), `reason`, `column`.

    A truncated row keeps that single reason: its other failures are consequences of the cut.
    """
    parts = [
        pd.DataFrame(
            {
                "position": np.asarray(f.positions, dtype="int64"),
                "reason": f.reason,
                "column": f.column,
            }
        )
        for f in failures
        if f.positions
    ]
    if not parts:
        return pd.DataFrame(
            {
                "position": pd.Series(dtype="int64"),
                "row": pd.Series(dtype="int64"),
                "reason": pd.Series(dtype="string"),
                "column": pd.Series(dtype="string"),
            }
        )
    issues = pd.concat(parts, ignore_index=True)
    truncated = set(issues.loc[issues["reason"] == TRUNCATED, "position"])
    issues = issues[~issues["position"].isin(truncated) | (issues["reason"] == TRUNCATED)]
    issues = issues.drop_duplicates(["position", "reason"])
    issues.insert(1, "row", frame[ROW].to_numpy()[issues["position"].to_numpy()])
    return issues.sort_values(["row", "reason"], ignore_index=True).astype(
        {"reason": "string", "column": "string"}
    )


def quarantine_table(
    frame: pd.DataFrame, issues: pd.DataFrame, keep: Sequence[str]
) -> pd.DataFrame:
    """The quarantined rows: their `row`, the kept (canonical) columns, and every reason."""
    if issues.empty:
        return frame.iloc[0:0].loc[:, [ROW, *keep]].assign(reasons="", columns="")
    grouped = issues.groupby("position", sort=True).agg(
        reasons=("reason", ";".join), columns=("column", ";".join)
    )
    rows = frame.iloc[grouped.index.to_numpy()].loc[:, [ROW, *keep]].reset_index(drop=True)
    return rows.assign(reasons=grouped["reasons"].to_numpy(), columns=grouped["columns"].to_numpy())


@dataclass(frozen=True)
class StoreMerge:
    """The store after a merge, and where each accepted row went (positions in `incoming`)."""

    merged: pd.DataFrame
    added: int
    unchanged: int
    replaced: int
    conflicts: tuple[int, ...]


def merge_into_store(
    stored: pd.DataFrame, incoming: pd.DataFrame, key: Sequence[str], replace: bool
) -> StoreMerge:
    """Deduplicated union of `stored` and `incoming` (same columns, keys unique in each).

    Identical rows are kept once; a key stored with different content is a conflict, left out
    (and reported) unless `replace`, in which case the incoming row wins.
    """
    keys = list(key)
    values = [c for c in incoming.columns if c not in keys]
    probe = incoming.reset_index(drop=True).reset_index(names="_position")
    both = probe.merge(stored, on=keys, how="inner", suffixes=("", "_stored"))
    differs = np.zeros(len(both), dtype=bool)
    for col in values:
        new, old = both[col], both[f"{col}_stored"]
        same = (new == old).fillna(False).to_numpy(dtype=bool) | (
            new.isna().to_numpy() & old.isna().to_numpy()
        )
        differs |= ~same
    conflict_positions = both.loc[differs, "_position"].to_numpy()
    known_positions = both["_position"].to_numpy()
    is_new = ~np.isin(np.arange(len(incoming)), known_positions)
    incoming = incoming.reset_index(drop=True)
    if replace and len(conflict_positions):
        replaced_keys = incoming.iloc[conflict_positions][keys]
        kept = stored.merge(replaced_keys, on=keys, how="left", indicator=True)
        stored = kept[kept["_merge"] == "left_only"].drop(columns="_merge")
        take = is_new | np.isin(np.arange(len(incoming)), conflict_positions)
    else:
        take = is_new
    merged = pd.concat([stored, incoming[take]], ignore_index=True)
    return StoreMerge(
        merged=merged,
        added=int(is_new.sum()),
        unchanged=int(len(both) - differs.sum()),
        replaced=len(conflict_positions) if replace else 0,
        conflicts=() if replace else tuple(int(p) for p in conflict_positions),
    )


def daily_volume(times: pd.Series, history: pd.Series, params: IngestParams) -> pd.DataFrame:
    """Whole days of the extract (first and last day excluded: usually partial), one row each:
    `day`, `count`, `min_count` (1 where a day without any intervention is implausible) and
    `max_count` (volume factor × the historical median of that weekday, when history has enough
    such days; otherwise unbounded)."""
    days = _daily_counts(times)
    if len(days) <= 2:
        return pd.DataFrame({"day": [], "count": [], "min_count": [], "max_count": []})
    days = days.iloc[1:-1]
    past = _daily_counts(history)
    past = past.iloc[1:-1] if len(past) > 2 else past.iloc[0:0]
    by_weekday = past.groupby(pd.DatetimeIndex(past.index).day_of_week).agg(["median", "size"])
    index = pd.DatetimeIndex(days.index)
    weekday = index.day_of_week
    median = by_weekday["median"].reindex(weekday).to_numpy(dtype="float64")
    enough = by_weekday["size"].reindex(weekday).fillna(0).to_numpy() >= (
        params.volume_min_history_days
    )
    typical = np.where(enough, median, float(days.median()))
    unbounded = float(days.max()) + 1.0
    return pd.DataFrame(
        {
            "day": index.strftime("%Y-%m-%d"),
            "count": days.to_numpy(dtype="float64"),
            "min_count": (typical >= params.volume_min_daily_mean).astype("float64"),
            "max_count": np.where(enough, params.volume_factor * median, unbounded),
        }
    )


def _daily_counts(times: pd.Series) -> pd.Series:
    local = times.dropna()
    if local.empty:
        return pd.Series(dtype="int64")
    days = local.dt.tz_localize(None).dt.normalize()
    counts = days.value_counts().sort_index()
    full = pd.date_range(counts.index.min(), counts.index.max(), freq="D")
    filled: pd.Series = counts.reindex(full, fill_value=0)
    return filled


def suite_parameters(territory: Territory, params: IngestParams, now: datetime) -> dict[str, Any]:
    """Values the suites' `$PARAMETER`s take for this territory, these params and this time."""
    now_s = pd.Timestamp(now).timestamp()
    box = territory.bounding_box
    return {
        "now_epoch_s": now_s,
        "oldest_epoch_s": now_s - params.oldest_plausible_years * 365.25 * 86400,
        "areas": sorted(territory.commune_codes),
        "categories": list(territory.categories),
        "lat_min": box.lat_min,
        "lat_max": box.lat_max,
        "lon_min": box.lon_min,
        "lon_max": box.lon_max,
        "duration_min": params.duration_min_range[0],
        "duration_max": params.duration_min_range[1],
    }


def counts_part(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.loc[:, list(COUNT_COLUMNS)].reset_index(drop=True)
    return out.astype({"count": "int64"})


def with_conflicts(
    issues: pd.DataFrame, frame: pd.DataFrame, valid: np.ndarray, merge: StoreMerge, fmt: str
) -> pd.DataFrame:
    if not merge.conflicts:
        return issues
    positions = np.flatnonzero(valid)[list(merge.conflicts)]
    column = "intervention_id" if fmt == "events" else "count"
    extra = pd.DataFrame(
        {
            "position": positions.astype("int64"),
            "row": frame[ROW].to_numpy()[positions],
            "reason": pd.Series([CONFLICT] * len(positions), dtype="string"),
            "column": pd.Series([column] * len(positions), dtype="string"),
        }
    )
    return pd.concat([issues, extra], ignore_index=True).sort_values(["row", "reason"])


def first_reasons(issues: pd.DataFrame, limit: int = 3) -> str:
    head = issues.head(limit)
    return "; ".join(f"row {r.row} {r.reason} ({r.column})" for r in head.itertuples())


def row_reasons(issues: pd.DataFrame, frame: pd.DataFrame, kind: str) -> tuple[RowReason, ...]:
    key_column = "intervention_id" if kind == "events" else "key"
    keys = frame[key_column].astype("string").fillna("").to_numpy()
    return tuple(
        RowReason(int(row), str(keys[pos]), str(reason), str(column))
        for pos, row, reason, column in zip(
            issues["position"], issues["row"], issues["reason"], issues["column"], strict=True
        )
    )
