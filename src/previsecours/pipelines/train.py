"""Training: panel → rolling-origin backtest → final fit → MLflow run and registered version.

Contracts for the promotion and forecast steps (issue 5):
- `pipelines/predict.py::predict_levels(model, history, territory, start, periods, frequency)`
  forecasts every level (commune, station, departement; each category and ALL) with columns
  level, area_code, category, period_start, period_end, mean, p02_5, p10, p50, p90, p97_5 (+
  frequency); `model` is a `TrainedForecaster`, a loaded pyfunc model or anything with `.model`.
- `score_on_window(model, events, territory, ...)` re-scores any model on the most recent
  backtest window(s) of the CURRENT data and returns metrics per level × grain (long frame, and
  `flat_metrics`-style names `<level>_<grain>_<metric>`, e.g. `station_hour_rmsse`).
- `core/hierarchy.py`: modelled-grain means (+ dispersion) → every level, consistent means and
  each level's own NB quantiles (QUANTILES of core/forecast_schema.py).
- The registered model `previsecours-<territory>` is a pyfunc (`adapters.tracking.
  ForecasterModel`) with signature, input example and pinned pip requirements; its artifacts
  carry `forecaster.json` (feature spec + version, frequency, horizon, modelled level, hierarchy,
  dispersion, training data version). Version tags: data_version, git_commit, territory,
  frequency, horizon, model_level, feature_spec_version, run_id.
- MLflow: tracking URI `Paths.mlflow_tracking_uri`, experiment `previsecours-<territory>`
  (artifacts under `Paths.mlflow_artifacts`); a parent run per training with a child run per
  model (metrics per level × grain over all windows, and per window as steps).

Design (measured in bench/bench_train.py):
- The model forecasts coverage zone (station) × hour, all categories together, with CatBoost
  Poisson on the last `train_years`; with `allocation: top_down` the zones' sum is split again
  by measured shares (core/hierarchy.py), else each zone keeps its own forecast; categories get
  their measured shares (area × month × 3-hour block) and communes their measured share of each
  zone's interventions, so every level adds up exactly. The commune × hour × category panel
  (~60 M rows at Essonne scale) is never fitted: the station × hour panel is 34 × 8,760 rows a
  year.
- Direct multi-horizon features (lags ≥ horizon), see core/features.py.
- Intervals: negative binomial around the mean, dispersion per level × grain fitted on the
  backtest forecasts, coverage reported cross-fitted (core/intervals.py).

Measured at Essonne scale (bench/bench_train.py: 7 generated years, 670 k events, 34 zones,
4 weekly windows, 6 models, 2 cores shared with other jobs): whole train 168 s (backtest fits
116 s, evaluation 16 s, final fit 27 s, MLflow logging 9 s), peak RSS 0.98 GB; CatBoost fits the
final 596 k × 37 matrix in 9.9 s against LightGBM's 11.4 s.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from previsecours.core.backtest import (
    BacktestConfig,
    BacktestResult,
    Evaluation,
    Progress,
    default_levels,
    evaluate,
    flat_metrics,
    run_backtest,
)
from previsecours.core.calendar import PERIOD_HOURS, period_of
from previsecours.core.features import (
    FEATURE_SPEC_VERSION,
    AreaAttributes,
    FeatureSpec,
    area_attributes,
    make_spec,
)
from previsecours.core.forecast_schema import ALL_CATEGORIES
from previsecours.core.hierarchy import Dispersion, Hierarchy, fit_hierarchy
from previsecours.core.models import make_forecaster
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.panel import DensePanel, count_panel, sum_series
from previsecours.core.schema import Frequency
from previsecours.core.stored_counts import (
    counts_end,
    counts_frequency,
    counts_hierarchy,
    counts_level_actuals,
    is_counts,
    known_counts_panel,
    period_frequency,
    with_level_codes,
)
from previsecours.core.territory import Territory
from previsecours.settings import Paths, Settings

DEFAULT_MODELS = (
    "catboost",
    "seasonal_naive",
    "seasonal_average_4",
    "reference_3y",
    "reference_3y_pm2",
    "poisson_glm",
)


ALLOCATIONS = ("bottom_up", "top_down")


@dataclass(frozen=True)
class TrainParams:
    """The `train:` section of params.yaml."""

    model_level: str = "station"
    split_categories: bool = True
    frequency: Frequency | None = None  # default: the territory's
    horizon: str = "7d"
    n_windows: int = 4
    step: int | None = None
    refit: bool = True
    train_years: float = 2.0
    history_years: float = 5.2  # read from the store: training span + 3 years of references
    allocation_years: float = 2.0
    allocation: str = "bottom_up"  # or "top_down": the modelled total split by measured shares
    coverage_target: float = 0.82
    register: bool = True
    models: tuple[str, ...] = DEFAULT_MODELS
    model_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.allocation not in ALLOCATIONS:
            raise ValueError(
                f"params.yaml train.allocation is {self.allocation!r}: expected one of "
                f"{list(ALLOCATIONS)}"
            )

    def frequency_of(self, territory: Territory) -> Frequency:
        return self.frequency or territory.frequency  # type: ignore[return-value]

    def horizon_periods(self, territory: Territory) -> int:
        return horizon_periods(self.horizon, self.frequency_of(territory))


def train_params(section: Mapping[str, Any]) -> TrainParams:
    known = {f for f in TrainParams.__dataclass_fields__ if f != "model_params"}
    unknown = set(section) - known - set(DEFAULT_MODELS) - {"catboost", "poisson_glm"}
    if unknown:
        raise ValueError(f"params.yaml train: unknown keys {sorted(unknown)}")
    values = {k: v for k, v in section.items() if k in known}
    if "models" in values:
        values["models"] = tuple(values["models"])
    model_params = {
        k: dict(v or {}) for k, v in section.items() if k in ("catboost", "poisson_glm")
    }
    return TrainParams(**values, model_params=model_params)


def horizon_periods(text: str, frequency: Frequency) -> int:
    """'7d' → 168 hourly periods, 7 daily, 1 weekly; '48h', '2w' likewise."""
    match = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", str(text))
    if not match:
        raise ValueError(f"horizon {text!r}: expected a number and h, d or w (e.g. 7d)")
    hours = int(match[1]) * {"h": 1, "d": 24, "w": 168}[match[2]]
    return max(1, math.ceil(hours / PERIOD_HOURS[frequency]))


# ------------------------------------------------------------------ panel


@dataclass(frozen=True)
class PanelData:
    panel: DensePanel  # modelled series × periods
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive: the last complete local day
    covariates: pd.DataFrame | None = None  # the territory's covariates per panel period
    params: TrainParams | None = None  # as the history allowed (see `history_params`)


def history_params(params: TrainParams, history: pd.DataFrame, territory: Territory) -> TrainParams:
    """The params a history allows: a counts-only store fixes frequency, level and categories.

    Events → `params` unchanged. Stored counts → their own frequency and level (core.
    stored_counts), categories modelled directly (no events to measure shares from).
    """
    if not is_counts(history):
        return params
    if history.empty:
        raise ValueError("nothing in the store: run `previsecours ingest` first")
    frequency = counts_frequency(history)
    if params.frequency is not None and params.frequency != frequency:
        raise ValueError(
            f"params.yaml train.frequency is {params.frequency}, but the store holds "
            f"{frequency}ly counts only (no events to count at another frequency)"
        )
    _, level = with_level_codes(history, territory)
    return replace(params, frequency=frequency, model_level=level, split_categories=False)


def data_end(events: pd.DataFrame, territory: Territory, frequency: Frequency) -> pd.Timestamp:
    """Start of the last (possibly incomplete) period: counts before it are final.

    Stored counts (the aggregated form) are of complete periods: their end is the end of the
    last stored period.
    """
    if events.empty:
        raise ValueError("no events in the store: run `previsecours ingest` first")
    if is_counts(events):
        return counts_end(events, frequency, territory.timezone)
    last = pd.DatetimeIndex([events["alert_time"].max()])
    grain: Frequency = "week" if frequency == "week" else "day"
    return pd.Timestamp(period_of(last, grain, territory.timezone)[0])


def modelled_panel(events: pd.DataFrame, territory: Territory, params: TrainParams) -> PanelData:
    """The modelled series over the last `history_years`, with the territory's covariates.

    `events`: the stored history — events, or counts when the store holds counts only (then
    at the counts' frequency and level, unknown periods NaN: see `history_params`).
    """
    params = history_params(params, events, territory)
    frequency = params.frequency_of(territory)
    end = data_end(events, territory, frequency)
    start = max(
        end - pd.Timedelta(days=round(365.25 * params.history_years)), history_start(events)
    )
    if is_counts(events):
        panel = known_counts_panel(events, territory, frequency, start=start, end=end)
    else:
        panel = count_panel(
            events,
            territory,
            params.model_level,
            frequency,
            start=start,
            end=end,
            by_category=not params.split_categories,
        )
    return with_covariates(PanelData(panel, start, end, params=params), territory)


def history_start(history: pd.DataFrame) -> pd.Timestamp:
    """The first stored instant (event alert time, or first period of counts)."""
    column = "period_start" if is_counts(history) else "alert_time"
    return pd.Timestamp(history[column].min())


def with_covariates(data: PanelData, territory: Territory) -> PanelData:
    """Attach the declared covariates, aligned to the panel's periods (clear error if useless)."""
    from previsecours.adapters.covariates import CovariateError, covariate_frame

    frequency: Frequency = territory.frequency  # type: ignore[assignment]
    if len(data.panel.starts) > 1:
        frequency = period_frequency(data.panel.starts)
    frame = covariate_frame(territory, data.panel.starts, frequency)
    if frame is not None:
        empty = [c for c in frame.columns if frame[c].isna().all()]
        if empty:
            first, last = data.panel.starts[0], data.panel.starts[-1]
            raise CovariateError(
                f"covariate(s) {empty} have no value between {first:%Y-%m-%d} and "
                f"{last:%Y-%m-%d}, the periods of the panel: check the file(s) and their dates"
            )
    return replace(data, covariates=frame)


def level_actuals(
    events: pd.DataFrame,
    territory: Territory,
    levels: tuple[str, ...],
    frequency: Frequency,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> dict[str, DensePanel]:
    """Counts per level × area × category, plus ALL per area, for scoring."""
    if is_counts(events):
        return counts_level_actuals(events, territory, levels, frequency, start=start, end=end)
    out = {}
    for level in levels:
        per_category = count_panel(events, territory, level, frequency, start=start, end=end)
        total = sum_series(per_category)
        out[level] = DensePanel(
            pd.concat([per_category.series, total.series], ignore_index=True),
            per_category.starts,
            np.vstack([per_category.counts, total.counts]),
        )
    return out


# ------------------------------------------------------------------ backtest


@dataclass(frozen=True)
class BacktestOutcome:
    result: BacktestResult
    evaluation: Evaluation
    hierarchy: Hierarchy
    spec: FeatureSpec
    seconds: Mapping[str, float]


def backtest_config(params: TrainParams, territory: Territory) -> BacktestConfig:
    frequency = params.frequency_of(territory)
    per_year = 8766 / PERIOD_HOURS[frequency]
    return BacktestConfig(
        horizon=params.horizon_periods(territory),
        n_windows=params.n_windows,
        step=params.step,
        refit=params.refit,
        train_periods=round(params.train_years * per_year),
        models=params.models,
        model_params=params.model_params,
        coverage_target=params.coverage_target,
    )


def fitted_hierarchy(
    events: pd.DataFrame,
    territory: Territory,
    params: TrainParams,
    model_areas: list[str],
    end: pd.Timestamp,
) -> Hierarchy:
    params = history_params(params, events, territory)
    if is_counts(events):
        level = params.model_level
        return counts_hierarchy(level, model_areas, tuple(territory.categories), territory.name)
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
    spec = make_spec(params.frequency_of(territory), config.horizon, covariate_names(data))
    areas = list(dict.fromkeys(data.panel.series["area_code"].astype(str)))
    return ModelInputs(config, spec, areas, area_attributes(territory, params.model_level, areas))


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
    events: pd.DataFrame,
    territory: Territory,
    params: TrainParams,
    data: PanelData | None = None,
    progress: Progress | None = None,
    *,
    fitted: BacktestResult | None = None,
) -> BacktestOutcome:
    """`fitted`: the windows' fits and forecasts already made (e.g. by `window_fits` elsewhere)."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    data = data or modelled_panel(events, territory, params)
    params = history_params(params, events, territory)
    seconds["panel"] = time.perf_counter() - t0
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
    t0 = time.perf_counter()
    first_origin = data.panel.starts[result.windows[0].origin]
    # Allocation measured before the first window: the backtest never sees its own future.
    hierarchy = fitted_hierarchy(events, territory, params, areas, first_origin)
    history = 104 * 7 if spec.frequency == "week" else 36
    actuals = level_actuals(
        events,
        territory,
        tuple(hierarchy.levels),
        spec.frequency,
        start=first_origin - pd.Timedelta(days=history),
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
    seconds["evaluation"] = time.perf_counter() - t0
    return BacktestOutcome(result, evaluation, hierarchy, spec, seconds)


def covariate_names(data: PanelData) -> tuple[str, ...]:
    return () if data.covariates is None else tuple(str(c) for c in data.covariates.columns)


def fit_final(
    events: pd.DataFrame,
    territory: Territory,
    params: TrainParams,
    data: PanelData,
    *,
    dispersion: Dispersion,
    data_version: str,
) -> TrainedForecaster:
    """CatBoost on the last `train_years` up to the end of the data, with its hierarchy."""
    params = history_params(params, events, territory)
    config, spec, areas, attributes = model_inputs(territory, params, data)
    from previsecours.core.features import build_features

    n = len(data.panel.starts)
    first = max(n - (config.train_periods or n), 0)
    block = build_features(
        data.panel, spec, territory, attributes, first=first, last=n, covariates=data.covariates
    )
    known = ~np.isnan(block.y)
    model = make_forecaster("catboost", spec, params.model_params.get("catboost"))
    model.fit(block.matrix[known], block.y[known])
    return TrainedForecaster(
        spec=spec,
        model=model,
        hierarchy=fitted_hierarchy(events, territory, params, areas, data.end),
        dispersion=dispersion,
        territory=territory.name,
        data_version=data_version,
    )


def score_on_window(
    model: Any,
    events: pd.DataFrame,
    territory: Territory,
    *,
    n_windows: int = 1,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Metrics per level × grain of a trained model on the latest window(s) of `events`.

    No refit: the model forecasts each window from the history before its origin, exactly as
    in production; champion and challenger scored by this on the same events are comparable.
    Intervals use the model's own stored dispersion. Columns: window, level, grain, kind,
    metric, value (window "all" = mean over windows).
    """
    from previsecours.core.backtest import Window, level_pairs, scores
    from previsecours.pipelines.predict import history_panel, model_covariates

    forecaster = _unwrap(model)
    spec = forecaster.spec
    last = end or data_end(events, territory, spec.frequency)
    horizon = spec.horizon
    hours = PERIOD_HOURS[spec.frequency] * (spec.max_lag + horizon * n_windows + 1)
    start = last - pd.Timedelta(hours=hours)
    panel = history_panel(forecaster, events, territory, start, last)
    covariates = model_covariates(forecaster, territory, panel.starts)
    n = len(panel.starts)
    windows = [
        Window(k, n - horizon * (n_windows - k), n - horizon * (n_windows - k - 1))
        for k in range(n_windows)
    ]
    frames = []
    for w in windows:
        means = forecaster.modelled_means(panel, territory, w.origin, w.end, covariates)
        frame = means.to_frame().rename(columns={"count": "mean"})
        frame.insert(0, "window", w.index)
        frames.append(frame)
    predictions = pd.concat(frames, ignore_index=True)
    first_origin = panel.starts[windows[0].origin]
    history = 104 * 7 if spec.frequency == "week" else 36
    actuals = level_actuals(
        events,
        territory,
        tuple(forecaster.hierarchy.levels),
        spec.frequency,
        start=first_origin - pd.Timedelta(days=history),
        end=last,
    )
    pairs = level_pairs(
        predictions,
        panel.series,
        forecaster.hierarchy,
        actuals,
        frequency=spec.frequency,
        timezone=territory.timezone,
    )
    rows = []
    for key, per_window in pairs.items():
        level, grain, kind = key.split(":")
        category = ALL_CATEGORIES if kind == "ALL" else "category"
        alpha = forecaster.dispersion.alpha(level, grain, category)
        for k, (y, mu, scale) in per_window.items():
            for metric, value in scores(y, mu, scale, alpha, level=level, grain=grain).items():
                rows.append((str(k), level, grain, kind, metric, value))
    out = pd.DataFrame(rows, columns=["window", "level", "grain", "kind", "metric", "value"])
    pooled = (
        out.groupby(["level", "grain", "kind", "metric"], sort=False)["value"].mean().reset_index()
    )
    pooled.insert(0, "window", "all")
    return pd.concat([pooled, out], ignore_index=True)


def _unwrap(model: Any) -> TrainedForecaster:
    if isinstance(model, TrainedForecaster):
        return model
    from previsecours.adapters.tracking import unwrap

    return unwrap(model)


# ------------------------------------------------------------------ stages and the whole run


@dataclass(frozen=True)
class BacktestFiles:
    """What the backtest stage leaves for the train stage (and DVC's metrics)."""

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    dispersion: Mapping[str, Dispersion]
    seconds: Mapping[str, float]
    fit_seconds: Mapping[str, float]
    feature_spec: Mapping[str, Any]


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_uri: str
    version: int | None
    metrics: Mapping[str, float]  # CatBoost over all windows, `<level>_<grain>_<metric>`
    rmsse: pd.DataFrame  # level × grain rows, model columns
    seconds: Mapping[str, float]


def panel_file(settings: Settings) -> Path:
    return settings.paths.data / "panel" / f"{settings.territory.name}.parquet"


def backtest_dir(settings: Settings) -> Path:
    return settings.paths.data / "backtest" / settings.territory.name


def metrics_file(settings: Settings) -> Path:
    return settings.paths.home / "metrics" / f"backtest-{settings.territory.name}.json"


def load_events(settings: Settings) -> pd.DataFrame:
    """The stored history: the events, or the counts when the store holds counts only."""
    return load_history(settings.paths, settings.territory)


def load_history(paths: Paths, territory: Territory) -> pd.DataFrame:
    """Events when the store holds any (counts are then ignored: events give every level);
    otherwise the stored counts — of the territory's frequency when stored, else the finest
    frequency stored (the aggregated form `period_start, area_code, category, count`)."""
    from previsecours.adapters import store

    events = store.read_events(paths, territory)
    if len(events):
        return events
    root = store.territory_dir(paths, territory) / store.COUNTS
    stored = [f for f in ("hour", "day", "week") if any((root / f).glob("year=*/*.parquet"))]
    if not stored:
        return events
    frequency = territory.frequency if territory.frequency in stored else stored[0]
    return store.read_counts(paths, territory, frequency)


def panel_stage(settings: Settings, events: pd.DataFrame | None = None) -> Path:
    """Write the modelled panel (long form) for DVC to track."""
    events = load_events(settings) if events is None else events
    data = modelled_panel(events, settings.territory, train_params(settings.section("train")))
    path = panel_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    data.panel.to_frame().to_parquet(path, index=False)
    return path


def read_panel(path: Path, end: pd.Timestamp, territory: Territory | None = None) -> PanelData:
    """The panel stage's file; with `territory`, its covariates attached."""
    frame = pd.read_parquet(path)
    series = frame[["area_code", "category"]].drop_duplicates().reset_index(drop=True)
    starts = pd.DatetimeIndex(frame["period_start"].drop_duplicates())
    counts = frame["count"].to_numpy(np.float64).reshape(len(series), len(starts))
    data = PanelData(DensePanel(series, starts, counts), starts[0], end)
    return data if territory is None else with_covariates(data, territory)


def backtest_stage(
    settings: Settings,
    events: pd.DataFrame | None = None,
    progress: Progress | None = None,
    *,
    data: PanelData | None = None,
    fitted: BacktestResult | None = None,
) -> BacktestFiles:
    """Backtest every model; write predictions, metrics, dispersion and DVC's metrics file.

    `data` and `fitted`: the panel and the windows' fits when made elsewhere (the train flow
    fans windows out as tasks)."""
    events = load_events(settings) if events is None else events
    params = history_params(train_params(settings.section("train")), events, settings.territory)
    end = data_end(events, settings.territory, params.frequency_of(settings.territory))
    path = panel_file(settings)
    if data is None and path.is_file():
        data = read_panel(path, end, settings.territory)
    outcome = backtest(events, settings.territory, params, data, progress, fitted=fitted)
    files = BacktestFiles(
        predictions=outcome.result.predictions,
        metrics=outcome.evaluation.metrics,
        dispersion=outcome.evaluation.dispersion,
        seconds=outcome.seconds,
        fit_seconds=outcome.result.fit_seconds,
        feature_spec=outcome.spec.to_dict(),
    )
    write_backtest(settings, files)
    return files


def write_backtest(settings: Settings, files: BacktestFiles) -> None:
    out = backtest_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    files.predictions.to_parquet(out / "predictions.parquet", index=False)
    files.metrics.to_parquet(out / "metrics.parquet", index=False)
    meta = {
        "dispersion": {k: dict(v.alphas) for k, v in files.dispersion.items()},
        "seconds": dict(files.seconds),
        "fit_seconds": dict(files.fit_seconds),
        "feature_spec": dict(files.feature_spec),
    }
    (out / "backtest.json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
    summary = {
        model: {k: round(v, 5) for k, v in flat_metrics(files.metrics, model).items()}
        for model in files.metrics["model"].unique()
    }
    metrics_file(settings).parent.mkdir(parents=True, exist_ok=True)
    metrics_file(settings).write_text(json.dumps(summary, indent=1), encoding="utf-8")


def read_backtest(settings: Settings) -> BacktestFiles:
    out = backtest_dir(settings)
    meta = json.loads((out / "backtest.json").read_text(encoding="utf-8"))
    return BacktestFiles(
        predictions=pd.read_parquet(out / "predictions.parquet"),
        metrics=pd.read_parquet(out / "metrics.parquet"),
        dispersion={k: Dispersion(v) for k, v in meta["dispersion"].items()},
        seconds=meta["seconds"],
        fit_seconds=meta["fit_seconds"],
        feature_spec=meta["feature_spec"],
    )


def train_stage(
    settings: Settings,
    *,
    events: pd.DataFrame | None = None,
    files: BacktestFiles | None = None,
    register: bool | None = None,
) -> TrainResult:
    """Final fit on the latest data, MLflow run with the backtest, registered version.

    `files`: the backtest stage's outputs (read from disk when None and present, computed
    otherwise).
    """
    from previsecours.adapters.versioning import data_version

    seconds: dict[str, float] = {}
    events = load_events(settings) if events is None else events
    params = train_params(settings.section("train"))
    territory = settings.territory
    if files is None:
        files = (
            read_backtest(settings)
            if (backtest_dir(settings) / "backtest.json").is_file()
            else None
        )
    if files is None:
        files = backtest_stage(settings, events)
    seconds.update(files.seconds)
    t0 = time.perf_counter()
    data = modelled_panel(events, territory, params)
    version_of_data = data_version(settings.paths)
    forecaster = fit_final(
        events,
        territory,
        params,
        data,
        dispersion=files.dispersion["catboost"],
        data_version=version_of_data,
    )
    seconds["final_fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_id, uri, version = log_training(
        settings, params, files, forecaster, data=data, seconds=seconds, register=register
    )
    seconds["logging"] = time.perf_counter() - t0
    from previsecours.core.backtest import metric_table

    record = {"run_id": run_id, "model_uri": uri, "version": version, "seconds": seconds}
    path = settings.paths.home / "metrics" / f"train-{territory.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return TrainResult(
        run_id=run_id,
        model_uri=uri,
        version=version,
        metrics=flat_metrics(files.metrics, "catboost"),
        rmsse=metric_table(files.metrics, "rmsse"),
        seconds=seconds,
    )


def run_training(
    settings: Settings,
    *,
    events: pd.DataFrame | None = None,
    register: bool | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """The whole training in one process: panel, backtest, final fit, logging."""
    events = load_events(settings) if events is None else events
    t0 = time.perf_counter()
    files = backtest_stage(settings, events, progress)
    result = train_stage(settings, events=events, files=files, register=register)
    seconds = dict(result.seconds)
    seconds["total"] = time.perf_counter() - t0
    return replace(result, seconds=seconds)


def training_tags(
    settings: Settings, params: TrainParams, forecaster: TrainedForecaster
) -> dict[str, str]:
    from previsecours.adapters.tracking import SPEC_VERSION_KEY, git_commit

    return {
        "territory": settings.territory.name,
        "frequency": forecaster.spec.frequency,
        "horizon": str(forecaster.spec.horizon),
        "model_level": forecaster.model_level,
        "covariates": ",".join(forecaster.spec.covariates) or "none",
        "data_version": forecaster.data_version,
        "git_commit": git_commit(),
        SPEC_VERSION_KEY: str(FEATURE_SPEC_VERSION),
    }


def log_training(
    settings: Settings,
    params: TrainParams,
    files: BacktestFiles,
    forecaster: TrainedForecaster,
    *,
    data: PanelData,
    seconds: Mapping[str, float],
    register: bool | None = None,
) -> tuple[str, str, int | None]:
    """Parent run (params, CatBoost metrics, artifacts, model) + one child run per model."""
    from previsecours.adapters import tracking
    from previsecours.pipelines import train_plots

    territory = settings.territory.name
    experiment = tracking.use_tracking(settings.paths, territory)
    tags = training_tags(settings, params, forecaster)
    name = f"train-{territory}-{forecaster.data_version[:8]}"
    with tracking.training_run(experiment, name, tags) as run_id:
        tracking.log_params({"train": settings.section("train"), "frequency": tags["frequency"]})
        tracking.log_metrics(flat_metrics(files.metrics, "catboost"))
        tracking.log_metrics({f"seconds_{k}": v for k, v in seconds.items()})
        for model in files.metrics["model"].unique():
            with tracking.child_run(experiment, str(model), {**tags, "model": str(model)}):
                tracking.log_params({"model": model, **params.model_params.get(str(model), {})})
                tracking.log_metrics(flat_metrics(files.metrics, str(model)))
                tracking.log_metrics({"fit_seconds": files.fit_seconds.get(str(model), 0.0)})
                for window, values in _per_window(files.metrics, str(model)).items():
                    tracking.log_metrics({f"window/{k}": v for k, v in values.items()}, step=window)
        tracking.log_frame(files.predictions, "backtest", "predictions.parquet")
        tracking.log_frame(files.metrics, "backtest", "metrics.parquet")
        tracking.log_json(forecaster.spec.to_dict(), "feature_spec.json")
        tracking.log_json(forecaster.metadata()["dispersion"], "dispersion.json")
        importance = forecaster.model.feature_importance()  # type: ignore[attr-defined]
        tracking.log_frame(
            importance.rename("importance").rename_axis("feature").reset_index(),
            "plots",
            "feature_importance.csv",
        )
        for file_name, figure in train_plots.figures(files, importance, data, settings.territory):
            tracking.log_figure(figure, f"plots/{file_name}")
        block_example = _input_example(forecaster, data, settings.territory)
        do_register = params.register if register is None else register
        uri, version = tracking.log_forecaster(
            forecaster, block_example, {**tags, "run_id": run_id}, do_register
        )
    return run_id, uri, version


def _per_window(metrics: pd.DataFrame, model: str) -> dict[int, dict[str, float]]:
    sel = metrics[(metrics["model"] == model) & (metrics["window"] != "all")]
    out: dict[int, dict[str, float]] = {}
    for row in sel.itertuples(index=False):
        kind = "" if row.kind == "ALL" else "_category"
        key = f"{row.level}_{row.grain}{kind}_{row.metric}"
        out.setdefault(int(str(row.window)), {})[key] = float(row.value)  # type: ignore[arg-type]
    return out


def _input_example(
    forecaster: TrainedForecaster, data: PanelData, territory: Territory
) -> pd.DataFrame:
    from previsecours.core.features import build_features

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
