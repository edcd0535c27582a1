"""A realistic forecast issue for a territory, written by the forecast flow's own writer
(`adapters.forecast_files.write_forecast`, which checks the `forecast_schema` contract), and a
curated history around it (`write_history`, through the curated store's writer).

Test data for the dashboard while (and wherever) no trained model is at hand: hourly means
follow the département's known shape (≈ 10 interventions an hour, a trough at 5 am, a plateau
from late morning to evening, New Year's night ×1.7 with urban fires ×5), communes share the
département's volume by population, coverage zones sum their communes by coverage share, and
the département sums everything — so levels add up exactly, as the contract demands. Intervals
are each row's own Poisson quantiles. Deterministic given `seed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import poisson

from previsecours.adapters import forecast_files
from previsecours.adapters.forecast_files import ForecastFiles
from previsecours.adapters.store import write_events
from previsecours.core.forecast_schema import (
    ALL_CATEGORIES,
    DRIVER_COLUMNS,
    FORECAST_COLUMNS,
    QUANTILE_COLUMNS,
    QUANTILES,
    STAFFING_COLUMNS,
)
from previsecours.core.schema import conform_extract
from previsecours.core.territory import Territory
from previsecours.paths import Paths

CATEGORY_SHARES = {"SUAP": 0.78, "ACCI": 0.07, "INCU": 0.04, "INCN": 0.02, "AUTR": 0.09}
# Relative volume per local hour of day (trough at 5 am, plateau 10 am - 8 pm).
HOUR_PROFILE = np.array(
    [
        *(0.75, 0.6, 0.5, 0.45, 0.42, 0.4, 0.55, 0.8, 1.0, 1.15, 1.25, 1.3),
        *(1.3, 1.28, 1.25, 1.25, 1.28, 1.32, 1.35, 1.3, 1.2, 1.05, 0.95, 0.85),
    ]
)
DEPARTEMENT_HOURLY_MEAN = 10.4
MODEL_NAME = "previsecours-essonne"
MODEL_VERSION = "3"
DATA_VERSION = "md5:4f2a9c0e"
ENGAGEMENT_HOURS = 1.2


@dataclass(frozen=True)
class PreparedHome:
    """A working root holding one forecast issue and a curated history around it."""

    home: Path
    files: ForecastFiles
    issued_at: pd.Timestamp


def prepared_home(base: Path, territory: Territory, issued_at: pd.Timestamp) -> PreparedHome:
    """A working root under `base` with a forecast issue and its history, built once.

    Unit and browser tests of one session share it (building it costs a few seconds).
    """
    home = base / f"dashboard-{territory.name}"
    ready = home / "ready"
    if not ready.is_file():
        write_forecast_files(territory, home, issued_at)
        write_history(home, territory, issued_at)
        ready.touch()
    files = forecast_files.issue_files(
        Paths(home), territory.name, forecast_files.issue_stamp(issued_at)
    )
    return PreparedHome(home, files, issued_at)


def write_forecast_files(
    territory: Territory,
    home: Path,
    issued_at: pd.Timestamp,
    hours: int = 168,
    seed: int = 7,
) -> ForecastFiles:
    """Write one issue under `<home>/forecasts/<territory>/` with the forecast flow's writer."""
    rng = np.random.default_rng(seed)
    periods = _horizon(territory, issued_at, hours)
    hourly = _hourly_means(territory, periods, rng)
    forecast = _forecast_frame(territory, issued_at, periods, hourly)
    return forecast_files.write_forecast(
        Paths(home),
        territory.name,
        issued_at,
        forecast=forecast,
        staffing=_staffing_frame(territory, forecast),
        drivers=_drivers_frame(forecast, rng),
        metadata=_metadata(hours, issued_at),
    )


def category_shares(territory: Territory) -> dict[str, float]:
    """SDIS 91's shares of its categories; another territory's categories share equally."""
    if set(territory.categories) == set(CATEGORY_SHARES):
        return CATEGORY_SHARES
    return {c: 1 / len(territory.categories) for c in territory.categories}


def _horizon(territory: Territory, issued_at: pd.Timestamp, hours: int) -> pd.DatetimeIndex:
    first = issued_at.tz_convert(territory.timezone).ceil("h")
    return pd.date_range(first, periods=hours, freq="h")


def _hourly_means(
    territory: Territory, periods: pd.DatetimeIndex, rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """category → (communes × hours) means and 3-year references, spread by population.

    The references lack New Year's lift: whole weeks back, the same hours were ordinary ones.
    """
    profile = HOUR_PROFILE[periods.hour] * np.where(periods.day_of_week >= 5, 0.93, 1.0)
    new_year = (periods.month == 12) & (periods.day == 31) & (periods.hour >= 20) | (
        (periods.month == 1) & (periods.day == 1) & (periods.hour < 6)
    )
    population = np.array([max(c.population, 300) for c in territory.communes], dtype=float)
    weights = population * rng.lognormal(0.0, 0.25, len(population))
    weights /= weights.sum()
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for category, share in category_shares(territory).items():
        lift = np.where(new_year, 5.0 if category == "INCU" else 1.6, 1.0)
        usual = np.outer(weights, DEPARTEMENT_HOURLY_MEAN * share * profile)
        noise = rng.lognormal(0.0, 0.08, usual.shape)
        out[category] = (usual * lift * noise, usual * rng.uniform(0.85, 1.05, usual.shape))
    return out


def _forecast_frame(
    territory: Territory,
    issued_at: pd.Timestamp,
    periods: pd.DatetimeIndex,
    hourly: dict[str, tuple[np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    communes = [c.code for c in territory.communes]
    names = {c.code: c.name for c in territory.communes}
    zones = list(territory.coverage_zones)
    shares = np.zeros((len(zones), len(communes)))
    index = {c: i for i, c in enumerate(communes)}
    for commune, by_zone in territory.shares_by_commune().items():
        for zone, fraction in by_zone.items():
            shares[zones.index(zone), index[commune]] = fraction
    zone_names = {}
    for zone in zones:
        station = territory.zone_station(zone)
        zone_names[zone] = station.name if station else zone
    categories = list(category_shares(territory))
    by_category = {c: np.stack(hourly[c]) for c in categories}  # (mean|ref) × communes × hours
    zero = np.zeros_like(by_category[categories[0]])
    by_category[ALL_CATEGORIES] = sum((by_category[c] for c in categories), zero)
    departement = ([territory.name], {territory.name: territory.label})
    blocks = []
    for category, commune_values in by_category.items():
        levels = (
            ("commune", communes, names, commune_values),
            ("station", zones, zone_names, shares @ commune_values),
            ("departement", *departement, commune_values.sum(axis=1, keepdims=True)),
        )
        for level, codes, labels, values in levels:
            for frequency, starts, matrix in _rollups(periods, values):
                blocks.append(_block(level, codes, labels, category, frequency, starts, matrix))
    frame = pd.concat(blocks, ignore_index=True)
    frame.insert(0, "territory", territory.name)
    frame.insert(1, "issued_at", issued_at.tz_convert("UTC"))
    frame["model_name"] = MODEL_NAME
    frame["model_version"] = MODEL_VERSION
    frame["data_version"] = DATA_VERSION
    return frame.loc[:, list(FORECAST_COLUMNS)]


def _rollups(
    periods: pd.DatetimeIndex, values: np.ndarray
) -> list[tuple[str, pd.DatetimeIndex, np.ndarray]]:
    """Hourly values (… × hours) and their daily and weekly sums (weeks start on Monday)."""
    out = [("hour", periods, values)]
    days = periods.normalize()
    weeks = days - pd.to_timedelta(periods.day_of_week, unit="D")
    for frequency, keys in (("day", days), ("week", weeks)):
        starts = keys.unique().sort_values()
        matrix = np.stack([values[..., keys == s].sum(axis=-1) for s in starts], axis=-1)
        out.append((frequency, starts, matrix))
    return out


def _block(  # noqa: PLR0917 - one private builder
    level: str,
    codes: list[str],
    labels: dict[str, str],
    category: str,
    frequency: str,
    starts: pd.DatetimeIndex,
    values: np.ndarray,
) -> pd.DataFrame:
    """Rows of one level, category and frequency; `values` = (mean, reference) × areas × periods."""
    step = {
        "hour": pd.Timedelta(hours=1),
        "day": pd.Timedelta(days=1),
        "week": pd.Timedelta(7, "D"),
    }
    _, n_areas, n_periods = values.shape
    mean, reference = values[0].ravel(), values[1].ravel()
    tiled = starts[np.tile(np.arange(n_periods), n_areas)]
    block = pd.DataFrame(
        {
            "frequency": frequency,
            "period_start": tiled,
            "period_end": tiled + step[frequency],
            "level": level,
            "area_code": np.repeat(codes, n_periods),
            "area_name": np.repeat([labels[c] for c in codes], n_periods),
            "category": category,
            "mean": mean,
        }
    )
    for column, q in zip(QUANTILE_COLUMNS, QUANTILES, strict=True):
        block[column] = poisson.ppf(q, np.maximum(mean, 1e-9)).astype(float)
    block["ref_3y_mean"] = reference
    return block


def _staffing_frame(territory: Territory, forecast: pd.DataFrame) -> pd.DataFrame:
    """Crews per zone station and shift: day 07-19 (working or not), night 19-07."""
    hourly = forecast[
        (forecast["level"] == "station")
        & (forecast["frequency"] == "hour")
        & (forecast["category"] == ALL_CATEGORIES)
    ]
    rows = []
    for code, series in hourly.groupby("area_code"):
        station = next(s for s in territory.stations if s.code == code)
        start = series["period_start"]
        shift_start = (start - pd.Timedelta(hours=7)).dt.floor("12h") + pd.Timedelta(hours=7)
        for begin, shift in series.groupby(shift_start):
            night = begin.hour == 19
            off = begin.day_of_week >= 5 or (begin.month, begin.day) == (1, 1)
            label = "nuit" if night else ("jour non ouvré" if off else "jour ouvré")
            peak = float(shift["mean"].max()) * ENGAGEMENT_HOURS
            current = 4 if station.type == "CSP" else 2
            recommended = int(poisson.ppf(0.995, peak))
            rows.append(
                {
                    "station_code": code,
                    "station_name": station.name,
                    "shift": label,
                    "shift_start": begin,
                    "shift_end": begin + pd.Timedelta(hours=12),
                    "expected_interventions": float(shift["mean"].sum()),
                    "expected_peak_concurrency": peak,
                    "recommended_crews": max(recommended, 1),
                    "current_crews": float(current),
                    "saturation_risk": float(poisson.sf(current, peak)),
                }
            )
    return pd.DataFrame(rows, columns=list(STAFFING_COLUMNS))


def _drivers_frame(forecast: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Top three plain-word drivers for every hourly row (communes: all categories only)."""
    hourly = forecast[
        (forecast["frequency"] == "hour")
        & ((forecast["level"] != "commune") | (forecast["category"] == ALL_CATEGORIES))
    ]
    start = hourly["period_start"]
    hour = start.dt.hour.to_numpy()
    new_year = ((start.dt.month == 12) & (start.dt.day == 31) & (hour >= 20)) | (
        (start.dt.month == 1) & (start.dt.day == 1) & (hour < 6)
    )
    first = np.select(
        [new_year.to_numpy(), (hour >= 17) & (hour <= 20), hour <= 5],
        ["nuit du Nouvel An", "heure de pointe", "nuit"],
        "heure de la journée",
    )
    effect_first = np.select([new_year.to_numpy(), hour <= 5], [0.55, -0.6], 0.25) + rng.normal(
        0, 0.03, len(hourly)
    )
    holiday = (start.dt.month == 1) & (start.dt.day == 1)
    second = np.where(holiday, "jour férié", "vacances scolaires")
    effect_second = np.where(holiday, 0.18, -0.06) + rng.normal(0, 0.01, len(hourly))
    third = np.where(start.dt.day_of_week >= 5, "week-end", "tendance récente")
    effect_third = np.where(start.dt.day_of_week >= 5, -0.07, 0.03) + rng.normal(
        0, 0.01, len(hourly)
    )
    keys = hourly[["level", "area_code", "category", "period_start"]].reset_index(drop=True)
    parts = []
    for rank, (driver, effect) in enumerate(
        ((first, effect_first), (second, effect_second), (third, effect_third)), start=1
    ):
        part = keys.copy()
        part["rank"] = rank
        part["driver"] = driver
        part["effect"] = np.asarray(effect, dtype=float)
        parts.append(part)
    return pd.concat(parts, ignore_index=True).loc[:, list(DRIVER_COLUMNS)]


def _metadata(hours: int, issued_at: pd.Timestamp) -> dict[str, object]:
    """What the forecast flow records beside the files (the writer adds territory, issue time)."""
    utc = issued_at.tz_convert("UTC")
    return {
        "model_name": MODEL_NAME,
        "model_version": MODEL_VERSION,
        "data_version": DATA_VERSION,
        "horizon": f"{hours}h",
        "inputs": {
            "interventions": (utc - pd.Timedelta(minutes=50)).isoformat(),
            "calendrier": (utc - pd.Timedelta(days=2)).isoformat(),
        },
    }


def write_history(home: Path, territory: Territory, issued_at: pd.Timestamp, seed: int = 3) -> None:
    """Events in the weeks the dashboard reads: the last 8 days and the same weeks ±4 of 3 years.

    About 10 interventions an hour, spread over communes by population, first station from the
    coverage shares — enough for recent actuals and the "same weeks ±2" references.
    """
    rng = np.random.default_rng(seed)
    start = issued_at.tz_convert(territory.timezone).floor("h")
    windows = [(start - pd.Timedelta(days=8), start)]
    for k in (1, 2, 3):
        centre = start - pd.DateOffset(years=k)
        windows.append((centre - pd.Timedelta(weeks=4), centre + pd.Timedelta(weeks=4)))
    communes = [c.code for c in territory.communes]
    weights = np.array([max(c.population, 300) for c in territory.communes], dtype=float)
    weights /= weights.sum()
    shares = territory.shares_by_commune()
    frames = []
    for begin, end in windows:
        hours = pd.date_range(begin, end, freq="h", inclusive="left")
        counts = rng.poisson(10.0, len(hours))
        times = hours.repeat(counts) + pd.to_timedelta(rng.uniform(0, 3600, counts.sum()), "s")
        where = rng.choice(len(communes), counts.sum(), p=weights)
        commune_codes = np.array(communes)[where]
        stations = [
            rng.choice(list(shares[c]), p=list(shares[c].values())) if c in shares else None
            for c in commune_codes
        ]
        frames.append(
            pd.DataFrame(
                {
                    "alert_time": times,
                    "commune_code": commune_codes,
                    "category": rng.choice(
                        ["SUAP", "ACCI", "INCU", "INCN", "AUTR"],
                        counts.sum(),
                        p=[0.78, 0.07, 0.04, 0.02, 0.09],
                    ),
                    "station_code": stations,
                }
            )
        )
    events = pd.concat(frames, ignore_index=True)
    events.insert(0, "intervention_id", [f"E{i:07d}" for i in range(len(events))])
    write_events(Paths(home), territory, conform_extract(events, territory.timezone))
