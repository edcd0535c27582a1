"""From a service's export to the frame that validation checks: mapping, parsing, nothing else.

`map_events` and `map_counts` guarantee:
- only canonical columns (plus a few helper columns validation needs: the 1-based data `row`,
  the raw time text, the time as epoch seconds, flags) come out; every other export column is
  listed by NAME in `dropped_columns`, its values never leave this module;
- times are local to the territory and DST-safe: an ambiguous wall-clock time (the repeated
  autumn hour) is taken as its first occurrence, a non-existent one (the skipped spring hour) is
  shifted forward, and both are counted;
- a problem with a single row never raises: it shows in the helper columns and validation turns
  it into a row-level reason. Only a problem with the whole extract raises `ExtractError`, whose
  message names the file and the column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from previsecours.core.schema import CANONICAL_COLUMNS, FREQUENCIES, REQUIRED_COLUMNS
from previsecours.core.territory import Territory
from previsecours.errors import InputError

ROW: Final = "row"  # 1-based data row of the export (header excluded)
EPOCH: Final = pd.Timestamp(0, tz="UTC")
_NUMBER_COLUMNS: Final = ("latitude", "longitude", "duration_min")

SDIS91_WEEKLY: Final = "sdis91-weekly"
SDIS91_WEEKLY_COLUMNS: Final = (
    "ope_annee",
    "ope_semaine",
    "ope_code_insee",
    "ope_code_postal",
    "ope_nom_commune",
    "ope_categorie",
    "nb_ope",
)
_SDIS91_DESCRIPTIVE: Final = ("ope_code_postal", "ope_nom_commune")  # not needed, dropped
COUNTS_PRESETS: Final = (SDIS91_WEEKLY,)


class ExtractError(InputError, ValueError):
    """A whole extract cannot be used; the message names the file and, where it applies, the
    row and the column. `check` names the extract-level check that failed."""

    def __init__(self, message: str, check: str = "readable") -> None:
        super().__init__(message)
        self.check = check


def required_export_columns(territory: Territory, kind: str, preset: str | None) -> list[str]:
    """The export columns an extract of `kind` (events or counts) cannot do without."""
    if kind == "counts":
        if preset == SDIS91_WEEKLY:
            return [
                c for c in SDIS91_WEEKLY_COLUMNS if c not in ("ope_code_postal", "ope_nom_commune")
            ]
        return ["period_start", "area_code", "category", "count"]
    columns = territory.mapping.columns
    return [columns[c] for c in REQUIRED_COLUMNS if c in columns] + list(territory.mapping.id_from)


def missing_columns_message(found: list[str], needed: list[str], source: str) -> str:
    """Names the missing columns and what was found; suspects the separator if only one."""
    missing = [c for c in needed if c not in found]
    hint = ""
    if len(found) == 1:
        hint = (
            f"; the header reads as a single column {found[0][:80]!r}: "
            "is the separator one of ',' ';' or tab?"
        )
    return f"{source}: required column(s) missing: {missing}; found columns {found[:20]}{hint}"


@dataclass(frozen=True)
class MappedExtract:
    """The frame to validate, and what mapping learnt on the way."""

    frame: pd.DataFrame
    dropped_columns: tuple[str, ...]
    dst_ambiguous: int
    dst_nonexistent: int
    frequency: str | None = None  # counts only


# ---------------------------------------------------------------- events


def map_events(
    raw: pd.DataFrame,
    territory: Territory,
    source: str,
    row_complete: pd.Series | None = None,
    text_source: bool = True,
) -> MappedExtract:
    """Map an event-level export onto canonical columns plus validation helpers.

    `text_source` is True for CSV (every value is text to parse) and False for typed formats
    (Parquet), whose column types must then fit: a number where a number is expected, a
    date-time or text for the alert time.
    """
    mapping = territory.mapping
    columns = dict(mapping.columns)
    _require(raw, required_export_columns(territory, "events", None), source)
    if not text_source:
        _check_types(raw, columns, source)
    n = len(raw)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["intervention_id"] = _intervention_ids(raw, columns, mapping.id_from)
    times = _local_times(raw[columns["alert_time"]], mapping.time_format, territory.timezone)
    _require_some_times(
        times,
        source,
        f"times in column {columns['alert_time']!r} (alert_time)",
        _expected_format(territory, iso_first=False),
    )
    out["alert_time"] = times.local
    out["commune_code"] = _text(raw[columns["commune_code"]])
    out["category"] = _categories(
        raw[columns["category"]], mapping.category_pattern, mapping.categories
    )
    out["station_code"] = _optional_station(raw, columns, mapping.station_pattern)
    for name in _NUMBER_COLUMNS:
        out[name] = _optional_number(raw, columns.get(name))
    out[ROW] = np.arange(1, n + 1, dtype="int64")
    out["alert_time_text"] = times.text
    out["alert_epoch_s"] = _epoch_seconds(times.local)
    out["time_parsable"] = (times.text.isna() | times.local.notna()).to_numpy(dtype=bool)
    out["row_complete"] = _complete(row_complete, n)
    used = set(columns.values()) | set(mapping.id_from)
    return MappedExtract(
        frame=out,
        dropped_columns=tuple(c for c in raw.columns if c not in used),
        dst_ambiguous=times.ambiguous,
        dst_nonexistent=times.nonexistent,
    )


def _intervention_ids(
    raw: pd.DataFrame, columns: Mapping[str, str], id_from: tuple[str, ...]
) -> pd.Series:
    if "intervention_id" in columns:
        return _text(raw[columns["intervention_id"]])
    # No id in the export: a stable hash of the columns that identify a row (never random, so
    # re-ingesting the same rows finds the same ids).
    parts = [_text(raw[c]).fillna("").to_numpy(dtype=object) for c in id_from]
    ids = [
        hashlib.blake2b("\x1f".join(values).encode(), digest_size=10).hexdigest()
        for values in zip(*parts, strict=True)
    ]
    return pd.Series(ids, dtype="string")


def _categories(values: pd.Series, pattern: str | None, codes: Mapping[str, str]) -> pd.Series:
    """Canonical category; an unmapped code is kept as is, so validation names it unknown."""
    text = _text(values)
    if pattern:
        text = _extract(text, pattern).fillna(text)
    if not codes:
        return text
    return text.map(dict(codes)).fillna(text).astype("string")


def _optional_station(
    raw: pd.DataFrame, columns: Mapping[str, str], pattern: str | None
) -> pd.Series:
    name = columns.get("station_code")
    if name is None or name not in raw.columns:
        return pd.Series(pd.NA, index=raw.index, dtype="string").reset_index(drop=True)
    text = _text(raw[name])
    return _extract(text, pattern) if pattern else text


def _optional_number(raw: pd.DataFrame, name: str | None) -> pd.Series:
    if name is None or name not in raw.columns:
        return pd.Series(np.nan, index=pd.RangeIndex(len(raw)), dtype="float64")
    values = raw[name]
    if not pd.api.types.is_numeric_dtype(values):
        values = _text(values).str.replace(",", ".", regex=False)
    return pd.to_numeric(values, errors="coerce").astype("float64").reset_index(drop=True)


# ---------------------------------------------------------------- counts


def map_counts(
    raw: pd.DataFrame,
    territory: Territory,
    source: str,
    *,
    preset: str | None = None,
    frequency: str | None = None,
    row_complete: pd.Series | None = None,
) -> MappedExtract:
    """Map a counts export (canonical COUNT_COLUMNS, or a known preset) for validation."""
    if preset is not None and preset not in COUNTS_PRESETS:
        raise ExtractError(f"{source}: unknown counts preset {preset!r} (known: {COUNTS_PRESETS})")
    n = len(raw)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    if preset == SDIS91_WEEKLY:
        _require(raw, required_export_columns(territory, "counts", preset), source)
        week = _text(raw["ope_semaine"]).str.zfill(2)
        period_text = _text(raw["ope_annee"]).str.cat(week, sep="-W")
        naive = pd.to_datetime(period_text + "-1", format="%G-W%V-%u", errors="coerce")
        area, category, count = raw["ope_code_insee"], raw["ope_categorie"], raw["nb_ope"]
        frequency = "week"
        used = set(SDIS91_WEEKLY_COLUMNS) - {"ope_code_postal", "ope_nom_commune"}
    else:
        _require(raw, required_export_columns(territory, "counts", None), source)
        period_text = _text(raw["period_start"])
        # ISO 8601 is the canonical form; the service's own time format is tried second.
        naive = _parse_naive(raw["period_start"], None)
        if territory.mapping.time_format:
            own = _parse_naive(raw["period_start"], territory.mapping.time_format)
            naive = naive.fillna(own)
        area, category, count = raw["area_code"], raw["category"], raw["count"]
        used = {"period_start", "area_code", "category", "count"}
    times = _localise(period_text, naive, territory.timezone)
    if preset == SDIS91_WEEKLY:
        _require_some_times(
            times,
            source,
            "ope_annee/ope_semaine pairs",
            f"an ISO year and week (preset {preset})",
            "is it an export of that preset?",
        )
    else:
        expected = _expected_format(territory, iso_first=True)
        _require_some_times(times, source, "period starts", expected)
    frequency = frequency or infer_frequency(times.local, source)
    if frequency not in FREQUENCIES:
        raise ExtractError(f"{source}: frequency {frequency!r} is not one of {FREQUENCIES}")
    out["period_start"] = times.local
    out["area_code"] = _text(area)
    out["category"] = _categories(category, None, territory.mapping.categories)
    numbers = pd.to_numeric(count if not _is_text(count) else _text(count), errors="coerce")
    out["count"] = numbers.astype("float64").reset_index(drop=True)
    out[ROW] = np.arange(1, n + 1, dtype="int64")
    out["period_text"] = times.text
    out["period_epoch_s"] = _epoch_seconds(times.local)
    out["period_parsable"] = (times.text.isna() | times.local.notna()).to_numpy(dtype=bool)
    out["period_aligned"] = _aligned(times.local, frequency)
    out["count_valid"] = _whole_non_negative(out["count"])
    out["key"] = (
        out["period_epoch_s"].astype("string").fillna("")
        + "|"
        + out["area_code"].fillna("")
        + "|"
        + out["category"].fillna("")
    )
    out["row_complete"] = _complete(row_complete, n)
    return MappedExtract(
        frame=out,
        dropped_columns=tuple(c for c in raw.columns if c not in used),
        dst_ambiguous=times.ambiguous,
        dst_nonexistent=times.nonexistent,
        frequency=frequency,
    )


def infer_frequency(starts: pd.Series, source: str) -> str:
    """hour, day or week from the smallest gap between distinct period starts.

    Gaps are measured on the local wall clock: a week across a DST change lasts 6 days 23 or
    25 hours, a day 23 or 25 hours, but both still start at local midnight.
    """
    local = pd.Series(starts.dropna())
    if isinstance(local.dtype, pd.DatetimeTZDtype):
        local = local.dt.tz_localize(None)
    distinct = pd.Series(local.unique()).sort_values()
    gaps = distinct.diff().dropna()
    if gaps.empty:
        raise ExtractError(
            f"{source}: cannot infer the frequency of the periods from fewer than two distinct "
            "period starts; give it with --frequency"
        )
    smallest = gaps.min()
    for name, span in (("hour", "1h"), ("day", "1D"), ("week", "7D")):
        if smallest == pd.Timedelta(span):
            return name
    raise ExtractError(
        f"{source}: the smallest gap between period starts is {smallest}, not an hour, a day "
        "or a week; give the frequency with --frequency"
    )


def _aligned(starts: pd.Series, frequency: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Periods start on the hour, at midnight, or on Monday at midnight (unknown times pass:
    another check names them)."""
    ok = (starts.dt.minute == 0) & (starts.dt.second == 0)
    if frequency in ("day", "week"):
        ok &= starts.dt.hour == 0
    if frequency == "week":
        ok &= starts.dt.day_of_week == 0
    return np.asarray((ok | starts.isna()).to_numpy(dtype=bool), dtype=bool)


def _whole_non_negative(numbers: pd.Series) -> np.ndarray[Any, np.dtype[np.bool_]]:
    filled = numbers.fillna(-1.0).to_numpy(dtype="float64")
    return np.asarray((filled >= 0) & (filled % 1 == 0), dtype=bool)


# ---------------------------------------------------------------- shared helpers


@dataclass(frozen=True)
class _Times:
    text: pd.Series
    local: pd.Series
    ambiguous: int
    nonexistent: int


def _local_times(values: pd.Series, time_format: str | None, timezone: str) -> _Times:
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.astype("string").reset_index(drop=True)
        if values.dt.tz is not None:
            local = values.dt.tz_convert(timezone).dt.as_unit("s").reset_index(drop=True)
            return _Times(text, local, 0, 0)
        return _localise(text, values.reset_index(drop=True), timezone)
    text = _text(values)
    return _localise(text, _parse_naive(text, time_format), timezone)


def _expected_format(territory: Territory, *, iso_first: bool) -> str:
    """What the times of an extract must look like, in words (never an example value: one
    could carry personal data)."""
    own = territory.mapping.time_format
    if own is None:
        return f"ISO 8601 (territory {territory.name} sets no extract.time_format)"
    named = f"the format {own!r} (territory {territory.name}, extract.time_format)"
    return f"ISO 8601 or {named}" if iso_first else named


def _require_some_times(
    times: _Times,
    source: str,
    what: str,
    expected: str,
    remedy: str = "fix the extract or the territory's extract.time_format",
) -> None:
    """A time column none of whose values parses is a wrong format, not N bad rows: say which
    format was expected (a few unparsable rows stay row-level reasons)."""
    present = times.text.notna().to_numpy()
    n = int(present.sum())
    if n and not bool((present & times.local.notna().to_numpy()).any()):
        raise ExtractError(
            f"{source}: none of the {n} {what} matched {expected}; {remedy}", "time_format"
        )


def _parse_naive(values: pd.Series, time_format: str | None) -> pd.Series:
    text = values if not _is_text(values) else _text(values)
    parsed = pd.to_datetime(text, format=time_format or "ISO8601", errors="coerce")
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.reset_index(drop=True)


def _localise(text: pd.Series, naive: pd.Series, timezone: str) -> _Times:
    """Naive wall-clock → tz-aware, counting the DST cases the stated rule resolved."""
    naive = naive.dt.as_unit("s").reset_index(drop=True)
    present = naive.notna().to_numpy()
    first = np.ones(len(naive), dtype=bool)
    strict_fold = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    strict_gap = naive.dt.tz_localize(timezone, ambiguous=first, nonexistent="NaT")
    local = naive.dt.tz_localize(timezone, ambiguous=first, nonexistent="shift_forward")
    return _Times(
        text=text.reset_index(drop=True),
        local=local,
        ambiguous=int((strict_fold.isna().to_numpy() & present).sum()),
        nonexistent=int((strict_gap.isna().to_numpy() & present).sum()),
    )


def _epoch_seconds(local: pd.Series) -> pd.Series:
    return ((local - EPOCH) / pd.Timedelta(seconds=1)).astype("float64")


def _text(values: pd.Series) -> pd.Series:
    """Trimmed text, empty → missing; integers (typed formats) become their decimal text."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna() % 1 == 0
        if bool(whole.all()):
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "").reset_index(drop=True)


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)


def _extract(text: pd.Series, pattern: str) -> pd.Series:
    return text.str.extract(pattern, expand=True).iloc[:, 0].astype("string")


def _complete(row_complete: pd.Series | None, n: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if row_complete is None:
        return np.ones(n, dtype=bool)
    return row_complete.to_numpy(dtype=bool)


def _require(raw: pd.DataFrame, needed: list[str], source: str) -> None:
    if any(c not in raw.columns for c in needed):
        message = missing_columns_message([str(c) for c in raw.columns], needed, source)
        raise ExtractError(message, "required_columns")


def _check_types(raw: pd.DataFrame, columns: Mapping[str, str], source: str) -> None:
    """Typed formats must carry the kinds the canonical columns need."""
    problems = []
    for canonical, name in columns.items():
        if name not in raw.columns:
            continue
        dtype = raw[name].dtype
        if canonical == "alert_time":
            ok = pd.api.types.is_datetime64_any_dtype(dtype) or _is_text(raw[name])
            expected = "a date-time or text"
        elif canonical in _NUMBER_COLUMNS:
            ok = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
            expected = "a number"
        else:
            ok = _is_text(raw[name]) or pd.api.types.is_integer_dtype(dtype)
            expected = "text or an integer"
        if not ok:
            problems.append(f"column {name!r} ({canonical}) has type {dtype}, expected {expected}")
    if problems:
        raise ExtractError(f"{source}: wrong column types: " + "; ".join(problems), "column_types")


def canonical_part(frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical event columns of a mapped frame (helpers removed)."""
    return frame.loc[:, list(CANONICAL_COLUMNS)]
