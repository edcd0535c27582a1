"""Forecast step: the champion, the curated history and the calendar → the forecast files.

`run_forecast(settings, now=...)`:
1. loads `models:/previsecours-<territory>@champion` (clear error without a champion, or when
   its feature spec is not the one this code builds);
2. forecasts every level × area × category × hour of the horizon from the first period after the
   curated history (`History.forecast_origin`: data to Saturday 23:39 → Sunday 00:00; an
   explicit `start` wins), the model reading only counts before that origin (`predict_levels`:
   the hierarchy's allocation, so levels add up exactly; own quantiles),
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
forecasts and engagement durations, i.e. events): the staffing file is then empty. So it is
for a territory declaring no stations with coverage zones (crews are sized per station); the
metadata's `staffing.note` says why, and so does the summary.

The metadata also carries `warnings` (printed by the command on stderr): data that ended more
than a week before now (three weeks for a weekly model: `data_stale`), and a champion whose
backtest bias at the total level, read from its registry tags (`champion_backtest`), is beyond
±`BIAS_WARNING_PCT` %.

Covariates: the model reads each declared covariate a horizon before the forecast periods. A
covariate with none of those values (its file ends too early) stops the forecast with a
`ForecastError` naming it; one with some missing forecasts anyway (the model takes a missing
value as unknown) and says so in a warning and in the metadata (`covariates_missing`). A
covariate declared `known_ahead` is read at the forecast periods themselves: where its file has
no value yet it is unknown (never zero), never an error, and one line of `warnings` says so.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from previsecours.adapters import forecast_files, registry, store
from previsecours.adapters.forecast_files import ForecastFiles, read_current_crews
from previsecours.adapters.versioning import data_version
from previsecours.core.calendar import horizon_periods
from previsecours.core.features import FEATURE_SPEC_VERSION
from previsecours.core.forecast_report import champion_backtest, stale_data, station_days
from previsecours.core.forecast_report import riskiest_markdown as report_markdown
from previsecours.core.forecast_table import decorate, reference_3y
from previsecours.core.history import History
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.staffing import StaffingPlan, no_crews_reason, staffing_plan
from previsecours.core.territory import Territory
from previsecours.errors import InputError
from previsecours.pipelines.predict import (
    as_forecaster,
    covariate_gaps,
    forecast_drivers,
    predict_levels,
    unknown_ahead,
)
from previsecours.settings import Settings

__all__ = ["ForecastError", "ForecastResult", "riskiest_markdown", "run_forecast", "station_days"]


class ForecastError(InputError, ValueError):
    """A forecast that cannot be made as asked, with what to do about it."""


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
    """Forecast the territory from its champion; `start` defaults to the first period after
    the history (`History.forecast_origin`)."""
    territory = settings.territory
    params = settings.params.forecast
    policy = settings.params.staffing
    clock = _Clock()
    served = registry.load_champion(settings.paths, territory.name, {FEATURE_SPEC_VERSION})
    forecaster = as_forecaster(served)
    clock.lap("load champion")
    history = store.read_history(settings.paths, territory).require()
    clock.lap("read history")
    spec = forecaster.spec
    origin = start if start is not None else history.forecast_origin(territory, spec.frequency)
    periods = horizon_periods(
        horizon or params.horizon, spec.frequency, origin=origin, timezone=territory.timezone
    )
    # The model's horizon is nominal (7d: 168 hours); a local week holding the autumn change
    # (169 hours) is still within it: its last hour's one-week lag is unknown, read as missing.
    if horizon_periods(horizon or params.horizon, spec.frequency) > spec.horizon:
        raise ForecastError(
            f"horizon {horizon or params.horizon} is {periods} {spec.frequency}s; the champion "
            f"forecasts {spec.horizon} at most (retrain with a longer `train.horizon`)"
        )
    gaps = check_covariates(forecaster, territory, origin, periods)
    ahead = ahead_notes(forecaster, territory, origin, periods)
    grains = tuple(g for g in params.grains if _coarser(g, spec.frequency))
    # Counts from the origin on are unknown to the model, even when the store holds some (an
    # explicit `start` in the past): its lags read only what was known at the origin.
    levels = predict_levels(
        forecaster,
        history,
        territory,
        origin,
        periods,
        spec.frequency,
        grains=grains,
        history_end=origin,
    )
    clock.lap("predict all levels")
    issued_at = _utc(now)
    version = served.version
    table = decorate(
        levels,
        territory,
        issued_at=issued_at,
        reference=reference_3y(history, territory, levels, spec.frequency),
        model_name=version.name,
        model_version=str(version.version),
        data=data_version(settings.paths),
    )
    clock.lap("references")
    crews = read_current_crews(settings.paths, policy.current_crews_file)
    plan = staffing_plan(history, territory, levels, policy, crews)
    clock.lap("staffing")
    drivers = forecast_drivers(
        forecaster,
        history=history,
        territory=territory,
        start=origin,
        periods=periods,
        top_k=params.drivers_top_k,
    )
    clock.lap("drivers")
    backtest = champion_backtest(version.tags)
    stale = stale_data(history, territory, spec.frequency, issued_at)
    notes = [
        *([stale["text"]] if stale else []),
        *([backtest["warning"]] if backtest.get("warning") else []),
        *ahead,
    ]
    metadata = {
        "model_name": version.name,
        "model_version": str(version.version),
        "data_version": str(table["data_version"].iloc[0]) if len(table) else "",
        "horizon": horizon or params.horizon,
        "start": pd.Timestamp(origin).isoformat(),
        "inputs": {"interventions": _latest(history)},
        "covariates": list(spec.covariates),
        "covariates_missing": gaps,
        "warnings": notes,
        "data_stale": stale,
        "champion_backtest": backtest,
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
            "note": no_crews_reason(history, territory, levels) if plan.shifts.empty else "",
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
    ahead = set(forecaster.spec.known_ahead)  # their gaps are said by `ahead_notes`
    useless = sorted(n for n, missing in gaps.items() if missing >= periods and n not in ahead)
    if useless:
        raise ForecastError(
            f"covariate(s) {useless} have no value for the {periods} period(s) the forecast from "
            f"{pd.Timestamp(origin):%Y-%m-%d %H:%M} reads ({forecaster.spec.horizon} "
            f"{forecaster.spec.frequency}(s) earlier): the file is too old, update it"
        )
    lagged = {n: missing for n, missing in gaps.items() if n not in ahead}
    if lagged:
        warnings.warn(
            f"covariate(s) missing for some forecast periods (name: periods): {lagged}; "
            "the model takes them as unknown",
            stacklevel=2,
        )
    return gaps


def ahead_notes(
    forecaster: TrainedForecaster, territory: Territory, origin: pd.Timestamp, periods: int
) -> list[str]:
    """One line per known-ahead covariate whose file has no value yet for some periods."""
    fmt = "%Y-%m-%d %H:%M" if forecaster.spec.frequency == "hour" else "%Y-%m-%d"
    return [
        f"covariate {name}: no value for {first:{fmt}} … {last:{fmt}} ({count} of {periods} "
        "period(s), known_ahead): unknown to the model"
        for name, (first, last, count) in unknown_ahead(
            forecaster, territory, origin, periods
        ).items()
    ]


def _coarser(grain: str, frequency: str) -> bool:
    order = {"hour": 0, "day": 1, "week": 2}
    return order.get(grain, -1) > order[frequency]


def riskiest_markdown(
    result: ForecastResult, top: int = 5, total_label: str = "département"
) -> str:
    """The periods to watch: busiest periods of the territory, most loaded station shifts."""
    return report_markdown(
        result.forecast,
        result.staffing.shifts,
        result.metadata,
        result.issued_at,
        result.start,
        top=top,
        total_label=total_label,
    )


# ------------------------------------------------------------------ small helpers


def _latest(history: History) -> str | None:
    return pd.Timestamp(history.times.max()).isoformat() if len(history) else None


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(t)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = now - self._last
        self._last = now
