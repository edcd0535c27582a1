"""Shapes the weekly reference data cannot give, set from SDIS practice and published studies.

SDIS 91's open data is weekly, so the within-week and within-day shapes below are assumptions,
written once here with their reason (DOMAIN.md: trough at 5 am, plateau late morning to evening,
weekend nights; New Year's night 1.6-1.8x missions and many more fires; heat waves +11 to +19 %
weekly SUAP). Everything fitted on real data lives in `figures.py` instead.

Categories are indexed in `CATEGORIES` order in every array of this module.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

CATEGORIES: Final = ("SUAP", "ACCI", "INCU", "INCN", "AUTR")

# Relative volume by weekday (Monday first), mean 1. Road accidents follow traffic (Friday
# evening peak, quiet Sunday); assistance is nearly flat with a Monday catch-up.
WEEKDAY_FACTORS: Final[dict[str, tuple[float, ...]]] = {
    "SUAP": (1.04, 1.00, 0.99, 0.99, 1.02, 1.00, 0.96),
    "ACCI": (1.00, 1.02, 1.02, 1.05, 1.14, 0.98, 0.79),
    "INCU": (0.97, 0.96, 0.97, 0.98, 1.02, 1.06, 1.04),
    "INCN": (0.96, 0.97, 0.97, 0.98, 1.00, 1.06, 1.06),
    "AUTR": (1.05, 1.03, 1.02, 1.02, 1.01, 0.96, 0.91),
}

# Hour-of-day weights (0 h .. 23 h) of a working day and of a weekend day or public holiday,
# before normalisation. Weekend nights (early Saturday and Sunday) carry the night-life peak.
# fmt: off
_HOURS_WORKDAY: Final[dict[str, tuple[float, ...]]] = {
    "SUAP": (2.6, 2.2, 1.9, 1.6, 1.4, 1.4, 1.9, 3.0, 4.5, 5.4, 5.8, 5.9,
             5.8, 5.5, 5.5, 5.5, 5.6, 5.7, 5.8, 5.6, 5.0, 4.4, 3.7, 3.1),
    "ACCI": (1.4, 1.0, 0.8, 0.6, 0.6, 1.0, 2.4, 5.6, 6.8, 4.9, 4.2, 4.4,
             5.0, 5.0, 5.0, 5.6, 6.7, 8.0, 8.2, 6.6, 4.6, 3.3, 2.6, 2.0),
    "INCU": (3.6, 3.1, 2.7, 2.2, 1.8, 1.6, 1.8, 2.4, 3.1, 3.6, 4.0, 4.4,
             4.6, 4.6, 4.6, 4.8, 5.0, 5.4, 5.9, 6.2, 6.1, 5.6, 4.9, 4.2),
    "INCN": (1.6, 1.2, 0.9, 0.7, 0.5, 0.5, 0.6, 1.0, 1.6, 2.5, 3.8, 5.2,
             6.6, 7.6, 8.4, 8.8, 8.6, 8.0, 7.0, 5.8, 4.6, 3.5, 2.6, 2.0),
    "AUTR": (1.8, 1.4, 1.2, 1.0, 1.0, 1.3, 2.2, 3.6, 5.2, 6.2, 6.6, 6.5,
             6.0, 5.8, 5.8, 5.9, 5.9, 5.7, 5.2, 4.5, 3.7, 3.0, 2.5, 2.1),
}
_HOURS_WEEKEND: Final[dict[str, tuple[float, ...]]] = {
    "SUAP": (3.8, 3.5, 3.1, 2.6, 2.0, 1.7, 1.8, 2.3, 3.2, 4.3, 5.1, 5.5,
             5.6, 5.4, 5.3, 5.3, 5.4, 5.5, 5.6, 5.4, 5.0, 4.5, 4.0, 3.7),
    "ACCI": (3.4, 3.0, 2.6, 2.2, 2.0, 1.8, 1.6, 1.8, 2.4, 3.2, 4.2, 5.0,
             5.4, 5.4, 5.4, 5.6, 5.8, 6.0, 5.8, 5.2, 4.4, 3.8, 3.6, 3.5),
    "INCU": (4.4, 4.0, 3.5, 2.9, 2.3, 1.8, 1.7, 2.0, 2.6, 3.2, 3.8, 4.3,
             4.6, 4.6, 4.6, 4.7, 4.8, 5.1, 5.5, 5.8, 5.8, 5.5, 5.0, 4.7),
    "INCN": (2.0, 1.6, 1.2, 0.9, 0.6, 0.5, 0.5, 0.8, 1.3, 2.2, 3.5, 5.0,
             6.4, 7.4, 8.2, 8.6, 8.5, 8.0, 7.1, 6.0, 4.8, 3.7, 2.8, 2.3),
    "AUTR": (2.4, 2.0, 1.7, 1.4, 1.2, 1.2, 1.5, 2.4, 3.6, 4.8, 5.6, 6.0,
             5.9, 5.7, 5.6, 5.6, 5.6, 5.4, 5.1, 4.6, 4.0, 3.4, 3.0, 2.7),
}
# fmt: on


def hour_weights() -> FloatArray:
    """Array [day type (0 working day, 1 weekend or holiday), hour, category], rows sum to 1."""
    raw = np.array(
        [[_HOURS_WORKDAY[c] for c in CATEGORIES], [_HOURS_WEEKEND[c] for c in CATEGORIES]],
        dtype=np.float64,
    ).transpose(0, 2, 1)
    return np.asarray(raw / raw.sum(axis=1, keepdims=True), dtype=np.float64)


def weekday_factors() -> FloatArray:
    """Array [weekday (Monday = 0), category], each column of mean 1."""
    raw = np.array([WEEKDAY_FACTORS[c] for c in CATEGORIES], dtype=np.float64).T
    return np.asarray(raw / raw.mean(axis=0, keepdims=True), dtype=np.float64)


# A public holiday is a Sunday (its weekday factor and hour shape); a bridge day (a working day
# squeezed between a holiday and a weekend) loses the commuters who take it off.
BRIDGE_FACTOR: Final = (0.96, 0.85, 1.0, 1.0, 0.94)
# School holidays of the territory's zone, on top of the week-of-year profile (which already
# carries the average school calendar): families leave, fewer school and commuting trips.
SCHOOL_HOLIDAY_FACTOR: Final = (0.98, 0.93, 1.0, 1.0, 0.98)

# Hourly multipliers of the two festive nights, (first local hour, hours, factors by category).
# New Year's night: 1.6-1.8x missions, many more fires (cars, bins); 14 July: fireworks.
NEW_YEAR_NIGHT: Final = (22, 8, (1.8, 1.6, 5.0, 3.0, 2.0))
BASTILLE_DAY_NIGHT: Final = (21, 5, (1.3, 1.2, 2.2, 3.0, 1.4))

# Heat waves: (expected episodes a summer, min/max days, SUAP lift range, other lifts).
HEAT_WAVES_PER_SUMMER: Final = 0.6
HEAT_WAVE_DAYS: Final = (3, 8)
HEAT_WAVE_SUAP_LIFT: Final = (0.12, 0.25)
# Lift of each category relative to SUAP's: vegetation fires soar in a dry heat wave.
HEAT_WAVE_RELATIVE_LIFT: Final = (1.0, 0.2, 0.5, 8.0, 1.0)

# Engagement duration (minutes), lognormal per category: (median, sigma), then floored.
DURATION_LOGNORMAL: Final[dict[str, tuple[float, float]]] = {
    "SUAP": (52.0, 0.62),
    "ACCI": (64.0, 0.66),
    "INCU": (78.0, 0.85),
    "INCN": (95.0, 0.90),
    "AUTR": (48.0, 0.80),
}
DURATION_MIN_FLOOR: Final = 5.0
# Longer engagements exist (a big fire's watch), but a dispatch record closes within the day.
DURATION_MAX_MIN: Final = 1440.0

# Share of each category spread evenly over communes rather than like SUAP: road accidents
# happen on the roads crossing rural communes, vegetation fires in the fields and woods.
RURAL_MIX: Final = (0.0, 0.3, 0.0, 0.6, 0.1)

# Flu epidemics: one a winter, its peak between these days after 1 December, Gaussian width.
FLU_PEAK_WINDOW_DAYS: Final = (10, 80)
FLU_SIGMA_DAYS: Final = 10.0
# Storms (AUTR only): days an episode lasts.
STORM_DAYS: Final = (1, 3)

# Spread of an intervention's position around its commune's centroid (degrees, 1 sigma).
POSITION_SIGMA_DEG: Final = (0.009, 0.013)
