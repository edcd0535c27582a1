"""Read the covariate files a territory declares, checked row by row.

Guarantees: `read_covariate` returns one float value per period of the covariate's frequency,
keyed by the period's local start (a date is a local date; a weekly date may be any day of its
week, or an ISO year-week with `date_format: "%G%V"`). Every problem raises `CovariateError`
naming the covariate, the file and, for a bad value, the line: a missing file or column, a text
that is not a date or not a number, two values for the same period. An empty cell is an unknown
value (NaN), never zero. The alignment to a panel's periods is pure (core/covariates.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from previsecours.core.calendar import period_of
from previsecours.core.covariates import CovariateSeries, align_covariates
from previsecours.core.schema import Frequency, to_local_time
from previsecours.core.stored_counts import period_frequency
from previsecours.core.territory import CovariateSource, Territory
from previsecours.core.training import PanelData
from previsecours.errors import InputError


class CovariateError(InputError, ValueError):
    """A covariate file that cannot be used; the message names the file and the line."""


def read_covariate(source: CovariateSource, timezone: str) -> CovariateSeries:
    path = Path(source.file)
    what = f"covariate {source.name!r} ({path})"
    if not path.is_file():
        raise CovariateError(f"{what}: no such file (declared in the territory's covariates)")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CovariateError(f"{what}: cannot read the file: {exc}") from exc
    for column in (source.date_column, source.value_column):
        if column not in raw.columns:
            raise CovariateError(
                f"{what}: no column {column!r}; found columns {list(raw.columns)[:20]}"
            )
    texts = raw[source.date_column].str.strip()
    dates = _parse_dates(texts, source.date_format)
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        line = int(bad[0]) + 2  # 1-based, after the header
        expected = f"format {source.date_format!r}" if source.date_format else "an ISO date"
        raise CovariateError(
            f"{what}, line {line}: {source.date_column}={texts.iloc[bad[0]]!r} is not a date "
            f"({expected}); {len(bad)} such row(s)"
        )
    values = _parse_values(raw[source.value_column], what, source.value_column)
    frequency: Frequency = source.frequency  # type: ignore[assignment]
    starts = period_of(pd.DatetimeIndex(to_local_time(dates, timezone)), frequency, timezone)
    duplicated = np.flatnonzero(starts.duplicated())
    if len(duplicated):
        second = int(duplicated[0])
        first = int(np.flatnonzero(starts == starts[second])[0])
        raise CovariateError(
            f"{what}, lines {first + 2} and {second + 2}: two values for the {frequency} "
            f"starting {starts[second]:%Y-%m-%d %H:%M}"
        )
    series = pd.Series(values, index=starts.as_unit("s"), name=source.name).sort_index()
    return CovariateSeries(source.name, frequency, series)


def read_covariates(territory: Territory) -> tuple[CovariateSeries, ...]:
    return tuple(read_covariate(c, territory.timezone) for c in territory.covariates)


def covariate_frame(
    territory: Territory,
    starts: pd.DatetimeIndex,
    frequency: Frequency,
    names: tuple[str, ...] | None = None,
) -> pd.DataFrame | None:
    """The territory's covariates (or those of `names`, in that order) aligned to `starts`;
    None when there are none to read."""
    declared = {c.name: c for c in territory.covariates}
    wanted = tuple(declared) if names is None else names
    if not wanted:
        return None
    missing = [n for n in wanted if n not in declared]
    if missing:
        raise CovariateError(
            f"covariate(s) {missing} are not declared by territory {territory.name} "
            f"(declared: {sorted(declared)})"
        )
    series = [read_covariate(declared[n], territory.timezone) for n in wanted]
    return align_covariates(series, starts, frequency, territory.timezone)


def _parse_dates(texts: pd.Series, date_format: str | None) -> pd.Series:
    if date_format is None:
        return pd.to_datetime(texts, format="ISO8601", errors="coerce")
    if ("%G" in date_format or "%V" in date_format) and "%u" not in date_format:
        # An ISO year-week names no day: its Monday.
        return pd.to_datetime(texts + "-1", format=date_format + "-%u", errors="coerce")
    return pd.to_datetime(texts, format=date_format, errors="coerce")


def _parse_values(texts: pd.Series, what: str, column: str) -> np.ndarray:
    cleaned = texts.str.strip().str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(cleaned.replace("", None), errors="coerce").astype("float64")
    bad = np.flatnonzero((numbers.isna() & (cleaned != "")).to_numpy())
    if len(bad):
        raise CovariateError(
            f"{what}, line {int(bad[0]) + 2}: {column}={texts.iloc[bad[0]]!r} is not a number; "
            f"{len(bad)} such row(s)"
        )
    return np.asarray(numbers.to_numpy(np.float64), dtype=np.float64)


def with_covariates(data: PanelData, territory: Territory) -> PanelData:
    """Attach the declared covariates, aligned to the panel's periods (clear error if useless)."""
    frequency: Frequency = territory.frequency  # type: ignore[assignment]
    if len(data.panel.starts) > 1:
        frequency = period_frequency(data.panel.starts)
    frame = covariate_frame(territory, data.panel.starts, frequency)
    if frame is not None:
        empty = [c for c in frame.columns if frame[c].isna().all()]
        if empty:
            first, last = data.panel.starts[0], data.panel.starts[-1]
            raise CovariateError(
                f"covariate(s) {empty} have no value between {first:%Y-%m-%d} and "
                f"{last:%Y-%m-%d}, the periods of the panel: check the file(s) and their dates"
            )
    known_ahead = tuple(c.name for c in territory.covariates if c.known_ahead)
    return replace(data, covariates=frame, known_ahead=known_ahead)
