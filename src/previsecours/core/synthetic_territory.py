"""Plausible territories of any size, for scale tests and benchmarks (no real service behind).

`synthetic_territory(name, n_stations, seed=...)` is a pure function of its arguments and
returns a checked `Territory` shaped like SDIS 91's:
- communes scattered over a square bounding box whose area grows with the number of stations
  (Essonne's density: ~4 communes and ~26,800 inhabitants per station), with skewed
  (log-normal) populations summing to `population` (default: Essonne's inhabitants per station
  × `n_stations`), so the generator's population-scaled volumes grow with the territory;
- stations inside the box, 10 % CSP, 60 % CS, the rest CPI; about two thirds own a first-call
  coverage zone (station code == zone code, as in Essonne) and the others sit within the
  nearest one's zone;
- each commune served by its nearest zone at 70–100 % and, for the rest, by its second
  nearest, shares summing to 100;
- Essonne's calendar (Europe/Paris, French holidays, school zone C), the generator's five
  categories, hourly frequency and Essonne's extract mapping (so `generate` and `ingest` work
  on it unchanged), without the SDIS 91 open-data counts preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from previsecours.core.generator.profiles import CATEGORIES
from previsecours.core.territory import (
    BoundingBox,
    Commune,
    CoverageShare,
    ExtractMapping,
    Station,
    Territory,
)

FloatArray = npt.NDArray[np.float64]

# Essonne's densities (territories/essonne: 50 stations, 196 communes, 1,338,485 inhabitants,
# a box of about 0.52° × 0.70°).
COMMUNES_PER_STATION: Final = 196 / 50
INHABITANTS_PER_STATION: Final = 1_338_485 / 50
DEGREES2_PER_STATION: Final = 0.52 * 0.70 / 50
ZONE_OWNER_SHARE: Final = 34 / 50
POPULATION_SIGMA: Final = 1.2  # log-normal spread: a few towns, many villages

ESSONNE_LIKE_MAPPING: Final = ExtractMapping(
    columns={
        "intervention_id": "num_intervention",
        "alert_time": "date_heure_alerte",
        "commune_code": "code_insee",
        "category": "categorie",
        "station_code": "cis_premier_engage",
        "latitude": "latitude",
        "longitude": "longitude",
        "duration_min": "duree_engagement_min",
    },
    categories={c: c for c in CATEGORIES},
    time_format="%d/%m/%Y %H:%M:%S",
)


@dataclass(frozen=True)
class Place:
    """Where a synthetic territory sits: its centre and calendar."""

    latitude: float = 46.6
    longitude: float = 2.4
    timezone: str = "Europe/Paris"
    holidays_country: str = "FR"
    school_zone: str | None = "C"


def synthetic_territory(
    name: str,
    n_stations: int,
    *,
    n_communes: int | None = None,
    population: int | None = None,
    seed: int = 0,
    place: Place | None = None,
) -> Territory:
    """A checked territory of `n_stations` stations; the same arguments give the same one."""
    if n_stations < 1:
        raise ValueError(f"n_stations must be at least 1, not {n_stations}")
    communes_wanted = n_communes or max(1, round(n_stations * COMMUNES_PER_STATION))
    inhabitants = population or round(n_stations * INHABITANTS_PER_STATION)
    where = place or Place()
    rng = np.random.default_rng(seed)
    box = _bounding_box(where, n_stations)
    communes = _communes(name, communes_wanted, inhabitants, box, rng)
    stations = _stations(name, n_stations, box, rng)
    return Territory(
        name=name,
        label=f"Synthetic territory, {n_stations} stations",
        timezone=where.timezone,
        holidays_country=where.holidays_country,
        holidays_subdivision=None,
        school_zone=where.school_zone,
        bounding_box=box,
        categories=CATEGORIES,
        frequency="hour",
        mapping=ESSONNE_LIKE_MAPPING,
        communes=communes,
        stations=stations,
        coverage_shares=_coverage_shares(communes, stations, rng),
    )


def _bounding_box(where: Place, n_stations: int) -> BoundingBox:
    """A box of Essonne's area per station, square in kilometres at the centre's latitude."""
    lat_side = float(
        np.sqrt(n_stations * DEGREES2_PER_STATION * np.cos(np.radians(where.latitude)))
    )
    lon_side = lat_side / float(np.cos(np.radians(where.latitude)))
    lat_side, lon_side = min(lat_side, 60.0), min(lon_side, 300.0)
    return BoundingBox(
        lat_min=round(max(where.latitude - lat_side / 2, -89.0), 4),
        lat_max=round(min(where.latitude + lat_side / 2, 89.0), 4),
        lon_min=round(max(where.longitude - lon_side / 2, -180.0), 4),
        lon_max=round(min(where.longitude + lon_side / 2, 180.0), 4),
    )


def _positions(box: BoundingBox, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Uniform positions in the inner 90 % of the box, rounded like real coordinates."""
    margin_lat = 0.05 * (box.lat_max - box.lat_min)
    margin_lon = 0.05 * (box.lon_max - box.lon_min)
    lat = rng.uniform(box.lat_min + margin_lat, box.lat_max - margin_lat, n)
    lon = rng.uniform(box.lon_min + margin_lon, box.lon_max - margin_lon, n)
    return lat.round(6), lon.round(6)


def _code_width(n: int) -> int:
    return max(3, len(str(n)))


def _communes(
    name: str, n: int, inhabitants: int, box: BoundingBox, rng: np.random.Generator
) -> tuple[Commune, ...]:
    weights = rng.lognormal(0.0, POPULATION_SIGMA, n)
    population = _apportion(weights, inhabitants)
    lat, lon = _positions(box, n, rng)
    width = _code_width(n)
    return tuple(
        Commune(
            code=f"C{i:0{width}d}",
            name=f"{name} commune {i}",
            population=int(population[i]),
            latitude=float(lat[i]),
            longitude=float(lon[i]),
        )
        for i in range(n)
    )


def _apportion(weights: FloatArray, total: int) -> npt.NDArray[np.int64]:
    """Whole numbers proportional to `weights` that sum exactly to `total` (largest remainders)."""
    exact = weights / weights.sum() * total
    whole = np.floor(exact).astype(np.int64)
    missing = int(total - whole.sum())
    whole[np.argsort(-(exact - whole), kind="stable")[:missing]] += 1
    return np.asarray(whole, dtype=np.int64)


def _station_types(n: int) -> list[str]:
    n_csp = max(1, round(0.1 * n))
    n_cs = round(0.6 * n)
    return ["CSP"] * n_csp + ["CS"] * n_cs + ["CPI"] * max(0, n - n_csp - n_cs)


def _stations(name: str, n: int, box: BoundingBox, rng: np.random.Generator) -> tuple[Station, ...]:
    lat, lon = _positions(box, n, rng)
    types = _station_types(n)
    n_owners = max(1, round(ZONE_OWNER_SHARE * n))
    width = _code_width(n)
    codes = [f"S{i:0{width}d}" for i in range(n)]
    centre_lat, centre_lon = (box.lat_min + box.lat_max) / 2, (box.lon_min + box.lon_max) / 2
    stations = []
    for i in range(n):
        # Zones are owned by the first stations (the CSP and most CS, as in Essonne).
        owner = i < n_owners
        zone = (
            codes[i] if owner else codes[_nearest(lat[:n_owners], lon[:n_owners], lat[i], lon[i])]
        )
        quarter = ("NORD" if lat[i] >= centre_lat else "SUD") + (
            "-EST" if lon[i] >= centre_lon else "-OUEST"
        )
        stations.append(
            Station(
                code=codes[i],
                name=f"{types[i]} {name} {i}",
                type=types[i],
                groupement=quarter,
                latitude=float(lat[i]),
                longitude=float(lon[i]),
                coverage_zone=codes[i] if owner else None,
                within_zone=zone,
            )
        )
    return tuple(stations)


def _distances(lat: FloatArray, lon: FloatArray, at_lat: float, at_lon: float) -> FloatArray:
    scale = np.cos(np.radians(at_lat))
    return np.asarray((lat - at_lat) ** 2 + ((lon - at_lon) * scale) ** 2, dtype=np.float64)


def _nearest(lat: FloatArray, lon: FloatArray, at_lat: float, at_lon: float) -> int:
    return int(np.argmin(_distances(lat, lon, at_lat, at_lon)))


def _coverage_shares(
    communes: tuple[Commune, ...], stations: tuple[Station, ...], rng: np.random.Generator
) -> tuple[CoverageShare, ...]:
    owners = [s for s in stations if s.coverage_zone is not None]
    lat = np.array([s.latitude for s in owners])
    lon = np.array([s.longitude for s in owners])
    first_share = rng.uniform(70.0, 100.0, len(communes)).round(2)
    shares = []
    for commune, first in zip(communes, first_share, strict=True):
        at = (commune.latitude or 0.0, commune.longitude or 0.0)  # always set here
        order = np.argsort(_distances(lat, lon, *at))
        zones = [str(owners[int(k)].coverage_zone) for k in order[:2]]
        if len(zones) == 1 or first >= 99.5:
            shares.append(CoverageShare(commune.code, zones[0], 100.0))
            continue
        shares.append(CoverageShare(commune.code, zones[0], float(first)))
        shares.append(CoverageShare(commune.code, zones[1], round(100.0 - float(first), 2)))
    return tuple(shares)
