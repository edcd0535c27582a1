"""Expected interventions per hour and category: the deterministic skeleton of the generator.

rate(hour, category) = annual level(year) / 365.25 × week-of-year profile × episodes(day)
                       × calendar(hour)

The calendar (`calendar.calendar_rates`) is fixed by `profiles`; the levels and week-of-year
profiles come from the fitted `figures`, which were fitted on real weekly totals divided by the
same calendar, so nothing is counted twice.

The fitted levels are SDIS 91's. Another territory's rates are scaled by `volume_scale`: its
listed population over Essonne's (`REFERENCE_POPULATION`); a territory listing no population
keeps Essonne's volumes (scale 1), as before populations were read.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from previsecours.core.generator import figures, profiles
from previsecours.core.generator.calendar import DayCalendar, HourGrid, calendar_rates
from previsecours.core.territory import Territory

FloatArray = npt.NDArray[np.float64]
DAYS_PER_YEAR: Final = 365.25
# Inhabitants of the 196 communes of territories/essonne/communes.csv, whose interventions the
# figures were fitted on.
REFERENCE_POPULATION: Final = 1_338_485


def volume_scale(territory: Territory) -> float:
    """Expected interventions relative to SDIS 91's: the ratio of listed populations."""
    population = sum(c.population for c in territory.communes)
    return population / REFERENCE_POPULATION if population > 0 else 1.0


def annual_levels(year_fraction: FloatArray) -> FloatArray:
    """Calendar-adjusted interventions a year [day, category] at each decimal year.

    Log-linear between the fitted knots; outside them, each category keeps its fitted growth.
    """
    knots = np.asarray(figures.LEVEL_KNOT_YEARS)
    out = np.empty((year_fraction.size, len(profiles.CATEGORIES)))
    for j, category in enumerate(profiles.CATEGORIES):
        log_level = np.interp(year_fraction, knots, np.log(figures.LEVEL_KNOTS[category]))
        before = np.minimum(year_fraction - knots[0], 0.0)
        after = np.maximum(year_fraction - knots[-1], 0.0)
        log_level += before * np.log1p(figures.GROWTH_BEFORE[category])
        log_level += after * np.log1p(figures.GROWTH_AFTER[category])
        out[:, j] = np.exp(log_level)
    return out


def week_profile(iso_week: npt.NDArray[np.int64]) -> FloatArray:
    """Week-of-year factor [day, category]; ISO week 53 reuses week 52."""
    table = np.array([figures.WEEK_OF_YEAR[c] for c in profiles.CATEGORIES]).T  # [52, cat]
    return np.asarray(table[np.minimum(iso_week, 52) - 1], dtype=np.float64)


def daily_levels(days: DayCalendar, episodes: FloatArray) -> FloatArray:
    """Expected interventions of an average day [day, category], before the calendar."""
    return (
        annual_levels(days.year_fraction) / DAYS_PER_YEAR * week_profile(days.iso_week) * episodes
    )


def expected_counts(grid: HourGrid, days: DayCalendar, episodes: FloatArray) -> FloatArray:
    """Expected interventions [hour, category]."""
    return daily_levels(days, episodes)[grid.day] * calendar_rates(grid, days)
