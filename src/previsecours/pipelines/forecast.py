"""Forecast step: the champion, the curated history and the calendar → the forecast files.

`run_forecast(settings, now=...)`:
1. loads `models:/previsecours-<territory>@champion` (clear error without a champion, or when
   its feature spec is not the one this code builds);
2. forecasts every level × area × category × hour of the horizon from the end of the curated
   history (`predict_levels`: the hierarchy's allocation, so levels add up exactly; own quantiles),
   with daily and weekly rollups (sums of the hourly means, quantiles from the level's fitted
   dispersion at that grain — never sums of quantiles);
3. adds beside each row the mean of the same period over the last 3 years (52-week shifts keep
   the weekday), the model name/version and the data version;
4. turns the station forecasts into crews per station × shift (`core.staffing`), with engagement
   durations measured on the recent history;
5. explains the modelled rows with CatBoost SHAP values in plain words (`core.drivers`);
6. writes `forecasts/<territory>/<issued>.*` (`adapters.forecast_files`).
Timings of each step are returned: the flow and the benchmark print them.

A store of counts only (e.g. SDIS 91's weekly open data) is forecast at the counts' frequency
and at the levels the model was trained on (the counts' level and the département): no hourly
rows, no commune or station split of département counts, and no crews (they need hourly station
forecasts and engagement durations, i.e. events): the staffing file is then empty.

Covariates: the model reads each declared covariate a horizon before the forecast periods. A
covariate with none of those values (its file ends too early) stops the forecast with a
`ForecastError` naming it; one with some missing forecasts anyway (the model takes a missing
value as unknown) and says so in a warning and in the metadata (`covariates_missing`).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from previsecours.adapters import forecast_files, registry
from previsecours.adapters.forecast_files import ForecastFiles
from previsecours.adapters.versioning import data_version
from previsecours.core.calendar import PERIOD_HOURS, period_of
from previsecours.core.drivers import explain
from previsecours.core.features import FEATURE_SPEC_VERSION, area_attributes, build_features
from previsecours.core.forecast_schema import (
    ALL_CATEGORIES,
    DRIVER_COLUMNS,
    FORECAST_COLUMNS,
    STAFFING_COLUMNS,
)
from previsecours.core.hierarchy import rollup
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.panel import DensePanel, zone_of_events
from previsecours.core.schema import Frequency
from previsecours.core.staffing import (
    StaffingPlan,
    StaffingPolicy,
    measure_durations,
    non_working_dates,
    plan_crews,
)
from previsecours.core.stored_counts import is_counts
from previsecours.core.territory import Territory
from previsecours.pipelines.predict import (
    as_forecaster,
    covariate_gaps,
    history_panel,
    model_covariates,
    predict_levels,
)
from previsecours.pipelines.train import (
    data_end,
    history_start,
    horizon_periods,
    level_actuals,
    load_history,
)
from previsecours.settings import Settings

REFERENCE_YEARS = (1, 2, 3)
YEAR_SHIFT = pd.Timedelta(days=364)  # 52 weeks: the same weekday one year before


class ForecastError(ValueError):
    """A forecast that cannot be made as asked, with what to do about it."""


@dataclass(frozen=True)
class ForecastParams:
    horizon: str = "7d"
    grains: tuple[str, ...] = ("day", "week")
    drivers_top_k: int = 3

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> ForecastParams:
        return cls(
            horizon=str(section.get("horizon", "7d")),
            grains=tuple(section.get("grains", ("day", "week"))),
            drivers_top_k=int(section.get("drivers_top_k", 3)),
        )


@dataclass(frozen=True)
class ForecastResult:
    issued_at: pd.Timestamp
    start: pd.Timestamp
    files: ForecastFiles
    forecast: pd.DataFrame
    staffing: StaffingPlan
    drivers: pd.DataFrame
    metadata: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------ the whole step


def run_forecast(
    settings: Settings,
    *,
    now: pd.Timestamp,
    horizon: str | None = None,
    start: pd.Timestamp | None = None,
) -> ForecastResult:
    """Forecast the territory from its champion; `start` defaults to the end of the history."""
    territory = settings.territory
    params = ForecastParams.from_section(settings.section("forecast"))
    policy = StaffingPolicy.from_params(settings.section("staffing"))
    clock = _Clock()
    served = registry.load_champion(settings.paths, territory.name, {FEATURE_SPEC_VERSION})
    forecaster = as_forecaster(served)
    clock.lap("load champion")
    events = load_history(settings.paths, territory)  # events, or counts of a counts-only store
    clock.lap("read history")
    spec = forecaster.spec
    periods = horizon_periods(horizon or params.horizon, spec.frequency)
    if periods > spec.horizon:
        raise ForecastError(
            f"horizon {horizon or params.horizon} is {periods} {spec.frequency}s; the champion "
            f"forecasts {spec.horizon} at most (retrain with a longer `train.horizon`)"
        )
    origin = start if start is not None else data_end(events, territory, spec.frequency)
    stale = check_covariates(forecaster, territory, origin, periods)
    grains = tuple(g for g in params.grains if _coarser(g, spec.frequency))
    levels = predict_levels(
        forecaster, events, territory, origin, periods, spec.frequency, grains=grains
    )
    clock.lap("predict all levels")
    issued_at = _utc(now)
    version = served.version
    table = decorate(
        levels,
        territory,
        issued_at=issued_at,
        reference=reference_3y(events, territory, levels, spec.frequency),
        model_name=version.name,
        model_version=str(version.version),
        data=data_version(settings.paths),
    )
    clock.lap("references")
    plan = staffing_plan(events, territory, levels, policy, settings)
    clock.lap("staffing")
    drivers = forecast_drivers(
        forecaster,
        events=events,
        territory=territory,
        start=origin,
        periods=periods,
        top_k=params.drivers_top_k,
    )
    clock.lap("drivers")
    metadata = {
        "model_name": version.name,
        "model_version": str(version.version),
        "data_version": str(table["data_version"].iloc[0]) if len(table) else "",
        "horizon": horizon or params.horizon,
        "start": pd.Timestamp(origin).isoformat(),
        "inputs": {"interventions": _latest(events)},
        "covariates": list(spec.covariates),
        "covariates_missing": stale,
        "model": {
            "name": version.name,
            "version": version.version,
            "trained_on_data_version": forecaster.data_version,
            "model_level": forecaster.model_level,
            "frequency": spec.frequency,
            "feature_spec_version": spec.version,
        },
        "staffing": {
            "tolerance_hours_per_year": policy.tolerance_hours_per_year,
            "exceedance_target": policy.exceedance_target,
            "shifts": [s.name for s in policy.shifts],
        },
    }
    files = forecast_files.write_forecast(
        settings.paths,
        territory.name,
        issued_at,
        forecast=table,
        staffing=plan.shifts,
        drivers=drivers,
        metadata=metadata,
    )
    clock.lap("write files")
    return ForecastResult(
        issued_at, pd.Timestamp(origin), files, table, plan, drivers, metadata, clock.seconds
    )


# ------------------------------------------------------------------ the parts


def check_covariates(
    forecaster: TrainedForecaster, territory: Territory, origin: pd.Timestamp, periods: int
) -> dict[str, int]:
    """Covariates lacking lagged values for this forecast: error if all, warning if some."""
    gaps = covariate_gaps(forecaster, territory, origin, periods)
    useless = sorted(name for name, missing in gaps.items() if missing >= periods)
    if useless:
        raise ForecastError(
            f"covariate(s) {useless} have no value for the {periods} period(s) the forecast from "
            f"{pd.Timestamp(origin):%Y-%m-%d %H:%M} reads ({forecaster.spec.horizon} "
            f"{forecaster.spec.frequency}(s) earlier): the file is too old, update it"
        )
    if gaps:
        warnings.warn(
            f"covariate(s) missing for some forecast periods (name: periods): {gaps}; "
            "the model takes them as unknown",
            stacklevel=2,
        )
    return gaps


def _coarser(grain: str, frequency: str) -> bool:
    order = {"hour": 0, "day": 1, "week": 2}
    return order.get(grain, -1) > order[frequency]


def decorate(
    levels: pd.DataFrame,
    territory: Territory,
    *,
    issued_at: pd.Timestamp,
    reference: pd.Series,
    model_name: str,
    model_version: str,
    data: str,
) -> pd.DataFrame:
    """The forecast table of the contract (`FORECAST_COLUMNS`) from `predict_levels` rows."""
    out = levels.copy()
    out["territory"] = territory.name
    out["issued_at"] = issued_at
    names = area_names(territory)
    out["area_name"] = [
        names.get((lvl, code), code)
        for lvl, code in zip(out["level"], out["area_code"].astype(str), strict=True)
    ]
    out["ref_3y_mean"] = reference.to_numpy(np.float64)
    out["model_name"] = model_name
    out["model_version"] = model_version
    out["data_version"] = data
    return out[list(FORECAST_COLUMNS)]


def area_names(territory: Territory) -> dict[tuple[str, str], str]:
    names = {("commune", c.code): c.name for c in territory.communes}
    for zone in territory.coverage_zones:
        station = territory.zone_station(zone)
        names["station", zone] = station.name if station else zone
    names["departement", territory.name] = territory.label
    return names


def reference_3y(
    events: pd.DataFrame, territory: Territory, levels: pd.DataFrame, frequency: Frequency
) -> pd.Series:
    """Mean count of the same period 52, 104 and 156 weeks before, aligned with `levels` rows.

    Only years the history covers count (NaN when none does). Periods are matched in local
    wall-clock time, so 8 am stays 8 am across DST changes.
    """
    tz = territory.timezone
    first = pd.Timestamp(levels["period_start"].min())
    last = pd.Timestamp(levels["period_end"].max())
    stored_from = history_start(events) if len(events) else last
    names = tuple(dict.fromkeys(levels["level"]))
    margin = pd.Timedelta(days=8)  # complete weeks around the window
    years = []
    for n in REFERENCE_YEARS:
        lo = _wall_shift(first - margin, -YEAR_SHIFT * n, tz)
        hi = _wall_shift(last + margin, -YEAR_SHIFT * n, tz)
        if lo >= stored_from:
            times = events["period_start" if is_counts(events) else "alert_time"]
            window = events[(times >= lo) & (times < hi)]
            years.append((n, level_actuals(window, territory, names, frequency, start=lo, end=hi)))
    blocks = []
    for (level, grain), rows in levels.groupby(["level", "frequency"], sort=False):
        starts = pd.DatetimeIndex(rows["period_start"].drop_duplicates()).tz_convert(tz)
        target: Frequency = grain  # type: ignore[assignment]
        panels = [(n, at_grain(actual[str(level)], frequency, target, tz)) for n, actual in years]
        series = panels[0][1].series if panels else rows[["area_code", "category"]].iloc[:0]
        found = np.full((len(panels), len(series), len(starts)), np.nan)
        for k, (n, panel) in enumerate(panels):
            idx = panel.starts.get_indexer(_wall_shift_index(starts, -YEAR_SHIFT * n, tz))
            found[k][:, idx >= 0] = panel.counts[:, idx[idx >= 0]]
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(found, axis=0) if panels else found.sum(axis=0)
        blocks.append(
            pd.DataFrame(
                {
                    "level": level,
                    "frequency": grain,
                    "area_code": np.repeat(series["area_code"].astype(str).to_numpy(), len(starts)),
                    "category": np.repeat(series["category"].astype(str).to_numpy(), len(starts)),
                    "t": np.tile(starts.as_unit("s").asi8, len(series)),
                    "ref": mean.reshape(-1),
                }
            )
        )
    keys = ["level", "frequency", "area_code", "category", "t"]
    rows = pd.DataFrame(
        {
            "level": levels["level"].to_numpy(),
            "frequency": levels["frequency"].to_numpy(),
            "area_code": levels["area_code"].astype(str).to_numpy(),
            "category": levels["category"].astype(str).to_numpy(),
            "t": pd.DatetimeIndex(levels["period_start"]).as_unit("s").asi8,
        }
    )
    merged = rows.merge(pd.concat(blocks, ignore_index=True), on=keys, how="left")
    return pd.Series(merged["ref"].to_numpy(np.float64), index=levels.index)


def at_grain(panel: DensePanel, frequency: Frequency, grain: Frequency, tz: str) -> DensePanel:
    return panel if grain == frequency else rollup(panel, frequency, grain, tz)


def staffing_plan(
    events: pd.DataFrame,
    territory: Territory,
    levels: pd.DataFrame,
    policy: StaffingPolicy,
    settings: Settings,
) -> StaffingPlan:
    """Crews per station × shift from the hourly station forecasts of each category.

    Empty without events (a counts-only store): no hourly station forecast, no durations.
    """
    if is_counts(events):
        empty = pd.DataFrame({c: pd.Series(dtype="object") for c in STAFFING_COLUMNS})
        return StaffingPlan(hourly=empty.iloc[:0], shifts=empty)
    section = settings.section("staffing")
    hourly = levels[
        (levels["level"] == "station")
        & (levels["frequency"] == "hour")
        & (levels["category"] != ALL_CATEGORIES)
    ]
    rates = hourly.rename(columns={"area_code": "station_code"})[
        ["station_code", "category", "period_start", "period_end", "mean"]
    ]
    years = float(section.get("duration_history_years", 3))
    recent = events
    if len(events):
        since = events["alert_time"].max() - pd.Timedelta(days=round(365.25 * years))
        recent = events[events["alert_time"] >= since]
    # Durations are keyed like the forecast's stations: by coverage zone.
    by_zone = recent.assign(station_code=zone_of_events(recent, territory).to_numpy())
    durations = measure_durations(
        by_zone, territory.categories, int(section.get("duration_min_events", 30))
    )
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
        current_crews=current_crews(settings),
    )


def current_crews(settings: Settings) -> dict[str, int] | None:
    """Crews held today per station, from the optional CSV `staffing.current_crews_file`."""
    name = settings.section("staffing").get("current_crews_file")
    if not name:
        return None
    path = Path(name) if Path(name).is_absolute() else settings.paths.home / name
    table = pd.read_csv(path, dtype={"station_code": str})
    return {
        str(code): int(crews)
        for code, crews in zip(table["station_code"], table["crews"], strict=True)
    }


def forecast_drivers(
    forecaster: TrainedForecaster,
    *,
    events: pd.DataFrame,
    territory: Territory,
    start: pd.Timestamp,
    periods: int,
    top_k: int,
) -> pd.DataFrame:
    """Top drivers of each modelled row (CatBoost SHAP values, log-rate scale)."""
    booster = getattr(forecaster.model, "model", None)
    if booster is None or not hasattr(booster, "get_feature_importance"):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in DRIVER_COLUMNS})
    from catboost import Pool

    spec = forecaster.spec
    tz = territory.timezone
    first = pd.Timestamp(period_of(pd.DatetimeIndex([_local(start, tz)]), spec.frequency, tz)[0])
    step = pd.Timedelta(hours=PERIOD_HOURS[spec.frequency])
    # The same history window and cut as predict_levels: what the model saw for this forecast.
    panel = history_panel(
        forecaster,
        events,
        territory,
        first - step * (spec.max_lag + 1),
        first + step * periods + pd.Timedelta(days=1),
    )
    counts = panel.counts.copy()
    counts[:, panel.starts >= first] = np.nan
    panel = DensePanel(panel.series, panel.starts, counts)
    origin = int(panel.starts.get_indexer(pd.DatetimeIndex([first]))[0])
    attributes = area_attributes(
        territory, forecaster.model_level, list(forecaster.hierarchy.model_areas)
    )
    block = build_features(
        panel,
        spec,
        territory,
        attributes,
        first=origin,
        last=origin + periods,
        covariates=model_covariates(forecaster, territory, panel.starts),
    )
    shap = booster.get_feature_importance(Pool(block.matrix), type="ShapValues")
    keys = block.keys.assign(level=forecaster.model_level)
    return explain(np.asarray(shap), list(block.matrix.columns), block.matrix, keys, top_k)


# ------------------------------------------------------------------ summaries for people


def station_days(forecast: pd.DataFrame) -> pd.DataFrame:
    """Next days per station, all categories: expected interventions, 80 % interval, peak hour."""
    station = forecast[(forecast["level"] == "station") & (forecast["category"] == ALL_CATEGORIES)]
    daily = station[station["frequency"] == "day"]
    hourly = station[station["frequency"] == "hour"].copy()
    hourly["day"] = pd.to_datetime(hourly["period_start"]).dt.normalize()
    peak = hourly.loc[hourly.groupby(["area_code", "day"])["mean"].idxmax()]
    peak_hour = {
        (a, d): f"{t.hour:02d}h"
        for a, d, t in zip(peak["area_code"], peak["day"], peak["period_start"], strict=True)
    }
    daily = daily.sort_values(["area_code", "period_start"], kind="stable")
    days = pd.to_datetime(daily["period_start"]).dt.normalize()
    return pd.DataFrame(
        {
            "station": daily["area_code"].to_numpy(),
            "name": daily["area_name"].to_numpy(),
            "day": days.dt.strftime("%a %d/%m").to_numpy(),
            "expected": daily["mean"].round(1).to_numpy(),
            "interval_80": [
                f"{lo:.0f}–{hi:.0f}" for lo, hi in zip(daily["p10"], daily["p90"], strict=True)
            ],
            "peak_hour": [
                peak_hour.get((a, d), "") for a, d in zip(daily["area_code"], days, strict=True)
            ],
        }
    )


def riskiest_markdown(result: ForecastResult, top: int = 5) -> str:
    """The periods to watch: busiest hours of the département, most loaded station shifts."""
    forecast = result.forecast
    dep = forecast[
        (forecast["level"] == "departement")
        & (forecast["category"] == ALL_CATEGORIES)
        & (forecast["frequency"] == "hour")
    ].nlargest(top, "mean")
    shifts = result.staffing.shifts.nlargest(top, "expected_peak_concurrency")
    lines = [
        f"## Forecast issued {result.issued_at:%Y-%m-%d %H:%M} UTC — periods to watch",
        "",
        f"Model {result.metadata['model_name']} version {result.metadata['model_version']}, "
        f"data {result.metadata['data_version']}, from {result.start:%Y-%m-%d %H:%M}.",
        "",
        "### Busiest hours for the département",
        "",
        "| hour | expected | 80 % interval | same hour, last 3 years |",
        "|---|---|---|---|",
        *(
            f"| {pd.Timestamp(r['period_start']):%a %d/%m %Hh} | {r['mean']:.1f} | "
            f"{r['p10']:.0f}–{r['p90']:.0f} | {_fmt(r['ref_3y_mean'])} |"
            for r in dep.to_dict("records")
        ),
        "",
        "### Station shifts with the highest simultaneous demand",
        "",
        "| station | shift | expected interventions | peak in progress | crews recommended |",
        "|---|---|---|---|---|",
        *(
            f"| {r['station_name']} | {r['shift']} {pd.Timestamp(r['shift_start']):%a %d/%m %Hh}"
            f" | {r['expected_interventions']:.1f} | {r['expected_peak_concurrency']:.2f} | "
            f"{r['recommended_crews']} |"
            for r in shifts.to_dict("records")
        ),
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ small helpers


def _fmt(value: Any) -> str:
    return "—" if pd.isna(value) else f"{value:.1f}"


def _latest(events: pd.DataFrame) -> str | None:
    if not len(events):
        return None
    return pd.Timestamp(
        events["period_start" if is_counts(events) else "alert_time"].max()
    ).isoformat()


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(t)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _local(t: pd.Timestamp, tz: str) -> pd.Timestamp:
    stamp = pd.Timestamp(t)
    return stamp.tz_localize(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)


def _wall_shift(t: pd.Timestamp, shift: pd.Timedelta, tz: str) -> pd.Timestamp:
    """`t` moved by `shift` in local wall-clock time (so 8 am stays 8 am across DST)."""
    naive = _local(t, tz).tz_localize(None) + shift
    return naive.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def _wall_shift_index(starts: pd.DatetimeIndex, shift: pd.Timedelta, tz: str) -> pd.DatetimeIndex:
    naive = starts.tz_convert(tz).tz_localize(None) + shift
    first = np.ones(len(naive), dtype=bool)
    return naive.tz_localize(tz, ambiguous=first, nonexistent="shift_forward").as_unit("s")


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = now - self._last
        self._last = now
