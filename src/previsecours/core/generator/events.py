"""Draw a canonical extract of synthetic interventions for a territory and a period.

Guarantees of `generate_events(territory, start, end, seed)`:
- the canonical columns (`previsecours.core.schema.CANONICAL_COLUMNS`) with their dtypes;
  `alert_time` tz-aware in the territory's time zone, inside [start 00:00, end + 1 day 00:00);
- rows sorted by alert time; `intervention_id` unique, "<YYYYMMDD><4-digit rank in the day>";
- a pure function of its arguments: the same seed gives the same frame, bit for bit.

The process: expected counts per hour and category (`rates`, scaled by the territory's
population relative to SDIS 91's: `rates.volume_scale`), a gamma multiplier per day and
category (negative-binomial over-dispersion fitted on the real weekly totals), Poisson counts,
a uniform second inside each hour, then commune, first station, position and duration.
Each stage draws from its own stream of the seed, so changing one stage leaves the others.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from previsecours.core.generator import calendar, figures, places, profiles, rates
from previsecours.core.generator.episodes import draw_episodes
from previsecours.core.schema import conform_extract
from previsecours.core.territory import Territory

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
SECONDS_PER_HOUR: Final = 3600
_STAGES: Final = ("episodes", "counts", "times", "communes", "stations", "positions", "durations")


def generate_events(territory: Territory, start: date, end: date, seed: int) -> pd.DataFrame:
    """Synthetic interventions of `territory` from `start` to `end` (both days included)."""
    _check_categories(territory)
    streams = Streams(seed)
    seconds, category = draw_alerts(territory, start, end, streams)
    return place_alerts(territory, seconds, category, streams)


class Streams:
    """One independent random generator per stage, all derived from the seed."""

    def __init__(self, seed: int) -> None:
        sequences = np.random.SeedSequence(seed).spawn(len(_STAGES))
        self._sequences = dict(zip(_STAGES, sequences, strict=True))

    def __call__(self, stage: str) -> np.random.Generator:
        return np.random.default_rng(self._sequences[stage])


def draw_alerts(
    territory: Territory, start: date, end: date, rng: Streams
) -> tuple[IntArray, IntArray]:
    """Alert instants (UTC epoch seconds, sorted) and their category indexes."""
    grid = calendar.hourly_grid(start, end, territory.timezone)
    days = calendar.day_calendar(start, end, territory)
    expected = rates.expected_counts(grid, days, draw_episodes(days, rng("episodes")))
    scale = rates.volume_scale(territory)
    if scale != 1.0:  # Essonne itself: the same bytes as before volumes were scaled
        expected = expected * scale
    counts = draw_counts(expected, grid.day, len(days.dates), rng("counts"))
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    hour, category = np.divmod(cell, counts.shape[1])
    seconds = grid.utc_seconds[hour] + rng("times").integers(0, SECONDS_PER_HOUR, cell.size)
    order = np.argsort(seconds, kind="stable")
    return seconds[order], category[order]


def place_alerts(
    territory: Territory, seconds: IntArray, category: IntArray, rng: Streams
) -> pd.DataFrame:
    """The canonical extract of sorted alerts: ids, communes, stations, positions, durations."""
    where = places.territory_places(territory)
    commune = places.draw_communes(where, category, rng("communes"))
    station = places.draw_stations(where, commune, rng("stations"))
    latitude, longitude = places.draw_positions(where, commune, territory, rng("positions"))
    alert_time = pd.to_datetime(seconds, unit="s", utc=True).tz_convert(territory.timezone)
    frame = pd.DataFrame(
        {
            "intervention_id": _intervention_ids(alert_time),
            "alert_time": alert_time,
            "commune_code": np.asarray(where.commune_codes, dtype=object)[commune],
            "category": np.asarray(profiles.CATEGORIES, dtype=object)[category],
            "station_code": np.asarray(where.station_codes, dtype=object)[station],
            "latitude": latitude.round(6),
            "longitude": longitude.round(6),
            "duration_min": draw_durations(category, rng("durations")),
        }
    )
    return conform_extract(frame, territory.timezone)


def draw_counts(
    expected: FloatArray, hour_day: IntArray, n_days: int, rng: np.random.Generator
) -> IntArray:
    """Poisson counts around `expected` [hour, category] times a gamma multiplier per day.

    Summed over a day this is a negative binomial of mean `expected` and shape `DISPERSION`.
    """
    shape = np.array([figures.DISPERSION[c] for c in profiles.CATEGORIES])
    multiplier = rng.gamma(shape, 1.0 / shape, size=(n_days, shape.size))
    return rng.poisson(expected * multiplier[hour_day]).astype(np.int64)


def draw_durations(category: IntArray, rng: np.random.Generator) -> FloatArray:
    """Engagement minutes: lognormal per category (median and spread), whole minutes, within
    [DURATION_MIN_FLOOR, DURATION_MAX_MIN]."""
    median = np.array([profiles.DURATION_LOGNORMAL[c][0] for c in profiles.CATEGORIES])
    sigma = np.array([profiles.DURATION_LOGNORMAL[c][1] for c in profiles.CATEGORIES])
    minutes = median[category] * np.exp(sigma[category] * rng.standard_normal(category.size))
    return np.clip(np.round(minutes), profiles.DURATION_MIN_FLOOR, profiles.DURATION_MAX_MIN)


def _intervention_ids(alert_time: pd.DatetimeIndex) -> npt.NDArray[np.object_]:
    """ "<local date YYYYMMDD><rank in the day, 4 digits>", like a dispatch day counter.

    Rows are sorted by time, so ranks restart each local day; extracts of periods that do not
    overlap never share an id, whatever their bounds.
    """
    key = np.asarray(
        alert_time.year * 10_000 + alert_time.month * 100 + alert_time.day, dtype=np.int64
    )
    first_of_day = np.searchsorted(key, key, side="left")
    rank = np.arange(key.size) - first_of_day + 1
    return (pd.Series(key).astype(str) + pd.Series(rank).astype(str).str.zfill(4)).to_numpy(
        dtype=object
    )


def _check_categories(territory: Territory) -> None:
    missing = [c for c in profiles.CATEGORIES if c not in territory.categories]
    if missing:
        raise ValueError(
            f"territory {territory.name}: the generator draws {list(profiles.CATEGORIES)}, "
            f"categories {missing} are not declared"
        )
