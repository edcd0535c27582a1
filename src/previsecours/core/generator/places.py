"""Where interventions happen and who answers first: communes, stations and positions.

Commune weights follow SDIS 91's real annual SUAP per commune (`figures.COMMUNE_SUAP_SHARE`);
a commune missing there gets a share proportional to its population at the fitted rate per
inhabitant, and a territory none of whose communes are there is weighted by population alone.
Road accidents and vegetation fires spread partly evenly over communes (`profiles.RURAL_MIX`).
The first station is drawn from the commune's coverage shares, or is the nearest station when
the commune has none. Positions scatter around the commune's centroid inside the bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from previsecours.core.generator import figures, profiles
from previsecours.core.territory import Territory

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Places:
    """Arrays indexed by commune (in territory order) and by station (`station_codes`)."""

    commune_codes: tuple[str, ...]
    weights: FloatArray  # [category, commune], rows sum to 1
    station_codes: tuple[str, ...]
    station_cumulative: FloatArray  # [commune, station], cumulative shares ending at 1
    latitude: FloatArray
    longitude: FloatArray


def territory_places(territory: Territory) -> Places:
    if not territory.communes:
        raise ValueError(f"territory {territory.name} lists no communes: nothing to generate")
    suap = suap_weights(territory)
    even = np.full_like(suap, 1.0 / suap.size)
    mix = np.asarray(profiles.RURAL_MIX)[:, None]
    stations, cumulative = _first_stations(territory)
    box = territory.bounding_box
    centre = ((box.lat_min + box.lat_max) / 2, (box.lon_min + box.lon_max) / 2)
    return Places(
        commune_codes=tuple(c.code for c in territory.communes),
        weights=(1.0 - mix) * suap + mix * even,
        station_codes=stations,
        station_cumulative=cumulative,
        latitude=np.array([c.latitude or centre[0] for c in territory.communes]),
        longitude=np.array([c.longitude or centre[1] for c in territory.communes]),
    )


def suap_weights(territory: Territory) -> FloatArray:
    """Each commune's share of SUAP: fitted when known, else population at the fitted rate."""
    shares = figures.COMMUNE_SUAP_SHARE
    population = np.array([float(c.population) for c in territory.communes])
    known = np.array([c.code in shares for c in territory.communes])
    fitted = np.array([shares.get(c.code, 0.0) for c in territory.communes])
    if not known.any() or fitted.sum() == 0.0:
        weights = population if population.sum() > 0 else np.ones_like(population)
        return np.asarray(weights / weights.sum(), dtype=np.float64)
    known_population = population[known].sum()
    per_inhabitant = fitted[known].sum() / known_population if known_population > 0 else 0.0
    weights = np.where(known, fitted, population * per_inhabitant)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def _first_stations(territory: Territory) -> tuple[tuple[str, ...], FloatArray]:
    """Cumulative probability [commune, station] that each station answers first."""
    codes = tuple(s.code for s in territory.stations) or ("",)
    index = {code: i for i, code in enumerate(codes)}
    shares = territory.shares_by_commune()
    probability = np.zeros((len(territory.communes), len(codes)))
    for row, commune in enumerate(territory.communes):
        for zone, share in shares.get(commune.code, {}).items():
            station = territory.zone_station(zone)
            if station is not None:
                probability[row, index[station.code]] += share
        if probability[row].sum() == 0.0:
            probability[row, _nearest_station(territory, row)] = 1.0
    cumulative = np.cumsum(probability / probability.sum(axis=1, keepdims=True), axis=1)
    cumulative[:, -1] = 1.0
    return codes, cumulative


def _nearest_station(territory: Territory, row: int) -> int:
    commune = territory.communes[row]
    if not territory.stations or commune.latitude is None or commune.longitude is None:
        return 0
    lat = np.array([s.latitude for s in territory.stations])
    lon = np.array([s.longitude for s in territory.stations])
    scale = np.cos(np.radians(commune.latitude))
    distance = (lat - commune.latitude) ** 2 + ((lon - commune.longitude) * scale) ** 2
    return int(np.argmin(distance))


def draw_communes(places: Places, category: IntArray, rng: np.random.Generator) -> IntArray:
    """One commune per event, from its category's weights."""
    commune = np.empty(category.size, dtype=np.int64)
    for j in range(places.weights.shape[0]):
        mask = category == j
        commune[mask] = rng.choice(
            places.weights.shape[1], size=int(mask.sum()), p=places.weights[j]
        )
    return commune


def draw_stations(places: Places, commune: IntArray, rng: np.random.Generator) -> IntArray:
    """One first station per event, by inverting its commune's cumulative shares.

    Row r of the cumulative table, shifted by r, lies in [r, r + 1]: one sorted array for all
    communes, searched once (no event × station matrix).
    """
    n_communes, n_stations = places.station_cumulative.shape
    shifted = (places.station_cumulative + np.arange(n_communes)[:, None]).ravel()
    position = np.searchsorted(shifted, commune + rng.random(commune.size), side="right")
    return np.asarray(np.minimum(position - commune * n_stations, n_stations - 1), dtype=np.int64)


def draw_positions(
    places: Places, commune: IntArray, territory: Territory, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    sigma_lat, sigma_lon = profiles.POSITION_SIGMA_DEG
    box = territory.bounding_box
    lat = places.latitude[commune] + rng.normal(0.0, sigma_lat, commune.size)
    lon = places.longitude[commune] + rng.normal(0.0, sigma_lon, commune.size)
    return np.clip(lat, box.lat_min, box.lat_max), np.clip(lon, box.lon_min, box.lon_max)
