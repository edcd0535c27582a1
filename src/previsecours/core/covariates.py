"""Covariates (flu incidence, temperature, ...) aligned to a panel's periods.

A covariate is one number per period of its own frequency (hour, day or week), keyed by the
period's local start (adapters/covariates.py reads and checks the files). `align_covariates`
gives each period of a panel the value of the covariate period it falls in: a weekly value
applies to every hour or day of its week, a daily value to its 24 (23, 25) hours. A covariate
finer than the panel (daily temperature, weekly panel) gets the mean of its known values within
the panel period. Periods without a value stay NaN, never a filled guess.

Features read covariates lagged by the horizon (core.features), so a forecast needs the values of
the periods a horizon before the forecast periods: `missing_lagged` names the covariates that
lack some of them (a feed that stopped, or lags more than the horizon). A covariate known ahead
(a match calendar, a weather forecast) is read at the forecast periods themselves; where its file
has no value yet for one, the model takes it as unknown (`unknown_spans` says which).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from previsecours.core.calendar import period_of
from previsecours.core.schema import Frequency

_ORDER: Final = {"hour": 0, "day": 1, "week": 2}


@dataclass(frozen=True)
class CovariateSeries:
    name: str
    frequency: Frequency
    values: pd.Series  # float64, indexed by tz-aware local period starts (sorted, unique)

    @property
    def span(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last period with a known value."""
        known = self.values.dropna()
        if known.empty:
            return None
        return pd.Timestamp(known.index[0]), pd.Timestamp(known.index[-1])


def align_covariate(
    series: CovariateSeries, starts: pd.DatetimeIndex, frequency: Frequency, timezone: str
) -> np.ndarray:
    """The covariate's value for each period start of a panel (NaN where it has none)."""
    if _ORDER[series.frequency] >= _ORDER[frequency]:
        keys = period_of(starts, series.frequency, timezone)
        found = series.values.reindex(keys.as_unit("s"))
        return np.asarray(found.to_numpy(np.float64), dtype=np.float64)
    groups = period_of(pd.DatetimeIndex(series.values.index), frequency, timezone)
    means = series.values.groupby(groups.as_unit("s")).mean()  # mean of the known values
    return np.asarray(means.reindex(starts.as_unit("s")).to_numpy(np.float64), dtype=np.float64)


def align_covariates(
    series: Iterable[CovariateSeries],
    starts: pd.DatetimeIndex,
    frequency: Frequency,
    timezone: str,
) -> pd.DataFrame:
    """One column per covariate, indexed by `starts` (what `build_features` reads)."""
    return pd.DataFrame(
        {s.name: align_covariate(s, starts, frequency, timezone) for s in series},
        index=starts,
    )


def missing_lagged(
    aligned: pd.DataFrame,
    *,
    origin: int,
    periods: int,
    horizon: int,
    known_ahead: Collection[str] = (),
) -> Mapping[str, int]:
    """Covariates lacking values the features of periods [origin, origin + periods) read.

    Those features read each covariate `horizon` periods earlier: positions
    [origin − horizon, origin + periods − horizon) of `aligned` (rows = the panel's periods);
    a covariate of `known_ahead` at the periods themselves.
    Returns name → number of those periods without a value (only names with at least one).
    """
    out = {}
    for name in aligned.columns:
        lag = 0 if name in known_ahead else horizon
        lo, hi = origin - lag, origin + periods - lag
        values = aligned[name].to_numpy(np.float64)
        window = values[max(lo, 0) : max(hi, 0)]
        missing = int(np.isnan(window).sum()) + max(0, -lo) - max(0, -hi)
        if missing:
            out[str(name)] = missing
    return out


def unknown_spans(
    aligned: pd.DataFrame, names: Iterable[str], *, origin: int, periods: int
) -> Mapping[str, tuple[pd.Timestamp, pd.Timestamp, int]]:
    """Known-ahead covariates without a value at some of periods [origin, origin + periods):
    name → (first, last such period start, how many), only names with at least one."""
    window = aligned.iloc[origin : origin + periods]
    out = {}
    for name in names:
        unknown = window.index[window[name].isna().to_numpy()]
        if len(unknown):
            out[name] = (pd.Timestamp(unknown[0]), pd.Timestamp(unknown[-1]), len(unknown))
    return out
