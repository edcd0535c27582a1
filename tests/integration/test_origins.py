"""Backtest origins are the per-origin route: the backtest's forecast at origin o is what
`fit` on the history known at o, then the forecast step's `predict_levels` at o, produce.

Small generated data (two coverage zones, 4.5 years: the forecast step reads every lag of the
model, 4 years back), a few CatBoost trees on one thread (deterministic). The origins are two
Mondays at local midnight, 167 hours apart: the first week holds the spring clock change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from previsecours.config import Params, TrainParams
from previsecours.core.backtest import evaluate
from previsecours.core.calendar import horizon_periods
from previsecours.core.forecast_schema import QUANTILE_COLUMNS, QUANTILES
from previsecours.core.generator import generate_events
from previsecours.core.hierarchy import Dispersion
from previsecours.core.history import History
from previsecours.core.intervals import nb_quantiles
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.models.combination import Combination
from previsecours.core.synthetic_territory import synthetic_territory
from previsecours.core.training import (
    BacktestOutcome,
    backtest,
    fit_final,
    input_example,
    modelled_panel,
    scaling_history,
)
from previsecours.paths import Paths, Project
from previsecours.pipelines.predict import predict_levels
from previsecours.pipelines.train import fit, panel
from previsecours.settings import Settings

TERRITORY = synthetic_territory("origins", 3, seed=2)
ORIGINS = ("2024-03-25", "2024-04-01")
PARAMS = TrainParams(
    origins=ORIGINS,
    allocation="bottom_up",
    train_years=0.12,
    history_years=5.0,
    n_windows=2,
    models=("catboost", "seasonal_naive"),
    catboost={"iterations": 20, "thread_count": 1, "random_seed": 0},
)
CANDIDATES = {"yearly": {"offset_column": "year"}, "recent": {"offset_column": "recent"}}


@pytest.fixture(scope="module")
def history() -> History:
    events = generate_events(TERRITORY, dt.date(2019, 10, 1), dt.date(2024, 4, 14), seed=2)
    return History.of_events(events)


@pytest.fixture(scope="module")
def outcome(history: History) -> BacktestOutcome:
    return backtest(history, TERRITORY, PARAMS, modelled_panel(history, TERRITORY, PARAMS))


def _local(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_localize(TERRITORY.timezone)


def test_windows_start_at_the_local_origins_and_cover_local_weeks(
    outcome: BacktestOutcome,
) -> None:
    predictions = outcome.result.predictions
    starts = predictions.groupby("window")["period_start"].agg(["min", "nunique"])
    assert list(starts["min"]) == [_local(o) for o in ORIGINS]
    # The week of the spring change is 167 hours, the next one 168; the model's horizon is
    # the nominal week (its one-week lags stay features).
    assert list(starts["nunique"]) == [167, 168]
    assert outcome.spec.horizon == 168
    # Allocation measured before the first origin only.
    assert outcome.result.windows[0].origin > 0


@pytest.mark.parametrize("window", [0, 1])
def test_backtest_forecast_equals_the_per_origin_route(
    outcome: BacktestOutcome, history: History, tmp_path: Path, window: int
) -> None:
    """`fit` on the store as it stood at o (every event before o, and the first hours of day
    o, the day in progress, which training never reads: `History.end`), then `predict_levels`
    at o with the counts from o on unknown — as `forecast --start o` does."""
    forecast, _ = _per_origin_route(history, tmp_path, window, PARAMS)
    _assert_same(outcome, forecast, window, "catboost")


@pytest.mark.parametrize("window", [0, 1])
def test_each_candidate_backtested_is_the_per_origin_route(
    history: History, tmp_path: Path, window: int
) -> None:
    """With CatBoost candidates, the per-origin route trains the one its own backtest chose;
    the backtest at o holds that candidate's forecast (as `catboost` when the backtest chose
    it too, else under its own name) — the same numbers."""
    params = replace(PARAMS, candidates=CANDIDATES)
    outcome = backtest(history, TERRITORY, params, modelled_panel(history, TERRITORY, params))
    assert outcome.candidate in CANDIDATES
    forecast, chosen = _per_origin_route(history, tmp_path, window, params)
    assert chosen in CANDIDATES
    model = "catboost" if chosen == outcome.candidate else f"catboost:{chosen}"
    _assert_same(outcome, forecast, window, model)


def test_a_combined_candidate_backtested_is_the_per_origin_route(
    history: History, tmp_path: Path
) -> None:
    """A combination (a CatBoost candidate, the Poisson GLM and the trend-adjusted reference:
    the mean of their forecasts), trained at o as one model, logged to MLflow and loaded back,
    forecasts what the backtest's combined rows at o hold (4.5 years of history: the
    reference's growth is known)."""
    import mlflow

    from previsecours.adapters import tracking

    params = replace(
        PARAMS,
        models=(
            "catboost",
            "seasonal_naive",
            "poisson_glm",
            "reference_3y_pm2",
            "reference_3y_pm2_trend",
        ),
        candidates=CANDIDATES,
        combinations={"recent_glm_ref": ("recent", "poisson_glm", "reference_3y_pm2_trend")},
    )
    outcome = backtest(history, TERRITORY, params, modelled_panel(history, TERRITORY, params))
    rows = outcome.result.predictions
    plain, trend = (
        rows.loc[rows["model"] == m, "mean"].to_numpy(np.float64)
        for m in ("reference_3y_pm2", "reference_3y_pm2_trend")
    )
    assert not np.allclose(plain, trend)  # a growth other than 1: the member is exercised
    name = "recent_glm_ref"
    model = "catboost" if outcome.candidate == name else f"catboost:{name}"
    window = 1
    origin = _local(ORIGINS[window])
    truncated = _known_at(history, origin)
    settings = _settings(tmp_path, params)
    data = panel(settings, truncated)
    trained = fit_final(
        truncated,
        TERRITORY,
        settings.params.train,
        data,
        dispersion=Dispersion({}),
        data_version="test",
        candidate=name,
    )
    assert isinstance(trained.model, Combination)
    tracking.use_tracking(settings.paths, TERRITORY.name)
    with mlflow.start_run():
        uri, _ = tracking.log_forecaster(
            trained, input_example(trained, data, TERRITORY), {}, register=False
        )
    loaded = tracking.load_forecaster(uri)
    assert isinstance(loaded.model, Combination)
    _assert_same(outcome, _forecast(loaded, truncated, origin), window, model)


def test_a_young_store_backtest_equals_the_per_origin_route(
    history: History, tmp_path: Path
) -> None:
    """Ten months of events, less than the model's yearly lags reach back: the forecast step
    reads the periods before the store's first event as unknown, as the backtest's training
    did — not as zeros (which halved a young store's yearly features)."""
    young = History.of_events(
        history.frame[history.frame["alert_time"] >= _local("2023-05-15")].reset_index(drop=True)
    )
    outcome = backtest(young, TERRITORY, PARAMS, modelled_panel(young, TERRITORY, PARAMS))
    forecast, _ = _per_origin_route(young, tmp_path, 0, PARAMS)
    _assert_same(outcome, forecast, 0, "catboost")


def _per_origin_route(
    history: History, tmp_path: Path, window: int, train: TrainParams
) -> tuple[pd.DataFrame, str]:
    """The forecast at origin `window` by `fit` on the history known then + `predict_levels`,
    and the CatBoost candidate that fit trained."""
    origin = _local(ORIGINS[window])
    truncated = _known_at(history, origin)
    trained = fit(_settings(tmp_path, train), history=truncated, data_version="test")
    return _forecast(trained.forecaster, truncated, origin), trained.files.candidate


def _known_at(history: History, origin: pd.Timestamp) -> History:
    """The store as it stood at `origin`: every event before it, and the first hours of its
    day, the day in progress (which training never reads: `History.end`)."""
    known = history.frame[history.frame["alert_time"] < origin + pd.Timedelta(hours=6)]
    truncated = History.of_events(known.reset_index(drop=True))
    assert truncated.end(TERRITORY, "hour") == origin
    return truncated


def _settings(tmp_path: Path, train: TrainParams) -> Settings:
    project = Project.locate()
    return Settings(
        project=project,
        paths=Paths.of_home(tmp_path, project.root),
        territory=TERRITORY,
        territory_file=tmp_path / "origins.yaml",
        params=replace(Params(), train=replace(train, origins=())),
    )


def _forecast(
    forecaster: TrainedForecaster, truncated: History, origin: pd.Timestamp
) -> pd.DataFrame:
    """The forecast step at `origin`, counts from `origin` on unknown: the modelled level."""
    periods = horizon_periods("7d", "hour", origin=origin, timezone=TERRITORY.timezone)
    levels = predict_levels(
        forecaster, truncated, TERRITORY, origin, periods, "hour", history_end=origin
    )
    level = forecaster.model_level
    forecast = levels[(levels["level"] == level) & (levels["category"] == "ALL")]
    assert len(forecast) == periods * 2
    return forecast.sort_values(["area_code", "period_start"])


def _assert_same(outcome: BacktestOutcome, forecast: pd.DataFrame, window: int, model: str) -> None:
    predictions = outcome.result.predictions
    backtested = predictions[
        (predictions["model"] == model) & (predictions["window"] == window)
    ].sort_values(["area_code", "period_start"])
    assert len(backtested) == len(forecast)
    assert list(backtested["period_start"]) == list(forecast["period_start"])
    np.testing.assert_allclose(
        backtested["mean"].to_numpy(), forecast["mean"].to_numpy(), rtol=1e-5, atol=1e-9
    )


def test_interval_of_each_origin_from_earlier_windows_only(
    outcome: BacktestOutcome, history: History
) -> None:
    result, evaluation = outcome.result, outcome.evaluation
    predictions = result.predictions
    assert set(QUANTILE_COLUMNS) <= set(predictions.columns)
    # The first window has no window before it: Poisson.
    first = predictions[predictions["window"] == 0]
    np.testing.assert_array_equal(
        first[list(QUANTILE_COLUMNS)].to_numpy(),
        nb_quantiles(first["mean"].to_numpy(np.float64), 0.0, QUANTILES),
    )
    assert all(
        a == 0.0 for d in evaluation.window_dispersion.values() for a in d[0].alphas.values()
    )
    # The second window's dispersion is the one fitted on the first window alone.
    only_first = replace(
        result,
        windows=result.windows[:1],
        predictions=predictions[predictions["window"] == 0],
    )
    hierarchy = outcome.hierarchy
    first_origin = result.windows[0]
    start = _local(ORIGINS[0])
    assert first_origin.origin >= 0
    actuals = history.level_actuals(
        TERRITORY,
        tuple(hierarchy.levels),
        "hour",
        start=start - scaling_history(outcome.spec),
        end=history.end(TERRITORY, "hour"),
    )
    alone = evaluate(
        only_first,
        modelled_panel(history, TERRITORY, PARAMS).panel.series,
        hierarchy,
        actuals,
        frequency="hour",
        timezone=TERRITORY.timezone,
        coverage_target=PARAMS.coverage_target,
    )
    for model, dispersion in alone.dispersion.items():
        assert evaluation.window_dispersion[model][1] == dispersion
    # The final model's dispersion still uses every window.
    assert set(evaluation.dispersion) == {"catboost", "seasonal_naive"}
