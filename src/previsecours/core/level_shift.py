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
  from one week on does not. With `min_after`, a shift is seen from that many weeks of the new
  level on (the half-year after truncated at the end of the series); each week of a new level
  that short must differ by `threshold` from the half-year before, and its median from the
  same weeks a year earlier, which must be known (an August dip is below the half-year before
  it, not below last August);
- `recent_level_shift(history, territory)`: the latest shift whose new level began within the
  last `RECENT_WEEKS` complete weeks, seen from `MIN_WEEKS_AFTER` weeks of it on — what the
  monitor alerts on, long before training (which needs the half-year after) can see it.
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
YEAR_WEEKS = 52
# The monitor speaks from 4 weeks of a new level (a month of it is no storm) for a quarter:
# each alert starts a retrain, so it must stop once the models have had time to learn it.
MIN_WEEKS_AFTER = 4
RECENT_WEEKS = 13


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

    def notice(self, start_after: bool) -> str:
        """What ingest says of a shift its extract brought: what to do about it."""
        if start_after:
            return (
                f"{self.describe()}; training starts after it (train.start_after_level_shift: true)"
            )
        return (
            f"{self.describe()}; training can start after it: train.start_after_level_shift: true"
        )

    def alert(self) -> str:
        """What the monitor says of a recent shift: the models learned the level before it."""
        return (
            f"{self.describe()} — a recording change, a merger of services? The models learned "
            "the level before it: retrain; training can start after it "
            f"(train.start_after_level_shift: true) once {WINDOW_WEEKS} weeks of the new level "
            "are stored"
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
    weekly: pd.Series,
    *,
    window: int = WINDOW_WEEKS,
    threshold: float = THRESHOLD,
    min_after: int | None = None,
) -> tuple[LevelShift, ...]:
    """The level shifts of a weekly series (see the module docstring), oldest first.

    `min_after`: the fewest weeks of a new level that show it (default: `window`)."""
    values = weekly.to_numpy(np.float64)
    n = len(values)
    scores = np.zeros(n)
    medians: dict[int, tuple[float, float]] = {}
    for t in range(window, n - (window if min_after is None else min_after) + 1):
        before = values[t - window : t]
        after = values[t : t + window]
        if np.isnan(before).mean() > 0.5 or np.isnan(after).mean() > 0.5:
            continue
        b, a = float(np.nanmedian(before)), float(np.nanmedian(after))
        if b <= 0 or a <= 0 or abs(np.log(a / b)) < np.log(threshold):
            continue
        if len(after) < window and not _short_shift(values, t, b, a, threshold):
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


def _short_shift(values: np.ndarray, t: int, before: float, after: float, threshold: float) -> bool:
    """Whether the few weeks from week `t` to the end (median `after`) are a new level: every
    known one beyond `threshold` of `before` on the same side (else the step is later, or a
    storm), and not a season."""
    weeks = values[t:]
    known = weeks[~np.isnan(weeks)]
    side = np.sign(np.log(after / before))
    if not np.all(side * np.log(np.maximum(known, 1e-9) / before) >= np.log(threshold)):
        return False
    return not _maybe_season(values, t, len(weeks), after, threshold)


def _maybe_season(values: np.ndarray, t: int, weeks: int, after: float, threshold: float) -> bool:
    """Whether a short new level (median `after` over `weeks` weeks from week `t`) may be a
    season: within `threshold` of the same weeks a year earlier, or the year before unknown
    (a few weeks cannot be told from a season without it)."""
    start = t - YEAR_WEEKS
    if start < 0:
        return True
    last_year = values[start : start + weeks]
    if np.isnan(last_year).mean() > 0.5:
        return True
    before = float(np.nanmedian(last_year))
    return before <= 0 or abs(np.log(after / before)) < np.log(threshold)


def recent_level_shift(
    history: History, territory: Territory, *, weeks: int = RECENT_WEEKS
) -> LevelShift | None:
    """The latest level shift whose new level began within the last `weeks` complete weeks
    (see the module docstring); None when there is none."""
    if history.empty:
        return None
    end = history.end(territory, history.frequency or "day")
    # The week holding the end of the data is partial: a short last week is no drop.
    complete_until = pd.Timestamp(period_of(pd.DatetimeIndex([end]), "week", territory.timezone)[0])
    weekly = weekly_totals(history, territory)
    shifts = level_shifts(weekly[weekly.index < complete_until], min_after=MIN_WEEKS_AFTER)
    if not shifts or shifts[-1].week < complete_until - pd.Timedelta(weeks=weeks):
        return None
    return shifts[-1]


def brought_level_shifts(
    before: History, after: History, territory: Territory, brought: pd.Series
) -> tuple[LevelShift, ...]:
    """The level shifts of `after` (the store once an extract is merged) that `before` (the
    store it replaced) did not show, or whose week lies within the times the extract
    `brought`: what the extract changed in the history's level, as training will see it."""
    shifts = level_shifts(weekly_totals(after, territory))
    if not shifts:
        return ()
    known = level_shifts(weekly_totals(before, territory)) if not before.empty else ()
    # A shift moves by a few weeks as weeks are added around it; two shifts are a window apart.
    near = pd.Timedelta(weeks=WINDOW_WEEKS // 2)
    first, last = brought.min(), brought.max()
    week = pd.Timedelta(weeks=1)

    def new(shift: LevelShift) -> bool:
        return all(abs(shift.week - k.week) >= near for k in known)

    def inside(shift: LevelShift) -> bool:
        return bool(pd.notna(first) and first - week < shift.week <= last)

    return tuple(s for s in shifts if new(s) or inside(s))
