"""Seeded episodes that lift whole days: flu epidemics, heat waves and storms.

`draw_episodes` returns a multiplier [day, category] (1 on ordinary days). Episodes are drawn
season by season in calendar order from the generator it is given, so a seed fixes them all.
Flu lifts SUAP by the real winters' fitted peak lifts; storms multiply AUTR by the real storm
weeks' excess; heat waves lift SUAP and, far more, vegetation fires (`profiles`).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from previsecours.core.generator import figures, profiles
from previsecours.core.generator.calendar import DayCalendar

FloatArray = npt.NDArray[np.float64]

SUAP, AUTR = profiles.CATEGORIES.index("SUAP"), profiles.CATEGORIES.index("AUTR")


def draw_episodes(days: DayCalendar, rng: np.random.Generator) -> FloatArray:
    lift = np.zeros((len(days.dates), len(profiles.CATEGORIES)))
    first, last = days.dates[0], days.dates[-1]
    offset = np.arange(len(days.dates), dtype=np.float64)  # day index = days since `first`
    for year in range(first.year - 1, last.year + 1):
        _flu(lift, offset, _days_between(first, date(year, 12, 1)), rng)
    for year in range(first.year, last.year + 1):
        _heat_waves(lift, _days_between(first, date(year, 6, 15)), rng)
        _storms(lift, _days_between(first, date(year, 1, 1)), rng)
    return 1.0 + lift


def _days_between(first: date, day: date) -> int:
    return (day - first) // timedelta(days=1)


def _flu(
    lift: FloatArray, offset: FloatArray, december_first: int, rng: np.random.Generator
) -> None:
    """One epidemic a winter: a Gaussian bump of SUAP around a random peak day."""
    low, high = profiles.FLU_PEAK_WINDOW_DAYS
    peak = december_first + int(rng.integers(low, high + 1))
    height = float(rng.choice(figures.FLU_PEAK_LIFTS)) * float(rng.uniform(0.8, 1.25))
    lift[:, SUAP] += height * np.exp(-0.5 * ((offset - peak) / profiles.FLU_SIGMA_DAYS) ** 2)


def _heat_waves(lift: FloatArray, june_fifteenth: int, rng: np.random.Generator) -> None:
    """A few days of heat between mid-June and mid-August, some summers."""
    shortest, longest = profiles.HEAT_WAVE_DAYS
    for _ in range(int(rng.poisson(profiles.HEAT_WAVES_PER_SUMMER))):
        start = june_fifteenth + int(rng.integers(0, 62))
        length = int(rng.integers(shortest, longest + 1))
        height = float(rng.uniform(*profiles.HEAT_WAVE_SUAP_LIFT))
        _add(lift, start, length, height * np.asarray(profiles.HEAT_WAVE_RELATIVE_LIFT))


def _storms(lift: FloatArray, january_first: int, rng: np.random.Generator) -> None:
    """Storms and floods: a week's worth of excess AUTR packed into one to three days."""
    shortest, longest = profiles.STORM_DAYS
    weekly_excess = (figures.STORMS["mean_week_multiplier"] - 1.0) * 7.0
    for _ in range(int(rng.poisson(figures.STORMS["weeks_per_year"]))):
        start = january_first + int(rng.integers(0, 365))
        length = int(rng.integers(shortest, longest + 1))
        excess = weekly_excess * float(rng.uniform(0.5, 1.5)) / length
        factors = np.zeros(len(profiles.CATEGORIES))
        factors[AUTR] = excess
        _add(lift, start, length, factors)


def _add(lift: FloatArray, start: int, length: int, factors: FloatArray) -> None:
    """Add `factors` to the days [start, start + length) that fall inside the period."""
    lo, hi = max(start, 0), min(start + length, lift.shape[0])
    if lo < hi:
        lift[lo:hi] += factors
