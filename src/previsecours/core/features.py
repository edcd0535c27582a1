"""Features of each (series, period): calendar, area attributes, history and covariates.

Direct multi-horizon, not recursive: every history feature of period t reads counts at t − L
with L ≥ the horizon (lags, rolling means, seasonal and yearly references are all shifted by at
least the horizon). One model then forecasts every step of the horizon in one call, from the
history known at the forecast origin: no step feeds on the previous step's forecast, so errors do
not compound over 168 hourly steps, and a backtest window needs one predict call, not 168.
The price (the last hours before the origin are not used for the next hour) is small for these
series: what the history tells at station × hour is the level and the weekly profile, not the
last hour's count (measured in bench/bench_train.py).

Guarantee (the leakage test checks it): features of a period t only depend on counts of periods
≤ t − horizon, on the calendar and on the area attributes. Covariates are lagged by the horizon
too (a weekly flu incidence is known a week late at best), except those the territory declares
known ahead (`spec.known_ahead`: a match calendar, a weather forecast), read at t itself and
never after it.

All features are cast by `cast_features` (one place) to float32: pandas 3 datetime accessors give
int32, which MLflow signatures record and later refuse as int64 (STACK_NOTES).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from previsecours.core.calendar import (
    CALENDAR_COLUMNS,
    WEEK_PERIODS,
    YEAR_PERIODS,
    calendar_features,
)
from previsecours.core.panel import DensePanel, category_totals
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory

FEATURE_SPEC_VERSION: Final = 1
FEATURE_DTYPE: Final = np.float32
# The recent level of the trend-adjusted reference: a quarter, long enough that the territory's
# count over it is stable (a season's mean), short enough to follow a trend within the year.
GROWTH_WEEKS: Final = 13
GROWTH_BOUNDS: Final = (0.5, 2.0)
# Columns a baseline reads and the learning models do not: seeing the trend-adjusted
# reference, the trees did worse on generated Essonne (département × day over 28 windows) and
# at Denver's weekly sums, better at Berlin's (bench/README.md); the reference member brings
# the trend to the combination instead.
BASELINE_ONLY: Final = ("ref_3y_pm2_trend",)
ROLLING_WINDOWS: Final[dict[str, tuple[int, ...]]] = {
    "hour": (24, 168, 672, 8736),
    "day": (7, 28, 91, 364),
    "week": (4, 13, 52),
}


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to rebuild a model's features; travels with the model version."""

    frequency: Frequency
    horizon: int  # periods
    season: int  # periods of the seasonal-naive lag cycle (week for hour/day, year for week)
    lags: tuple[int, ...]
    windows: tuple[int, ...]
    seasonal_lags: tuple[int, ...]  # the last 4 seasons available at the horizon
    reference_lags: tuple[int, ...]  # same period 1, 2, 3 years before (2018 reference)
    reference_pm2_lags: tuple[int, ...]  # same weeks ±2 over 3 years (2018 reference)
    day_profile_lags: tuple[int, ...]  # same hour over the last 7 days available (hourly)
    covariates: tuple[str, ...] = ()
    version: int = FEATURE_SPEC_VERSION
    # Covariates read at the period itself, not a horizon late. Defaulted so the specs of
    # versions trained before it load unchanged (all their covariates were lagged).
    known_ahead: tuple[str, ...] = ()
    # Periods of the recent level the trend-adjusted reference reads (`ref_3y_pm2_trend`);
    # 0: no such column (the specs of versions trained before it load unchanged).
    growth_window: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.known_ahead) - set(self.covariates))
        if unknown:
            raise ValueError(f"known-ahead covariate(s) {unknown} are not covariates of the spec")

    def covariate_lag(self, name: str) -> int:
        """Periods between a covariate's value and the period whose feature reads it."""
        return 0 if name in self.known_ahead else self.horizon

    @property
    def seasonal_lag(self) -> int:
        return self.seasonal_lags[0]

    @property
    def max_lag(self) -> int:
        return max(
            (*self.lags, *self.seasonal_lags, *self.reference_pm2_lags, *self.day_profile_lags)
        ) + max(self.windows)

    @property
    def columns(self) -> tuple[str, ...]:
        return (
            "area_id",
            "category_id",
            "population",
            *CALENDAR_COLUMNS,
            *(f"lag_{lag}" for lag in self.lags),
            *(f"roll_{w}" for w in self.windows),
            "season_mean_4",
            "ref_3y",
            "ref_3y_pm2",
            *(("ref_3y_pm2_trend",) if self.growth_window else ()),
            *(("day_profile_7",) if self.day_profile_lags else ()),
            *(f"total_roll_{w}" for w in self.windows),
            "total_season_mean_4",
            "total_ref_3y_pm2",
            *(("total_day_profile_7",) if self.day_profile_lags else ()),
            "area_share",
            *(f"cov_{c}" for c in self.covariates),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> FeatureSpec:
        version = int(d.get("version", 0))
        if version != FEATURE_SPEC_VERSION:
            raise ValueError(
                f"feature spec version {version} is not the version this code builds "
                f"({FEATURE_SPEC_VERSION}): retrain the model"
            )
        return FeatureSpec(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}  # type: ignore[arg-type]
        )


def make_spec(
    frequency: Frequency,
    horizon: int,
    covariates: tuple[str, ...] = (),
    known_ahead: tuple[str, ...] = (),
) -> FeatureSpec:
    """The feature spec of a frequency and horizon (in periods): every lag ≥ horizon, except
    the covariates in `known_ahead` (read at the period)."""
    if horizon < 1:
        raise ValueError("horizon must be at least one period")
    season = YEAR_PERIODS["week"] if frequency == "week" else WEEK_PERIODS[frequency]
    first = math.ceil(horizon / season) * season
    year, week = YEAR_PERIODS[frequency], WEEK_PERIODS[frequency]
    day_profile: tuple[int, ...] = ()
    if frequency == "hour":
        d = math.ceil(horizon / 24) * 24
        day_profile = tuple(d + 24 * k for k in range(7))
    return FeatureSpec(
        frequency=frequency,
        horizon=horizon,
        season=season,
        lags=tuple(sorted({horizon, first, year})),
        windows=ROLLING_WINDOWS[frequency],
        seasonal_lags=tuple(first + season * k for k in range(4)),
        reference_lags=tuple(year * j for j in (1, 2, 3)),
        reference_pm2_lags=tuple(year * j + week * d for j in (1, 2, 3) for d in range(-2, 3)),
        day_profile_lags=day_profile,
        covariates=covariates,
        known_ahead=tuple(c for c in covariates if c in known_ahead),
        growth_window=GROWTH_WEEKS * week,
    )


@dataclass(frozen=True)
class AreaAttributes:
    """Static attributes of each area (ids are stable numbers: one-hot/number, not CTR)."""

    ids: Mapping[str, int]
    population: Mapping[str, float]
    categories: tuple[str, ...]


def area_attributes(territory: Territory, level: str, areas: list[str]) -> AreaAttributes:
    """Area ids and populations (a zone's population: its communes' shares of population)."""
    pop: dict[str, float] = {}
    communes = {c.code: float(c.population) for c in territory.communes}
    if level == "commune":
        pop = {a: communes.get(a, math.nan) for a in areas}
    elif level == "station":
        for commune, zones in territory.shares_by_commune().items():
            for zone, share in zones.items():
                pop[zone] = pop.get(zone, 0.0) + share * communes.get(commune, 0.0)
    else:
        pop = {a: sum(communes.values()) or math.nan for a in areas}
    return AreaAttributes(
        ids={a: i for i, a in enumerate(areas)},
        population={a: pop.get(a, math.nan) for a in areas},
        categories=(*territory.categories, "ALL"),
    )


@dataclass(frozen=True)
class FeatureFrame:
    """Features of a block of periods: X rows are series-major (series i, then periods)."""

    matrix: pd.DataFrame
    y: np.ndarray  # NaN where the target is unknown
    keys: pd.DataFrame  # area_code, category, period_start


def build_features(
    panel: DensePanel,
    spec: FeatureSpec,
    territory: Territory,
    attributes: AreaAttributes,
    *,
    first: int,
    last: int,
    covariates: pd.DataFrame | None = None,
) -> FeatureFrame:
    """Features of periods panel.starts[first:last] for every series of the panel.

    `covariates`: optional frame indexed by period start (same frequency), one column per
    name in `spec.covariates`; each read `spec.covariate_lag(name)` periods earlier.
    """
    y_all = panel.counts
    n = y_all.shape[0]
    span = last - first
    starts = panel.starts[first:last]
    cal = calendar_features(starts, spec.frequency, territory)
    cols: dict[str, np.ndarray] = {}
    areas = panel.series["area_code"].astype(str).to_numpy()
    cats = panel.series["category"].astype(str).to_numpy()
    cat_ids = {c: i for i, c in enumerate(attributes.categories)}
    cols["area_id"] = np.repeat([attributes.ids.get(a, -1) for a in areas], span)
    cols["category_id"] = np.repeat([cat_ids.get(c, -1) for c in cats], span)
    cols["population"] = np.repeat([attributes.population.get(a, math.nan) for a in areas], span)
    for c in CALENDAR_COLUMNS:
        cols[c] = np.tile(cal[c].to_numpy(), n)
    for lag in spec.lags:
        cols[f"lag_{lag}"] = _shifted(y_all, lag, first, last).reshape(-1)
    sums, valid = _cumulative(y_all)
    for w in spec.windows:
        cols[f"roll_{w}"] = _rolling_mean(sums, valid, spec.horizon, w, (first, last)).reshape(-1)
    cols["season_mean_4"] = _mean_of_lags(y_all, spec.seasonal_lags, first, last)
    cols["ref_3y"] = _mean_of_lags(y_all, spec.reference_lags, first, last)
    cols["ref_3y_pm2"] = _mean_of_lags(y_all, spec.reference_pm2_lags, first, last)
    if spec.day_profile_lags:
        cols["day_profile_7"] = _mean_of_lags(y_all, spec.day_profile_lags, first, last)
    _territory_features(cols, y_all, cats, spec, (first, last))
    for c in spec.covariates:
        values = _lagged_covariate(covariates, c, panel, spec.covariate_lag(c), (first, last))
        cols[f"cov_{c}"] = np.tile(values, n)
    keys = pd.DataFrame(
        {
            "area_code": np.repeat(areas, span),
            "category": np.repeat(cats, span),
            "period_start": np.tile(starts, n),
        }
    )
    matrix = cast_features(pd.DataFrame(cols), spec)
    return FeatureFrame(matrix=matrix, y=y_all[:, first:last].reshape(-1).copy(), keys=keys)


def cast_features(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The one place features get their dtype and order (float32, `spec.columns`)."""
    return pd.DataFrame(
        {c: np.asarray(frame[c], dtype=FEATURE_DTYPE) for c in spec.columns}, index=frame.index
    )


def _territory_features(
    cols: dict[str, np.ndarray],
    y: np.ndarray,
    categories: np.ndarray,
    spec: FeatureSpec,
    span: tuple[int, int],
) -> None:
    """History of the whole territory (same category), and the area's share of it.

    An area's own hourly history is mostly Poisson noise (a zone sees ~0.3 interventions an
    hour); the territory's total is smooth, so its level, weekly profile and yearly references
    tell the model what the season and the recent weeks look like, and `area_share` how much of
    it falls in this area.
    """
    first, last = span
    codes, uniques, totals = category_totals(y, categories)
    sums, valid = _cumulative(totals)
    for w in spec.windows:
        values = _rolling_mean(sums, valid, spec.horizon, w, span)
        cols[f"total_roll_{w}"] = values[codes].reshape(-1)
    for name, lags in (
        ("total_season_mean_4", spec.seasonal_lags),
        ("total_ref_3y_pm2", spec.reference_pm2_lags),
        ("total_day_profile_7", spec.day_profile_lags),
    ):
        if lags:
            values = _mean_of_lags(totals, lags, first, last).reshape(len(uniques), -1)
            cols[name] = values[codes].reshape(-1)
    if spec.growth_window:
        growth = _growth(sums, valid, spec, span)
        cols["ref_3y_pm2_trend"] = cols["ref_3y_pm2"] * growth[codes].reshape(-1)
    longest = f"roll_{max(spec.windows)}"
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["area_share"] = cols[longest] / cols[f"total_{longest}"]


def _growth(
    sums: np.ndarray, valid: np.ndarray, spec: FeatureSpec, span: tuple[int, int]
) -> np.ndarray:
    """The territory's recent growth, per category (`sums`, `valid`: its category totals):
    the mean over the last `growth_window` periods known at the horizon over the mean of the
    same periods 1, 2 and 3 years before (those known), bounded by GROWTH_BOUNDS; 1 where
    either is unknown.

    Why: the 3-year reference is centred two years back, so on a service growing 5 % a year
    it forecast 8 % low (Denver's EMS calls); scaled by this ratio it keeps its seasonal
    shape at today's level (bench/README.md, real data)."""
    year = YEAR_PERIODS[spec.frequency]
    recent = _rolling_mean(sums, valid, spec.horizon, spec.growth_window, span)
    before = np.stack(
        [
            _rolling_mean(sums, valid, spec.horizon + year * j, spec.growth_window, span)
            for j in (1, 2, 3)
        ]
    )
    known = np.isfinite(before)
    with np.errstate(invalid="ignore", divide="ignore"):
        past = np.where(known, before, 0.0).sum(axis=0) / known.sum(axis=0)
        ratio = recent / past
    return np.where(np.isfinite(ratio), np.clip(ratio, *GROWTH_BOUNDS), 1.0)


def _shifted(y: np.ndarray, lag: int, first: int, last: int) -> np.ndarray:
    out = np.full((y.shape[0], last - first), np.nan)
    lo = max(first - lag, 0)
    hi = max(last - lag, 0)
    if hi > lo:
        out[:, out.shape[1] - (hi - lo) :] = y[:, lo:hi]
    return out


def _cumulative(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative sums of known counts and of known periods, with a leading zero column."""
    known = ~np.isnan(y)
    zero = np.zeros((y.shape[0], 1))
    sums = np.concatenate([zero, np.cumsum(np.where(known, y, 0.0), axis=1)], axis=1)
    valid = np.concatenate([zero, np.cumsum(known, axis=1, dtype=np.float64)], axis=1)
    return sums, valid


def _rolling_mean(
    sums: np.ndarray, valid: np.ndarray, horizon: int, window: int, span: tuple[int, int]
) -> np.ndarray:
    """Mean of counts in [t − horizon − window + 1, t − horizon] (NaN if under half known)."""
    t = np.arange(*span)
    hi = np.clip(t - horizon + 1, 0, sums.shape[1] - 1)
    lo = np.clip(t - horizon + 1 - window, 0, sums.shape[1] - 1)
    total = sums[:, hi] - sums[:, lo]
    count = valid[:, hi] - valid[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= window / 2, total / np.maximum(count, 1), np.nan)


def _mean_of_lags(y: np.ndarray, lags: tuple[int, ...], first: int, last: int) -> np.ndarray:
    total = np.zeros((y.shape[0], last - first))
    count = np.zeros_like(total)
    for lag in lags:
        s = _shifted(y, lag, first, last)
        known = ~np.isnan(s)
        total += np.where(known, s, 0.0)
        count += known
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).reshape(-1)


def _lagged_covariate(
    covariates: pd.DataFrame | None,
    name: str,
    panel: DensePanel,
    lag: int,
    span: tuple[int, int],
) -> np.ndarray:
    first, last = span
    if covariates is None or name not in covariates:
        return np.full(last - first, np.nan)
    values = covariates[name].reindex(panel.starts).to_numpy(np.float64)
    shifted: np.ndarray = _shifted(values[None, :], lag, first, last)[0]
    return shifted
