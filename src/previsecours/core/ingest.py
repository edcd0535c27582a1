"""From a service's export to the frame that validation checks: mapping, parsing, nothing else.

`map_events` and `map_counts` guarantee:
- only canonical columns (plus a few helper columns validation needs: the 1-based data `row`,
  the raw time text, the time as epoch seconds, flags) come out; every other export column is
  listed by NAME in `dropped_columns`, its values never leave this module;
- times are local to the territory and DST-safe: a time with a UTC offset (`Z`, `+02:00`) is
  that instant in the territory's zone (unless the mapping says the export's suffix is local
  wall-clock time: `time_zone_suffix: local`); of naive wall-clock times, an ambiguous one (the
  repeated autumn hour) is taken as its first occurrence, a non-existent one (the skipped
  spring hour) is shifted forward, and both are counted. An hourly count in the skipped hour is
  flagged (`period_gap`) with a key of its own, so that the pipeline adds it to the hour it
  shifts to instead of quarantining both as duplicates;
- a problem with a single row never raises: it shows in the helper columns and validation turns
  it into a row-level reason. Only a problem with the whole extract raises `ExtractError`, whose
  message names the file and the column.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from previsecours.core.schema import (
    CANONICAL_COLUMNS,
    COUNT_COLUMNS,
    FREQUENCIES,
    REQUIRED_COLUMNS,
)
from previsecours.core.territory import Territory, WideCounts
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
# SDIS 91's département-wide weekly totals: one row a week (`yearweek` = ISO YYYYWW), a column
# per category (wide); other columns (ope_total, covariates) are dropped.
SDIS91_WEEKLY_TOTALS: Final = "sdis91-weekly-totals"
SDIS91_TOTALS_WEEK: Final = "yearweek"
SDIS91_TOTALS_CATEGORIES: Final = ("ACCI", "AUTR", "INCN", "INCU", "SUAP")
COUNTS_PRESETS: Final = (SDIS91_WEEKLY, SDIS91_WEEKLY_TOTALS)
# A time ending in a UTC offset: `Z`, `UTC`, `+02:00`, `+0200`, `-05` after the clock time.
_OFFSET_SUFFIX: Final = re.compile(
    r"^(?P<wall>.*\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?P<offset>Z|UTC|[+-]\d{2}(?::?\d{2})?)$",
    re.IGNORECASE,
)
_DEPARTEMENT: Final = re.compile(r"^(?:\d{2}|2[AB])\d{3}$")


class ExtractError(InputError, ValueError):
    """A whole extract cannot be used; the message names the file and, where it applies, the
    row and the column. `check` names the extract-level check that failed."""

    def __init__(self, message: str, check: str = "readable") -> None:
        super().__init__(message)
        self.check = check


def required_export_columns(
    territory: Territory, kind: str, preset: str | None, source: str = "extract"
) -> list[str]:
    """The export columns an extract of `kind` (events or counts) cannot do without.

    An events extract for a territory that maps no event columns (counts only) raises
    `ExtractError` saying so."""
    if kind == "counts":
        if preset == SDIS91_WEEKLY:
            return [
                c for c in SDIS91_WEEKLY_COLUMNS if c not in ("ope_code_postal", "ope_nom_commune")
            ]
        if preset == SDIS91_WEEKLY_TOTALS:
            return [SDIS91_TOTALS_WEEK, *SDIS91_TOTALS_CATEGORIES]
        names = counts_column_names(territory)
        return [names[c] for c in COUNT_COLUMNS if c in names] + wide_count_columns(territory)
    require_event_mapping(territory, source)
    columns = territory.mapping.columns
    return [columns[c] for c in REQUIRED_COLUMNS if c in columns] + list(territory.mapping.id_from)


def require_event_mapping(territory: Territory, source: str) -> None:
    """A counts-only territory (no `extract.columns`) cannot take an events extract."""
    if not territory.mapping.maps_events:
        raise ExtractError(
            f"{source}: territory {territory.name} maps no event columns (its extract.columns "
            "is empty: it takes counts only); ingest this file with --format counts, or map "
            "the export's event columns under extract.columns",
            "required_columns",
        )


def counts_column_names(territory: Territory) -> dict[str, str]:
    """Canonical count column → the export's name (extract.counts_columns, else the canonical
    name); a column the mapping makes constant is not read."""
    mapping = territory.mapping
    wide = ("category", "count") if mapping.wide_counts is not None else ()
    return {
        c: mapping.counts_columns.get(c, c)
        for c in COUNT_COLUMNS
        if c not in mapping.constants and c not in wide
    }


def wide_count_columns(territory: Territory) -> list[str]:
    """The count columns of a wide export (extract.wide_counts), its total last."""
    wide = territory.mapping.wide_counts
    if wide is None:
        return []
    return [*wide.columns.values(), *((wide.total,) if wide.total else ())]


def territory_area_codes(territory: Territory) -> frozenset[str]:
    """The codes a counts export may give the whole territory: its name, the mapping's
    `territory_codes`, and a French département's code when every commune is an INSEE code of
    one département (91xxx → "91"; overseas 97xxx → "971"…)."""
    codes = {territory.name, *territory.mapping.territory_codes}
    communes = [c.code for c in territory.communes]
    if communes and all(_DEPARTEMENT.match(c) for c in communes):
        width = 3 if communes[0].startswith("97") else 2
        prefixes = {c[:width] for c in communes}
        if len(prefixes) == 1:
            codes |= prefixes
    return frozenset(codes)


def counts_area_codes(territory: Territory) -> list[str]:
    """Every area code a counts extract may hold: communes, coverage zones, the territory."""
    return sorted(
        territory.commune_codes | set(territory.coverage_zones) | territory_area_codes(territory)
    )


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
    _require(raw, required_export_columns(territory, "events", None, source), source)
    if not text_source:
        _check_types(raw, columns, source)
    n = len(raw)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    out["intervention_id"] = _intervention_ids(raw, columns, mapping.id_from)
    times = _local_times(
        raw[columns["alert_time"]],
        mapping.time_format,
        territory.timezone,
        suffix=mapping.time_zone_suffix,
        naive_times=mapping.naive_times,
    )
    _require_some_times(
        times,
        source,
        f"times in column {columns['alert_time']!r} (alert_time)",
        _expected_format(territory, iso_first=False),
    )
    out["alert_time"] = times.local
    constants = mapping.constants
    out["commune_code"] = _text(_column_or_constant(raw, "commune_code", columns, constants))
    category = _column_or_constant(raw, "category", columns, constants)
    pattern = None if "category" in constants else mapping.category_pattern
    out["category"] = _categories(category, pattern, mapping.categories)
    if "station_code" in constants:
        out["station_code"] = _constant_text(len(raw), constants["station_code"])
    else:
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


def _column_or_constant(
    raw: pd.DataFrame, canonical: str, columns: Mapping[str, str], constants: Mapping[str, str]
) -> pd.Series:
    """The export's column for `canonical`, or the mapping's constant for every row."""
    if canonical in constants:
        return _constant_text(len(raw), constants[canonical])
    return raw[columns[canonical]]


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
    """Map a counts export (canonical COUNT_COLUMNS, the territory's `counts_columns`, or a
    known preset) for validation.

    A wide preset (one row a period, a column per category) becomes one row per period ×
    category, each keeping its source `row`. An area code naming the whole territory (its
    département code, say) is recoded as the territory's name, the département level's code.
    """
    if preset is not None and preset not in COUNTS_PRESETS:
        raise ExtractError(f"{source}: unknown counts preset {preset!r} (known: {COUNTS_PRESETS})")
    _require(raw, required_export_columns(territory, "counts", preset), source)
    part = _counts_source(raw, territory, preset, row_complete)
    times, area, category, count = part.times, part.area, part.category, part.count
    frequency = frequency or part.frequency
    if preset is not None:
        _require_some_times(
            times,
            source,
            "period starts" if preset == SDIS91_WEEKLY_TOTALS else "ope_annee/ope_semaine pairs",
            f"an ISO year and week (preset {preset})",
            "is it an export of that preset?",
        )
    else:
        expected = _expected_format(territory, iso_first=True)
        _require_some_times(times, source, "period starts", expected)
    frequency = frequency or infer_frequency(times.local, source)
    if frequency not in FREQUENCIES:
        raise ExtractError(f"{source}: frequency {frequency!r} is not one of {FREQUENCIES}")
    out = pd.DataFrame(index=pd.RangeIndex(len(part.rows)))
    out["period_start"] = times.local
    whole = territory_area_codes(territory)
    area_text = _text(area)
    out["area_code"] = area_text.mask(area_text.isin(whole), territory.name)
    out["category"] = _categories(category, None, territory.mapping.categories)
    numbers = pd.to_numeric(count if not _is_text(count) else _text(count), errors="coerce")
    out["count"] = numbers.astype("float64").reset_index(drop=True)
    out[ROW] = part.rows
    out["period_text"] = times.text
    out["period_epoch_s"] = _epoch_seconds(times.local)
    out["period_parsable"] = (times.text.isna() | times.local.notna()).to_numpy(dtype=bool)
    out["period_aligned"] = _aligned(times.local, frequency)
    out["count_valid"] = _whole_non_negative(out["count"])
    # A count in the skipped spring hour is the service's way of writing the hour after it:
    # flagged, and keyed apart so that it is added to that hour, not quarantined with it.
    out["period_gap"] = times.gap & (frequency == "hour")
    out["key"] = (
        out["period_epoch_s"].astype("string").fillna("")
        + "|"
        + out["area_code"].fillna("")
        + "|"
        + out["category"].fillna("")
        + pd.Series(np.where(out["period_gap"], "|skipped-hour", ""), dtype="string")
    )
    out["row_complete"] = part.complete
    return MappedExtract(
        frame=out,
        dropped_columns=tuple(str(c) for c in raw.columns if c not in part.used),
        dst_ambiguous=times.ambiguous,
        dst_nonexistent=times.nonexistent,
        frequency=frequency,
    )


@dataclass(frozen=True)
class _CountsSource:
    """What a counts export holds, one entry per (long) row, before it is checked."""

    times: _Times
    area: pd.Series
    category: pd.Series
    count: pd.Series
    rows: np.ndarray[Any, np.dtype[np.int64]]  # 1-based source row of each long row
    complete: np.ndarray[Any, np.dtype[np.bool_]]
    used: frozenset[str]
    frequency: str | None = None  # fixed by a preset


def _counts_source(
    raw: pd.DataFrame, territory: Territory, preset: str | None, row_complete: pd.Series | None
) -> _CountsSource:
    n = len(raw)
    rows = np.arange(1, n + 1, dtype="int64")
    complete = _complete(row_complete, n)
    constants = territory.mapping.constants
    if preset == SDIS91_WEEKLY:
        week = _text(raw["ope_semaine"]).str.zfill(2)
        period_text = _text(raw["ope_annee"]).str.cat(week, sep="-W")
        naive = pd.to_datetime(period_text + "-1", format="%G-W%V-%u", errors="coerce")
        return _CountsSource(
            _localise(period_text, naive, territory.timezone),
            raw["ope_code_insee"],
            raw["ope_categorie"],
            raw["nb_ope"],
            rows,
            complete,
            frozenset(SDIS91_WEEKLY_COLUMNS) - set(_SDIS91_DESCRIPTIVE),
            "week",
        )
    if preset == SDIS91_WEEKLY_TOTALS:  # wide → long: row-major, week by week
        week_text = _text(raw[SDIS91_TOTALS_WEEK]).str.replace(r"\.0+$", "", regex=True)
        naive = pd.to_datetime(week_text + "1", format="%G%V%u", errors="coerce")
        columns = {c: raw[c] for c in SDIS91_TOTALS_CATEGORIES}
        return _unpivot(
            _localise(week_text, naive, territory.timezone),
            _constant_text(n, constants.get("area_code", territory.name)),
            columns,
            rows=rows,
            complete=complete,
            used=frozenset({SDIS91_TOTALS_WEEK, *SDIS91_TOTALS_CATEGORIES}),
            frequency="week",
        )
    names = counts_column_names(territory)
    mapping = territory.mapping
    # ISO 8601 is the canonical form; the service's own time format is tried second.
    times = _local_times(
        raw[names["period_start"]],
        mapping.time_format,
        territory.timezone,
        suffix=mapping.time_zone_suffix,
        naive_times=mapping.naive_times,
        iso_first=True,
    )
    if mapping.wide_counts is not None:
        return _unpivot(
            times,
            _text(_column_or_constant(raw, "area_code", names, constants)),
            _wide_columns(raw, mapping.wide_counts),
            rows=rows,
            complete=complete,
            used=frozenset([*names.values(), *wide_count_columns(territory)]),
        )
    return _CountsSource(
        times,
        _column_or_constant(raw, "area_code", names, constants),
        _column_or_constant(raw, "category", names, constants),
        raw[names["count"]],
        rows,
        complete,
        frozenset(names.values()),
    )


def _wide_columns(raw: pd.DataFrame, wide: WideCounts) -> dict[str, pd.Series]:
    """Category → its counts (text as written); the remainder is the total minus the mapped
    columns, missing when any of them is not a number (a negative one is quarantined)."""
    out = {category: raw[column] for category, column in wide.columns.items()}
    if wide.total is not None and wide.remainder is not None:
        numbers = [_numbers(raw[c]) for c in (wide.total, *wide.columns.values())]
        rest = numbers[0] - sum(numbers[1:], pd.Series(0.0, index=raw.index))
        out[wide.remainder] = rest
    return out


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values if not _is_text(values) else _text(values), errors="coerce")


def _unpivot(
    times: _Times,
    area: pd.Series,
    columns: Mapping[str, pd.Series],
    *,
    rows: np.ndarray[Any, np.dtype[np.int64]],
    complete: np.ndarray[Any, np.dtype[np.bool_]],
    used: frozenset[str],
    frequency: str | None = None,
) -> _CountsSource:
    """Wide → long, row-major (period by period): one long row per source row × category,
    each keeping its source row."""
    k, n = len(columns), len(rows)
    wide = pd.DataFrame({c: v.reset_index(drop=True).astype("string") for c, v in columns.items()})
    return _CountsSource(
        times.repeat(k),
        area.reset_index(drop=True).repeat(k).reset_index(drop=True),
        pd.Series(np.tile(np.asarray(list(columns), dtype=object), n)),
        pd.Series(wide.to_numpy().ravel(), dtype="string"),
        np.repeat(rows, k),
        np.repeat(complete, k),
        used,
        frequency,
    )


def _constant_text(n: int, value: str) -> pd.Series:
    return pd.Series([value] * n, index=pd.RangeIndex(n), dtype="string")


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
    gap: np.ndarray[Any, np.dtype[np.bool_]]  # naive times in the skipped spring hour

    def repeat(self, k: int) -> _Times:
        """Each time `k` times in a row (a wide row becoming k long ones); DST counts kept."""
        return _Times(
            self.text.repeat(k).reset_index(drop=True),
            self.local.repeat(k).reset_index(drop=True),
            self.ambiguous,
            self.nonexistent,
            np.repeat(self.gap, k),
        )


def _local_times(
    values: pd.Series,
    time_format: str | None,
    timezone: str,
    *,
    suffix: str = "offset",
    naive_times: str = "local",
    iso_first: bool = False,
) -> _Times:
    """Times of the territory's zone from an export column.

    Typed date-times (Parquet) are instants when tz-aware, wall-clock time otherwise. Text with
    a UTC offset suffix (`Z`, `+02:00`) is an instant (ISO 8601, or the territory's format if
    it reads offsets), unless `suffix` is "local": the suffix is then ignored and the clock time
    read as local. Other text is local wall-clock time in the territory's format (ISO 8601
    when it gives none; ISO 8601 first, then its format, when `iso_first`), or UTC when
    `naive_times` is "utc" (no clock change to resolve then).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.astype("string").reset_index(drop=True)
        if values.dt.tz is not None:
            local = values.dt.tz_convert(timezone).dt.as_unit("s").reset_index(drop=True)
            return _Times(text, local, 0, 0, np.zeros(len(local), dtype=bool))
        if naive_times == "utc":
            return _from_utc(text, values.reset_index(drop=True), timezone)
        return _localise(text, values.reset_index(drop=True), timezone)
    text = _text(values)
    parts = text.str.extract(_OFFSET_SUFFIX)
    suffixed = parts["offset"].notna().to_numpy(dtype=bool)
    formats: list[str | None] = [None, time_format] if iso_first and time_format else [time_format]
    if suffix == "local":  # the clock time as written; a literal Z in the format still matches
        naive = _first_parse(text, formats)
        naive = naive.fillna(_first_parse(parts["wall"].astype("string"), formats))
        return _localise(text, naive, timezone)
    offset_rows = pd.Series(suffixed)
    wall = _first_parse(text.mask(offset_rows), formats)
    utc = naive_times == "utc"
    times = _from_utc(text, wall, timezone) if utc else _localise(text, wall, timezone)
    if not suffixed.any():
        return times
    instants = _parse_instants(text.where(offset_rows), time_format)
    local = times.local.where(~offset_rows, instants.dt.tz_convert(timezone).dt.as_unit("s"))
    return _Times(text, local, times.ambiguous, times.nonexistent, times.gap)


def _first_parse(text: pd.Series, formats: list[str | None]) -> pd.Series:
    """Naive times: the first format that parses each value."""
    parsed = _parse_naive(text, formats[0])
    for fmt in formats[1:]:
        parsed = parsed.fillna(_parse_naive(text, fmt))
    return parsed


def _parse_instants(text: pd.Series, time_format: str | None) -> pd.Series:
    """UTC instants of times written with an offset: ISO 8601, then the territory's format."""
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    if time_format:
        own = pd.to_datetime(text, format=time_format, utc=True, errors="coerce")
        parsed = parsed.fillna(own)
    return parsed.dt.as_unit("s").reset_index(drop=True)


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
    """Wall-clock times as written (an offset a format reads is dropped, the clock kept)."""
    text = values if not _is_text(values) else _text(values)
    parsed = pd.to_datetime(text, format=time_format or "ISO8601", errors="coerce")
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.reset_index(drop=True)


def _localise(text: pd.Series, naive: pd.Series, timezone: str) -> _Times:
    """Naive wall-clock → tz-aware, counting the DST cases the stated rule resolved."""
    naive = naive.dt.as_unit("s").reset_index(drop=True)
    present = naive.notna().to_numpy()
    first = np.ones(len(naive), dtype=bool)
    strict_fold = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    strict_gap = naive.dt.tz_localize(timezone, ambiguous=first, nonexistent="NaT")
    local = naive.dt.tz_localize(timezone, ambiguous=first, nonexistent="shift_forward")
    gap = strict_gap.isna().to_numpy() & present
    return _Times(
        text=text.reset_index(drop=True),
        local=local,
        ambiguous=int((strict_fold.isna().to_numpy() & present).sum()),
        nonexistent=int(gap.sum()),
        gap=gap,
    )


def _from_utc(text: pd.Series, utc: pd.Series, timezone: str) -> _Times:
    """Naive UTC → the territory's zone: every instant exists once, nothing to adjust."""
    local = utc.dt.as_unit("s").dt.tz_localize("UTC").dt.tz_convert(timezone)
    return _Times(
        text.reset_index(drop=True),
        local.reset_index(drop=True),
        0,
        0,
        np.zeros(len(local), dtype=bool),
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
