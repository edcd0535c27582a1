"""Crews per station and shift: from forecast arrival rates to the crews that keep up with demand.

The model (M_t/G/∞, the textbook model of calls that never wait for each other):
- interventions of a station arrive as a Poisson process whose rate is the forecast mean of each
  hour (per category);
- each one keeps a crew busy for an engagement duration drawn from what the station's own
  history shows for that category (a documented default when the extract has no durations);
- then the number of interventions in progress at any instant, N(t), is Poisson with mean
  m(t) = ∫ λ(t − u) · P(D > u) du — the "load", in crews busy on average.

The recommended crews of a shift are the smallest k such that P(N(t) > k) stays under the target
at the shift's busiest hour. The target comes from the coverage plan's tolerance (SDACR: about
5 hours a year without a free crew for SUAP): target = tolerance hours / hours in a year.

Guarantees: every hour of the input belongs to exactly one shift occurrence (the configuration
is checked); loads are hour averages of m(t), whose sum over hours equals Σ λ · E[D] (durations
capped at `MAX_LAG_H` hours); recommended crews satisfy the target exactly (no continuous
approximation of the Poisson tail); output columns are `STAFFING_COLUMNS`.

Limits, said plainly: the rate is taken as known (the forecast's uncertainty on the mean — its
negative-binomial dispersion — is not added to the Poisson spread, so tails are a little
optimistic on days the forecast is unsure of); crews are interchangeable (one crew per
intervention, whatever its category); a station's demand is the demand of its coverage zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final

import holidays
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import poisson

from previsecours.config import Shift, StaffingPolicy
from previsecours.core.forecast_schema import ALL_CATEGORIES, STAFFING_COLUMNS
from previsecours.core.forecast_table import area_names
from previsecours.core.history import History
from previsecours.core.panel import zone_of_events
from previsecours.core.territory import Territory

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_LAG_H: Final = 24  # engagements longer than a day are capped: they are rare (big fires)

# Used only when the history has no duration for a category (documented in the README): orders of
# magnitude of engagement durations, alert to return to the station, in minutes.
DEFAULT_DURATION_MIN: Final[Mapping[str, float]] = {
    "SUAP": 75.0,
    "ACCI": 80.0,
    "INCU": 110.0,
    "INCN": 120.0,
    "AUTR": 70.0,
}
FALLBACK_DURATION_MIN: Final = 75.0

# ---------------------------------------------------------------------------------------------
# Durations → lag kernels


def lag_kernel(durations_h: Iterable[float]) -> FloatArray:
    """Hour-averaged occupation left by one arrival, by lag in whole hours.

    K[j] is the expected time (in hours, averaged over an observation hour) that an intervention
    arriving uniformly within hour h − j is still in progress during hour h. With X = T − A the
    difference of two uniform offsets (triangular on (−1, 1)), K[j] = E_D[P(0 ≤ j + X < D)], so
    Σ_j K[j] = E[D]: the total load of one arrival is its mean duration.
    """
    d = np.minimum(np.asarray(list(durations_h), dtype=np.float64), float(MAX_LAG_H))
    if d.size == 0 or np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError("durations must be a non-empty set of finite non-negative hours")
    lags = np.arange(MAX_LAG_H + 2, dtype=np.float64)
    g = _triangular_cdf(d[:, None] - lags[None, :])
    g[:, 0] -= 0.5  # P(0 ≤ X < d) = F(d) − F(0)
    return np.asarray(g.mean(axis=0), dtype=np.float64)


def _triangular_cdf(x: FloatArray) -> FloatArray:
    """CDF of T − A for T, A independent uniforms on [0, 1)."""
    out = np.where(x <= 0, (1 + x) ** 2 / 2, 1 - (1 - x) ** 2 / 2)
    return np.asarray(np.clip(np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, out)), 0, 1))


@dataclass(frozen=True)
class DurationTable:
    """Engagement-duration kernels per (station, category), with fallbacks.

    Lookup order: the station's own measure (when it has enough events), the category's measure
    over the whole territory, the documented default of the category.
    """

    by_station: Mapping[tuple[str, str], FloatArray] = field(default_factory=dict)
    by_category: Mapping[str, FloatArray] = field(default_factory=dict)
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)

    def kernel(self, station: str, category: str) -> FloatArray:
        if (station, category) in self.by_station:
            return self.by_station[(station, category)]
        if category in self.by_category:
            return self.by_category[category]
        minutes = DEFAULT_DURATION_MIN.get(category, FALLBACK_DURATION_MIN)
        return lag_kernel([minutes / 60.0])


def measure_durations(
    events: pd.DataFrame,
    categories: Iterable[str],
    min_events: int = 30,
) -> DurationTable:
    """Duration kernels from curated events (`station_code`, `category`, `duration_min`).

    Rows without a positive finite duration are ignored. A (station, category) pair with fewer
    than `min_events` measured durations falls back to the category's territory-wide measure;
    a category with fewer falls back to `DEFAULT_DURATION_MIN`. `summary` says which was used.
    """
    cols = ["station_code", "category", "duration_min"]
    frame = events[[c for c in cols if c in events.columns]].copy()
    if "duration_min" not in frame.columns:
        frame["duration_min"] = np.nan
    if "station_code" not in frame.columns:
        frame["station_code"] = pd.NA
    minutes = pd.to_numeric(frame["duration_min"], errors="coerce").to_numpy(
        np.float64, na_value=np.nan
    )
    keep = np.isfinite(minutes) & (minutes > 0)
    frame = frame.loc[keep].assign(hours=minutes[keep] / 60.0)

    rows: list[dict[str, object]] = []
    by_category: dict[str, FloatArray] = {}
    for category in categories:
        sample = frame.loc[frame["category"] == category, "hours"].to_numpy(np.float64)
        if sample.size >= min_events:
            by_category[category] = lag_kernel(sample)
            rows.append(_summary_row("*", category, sample, "measured (territory)"))
        else:
            minutes_default = DEFAULT_DURATION_MIN.get(category, FALLBACK_DURATION_MIN)
            rows.append(_summary_row("*", category, np.array([minutes_default / 60]), "default"))
    by_station: dict[tuple[str, str], FloatArray] = {}
    measured = frame.dropna(subset=["station_code"])
    for (station, category), group in measured.groupby(["station_code", "category"], sort=True):
        sample = group["hours"].to_numpy(np.float64)
        if sample.size >= min_events:
            by_station[(str(station), str(category))] = lag_kernel(sample)
            rows.append(_summary_row(str(station), str(category), sample, "measured"))
    return DurationTable(by_station, by_category, pd.DataFrame(rows))


def _summary_row(station: str, category: str, hours: FloatArray, source: str) -> dict[str, object]:
    return {
        "station_code": station,
        "category": category,
        "n": int(hours.size) if source != "default" else 0,
        "mean_min": float(hours.mean() * 60),
        "median_min": float(np.median(hours) * 60),
        "source": source,
    }


# ---------------------------------------------------------------------------------------------
# Rates → load in progress


_STATION_HOUR: Final = ("station_code", "period_start", "period_end")


def load_in_progress(rates: pd.DataFrame, durations: DurationTable) -> pd.DataFrame:
    """Expected interventions in progress per station and hour (M_t/G/∞ hour averages).

    `rates`: `station_code`, `category`, `period_start`, `period_end`, `mean` — one row per
    station × category × hour, every series on the same consecutive hours. The hours before the
    first one are taken as equal to it (a warm start: the load at the horizon's start is not
    empty). Returns `station_code`, `period_start`, `period_end`, `arrivals` (Σ categories'
    means) and `load` (Σ categories' expected interventions in progress), sorted.
    """
    ordered = rates.sort_values(["station_code", "category", "period_start"])
    hours = ordered.drop_duplicates("period_start")[["period_start", "period_end"]]
    hours = hours.sort_values("period_start").reset_index(drop=True)
    series = ordered[["station_code", "category"]].drop_duplicates().reset_index(drop=True)
    if len(ordered) != len(series) * len(hours):
        raise ValueError("rates must cover the same hours for every station and category")
    if series.empty:
        return pd.DataFrame(columns=[*_STATION_HOUR, "arrivals", "load"])
    rate = ordered["mean"].to_numpy(np.float64).reshape(len(series), len(hours))
    load = np.empty_like(rate)
    for i, (station, category) in enumerate(series.itertuples(index=False)):
        kernel = durations.kernel(str(station), str(category))
        warm = np.concatenate([np.full(kernel.size - 1, rate[i, 0]), rate[i]])
        load[i] = np.convolve(warm, kernel, mode="valid")
    stations, station_of_series = np.unique(
        series["station_code"].to_numpy(str), return_inverse=True
    )
    arrivals_by_station = np.zeros((stations.size, len(hours)))
    load_by_station = np.zeros((stations.size, len(hours)))
    np.add.at(arrivals_by_station, station_of_series, rate)
    np.add.at(load_by_station, station_of_series, load)
    return pd.DataFrame(
        {
            "station_code": np.repeat(stations, len(hours)).astype(object),
            "period_start": pd.concat([hours["period_start"]] * stations.size, ignore_index=True),
            "period_end": pd.concat([hours["period_end"]] * stations.size, ignore_index=True),
            "arrivals": arrivals_by_station.ravel(),
            "load": load_by_station.ravel(),
        }
    )


# ---------------------------------------------------------------------------------------------
# Poisson tail → crews


def exceedance_probability(load: npt.ArrayLike, crews: npt.ArrayLike) -> FloatArray:
    """P(N > crews) for N ~ Poisson(load): the chance that demand exceeds the crews held."""
    return np.asarray(poisson.sf(np.asarray(crews), np.asarray(load, dtype=np.float64)), np.float64)


def crews_for(load: npt.ArrayLike, target: float, min_crews: int = 0) -> IntArray:
    """Smallest k ≥ min_crews with P(N > k) ≤ target, N ~ Poisson(load), elementwise."""
    if not 0 < target < 1:
        raise ValueError(f"the exceedance target must be in (0, 1), got {target}")
    m = np.asarray(load, dtype=np.float64)
    k = np.nan_to_num(poisson.ppf(1 - target, m), nan=0.0).astype(np.int64)
    # ppf works on the CDF in floating point: step back/forward onto the exact boundary.
    while np.any(low := (k > 0) & (exceedance_probability(m, k - 1) <= target)):
        k[low] -= 1
    while np.any(high := exceedance_probability(m, k) > target):
        k[high] += 1
    return np.asarray(np.maximum(k, min_crews), dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# Shifts


def non_working_dates(
    start: date, end: date, country: str, subdivision: str | None = None
) -> frozenset[date]:
    """Weekends and public holidays between `start` and `end` (inclusive)."""
    calendar = holidays.country_holidays(
        country, subdiv=subdivision, years=range(start.year, end.year + 1)
    )
    days = pd.date_range(start, end, freq="D")
    return frozenset(d.date() for d in days if d.day_of_week >= 5 or d.date() in calendar)


def assign_shifts(
    period_start: pd.Series,
    shifts: tuple[Shift, ...],
    non_working: frozenset[date],
) -> pd.DataFrame:
    """Shift name and occurrence (the local date it starts on) of each hour.

    `period_start` must be tz-aware in the territory's time zone (wall-clock hours decide).
    Raises ValueError when an hour matches no shift or several.
    """
    local_hour = period_start.dt.hour.to_numpy()
    local_date = period_start.dt.date.to_numpy()
    names = np.full(len(period_start), "", dtype=object)
    anchors = np.full(len(period_start), None, dtype=object)
    matches = np.zeros(len(period_start), dtype=np.int64)
    for shift in shifts:
        covers = np.array([shift.covers_hour(int(h)) for h in range(24)])[local_hour]
        before_midnight = local_hour >= shift.start_hour
        anchor = np.where(
            shift.wraps & ~before_midnight,
            np.array([d - timedelta(days=1) for d in local_date], dtype=object),
            local_date,
        )
        if shift.days == "all":
            kind_ok = np.ones(len(period_start), dtype=bool)
        else:
            off = np.array([a in non_working for a in anchor], dtype=bool)
            kind_ok = off if shift.days == "non_working" else ~off
        hit = covers & kind_ok
        names[hit] = shift.name
        anchors[hit] = anchor[hit]
        matches += hit
    if np.any(matches != 1):
        bad = period_start[matches != 1].iloc[0]
        count = int(matches[matches != 1][0])
        raise ValueError(f"shifts: hour {bad} belongs to {count} shifts (exactly one expected)")
    return pd.DataFrame({"shift": names, "shift_date": anchors}, index=period_start.index)


# ---------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True)
class StaffingPlan:
    """`hourly`: station × hour with its shift and the shift's crews (for replays and charts);
    `shifts`: station × shift occurrence, columns `STAFFING_COLUMNS`."""

    hourly: pd.DataFrame
    shifts: pd.DataFrame

    @classmethod
    def empty(cls) -> StaffingPlan:
        """No crews to plan: columns `STAFFING_COLUMNS`, no row."""
        frame = pd.DataFrame({c: pd.Series(dtype="object") for c in STAFFING_COLUMNS})
        for column in ("expected_interventions", "expected_peak_concurrency", "saturation_risk"):
            frame[column] = frame[column].astype(np.float64)
        return cls(hourly=frame.iloc[:0], shifts=frame)


def has_station_level(levels: pd.DataFrame) -> bool:
    """Whether a forecast holds hourly station (coverage-zone) rows, which crews are sized on."""
    return bool(((levels["level"] == "station") & (levels["frequency"] == "hour")).any())


def no_crews_reason(history: History, territory: Territory, levels: pd.DataFrame) -> str:
    """Why a forecast has no crews ("" when it has the station level crews are sized on)."""
    if history.is_counts:
        return (
            "No crews: the store holds counts only, and crews need events (hourly station "
            "forecasts and engagement durations)."
        )
    if not territory.coverage_shares:
        return (
            f"No crews: {territory.label} declares no stations with coverage zones, and crews "
            "are sized per station (add `areas.stations` and `areas.coverage_shares` to the "
            "territory file)."
        )
    if not has_station_level(levels):
        return (
            "No crews: the forecast has no hourly station (coverage-zone) level, which crews "
            "are sized on."
        )
    return ""


def plan_crews(
    rates: pd.DataFrame,
    durations: DurationTable,
    policy: StaffingPolicy,
    non_working: frozenset[date],
    *,
    station_names: Mapping[str, str] | None = None,
    current_crews: Mapping[str, int] | None = None,
) -> StaffingPlan:
    """Recommended crews per station and shift occurrence from hourly station forecasts.

    `rates`: hourly forecast means per station and category (`station_code`, `category`,
    `period_start`, `period_end`, `mean`); categories outside `policy.categories` are ignored.
    Per shift: `expected_interventions` = Σ hourly means; `expected_peak_concurrency` = the
    load of its busiest hour; `recommended_crews` sized on that load; `saturation_risk` =
    P(demand > current crews) at that hour (NaN when the current crews are unknown).
    """
    if policy.categories is not None:
        rates = rates[rates["category"].isin(policy.categories)]
    if rates.empty:
        return StaffingPlan.empty()
    hourly = load_in_progress(rates, durations)
    hours = hourly["period_start"].drop_duplicates().reset_index(drop=True)
    shift_of_hour = pd.concat(
        [hours, assign_shifts(hours, policy.shifts, non_working)], axis=1
    )  # once per hour, not per station × hour
    hourly = hourly.merge(shift_of_hour, on="period_start", how="left")
    keys = ["station_code", "shift_date", "shift"]
    shifts = (
        hourly.groupby(keys, sort=False)
        .agg(
            shift_start=("period_start", "min"),
            shift_end=("period_end", "max"),
            expected_interventions=("arrivals", "sum"),
            expected_peak_concurrency=("load", "max"),
        )
        .reset_index()
    )
    target = policy.exceedance_target
    shifts["recommended_crews"] = crews_for(
        shifts["expected_peak_concurrency"], target, policy.min_crews
    )
    names = station_names or {}
    shifts["station_name"] = [names.get(s, s) for s in shifts["station_code"]]
    current = current_crews or {}
    shifts["current_crews"] = [float(current.get(s, np.nan)) for s in shifts["station_code"]]
    known = shifts["current_crews"].notna().to_numpy()
    risk = np.full(len(shifts), np.nan)
    risk[known] = exceedance_probability(
        shifts.loc[known, "expected_peak_concurrency"], shifts.loc[known, "current_crews"]
    )
    shifts["saturation_risk"] = risk
    shifts = shifts.sort_values(["station_code", "shift_start"]).reset_index(drop=True)
    hourly = hourly.merge(shifts[[*keys, "recommended_crews"]], on=keys, how="left")
    return StaffingPlan(hourly=hourly, shifts=shifts[list(STAFFING_COLUMNS)])


def staffing_plan(
    history: History,
    territory: Territory,
    levels: pd.DataFrame,
    policy: StaffingPolicy,
    current_crews: Mapping[str, int] | None = None,
) -> StaffingPlan:
    """Crews per station × shift from the hourly station forecasts of each category.

    Empty without events (a counts-only store: no durations) and without hourly station
    forecasts (a territory declaring no coverage zones, or a model at commune level: crews
    are sized per station, and there is no station to size them for).
    """
    if history.is_counts or not has_station_level(levels):
        return StaffingPlan.empty()
    hourly = levels[
        (levels["level"] == "station")
        & (levels["frequency"] == "hour")
        & (levels["category"] != ALL_CATEGORIES)
    ]
    rates = hourly.rename(columns={"area_code": "station_code"})[
        ["station_code", "category", "period_start", "period_end", "mean"]
    ]
    events = history.frame
    years = policy.duration_history_years
    recent = events
    if len(events):
        since = events["alert_time"].max() - pd.Timedelta(days=round(365.25 * years))
        recent = events[events["alert_time"] >= since]
    # Durations are keyed like the forecast's stations: by coverage zone.
    by_zone = recent.assign(station_code=zone_of_events(recent, territory).to_numpy())
    durations = measure_durations(by_zone, territory.categories, policy.duration_min_events)
    starts = pd.DatetimeIndex(rates["period_start"])
    off = (
        non_working_dates(
            starts.min().date() - pd.Timedelta(days=1),
            starts.max().date(),
            territory.holidays_country,
            territory.holidays_subdivision,
        )
        if len(starts)
        else frozenset()
    )
    names = {code: name for (lvl, code), name in area_names(territory).items() if lvl == "station"}
    return plan_crews(
        rates,
        durations,
        policy,
        off,
        station_names=names,
        current_crews=None if current_crews is None else dict(current_crews),
    )
