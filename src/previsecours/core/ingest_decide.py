"""What becomes of each row of a validated extract: accepted, quarantined (and why), merged.

Guarantees:
- every row of an extract ends in exactly one place: quarantined (with every reason and the
  column at fault), already stored (identical content), added, or replacing a stored row; the
  counts reconcile (read = quarantined + accepted);
- a row whose key is already stored with different content is a `conflict`: quarantined, unless
  the caller asked its corrected extract to win (`replace`);
- the merged store never holds one key twice;
- what is kept for a person to fix a quarantined row (the quarantine table, the reports' row
  reasons) shows its row number, the column and the reason, and never a value that failed
  validation in full: such a value is masked (its length and character classes) or omitted,
  and a row reason carries its key only when the key's own values passed validation;
- the volume check judges the days an extract brings rows to (and the silent days between
  them) by what the store holds on each after the merge, against the history of the same
  weekday; a far-off day holding only a handful of rows is a row-level problem (`isolated_date`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from previsecours.config import IngestParams
from previsecours.core.ingest import ROW
from previsecours.core.ingest_report import ExtractFailure, RowReason
from previsecours.core.panel import PanelError
from previsecours.core.schema import COUNT_COLUMNS
from previsecours.core.stored_counts import counts_level
from previsecours.core.territory import Territory

EVENT_KEY: Final = ("intervention_id",)
COUNT_KEY: Final = ("period_start", "area_code", "category")
CONFLICT: Final = "conflict"
TRUNCATED: Final = "truncated_row"
ISOLATED: Final = "isolated_date"
# Reasons about a row relative to others (its key seen twice, or stored with other content):
# the values themselves passed their checks and may be kept to find the row.
RELATIVE_REASONS: Final = frozenset({"duplicate_id", "duplicate_key", CONFLICT})
# The kept columns that show a canonical column's value (the raw text of a time included).
_SHOWN_IN: Final = {
    "alert_time": ("alert_time", "alert_time_text"),
    "period_start": ("period_start", "period_text"),
}
_KEY_COLUMNS: Final = {"events": ("intervention_id",), "counts": COUNT_KEY}


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


def faulty_cells(failures: Sequence[RowFailure], issues: pd.DataFrame) -> pd.DataFrame:
    """The (position, column) cells whose value failed validation: every value-level failure
    (a truncated row's other failures included: its values were checked all the same), and the
    column a truncated row was cut in (every column when unknown, `*`). Failures about a row
    relative to others (a duplicate key, a conflict) leave its values shown."""
    pairs = [
        (p, f.column)
        for f in failures
        if f.reason not in RELATIVE_REASONS and f.reason != TRUNCATED
        for p in f.positions
    ]
    extra = issues[issues["reason"].isin([TRUNCATED, ISOLATED])]
    pairs += [(int(p), str(c)) for p, c in zip(extra["position"], extra["column"], strict=True)]
    return pd.DataFrame(
        {
            "position": pd.Series([p for p, _ in pairs], dtype="int64"),
            "column": pd.Series([c for _, c in pairs], dtype="string"),
        }
    ).drop_duplicates(ignore_index=True)


def mask(value: object) -> str:
    """What a person may see of a value that failed validation: its length and the kinds of
    characters it holds, e.g. `<37 chars: letters, digits, spaces, punctuation>`."""
    text = str(value)
    kinds = [
        name
        for name, present in (
            ("letters", any(c.isalpha() for c in text)),
            ("digits", any(c.isdigit() for c in text)),
            ("spaces", any(c.isspace() for c in text)),
            ("punctuation", any(not (c.isalnum() or c.isspace()) for c in text)),
        )
        if present
    ]
    return f"<{len(text)} chars: {', '.join(kinds) or 'none'}>"


def quarantine_table(
    frame: pd.DataFrame,
    issues: pd.DataFrame,
    keep: Sequence[str],
    faulty: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The quarantined rows: their `row`, the kept (canonical) columns, and every reason.

    A kept value that failed validation (`faulty`, from `faulty_cells`) is masked when it is
    text and omitted (missing) otherwise: a number or a date may be a phone number or a birth
    date typed in the wrong column just as well as text.
    """
    if issues.empty:
        return frame.iloc[0:0].loc[:, [ROW, *keep]].assign(reasons="", columns="")
    grouped = issues.groupby("position", sort=True).agg(
        reasons=("reason", ";".join), columns=("column", ";".join)
    )
    positions = grouped.index.to_numpy()
    rows = frame.iloc[positions].loc[:, [ROW, *keep]].reset_index(drop=True)
    for column, at in _faulty_rows(faulty, positions, keep).items():
        values = rows[column]
        if pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values):
            shown = values.astype("string")
            rows[column] = pd.Series(
                [
                    mask(v) if hit and not pd.isna(v) else v
                    for v, hit in zip(shown, at, strict=True)
                ],
                dtype="string",
            )
        else:
            rows[column] = values.mask(at)
    return rows.assign(reasons=grouped["reasons"].to_numpy(), columns=grouped["columns"].to_numpy())


def _faulty_rows(
    faulty: pd.DataFrame | None, positions: np.ndarray, keep: Sequence[str]
) -> dict[str, np.ndarray]:
    """For each kept column holding a faulty value, which of `positions` hold one."""
    if faulty is None or faulty.empty:
        return {}
    out: dict[str, np.ndarray] = {}
    for column, cells in faulty.groupby("column"):
        shown = list(keep) if column == "*" else _SHOWN_IN.get(str(column), (str(column),))
        at = np.isin(positions, cells["position"].to_numpy())
        for name in shown:
            if name in keep:
                out[name] = out.get(name, np.zeros(len(positions), dtype=bool)) | at
    return out


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


def daily_volume(
    incoming: pd.Series, merged: pd.Series, history: pd.Series, params: IngestParams
) -> pd.DataFrame:
    """The days to judge, one row each: every day of the runs the extract's days form (days at
    most `volume_run_gap_days` apart, the silent days between them included) — never the days
    it brings nothing to around them. `count`: the rows the store holds that day after the
    merge (`merged`); `min_count` (1 where a day without any intervention is implausible) and
    `max_count` (volume factor × the median of that weekday in `history`, the store before the
    merge, when it has enough such days; otherwise unbounded)."""
    days = _run_days(_index(_day_counts(incoming)), params.volume_run_gap_days)
    if days.empty:
        return pd.DataFrame({"day": [], "count": [], "min_count": [], "max_count": []})
    counts = _day_counts(merged).reindex(days, fill_value=0)
    median, enough = _weekday_medians(days, history, params)
    typical = np.where(enough, median, float(counts.median()))
    unbounded = float(counts.max()) + 1.0
    return pd.DataFrame(
        {
            "day": days.strftime("%Y-%m-%d"),
            "count": counts.to_numpy(dtype="float64"),
            "min_count": (typical >= params.volume_min_daily_mean).astype("float64"),
            "max_count": np.where(enough, params.volume_factor * median, unbounded),
        }
    )


def isolated_days(
    incoming: pd.Series, merged: pd.Series, history: pd.Series, params: IngestParams
) -> pd.DatetimeIndex:
    """Local days (midnight, naive) far from the extract's main span that hold only a handful
    of rows: an implausible date typed on a few rows (2004 in a July extract), a row-level
    problem. Far: outside the run (days at most `volume_run_gap_days` apart) holding most of the
    extract's rows; a handful: at most `isolated_day_max_rows` rows stored that day after the
    merge, where the day's typical volume is at least `volume_min_daily_mean` (a correction of
    a day the store already holds is never isolated)."""
    per_day = _day_counts(incoming)
    if per_day.empty:
        return pd.DatetimeIndex([])
    index = _index(per_day)
    runs = _runs(index, params.volume_run_gap_days)
    main = max(runs, key=lambda run: int(per_day[run[0] : run[1]].sum()))
    outside = index[(index < main[0]) | (index > main[1])]
    if outside.empty:
        return pd.DatetimeIndex([])
    after = _day_counts(merged).reindex(outside, fill_value=0)
    main_days = pd.date_range(main[0], main[1], freq="D")
    fallback = float(_day_counts(merged).reindex(main_days, fill_value=0).median())
    median, enough = _weekday_medians(outside, history, params)
    typical = np.where(enough, median, fallback)
    isolated = (after.to_numpy() <= params.isolated_day_max_rows) & (
        typical >= params.volume_min_daily_mean
    )
    return outside[isolated]


def local_days(times: pd.Series) -> pd.Series:
    """The local calendar day (naive midnight) of tz-aware local times."""
    days: pd.Series = times.dt.tz_localize(None).dt.normalize()
    return days


def _day_counts(times: pd.Series) -> pd.Series:
    """Rows per local day, on the days holding any (sorted)."""
    local = times.dropna()
    if local.empty:
        return pd.Series(dtype="int64", index=pd.DatetimeIndex([]))
    counts: pd.Series = local_days(local).value_counts().sort_index()
    return counts


def _index(counts: pd.Series) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(counts.index)


def _runs(days: pd.DatetimeIndex, gap: int) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Sorted days grouped into runs whose consecutive days are at most `gap` days apart."""
    if days.empty:
        return []
    steps = np.diff(days.to_numpy()) > np.timedelta64(gap, "D")
    ends = np.flatnonzero(steps)
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(days) - 1]])
    return [(days[a], days[b]) for a, b in zip(starts, stops, strict=True)]


def _run_days(days: pd.DatetimeIndex, gap: int) -> pd.DatetimeIndex:
    """Every day of the runs of `days` (the silent days inside a run included)."""
    runs = [pd.date_range(a, b, freq="D") for a, b in _runs(days, gap)]
    if not runs:
        return pd.DatetimeIndex([])
    return pd.DatetimeIndex(np.concatenate([r.to_numpy() for r in runs]))


def _weekday_medians(
    days: pd.DatetimeIndex, history: pd.Series, params: IngestParams
) -> tuple[np.ndarray, np.ndarray]:
    """The historical median of each day's weekday, and whether history has enough such days.
    History counts whole days only: the days of its runs, each run's first and last day left
    out (an extract's ends are usually partial), no day filled across a long gap."""
    stored = _day_counts(history)
    whole = []
    for a, b in _runs(_index(stored), params.volume_run_gap_days):
        inner = pd.date_range(a, b, freq="D")[1:-1]
        whole.append(stored.reindex(inner, fill_value=0))
    past = pd.concat(whole) if whole else pd.Series(dtype="int64", index=pd.DatetimeIndex([]))
    by_weekday = past.groupby(pd.DatetimeIndex(past.index).day_of_week).agg(["median", "size"])
    weekday = days.day_of_week
    median = by_weekday["median"].reindex(weekday).to_numpy(dtype="float64")
    enough = by_weekday["size"].reindex(weekday).fillna(0).to_numpy() >= (
        params.volume_min_history_days
    )
    return median, enough


def suite_parameters(territory: Territory, params: IngestParams, now: datetime) -> dict[str, Any]:
    """Values the suites' `$PARAMETER`s take for this territory, these params and this time."""
    now_s = pd.Timestamp(now).timestamp()
    box = territory.bounding_box
    return {
        "now_epoch_s": now_s,
        "oldest_epoch_s": now_s - params.oldest_plausible_years * 365.25 * 86400,
        "areas": sorted(territory.commune_codes),
        "stations": sorted(s.code for s in territory.stations),
        "categories": list(territory.categories),
        "lat_min": box.lat_min,
        "lat_max": box.lat_max,
        "lon_min": box.lon_min,
        "lon_max": box.lon_max,
        "duration_min": params.duration_min_range[0],
        "duration_max": params.duration_min_range[1],
    }


def skipped_reasons(territory: Territory) -> tuple[str, ...]:
    """The suites' checks that do not apply to `territory`: a value set it does not list is
    replaced by the code pattern, and the other way round."""
    skip = ["invalid_station_code"] if territory.stations else ["unknown_station"]
    if territory.lists_areas:
        skip += ["invalid_commune_code", "invalid_area_code"]
    else:
        skip += ["unknown_commune", "unknown_area"]
    return tuple(skip)


def isolated_issues(frame: pd.DataFrame, valid: np.ndarray, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Issues (`row_issues` shape) for the valid rows dated on an isolated day."""
    on_day = np.zeros(len(frame), dtype=bool)
    if len(days):
        on_day = local_days(frame["alert_time"]).isin(days).to_numpy(dtype=bool)
    positions = np.flatnonzero(valid & on_day)
    return pd.DataFrame(
        {
            "position": positions.astype("int64"),
            "row": frame[ROW].to_numpy()[positions],
            "reason": pd.Series([ISOLATED] * len(positions), dtype="string"),
            "column": pd.Series(["alert_time"] * len(positions), dtype="string"),
        }
    )


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


def row_reasons(
    issues: pd.DataFrame, frame: pd.DataFrame, kind: str, faulty: pd.DataFrame | None = None
) -> tuple[RowReason, ...]:
    """One `RowReason` per (row, reason). Its `key` (the id, or period|area|category) is given
    only when the key's own values passed validation (`faulty`), otherwise it is empty: a line
    read with the wrong separator puts a whole raw line (names, phones) in the id column."""
    key_column = "intervention_id" if kind == "events" else "key"
    keys = frame[key_column].astype("string").fillna("").to_numpy()
    hidden: set[int] = set()
    if faulty is not None and not faulty.empty:
        key_parts = {*_KEY_COLUMNS.get(kind, ()), "*"}
        hidden = set(faulty.loc[faulty["column"].isin(key_parts), "position"].tolist())
    return tuple(
        RowReason(int(row), "" if int(pos) in hidden else str(keys[pos]), str(reason), str(column))
        for pos, row, reason, column in zip(
            issues["position"], issues["row"], issues["reason"], issues["column"], strict=True
        )
    )


def counts_level_failures(
    incoming: pd.DataFrame, stored: pd.DataFrame, territory: Territory, source: str
) -> tuple[ExtractFailure, ...]:
    """Counts of one store are at one level (commune, coverage zone or département): training
    reads it from their area codes, so an extract mixing levels, or at another level than the
    counts stored at its frequency, is refused."""
    if incoming.empty:
        return ()
    areas = sorted(incoming["area_code"].astype(str).unique())
    try:
        level = counts_level(territory, areas)
    except PanelError:
        return (
            ExtractFailure(
                "counts_level",
                f"{source}: its area codes mix levels (communes, coverage zones, the whole "
                f"territory {territory.name}): one extract, one level",
            ),
        )
    if stored.empty:
        return ()
    held = counts_level(territory, sorted(stored["area_code"].astype(str).unique()))
    if held == level:
        return ()
    return (
        ExtractFailure(
            "counts_level",
            f"{source}: counts at {level} level, but the store holds {held} counts at this "
            "frequency: one store of counts, one level",
        ),
    )


def merge_counts(stored: pd.DataFrame, incoming: pd.DataFrame, wins: bool) -> StoreMerge:
    """Merge valid count rows into the store; rows sharing a key (only a count of the skipped
    spring hour and the hour it shifts to can: validation quarantines other duplicates) are
    summed first (`wins`: the extract replaces stored rows it differs from). The merge is told
    in source rows: both rows of a sum share its fate (added,
    already stored, replaced or conflict)."""
    keys = list(COUNT_KEY)
    group = incoming.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    if len(incoming) == 0 or group.max() + 1 == len(incoming):
        return merge_into_store(stored, incoming, COUNT_KEY, wins)
    summed = incoming.groupby(group, sort=True).agg(
        {"period_start": "first", "area_code": "first", "category": "first", "count": "sum"}
    )
    summed = summed.reset_index(drop=True).loc[:, list(COUNT_COLUMNS)]
    merge = merge_into_store(stored, summed, COUNT_KEY, wins)
    known = summed.merge(stored, on=keys, how="left", suffixes=("", "_stored"))
    is_new = known["count_stored"].isna().to_numpy()
    same = (known["count_stored"] == known["count"]).fillna(False).to_numpy(dtype=bool)
    rows = np.bincount(group, minlength=len(summed))  # source rows in each sum
    changed = ~is_new & ~same
    in_conflict = np.isin(group, np.flatnonzero(changed)) if not wins else np.zeros(0, bool)
    return replace(
        merge,
        added=int(rows[is_new].sum()),
        unchanged=int(rows[same].sum()),
        replaced=int(rows[changed].sum()) if wins else 0,
        conflicts=tuple(int(p) for p in np.flatnonzero(in_conflict)),
    )


def name_cut_column(
    issues: pd.DataFrame, truncated_column: str | None, territory: Territory
) -> pd.DataFrame:
    """A truncated row is reported at the column its line was cut in (canonical name if any)."""
    if truncated_column is None:
        return issues
    canonical = {v: k for k, v in territory.mapping.columns.items()}
    name = canonical.get(truncated_column, truncated_column)
    issues = issues.copy()
    issues.loc[issues["reason"] == TRUNCATED, "column"] = name
    return issues
