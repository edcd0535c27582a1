"""Level shifts in a service's history: a recording change, a merger of services, a new
dispatch system — the territory's weekly volume stepping to another level and staying there.

Guarantees:
- `weekly_totals(history, territory)`: the territory's interventions per local week (every
  category, every area), weeks the history does not cover NaN — never zero;
- `level_shifts(weekly)`: the weeks where the median of the `window` known weeks after differs
  from the median of the `window` known weeks before by at least `threshold` (×1.3 or ÷1.3 by
  default), one per stretch of such weeks — placed where the 4 weeks before and after differ
  most —, at least `window` weeks apart.
  Seasonality (an August ×0.8 over a few weeks), a steady trend of a few % a year and a short
  crisis (a month of COVID lockdown) move a half-year median far less than that; a doubling
  from one week on does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from previsecours.core.calendar import period_of
from previsecours.core.history import History
from previsecours.core.territory import Territory

WINDOW_WEEKS = 26
THRESHOLD = 1.3
PLACE_WEEKS = 4


@dataclass(frozen=True)
class LevelShift:
    week: pd.Timestamp  # first local week of the new level
    before: float  # median weekly volume over the window before
    after: float  # … and after

    @property
    def ratio(self) -> float:
        return self.after / self.before if self.before > 0 else float("inf")

    def describe(self) -> str:
        return (
            f"level shift from the week of {self.week:%Y-%m-%d}: {self.before:.0f} → "
            f"{self.after:.0f} interventions a week (×{self.ratio:.2f})"
        )


def weekly_totals(history: History, territory: Territory) -> pd.Series:
    """Interventions per local week, indexed by the week's start; unknown weeks NaN."""
    if history.empty:
        return pd.Series(dtype=np.float64)
    tz = territory.timezone
    weights = (
        history.frame["count"].to_numpy(np.float64)
        if history.is_counts
        else np.ones(len(history), dtype=np.float64)
    )
    weeks = period_of(pd.DatetimeIndex(history.times), "week", tz)
    totals = pd.Series(weights, index=weeks).groupby(level=0).sum()
    full = pd.date_range(totals.index.min(), totals.index.max(), freq="7D", tz=tz)
    # Weeks are matched by their local date: a DST change inside the range shifts UTC offsets.
    by_day = dict(zip(pd.DatetimeIndex(totals.index).date, totals.to_numpy(), strict=True))
    return pd.Series([by_day.get(t.date(), np.nan) for t in full], index=full, dtype=np.float64)


def level_shifts(
    weekly: pd.Series, *, window: int = WINDOW_WEEKS, threshold: float = THRESHOLD
) -> tuple[LevelShift, ...]:
    """The level shifts of a weekly series (see the module docstring), oldest first."""
    values = weekly.to_numpy(np.float64)
    n = len(values)
    scores = np.zeros(n)
    medians: dict[int, tuple[float, float]] = {}
    for t in range(window, n - window + 1):
        before = values[t - window : t]
        after = values[t : t + window]
        if np.isnan(before).mean() > 0.5 or np.isnan(after).mean() > 0.5:
            continue
        b, a = float(np.nanmedian(before)), float(np.nanmedian(after))
        if b <= 0 or a <= 0 or abs(np.log(a / b)) < np.log(threshold):
            continue
        medians[t] = (b, a)
        # Half-year medians decide (robust to a storm week, blind to seasons); they stay flat
        # for half a window around a step, so the step is placed where the means of the few
        # weeks on either side differ most (too short for the season to weigh).
        near = values[t - PLACE_WEEKS : t], values[t : t + PLACE_WEEKS]
        if not np.isnan(near[0]).all() and not np.isnan(near[1]).all():
            scores[t] = abs(np.log(np.nanmean(near[1]) / max(np.nanmean(near[0]), 1e-9)))
    placed: list[int] = []
    for t in sorted((int(k) for k in np.flatnonzero(scores > 0)), key=lambda k: -scores[k]):
        if all(abs(t - p) >= window for p in placed):
            placed.append(t)
    return tuple(LevelShift(pd.Timestamp(weekly.index[t]), *medians[t]) for t in sorted(placed))
