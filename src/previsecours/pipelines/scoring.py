"""Scoring a trained model on the latest window(s) of the current history: what promotion
compares, challenger and reference on the same periods.

- `score_on_window(model, history, territory)`: the model forecasts each window from the
  history before its origin, exactly as in production (no refit), scored at every level ×
  grain, per category too, with its own stored dispersion;
- `score_out_of_sample(...)`: the same, but a window the model was trained on is scored on
  its own backtest forecast of it (what promotion uses: never the in-sample fit);
- `score_seasonal_naive(model, history, territory)`: seasonal naive on each level's OWN actual
  series (never through the model's hierarchy), scored the same way: a first version's
  reference that its own category shares or area weights cannot spoil.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from previsecours.core.backtest import (
    BacktestConfig,
    Window,
    add_level_pairs,
    backtest_windows,
    level_pairs,
    scores,
)
from previsecours.core.calendar import PERIOD_HOURS
from previsecours.core.features import FeatureSpec
from previsecours.core.forecast_schema import ALL_CATEGORIES
from previsecours.core.hierarchy import allocate
from previsecours.core.history import History
from previsecours.core.models.bundle import TrainedForecaster
from previsecours.core.out_of_sample import (
    BACKTEST,
    WindowRoute,
    backtest_means,
    choose_route,
    describe_routes,
)
from previsecours.core.panel import DensePanel
from previsecours.core.territory import Territory
from previsecours.core.training import history_panel, scaling_history
from previsecours.pipelines.predict import as_forecaster, model_covariates


def score_on_window(
    model: Any,
    history: History,
    territory: Territory,
    *,
    n_windows: int = 1,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Metrics per level × grain of a trained model on the latest window(s) of `history`.

    No refit: the model forecasts each window from the history before its origin, exactly as
    in production; champion and challenger scored by this on the same history are comparable.
    Intervals use the model's own stored dispersion. Columns: window, level, grain, kind,
    metric, value (window "all" = mean over windows). Kinds: `ALL` (areas' totals), `category`
    (every category's rows pooled) and `category:<code>` (one category alone).
    """
    forecaster = as_forecaster(model)
    panel, windows, actuals = _scoring_window(forecaster, history, territory, n_windows, end)
    covariates = model_covariates(forecaster, territory, panel.starts)
    means = [
        (w, forecaster.modelled_means(panel, territory, w.origin, w.end, covariates))
        for w in windows
    ]
    return _means_scores(forecaster, territory, panel.series, means, actuals)


@dataclass(frozen=True)
class OutOfSampleScores:
    """`scores` (as `score_on_window`'s) of forecasts the model made without the windows'
    data, and how each window was forecast; `scores` is None when a window is not judged."""

    scores: pd.DataFrame | None
    routes: tuple[WindowRoute, ...]

    def why_not(self) -> str:
        """The window not judged and why (empty when every window was)."""
        return next((r.describe() for r in self.routes if not r.judged), "")

    def describe(self) -> str:
        return describe_routes(self.routes)


def score_out_of_sample(
    model: Any,
    history: History,
    territory: Territory,
    backtest: Callable[[], pd.DataFrame | None],
    *,
    n_windows: int = 1,
    end: pd.Timestamp | None = None,
) -> OutOfSampleScores:
    """Like `score_on_window`, but a window the model was trained on (before its `data_end`)
    is scored on the model's own backtest forecast of it (`backtest()`: its out-of-sample
    backtest rows, read only when needed), never on its in-sample fit (core.out_of_sample)."""
    forecaster = as_forecaster(model)
    panel, windows, actuals = _scoring_window(forecaster, history, territory, n_windows, end)
    starts = panel.starts
    last = end or history.end(territory, forecaster.spec.frequency)
    covariates = model_covariates(forecaster, territory, starts)
    forecasts = None
    if forecaster.data_end is None or starts[windows[0].origin] < forecaster.data_end:
        forecasts = backtest()
    routes: list[WindowRoute] = []
    means: list[tuple[Window, DensePanel]] = []
    for w in windows:
        window_starts = starts[w.origin : w.end]
        found = (
            None if forecasts is None else backtest_means(forecasts, panel.series, window_starts)
        )
        window_end = starts[w.end] if w.end < len(starts) else last
        route = choose_route(
            forecaster.data_end,
            starts[w.origin],
            window_end,
            None if found is None else found[1],
            has_backtest=forecasts is not None,
        )
        routes.append(route)
        if not route.judged:
            return OutOfSampleScores(None, tuple(routes))
        if route.route == BACKTEST and found is not None:
            means.append((w, found[0]))
        else:  # no refit: from the history before the origin, as in production
            means.append(
                (w, forecaster.modelled_means(panel, territory, w.origin, w.end, covariates))
            )
    scores = _means_scores(forecaster, territory, panel.series, means, actuals)
    return OutOfSampleScores(scores, tuple(routes))


def _means_scores(
    forecaster: TrainedForecaster,
    territory: Territory,
    series: pd.DataFrame,
    means: list[tuple[Window, DensePanel]],
    actuals: dict[str, DensePanel],
) -> pd.DataFrame:
    """Every level × grain's scores of the windows' modelled means, derived through the
    model's hierarchy."""
    frames = []
    for w, panel in means:
        frame = panel.to_frame().rename(columns={"count": "mean"})
        frame.insert(0, "window", w.index)
        frames.append(frame)
    pairs = level_pairs(
        pd.concat(frames, ignore_index=True),
        series,
        forecaster.hierarchy,
        actuals,
        frequency=forecaster.spec.frequency,
        timezone=territory.timezone,
        per_category=True,
    )
    return _window_scores(pairs, forecaster)


def score_seasonal_naive(
    model: Any,
    history: History,
    territory: Territory,
    *,
    n_windows: int = 1,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Seasonal naive scored like `score_on_window` on the same window(s) and levels, but
    computed on each level's OWN actual series: every area × category (and area total) is its
    count one season earlier (`spec.seasonal_lag` periods, falling back to the mean of the
    4 seasons, then 0 — the seasonal-naive baseline's chain), never through the model's
    hierarchy. A model whose category shares or area weights are wrong cannot make this
    reference wrong too. Only the model's frequency, horizon, levels, areas and dispersion (for
    the intervals) are used."""
    forecaster = as_forecaster(model)
    spec = forecaster.spec
    panel, windows, actuals = _scoring_window(forecaster, history, territory, n_windows, end)
    pairs: dict[str, dict[int, tuple[np.ndarray, np.ndarray, float]]] = {}
    for w in windows:
        starts = panel.starts[w.origin : w.end]
        zeros = DensePanel(panel.series, starts, np.zeros((len(panel.series), len(starts))))
        shapes = allocate(zeros, forecaster.hierarchy, territory.timezone, spec.frequency)
        predicted = {
            level: _naive_panel(actuals[level], shape, spec.seasonal_lags)
            for level, shape in shapes.items()
        }
        add_level_pairs(
            pairs,
            w.index,
            predicted,
            actuals,
            frequency=spec.frequency,
            timezone=territory.timezone,
            per_category=True,
        )
    return _window_scores(pairs, forecaster)


def _scoring_window(
    forecaster: TrainedForecaster,
    history: History,
    territory: Territory,
    n_windows: int,
    end: pd.Timestamp | None,
) -> tuple[DensePanel, list[Window], dict[str, DensePanel]]:
    """The model's panel up to `end`, the latest `n_windows` windows on it, and every level's
    actuals from the scale history (and 4 seasons) before the first window to `end`."""
    spec = forecaster.spec
    last = end or history.end(territory, spec.frequency)
    horizon = spec.horizon
    hours = PERIOD_HOURS[spec.frequency] * (spec.max_lag + horizon * n_windows + 1)
    panel = history_panel(forecaster, history, territory, last - pd.Timedelta(hours=hours), last)
    windows = latest_windows(panel.starts, spec, n_windows, territory.timezone)
    first_origin = panel.starts[windows[0].origin]
    seasons = pd.Timedelta(hours=PERIOD_HOURS[spec.frequency] * (max(spec.seasonal_lags) + 1))
    actuals = history.level_actuals(
        territory,
        tuple(forecaster.hierarchy.levels),
        spec.frequency,
        start=first_origin - max(scaling_history(spec), seasons),
        end=last,
    )
    return panel, windows, actuals


def latest_windows(
    starts: pd.DatetimeIndex, spec: FeatureSpec, n_windows: int, timezone: str
) -> list[Window]:
    """The latest `n_windows` windows, placed as the training's rolling backtest places them:
    side by side back from the end in local days for an hourly model of whole days (a week
    holding a clock change is 167 or 169 hours; the model's horizon caps it at 168), so a
    window a version was trained on is one its backtest forecast — every week of the year."""
    days = spec.horizon // 24 if spec.frequency == "hour" and spec.horizon % 24 == 0 else None
    config = BacktestConfig(
        horizon=spec.horizon,
        n_windows=n_windows,
        calendar_horizon=f"{days}d" if days else None,
    )
    return backtest_windows(starts, config, spec.frequency, timezone)


def _naive_panel(actual: DensePanel, shape: DensePanel, lags: tuple[int, ...]) -> DensePanel:
    """`shape`'s series over its periods, each the actual count `lags[0]` periods earlier (the
    mean of every lag's when unknown, then 0)."""
    index = pd.MultiIndex.from_frame(actual.series[["area_code", "category"]].astype(str))
    rows = index.get_indexer(
        pd.MultiIndex.from_frame(shape.series[["area_code", "category"]].astype(str))
    )
    t = actual.starts.get_indexer(shape.starts)
    if (t < 0).any() or (t - max(lags) < 0).any():
        raise ValueError("the actuals do not reach the seasons before the scoring window")
    counts = np.where(rows[:, None] >= 0, actual.counts[np.maximum(rows, 0)], 0.0)
    lagged = np.stack([counts[:, t - lag] for lag in lags])  # lag × series × period
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all 4 seasons unknown: NaN, then 0
        fallback = np.nanmean(lagged, axis=0)
    values = np.where(np.isnan(lagged[0]), fallback, lagged[0])
    return DensePanel(shape.series, shape.starts, np.nan_to_num(values, nan=0.0))


def _window_scores(
    pairs: dict[str, dict[int, tuple[np.ndarray, np.ndarray, float]]],
    forecaster: TrainedForecaster,
) -> pd.DataFrame:
    rows = []
    for key, per_window in pairs.items():
        level, grain, kind = key.split(":", 2)
        # `category:<code>`: that category's own α; `category`: the pooled one.
        category = ALL_CATEGORIES if kind == "ALL" else kind.removeprefix("category:")
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
