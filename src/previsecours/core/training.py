"""Training compute: the modelled panel, the rolling-origin backtest and the final fit.

Pure: given a `History`, a territory and `TrainParams`, every function here computes and
returns; reading the store, the covariate files and writing MLflow runs is the pipelines' job.

Design:
- The model forecasts the modelled level (`train.model_level`, e.g. coverage zone) × hour, all
  categories together when `split_categories`, with CatBoost Poisson on the last
  `train_years`; categories get their measured shares and finer areas their measured share of
  each modelled area, so every level adds up exactly (core/hierarchy.py). With
  `allocation: top_down` the modelled areas' sum is split again by measured shares.
- Direct multi-horizon features (lags ≥ horizon), see core/features.py.
- Backtest windows at the given origins (`train.origins`, local times) or rolling from the end
  of the data; a horizon in days or weeks is local days (DST-safe), the model's horizon the
  nominal one (168 hours for 7d: the one-week lags stay features).
- Intervals: negative binomial around the mean, dispersion per level × grain fitted on the
  backtest forecasts; each backtest window's intervals (the predictions' quantiles, its
  metrics) from the windows before it only, the final model's from all (core/intervals.py).
- A counts-only store fixes frequency, level and categories (`history_params`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple, cast

import numpy as np
import pandas as pd

from previsecours.config import (
    CANDIDATE_PREFIX,
    ModelLevel,
    TrainParams,
)
from previsecours.core.backtest import (
    BacktestConfig,
    BacktestResult,
    Evaluation,
    Progress,
    default_levels,
    evaluate,
    run_backtest,
    with_combinations,
    with_intervals,
)
from previsecours.core.calendar import PERIOD_HOURS, horizon_periods, local_time
from previsecours.core.choice import (
    choose,
    models_fingerprint,
    no_scores,
    window_scores,
    with_memory,
)
from previsecours.core.features import (
    AreaAttributes,
    FeatureSpec,
    area_attributes,
    build_features,
    make_spec,
)
from previsecours.core.hierarchy import Dispersion, Hierarchy, fit_hierarchy
from previsecours.core.history import History
from previsecours.core.level_shift import LevelShift, level_shifts, weekly_totals
from previsecours.core.models import Forecaster, make_forecaster
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.models.combination import Combination
from previsecours.core.panel import DensePanel, count_panel
from previsecours.core.schema import Frequency
from previsecours.core.stored_counts import counts_hierarchy, known_counts_panel, with_level_codes
from previsecours.core.territory import Territory
from previsecours.errors import ConfigError

YEAR_HOURS = 8766


@dataclass(frozen=True)
class PanelData:
    panel: DensePanel  # modelled series × periods
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive: the last complete local day
    covariates: pd.DataFrame | None = None  # the territory's covariates per panel period
    known_ahead: tuple[str, ...] = ()  # those read at the period, not a horizon late
    params: TrainParams | None = None  # as the history allowed (see `history_params`)
    level_shifts: tuple[LevelShift, ...] = ()  # found in the whole stored history


@dataclass(frozen=True)
class BacktestOutcome:
    result: BacktestResult
    evaluation: Evaluation
    hierarchy: Hierarchy
    spec: FeatureSpec
    seconds: Mapping[str, float]
    candidate: str = ""  # the CatBoost candidate the backtest chose ("": no candidates)
    # The windows the choice read, this backtest's and remembered ones (core/choice.py): the
    # choice memory the next training reads.
    window_scores: pd.DataFrame = field(default_factory=no_scores)


@dataclass(frozen=True)
class BacktestFiles:
    """What a backtest leaves for the final fit, MLflow and DVC's metrics."""

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    dispersion: Mapping[str, Dispersion]
    seconds: Mapping[str, float]
    fit_seconds: Mapping[str, float]
    feature_spec: Mapping[str, Any]
    dropped: Mapping[str, str] = field(default_factory=dict)  # model → why it could not fit
    candidate: str = ""  # the CatBoost candidate chosen, trained as `catboost`
    window_scores: pd.DataFrame = field(default_factory=no_scores)  # what the choice read

    @classmethod
    def of(cls, outcome: BacktestOutcome) -> BacktestFiles:
        return cls(
            predictions=outcome.result.predictions,
            metrics=outcome.evaluation.metrics,
            dispersion=outcome.evaluation.dispersion,
            seconds=outcome.seconds,
            fit_seconds=outcome.result.fit_seconds,
            feature_spec=outcome.spec.to_dict(),
            dropped=outcome.result.dropped,
            candidate=outcome.candidate,
            window_scores=outcome.window_scores,
        )


@dataclass(frozen=True)
class TrainingFit:
    """A territory's backtest and final model, computed and not yet recorded."""

    territory: str
    data: PanelData  # with `params` as the history allowed
    files: BacktestFiles
    forecaster: TrainedForecaster
    history_rows: int
    seconds: Mapping[str, float]
    cpu_seconds: float  # this process's CPU time: contention does not inflate it
    backtested: bool  # False when the backtest came from the backtest stage's files
    # Wall clock when `fit` started (UTC): the MLflow parent run starts there, so the UI's
    # duration is the training's. None (an older pickled fit): the run starts when logged.
    started_at: datetime | None = None


def history_params(params: TrainParams, history: History, territory: Territory) -> TrainParams:
    """The params a history allows: a counts-only store fixes frequency, level and categories.

    Events → `params` with the modelled level resolved for the territory (`model_level_for`).
    Stored counts → their own frequency and level (core.stored_counts), categories modelled
    directly (no events to measure shares from). Either way, CatBoost's settings are those of
    the modelled frequency (`TrainParams.for_frequency`).
    """
    if history.frequency is None:
        with_level = replace(params, model_level=model_level_for(params, territory))
        return with_level.for_frequency(params.frequency_of(territory))
    history.require()
    frequency = history.frequency
    if params.frequency is not None and params.frequency != frequency:
        raise ConfigError(
            f"params.yaml train.frequency is {params.frequency}, but the store holds "
            f"{frequency}ly counts only (no events to count at another frequency)"
        )
    _, level = with_level_codes(history.frame, territory)
    counts_level = cast(ModelLevel, level)  # commune, station or departement
    counts = replace(params, frequency=frequency, model_level=counts_level, split_categories=False)
    return counts.for_frequency(frequency)


def model_level_for(params: TrainParams, territory: Territory) -> ModelLevel:
    """The modelled level: `train.model_level`, or for `auto` the finest level the territory
    declares whose areas hold every intervention — coverage zones when it declares them (an
    intervention always has a first-called zone through its commune), else communes."""
    level = params.model_level
    if level == "auto":
        return "station" if territory.coverage_zones else "commune"
    if level == "station" and not territory.coverage_zones:
        raise ConfigError(
            f"params.yaml train.model_level is station, but territory {territory.name} declares "
            "no coverage zones (areas.coverage_shares): use auto, commune or departement"
        )
    return level


def modelled_panel(history: History, territory: Territory, params: TrainParams) -> PanelData:
    """The modelled series over the last `history_years` (covariates not attached).

    Stored counts give the panel at their own frequency and level, unknown periods NaN (see
    `history_params`)."""
    params = history_params(params, history, territory)
    frequency = params.frequency_of(territory)
    end = history.end(territory, frequency)
    start = max(end - pd.Timedelta(days=round(365.25 * params.history_years)), history.start())
    shifts = level_shifts(weekly_totals(history, territory))
    if params.start_after_level_shift and shifts:
        start = max(start, shifts[-1].week)
    if history.is_counts:
        panel = known_counts_panel(history.frame, territory, frequency, start=start, end=end)
    else:
        panel = count_panel(
            history.frame,
            territory,
            params.model_level,
            frequency,
            start=start,
            end=end,
            by_category=not params.split_categories,
        )
    return PanelData(panel, start, end, params=params, level_shifts=shifts)


def backtest_config(params: TrainParams, territory: Territory) -> BacktestConfig:
    """The backtest `params` ask for: its windows cover `train.horizon` in the territory's local
    calendar from each origin (`train.origins`, else rolling), at most the model's horizon —
    the nominal one (7d: 168 hours), so the one-week lags stay features; the 169th hour of an
    autumn week is forecast with its one-week lag unknown, and not backtested."""
    frequency = params.frequency_of(territory)
    timezone = territory.timezone
    return BacktestConfig(
        horizon=horizon_periods(params.horizon, frequency),
        n_windows=params.windows_for(frequency),
        step=params.step,
        refit=params.refit,
        train_periods=round(params.train_years * YEAR_HOURS / PERIOD_HOURS[frequency]),
        models=params.backtest_models,
        model_params=params.model_params,
        coverage_target=params.coverage_target,
        calendar_horizon=params.horizon,
        origins=tuple(local_time(o, timezone) for o in params.origins),
    )


def fitted_hierarchy(
    history: History,
    territory: Territory,
    params: TrainParams,
    model_areas: list[str],
    end: pd.Timestamp,
) -> Hierarchy:
    """Shares measured on the `allocation_years` before `end` (counts: identity)."""
    params = history_params(params, history, territory)
    if history.is_counts:
        level = params.model_level
        return counts_hierarchy(level, model_areas, tuple(territory.categories), territory.name)
    events = history.frame
    since = end - pd.Timedelta(days=round(365.25 * params.allocation_years))
    recent = events[(events["alert_time"] >= since) & (events["alert_time"] < end)]
    return fit_hierarchy(
        recent,
        territory,
        params.model_level,
        model_areas,
        tuple(default_levels(territory, params.model_level)),
        split_categories=params.split_categories,
        frequency=params.frequency_of(territory),
        pooled=params.allocation == "top_down",
    )


class ModelInputs(NamedTuple):
    """What every fit of a panel shares: windows, feature spec, modelled areas, attributes."""

    config: BacktestConfig
    spec: FeatureSpec
    areas: list[str]
    attributes: AreaAttributes


def model_inputs(territory: Territory, params: TrainParams, data: PanelData) -> ModelInputs:
    config = backtest_config(params, territory)
    spec = make_spec(
        params.frequency_of(territory), config.horizon, covariate_names(data), data.known_ahead
    )
    areas = list(dict.fromkeys(data.panel.series["area_code"].astype(str)))
    return ModelInputs(config, spec, areas, area_attributes(territory, params.model_level, areas))


def covariate_names(data: PanelData) -> tuple[str, ...]:
    return () if data.covariates is None else tuple(str(c) for c in data.covariates.columns)


def window_fits(
    territory: Territory, params: TrainParams, data: PanelData, windows: tuple[int, ...]
) -> BacktestResult:
    """The backtest fits and forecasts of some windows only: a unit of work that can run in
    another process (`core.backtest.merge_results` joins them; `backtest(fitted=...)` goes on)."""
    params = data.params or params  # a counts-only store fixes frequency and level
    inputs = model_inputs(territory, params, data)
    return run_backtest(
        data.panel,
        inputs.spec,
        territory,
        inputs.attributes,
        inputs.config,
        covariates=data.covariates,
        only=windows,
    )


def backtest(
    history: History,
    territory: Territory,
    params: TrainParams,
    data: PanelData,
    progress: Progress | None = None,
    *,
    fitted: BacktestResult | None = None,
    memory: pd.DataFrame | None = None,
) -> BacktestOutcome:
    """Every model over the backtest windows, evaluated at every level × grain; the predictions
    carry each row's quantiles (dispersion fitted on the earlier windows); the candidate chosen
    on these windows and the ones earlier trainings scored (`memory`, core/choice.py).

    Nothing at or after a window's origin reaches its forecast: training rows and features
    before it (core.backtest), and the allocation (`fitted_hierarchy`) is measured before the
    first origin.
    `fitted`: the windows' fits and forecasts already made (e.g. by `window_fits` elsewhere)."""
    params = history_params(params, history, territory)
    seconds: dict[str, float] = {}
    config, spec, areas, attributes = model_inputs(territory, params, data)
    t0 = time.perf_counter()
    result = fitted or run_backtest(
        data.panel,
        spec,
        territory,
        attributes,
        config,
        covariates=data.covariates,
        progress=progress,
    )
    seconds["backtest_fit_predict"] = (
        sum(result.fit_seconds.values()) + sum(result.predict_seconds.values())
        if fitted
        else time.perf_counter() - t0
    )
    result = with_combinations(result, params.judged_combinations)
    t0 = time.perf_counter()
    first_origin = data.panel.starts[result.windows[0].origin]
    # Allocation measured before the first window: the backtest never sees its own future.
    hierarchy = fitted_hierarchy(history, territory, params, areas, first_origin)
    actuals = history.level_actuals(
        territory,
        tuple(hierarchy.levels),
        spec.frequency,
        start=first_origin - scaling_history(spec),
        end=data.end,
    )
    evaluation = evaluate(
        result,
        data.panel.series,
        hierarchy,
        actuals,
        frequency=spec.frequency,
        timezone=territory.timezone,
        coverage_target=params.coverage_target,
    )
    # Each row's quantiles from the dispersion known at its origin (the windows before it).
    predictions = with_intervals(
        result.predictions,
        evaluation.window_dispersion,
        level=hierarchy.model_level,
        frequency=spec.frequency,
    )
    seconds["evaluation"] = time.perf_counter() - t0
    own = window_scores(
        evaluation.metrics,
        result.windows,
        data.panel.starts,
        fingerprint=models_fingerprint(params, territory.name, spec.to_dict()),
    )
    scores = with_memory(own, memory, params.choice_windows)
    chosen = choose(scores, params.choosable)
    result, evaluation = as_catboost(replace(result, predictions=predictions), evaluation, chosen)
    return BacktestOutcome(
        result, evaluation, hierarchy, spec, seconds, chosen_candidate(chosen), scores
    )


def chosen_candidate(model: str | None) -> str:
    return (model or "").removeprefix(CANDIDATE_PREFIX)


def as_catboost(
    result: BacktestResult, evaluation: Evaluation, chosen: str | None
) -> tuple[BacktestResult, Evaluation]:
    """The chosen candidate's rows and fits named `catboost` (what is trained, registered and
    promoted); the other candidates keep their names, scored beside it."""
    if chosen is None:
        return result, evaluation

    def renamed(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {"catboost" if k == chosen else k: v for k, v in mapping.items()}

    def frame(f: pd.DataFrame) -> pd.DataFrame:
        return f.assign(model=f["model"].replace({chosen: "catboost"}))

    result = replace(
        result,
        predictions=frame(result.predictions),
        fit_seconds=renamed(result.fit_seconds),
        predict_seconds=renamed(result.predict_seconds),
    )
    evaluation = replace(
        evaluation,
        metrics=frame(evaluation.metrics),
        dispersion=renamed(evaluation.dispersion),
        window_dispersion=renamed(evaluation.window_dispersion),
    )
    return result, evaluation


def scaling_history(spec: FeatureSpec) -> pd.Timedelta:
    """Actuals read before the first origin: the scale of the scaled errors needs them."""
    return pd.Timedelta(days=104 * 7 if spec.frequency == "week" else 36)


def fit_final(
    history: History,
    territory: Territory,
    params: TrainParams,
    data: PanelData,
    *,
    dispersion: Dispersion,
    data_version: str,
    candidate: str = "",
) -> TrainedForecaster:
    """CatBoost (the backtest's chosen `candidate`, if any: a CatBoost variant or a combination
    of models) on the last `train_years` up to the end of the data, with its hierarchy."""
    params = history_params(params, history, territory)
    config, spec, areas, attributes = model_inputs(territory, params, data)
    n = len(data.panel.starts)
    first = max(n - (config.train_periods or n), 0)
    block = build_features(
        data.panel, spec, territory, attributes, first=first, last=n, covariates=data.covariates
    )
    known = ~np.isnan(block.y)
    model = final_model(params, spec, candidate)
    model.fit(block.matrix[known], block.y[known])
    return TrainedForecaster(
        spec=spec,
        model=model,
        hierarchy=fitted_hierarchy(history, territory, params, areas, data.end),
        dispersion=dispersion,
        territory=territory.name,
        data_version=data_version,
        data_end=data.end,
    )


def final_model(params: TrainParams, spec: FeatureSpec, candidate: str) -> Forecaster:
    """The unfitted model a chosen candidate names: a CatBoost with its settings, or a
    `Combination` of its members (each CatBoost candidate with its settings, each other model
    with its own)."""
    if candidate not in (params.combinations or {}):
        return make_forecaster("catboost", spec, params.catboost_params(candidate))
    members = [
        make_forecaster(m, spec, params.model_params.get(m)) for m in params.members(candidate)
    ]
    return Combination(members)


def input_example(
    forecaster: TrainedForecaster, data: PanelData, territory: Territory
) -> pd.DataFrame:
    """A few rows of the model's input, for its MLflow signature."""
    n = len(data.panel.starts)
    attributes = area_attributes(
        territory, forecaster.model_level, list(forecaster.hierarchy.model_areas)
    )
    block = build_features(
        data.panel,
        forecaster.spec,
        territory,
        attributes,
        first=n - 1,
        last=n,
        covariates=data.covariates,
    )
    return block.matrix.head(5).reset_index(drop=True)


def before_the_store_unknown(
    panel: DensePanel, first_event: pd.Timestamp, frequency: Frequency
) -> DensePanel:
    """Periods that ended before the store's first event unknown (NaN), not zero: a store of
    8 months read 3 years back would otherwise give the yearly features zeros where training
    saw nothing (its panel starts at the first event, `modelled_panel`) — a forecast biased
    down by half on a young store."""
    starts = pd.DatetimeIndex(panel.starts)
    if len(starts) == 0:
        return panel
    last_end = starts[-1] + pd.Timedelta(hours=PERIOD_HOURS[frequency])
    ends = starts[1:].append(pd.DatetimeIndex([last_end]))
    before = np.asarray(ends <= first_event)
    if not before.any():
        return panel
    counts = panel.counts.astype(np.float64, copy=True)
    counts[:, before] = np.nan
    return DensePanel(panel.series, panel.starts, counts)


def history_panel(
    forecaster: TrainedForecaster,
    history: History,
    territory: Territory,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> DensePanel:
    """Counts of a trained model's series over [start, end), in the model's series order;
    periods before the store began unknown (NaN), as training saw them."""
    h = forecaster.hierarchy
    frequency = forecaster.spec.frequency
    split = h.category_shares is not None
    if history.is_counts:
        # Periods the counts do not cover stay unknown (NaN), never zero.
        panel = known_counts_panel(
            history.frame, territory, frequency, start=start, end=end, areas=list(h.model_areas)
        )
    else:
        panel = before_the_store_unknown(
            count_panel(
                history.frame,
                territory,
                h.model_level,
                frequency,
                start=start,
                end=end,
                by_category=not split,
                areas=list(h.model_areas),
            ),
            history.start(),
            frequency,
        )
    categories = ["ALL"] if split else list(h.categories)
    wanted = pd.DataFrame(
        {
            "area_code": np.repeat(np.asarray(h.model_areas, dtype=object), len(categories)),
            "category": np.tile(np.asarray(categories, dtype=object), len(h.model_areas)),
        }
    )
    index = pd.MultiIndex.from_frame(panel.series[["area_code", "category"]].astype(str))
    pos = index.get_indexer(pd.MultiIndex.from_frame(wanted.astype(str)))
    counts = np.where(pos[:, None] >= 0, panel.counts[np.maximum(pos, 0)], 0.0)
    return DensePanel(wanted, panel.starts, counts)
