"""Rolling-origin backtest and its evaluation at every level and grain.

Vocabulary (mlforecast's): a window is [origin, origin + horizon); `refit` fits the models again
at each origin (otherwise once, at the first origin); `train_periods` bounds the history each
fit sees (the last N periods before the origin). Origins are either given (`origins`: local
times, each the first period starting at or after it) or rolling: `n_windows` origins placed
`step` periods apart (default: side by side) so that the last window ends with the data. With a
calendar horizon (`calendar_horizon`, e.g. "7d" on hourly data) a window covers that many local
days from its origin — 167, 168 or 169 hours across clock changes — and rolling windows count
back in local days; `horizon` (the model's, its feature lags) is then the longest such span.

Guarantees: a model fitted for window k only sees targets of periods before its origin, and its
features for the window's periods only read counts ≥ horizon periods earlier (core.features),
so nothing of the window leaks into its forecast. Forecasts are made at the modelled grain; the
evaluation derives every level through `core.hierarchy` exactly as the forecast flow does, and
scores each level × grain against that level's own actual counts. The intervals of window k use
a dispersion fitted on the windows that ended by its origin only (Poisson for the first), so
backtest intervals are out of sample; the dispersion returned for the final model uses all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import numpy as np
import pandas as pd

from previsecours.core import metrics as m
from previsecours.core.calendar import (
    WEEK_PERIODS,
    YEAR_PERIODS,
    horizon_end,
    horizon_origin,
    period_ends,
)
from previsecours.core.features import AreaAttributes, FeatureSpec, build_features
from previsecours.core.forecast_schema import ALL_CATEGORIES, QUANTILE_COLUMNS, QUANTILES
from previsecours.core.hierarchy import Dispersion, Hierarchy, allocate, rollup
from previsecours.core.intervals import fit_dispersion, nb_quantiles, pit_coverage
from previsecours.core.models import Forecaster, make_forecaster
from previsecours.core.models.combination import combined_mean
from previsecours.core.panel import DensePanel
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory
from previsecours.errors import InputError, ModelFitError

GRAINS: Final[dict[str, tuple[str, ...]]] = {
    "hour": ("hour", "day"),
    "day": ("day", "week"),
    "week": ("week",),
}
KINDS: Final = ("ALL", "category")
INTERVAL_SAMPLE: Final = 10_000
# Need a dispersion. `pit_80`/`pit_95`: the distribution's own calibration, which integer
# intervals hide on small counts (an hourly 80 % interval covers 90 % and more; core/intervals.py).
INTERVAL_METRICS: Final = ("pinball", "coverage_80", "coverage_95", "pit_80", "pit_95")
# A category's own dispersion from this many (actual, mean) values on; fewer: its level's pooled
# one. Categories differ in kind (a calm SUAP, a stormy AUTR): one α for all widens the calm
# ones' intervals, and even a weekly model's 4 values per category measured nearer the targets
# than the pool (bench/experiments/exp_category_dispersion.py).
CATEGORY_MIN_VALUES: Final = 4

Progress = Callable[[str, int, int], None]
"""Told after each step of a long computation: (what was done, steps done, steps in all)."""


@dataclass(frozen=True)
class BacktestConfig:
    horizon: int  # periods: the model's horizon (its feature lags), the longest window
    n_windows: int = 4  # rolling windows, when no `origins` are given
    step: int | None = None  # default: the horizon (windows side by side)
    refit: bool = True
    train_periods: int | None = None
    models: tuple[str, ...] = ("catboost", "seasonal_naive")
    model_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    coverage_target: float = 0.82
    # e.g. "7d": each window covers it from its origin in local time (hourly data: 167-169
    # periods for 7d); None: `horizon` periods.
    calendar_horizon: str | None = None
    # Explicit origins (tz-aware local times), each the first period starting at or after it;
    # empty: rolling windows ending with the data.
    origins: tuple[pd.Timestamp, ...] = ()


class WindowError(InputError, ValueError):
    """Backtest windows that cannot be placed as asked (an origin outside the data, ...)."""


@dataclass(frozen=True)
class Window:
    index: int
    origin: int  # position of the first forecast period in the panel
    end: int  # exclusive


@dataclass(frozen=True)
class BacktestResult:
    windows: tuple[Window, ...]
    predictions: pd.DataFrame  # model, window, area_code, category, period_start, actual, mean
    fit_seconds: Mapping[str, float]
    predict_seconds: Mapping[str, float]
    dropped: Mapping[str, str] = field(default_factory=dict)  # model → why it could not fit


def rolling_windows(n_periods: int, horizon: int, n_windows: int, step: int) -> list[Window]:
    """The last `n_windows` windows, the last one ending with the data."""
    out = []
    for k in range(n_windows):
        origin = n_periods - horizon - step * (n_windows - 1 - k)
        if origin <= 0:
            raise ValueError(f"not enough periods ({n_periods}) for {n_windows} windows")
        out.append(Window(k, origin, origin + horizon))
    return out


def backtest_windows(
    starts: pd.DatetimeIndex, config: BacktestConfig, frequency: Frequency, timezone: str
) -> list[Window]:
    """The windows of a backtest over a panel's periods `starts`: at `config.origins` when
    given, else rolling (see the module docstring). Every window lies inside the panel, has
    periods before it to train on and is at most `config.horizon` periods long (cut there)."""
    n = len(starts)
    text = config.calendar_horizon
    if text is None and not config.origins:
        return rolling_windows(n, config.horizon, config.n_windows, config.step or config.horizon)
    if n == 0:
        raise WindowError("no periods to backtest on")
    end_of_data = pd.Timestamp(period_ends(starts[-1:], frequency, timezone)[0])

    def window_end(origin: int) -> int:
        if text is None:
            return origin + config.horizon
        stop = horizon_end(starts[origin], text, frequency, timezone)
        return n + 1 if stop > end_of_data else int(starts.searchsorted(stop, side="left"))

    if config.origins:
        late = [o for o in config.origins if o >= end_of_data]
        if late:
            raise WindowError(f"backtest origin {late[0]}: after the data (they end {end_of_data})")
        # An origin is the first period starting at or after it.
        origins = sorted({int(starts.searchsorted(o, side="left")) for o in config.origins})
    else:
        assert text is not None
        origins = [int(starts.searchsorted(horizon_origin(end_of_data, text, frequency, timezone)))]
        for k in range(config.n_windows - 1):
            if config.step is not None:
                origins.insert(0, origins[-1] - config.step * (k + 1))
                continue
            # Side by side, counted back in the horizon's units (local days) from the data's end.
            back = horizon_origin(starts[max(origins[0], 0)], text, frequency, timezone)
            origins.insert(0, int(starts.searchsorted(back)) if back >= starts[0] else -1)
    out = []
    for k, origin in enumerate(origins):
        if origin <= 0:
            raise WindowError(
                f"backtest origin {starts[0]}: no data before it to train on"
                if config.origins
                else f"not enough periods ({n}) for {config.n_windows} windows"
            )
        end = window_end(origin)
        if end > n:
            raise WindowError(
                f"backtest origin {starts[origin]}: its window ends after the data ({end_of_data})"
            )
        # A local week holding the autumn change has one hour more than the model's horizon:
        # that hour's one-week lag is the window's own first hour, so it is not backtested.
        out.append(Window(k, origin, min(end, origin + config.horizon)))
    return out


def run_backtest(
    panel: DensePanel,
    spec: FeatureSpec,
    territory: Territory,
    attributes: AreaAttributes,
    config: BacktestConfig,
    *,
    covariates: pd.DataFrame | None = None,
    progress: Progress | None = None,
    only: Sequence[int] | None = None,
) -> BacktestResult:
    """Fit and predict every model at every origin; `progress(step, done, total)` after each.

    `only`: the indexes of the windows to run (default all). With `refit`, windows are
    independent: runs of separate windows (on other processes) joined by `merge_results` give
    the run of all of them.
    """
    every = backtest_windows(panel.starts, config, spec.frequency, territory.timezone)
    if only is not None and not config.refit:
        raise ValueError("windows run apart need refit: without it, models fit once, first")
    windows = every if only is None else [w for w in every if w.index in set(only)]
    if not windows:
        raise ValueError(f"no backtest window among {list(only or [])}")
    history = config.train_periods or every[0].origin
    first = max(windows[0].origin - history, 0)
    last = max(w.end for w in windows)
    block = build_features(
        panel, spec, territory, attributes, first=first, last=last, covariates=covariates
    )
    position = np.tile(np.arange(first, last), len(panel.series))
    fit_s: dict[str, float] = dict.fromkeys(config.models, 0.0)
    predict_s: dict[str, float] = dict.fromkeys(config.models, 0.0)
    frames = []
    fitted: dict[str, Forecaster] = {}
    dropped: dict[str, str] = {}
    for w in windows:
        train = (position >= w.origin - history) & (position < w.origin) & ~np.isnan(block.y)
        test = (position >= w.origin) & (position < w.end)
        for name in config.models:
            if name in dropped:
                continue
            if config.refit or name not in fitted:
                t0 = time.perf_counter()
                model = make_forecaster(name, spec, config.model_params.get(name))
                try:
                    fitted[name] = model.fit(block.matrix[train], block.y[train])
                except ModelFitError as exc:
                    dropped[name] = f"window {w.index}: {exc}"
                    continue
                finally:
                    fit_s[name] += time.perf_counter() - t0
            t0 = time.perf_counter()
            mean = fitted[name].predict(block.matrix[test])
            predict_s[name] += time.perf_counter() - t0
            frame = block.keys[test].reset_index(drop=True)
            frame.insert(0, "window", w.index)
            frame.insert(0, "model", name)
            frame["actual"] = block.y[test]
            frame["mean"] = mean
            frames.append(frame)
            if progress is not None:
                step = f"window {w.index + 1}/{len(windows)}: {name}"
                progress(step, len(frames), len(windows) * len(config.models))
    return _without(
        BacktestResult(tuple(windows), pd.concat(frames, ignore_index=True), fit_s, predict_s),
        dropped,
    )


def _without(result: BacktestResult, dropped: Mapping[str, str]) -> BacktestResult:
    """`result` without the models that failed in some window: a model is judged on every
    window or on none."""
    if not dropped:
        return result
    kept = result.predictions[~result.predictions["model"].isin(list(dropped))]
    return BacktestResult(
        result.windows,
        kept.reset_index(drop=True),
        result.fit_seconds,
        result.predict_seconds,
        {**result.dropped, **dropped},
    )


def merge_results(parts: Sequence[BacktestResult]) -> BacktestResult:
    """One result from runs of separate windows (`run_backtest(..., only=...)`), in window
    order; fit and predict seconds add up."""
    ordered = sorted(parts, key=lambda r: r.windows[0].index)
    windows = tuple(w for r in ordered for w in r.windows)
    indexes = [w.index for w in windows]
    if len(set(indexes)) != len(indexes):
        raise ValueError(f"backtest windows run twice: {indexes}")
    fit_s: dict[str, float] = {}
    predict_s: dict[str, float] = {}
    for r in ordered:
        for name, seconds in r.fit_seconds.items():
            fit_s[name] = fit_s.get(name, 0.0) + seconds
        for name, seconds in r.predict_seconds.items():
            predict_s[name] = predict_s.get(name, 0.0) + seconds
    predictions = pd.concat([r.predictions for r in ordered], ignore_index=True)
    dropped = {name: why for r in ordered for name, why in r.dropped.items()}
    return _without(BacktestResult(windows, predictions, fit_s, predict_s), dropped)


def with_combinations(
    result: BacktestResult, combinations: Mapping[str, Sequence[str]]
) -> BacktestResult:
    """`result` with each combination's forecasts (name → member models): the mean of its
    members' forecasts of the same rows — nothing is fitted, so a combination costs its
    members' fits (its seconds are their sum). A member that did not fit: no combination."""
    predictions = result.predictions
    keys = [c for c in predictions.columns if c not in ("model", "mean", "actual")]
    frames, fit_s, predict_s = [predictions], dict(result.fit_seconds), dict(result.predict_seconds)
    for name, members in combinations.items():
        rows = [predictions[predictions["model"] == m] for m in members]
        if any(r.empty for r in rows):
            continue
        combined = rows[0].drop(columns="mean")
        means = []
        for k, member in enumerate(rows):
            column = f"mean_{k}"
            combined = combined.merge(
                member[[*keys, "mean"]].rename(columns={"mean": column}), on=keys, how="inner"
            )
            means.append(column)
        mean = combined_mean([combined.pop(c).to_numpy() for c in means])
        frames.append(combined.assign(model=name, mean=mean))
        for seconds in (fit_s, predict_s):
            seconds[name] = sum(seconds.get(m, 0.0) for m in members)
    if len(frames) == 1:
        return result
    return BacktestResult(
        result.windows,
        pd.concat(frames, ignore_index=True)[list(predictions.columns)],
        fit_s,
        predict_s,
        result.dropped,
    )


def predictions_panel(frame: pd.DataFrame, series: pd.DataFrame) -> DensePanel:
    """The `mean` column of one model × window's predictions as a dense panel."""
    starts = pd.DatetimeIndex(frame["period_start"].drop_duplicates())
    n = len(series)
    return DensePanel(series, starts, frame["mean"].to_numpy(np.float64).reshape(n, len(starts)))


def grain_season(grain: str) -> int:
    return YEAR_PERIODS["week"] if grain == "week" else WEEK_PERIODS[grain]


@dataclass(frozen=True)
class Evaluation:
    metrics: pd.DataFrame  # model, window ("all" or index), level, grain, kind, metric, value
    dispersion: Mapping[str, Dispersion]  # per model, fitted on all windows (the final model's)
    # per model and window index: fitted on the windows that ended by its origin (the first
    # window: none, Poisson) — what the backtest's intervals use
    window_dispersion: Mapping[str, Mapping[int, Dispersion]] = field(default_factory=dict)


def evaluate(
    result: BacktestResult,
    series: pd.DataFrame,
    hierarchy: Hierarchy,
    actuals: Mapping[str, DensePanel],
    *,
    frequency: Frequency,
    timezone: str,
    coverage_target: float = 0.82,
) -> Evaluation:
    """Metrics of every model at every level × grain × kind, per window and over all windows.

    `series`: the modelled series (area_code, category) in the panel's order. `actuals`: per
    level, counts per area × category and `ALL` at the modelled frequency, covering the scale
    history before the first window (35 days hourly/daily, 104 weeks weekly) up to the end.
    Intervals of window k use the dispersion fitted on the windows that ended by its origin
    only — what was known at that origin, so the coverage printed is out of sample; the first
    window has none before it: its quantiles are Poisson (α = 0) and its interval metrics
    (coverage, pinball) are not measured (NaN, left out of the pooled means). The returned
    `dispersion` (the final model's) uses all windows.
    """
    rows: list[tuple[Any, ...]] = []
    dispersions: dict[str, Dispersion] = {}
    per_origin: dict[str, dict[int, Dispersion]] = {}
    windows = {w.index: w for w in result.windows}
    for model, frame in result.predictions.groupby("model", sort=False):
        pairs = level_pairs(
            frame,
            series,
            hierarchy,
            actuals,
            frequency=frequency,
            timezone=timezone,
            per_category=True,
        )
        alphas, earlier_alphas = fitted_dispersions(pairs, windows, coverage_target)
        for key, per_window in pairs.items():
            level, grain, kind = key.split(":", 2)
            if kind not in KINDS:  # one category: its α only (its metrics: `promote`'s)
                continue
            for k, (yk, muk, scale) in per_window.items():
                intervals: dict[str, float] | None = None  # scored with the key's own α
                if not _earlier(per_window, windows, k):
                    # no dispersion known at its origin: no interval to judge
                    intervals = dict.fromkeys(INTERVAL_METRICS, math.nan)
                elif kind == "category":  # each category's rows within its own intervals
                    intervals = _categories_intervals(pairs, level, grain, k, earlier_alphas[k])
                alpha = earlier_alphas[k][key]
                measured = scores(
                    yk, muk, scale, alpha, level=level, grain=grain, intervals=intervals
                )
                for metric, value in measured.items():
                    rows.append((model, k, level, grain, kind, metric, value))
        dispersions[str(model)] = Dispersion(alphas)
        per_origin[str(model)] = {k: Dispersion(a) for k, a in earlier_alphas.items()}
    metrics = pd.DataFrame(
        rows, columns=["model", "window", "level", "grain", "kind", "metric", "value"]
    )
    pooled = (
        metrics.groupby(["model", "level", "grain", "kind", "metric"], sort=False)["value"]
        .mean()
        .reset_index()
    )
    pooled.insert(1, "window", "all")
    metrics["window"] = metrics["window"].astype(str)
    return Evaluation(pd.concat([pooled, metrics], ignore_index=True), dispersions, per_origin)


def fitted_dispersions(
    pairs: Mapping[str, Mapping[int, tuple[np.ndarray, np.ndarray, float]]],
    windows: Mapping[int, Window],
    target: float,
) -> tuple[dict[str, float], dict[int, dict[str, float]]]:
    """α per "level:grain:kind" fitted on every window (`dispersions_on`), and per window on
    the windows that ended by its origin (none: Poisson)."""
    every = dispersions_on(pairs, list(windows), target)
    earlier: dict[int, dict[str, float]] = {}
    for k in sorted({k for per_window in pairs.values() for k in per_window}):
        fitted = dispersions_on(pairs, _earlier(windows, windows, k), target)
        earlier[k] = {key: a for key, a in fitted.items() if k in pairs[key]}
    return every, earlier


def dispersions_on(
    pairs: Mapping[str, Mapping[int, tuple[np.ndarray, np.ndarray, float]]],
    fit_windows: Sequence[int],
    target: float,
) -> dict[str, float]:
    """α per "level:grain:kind" fitted on those of `fit_windows` it has (none: Poisson). A
    category's own α (`category:<code>`) from `CATEGORY_MIN_VALUES` values on; with fewer, its
    level's pooled `category` α. (The real-data bench fits its intervals with it too.)"""
    fitted: dict[str, float] = {}
    chosen = set(fit_windows)
    # The pooled kinds first: a category with few values borrows theirs.
    for key in sorted(pairs, key=lambda k: k.split(":", 2)[2].startswith("category:")):
        per_window = pairs[key]
        own = [j for j in per_window if j in chosen]  # the key's order: the rows a sample draws
        fitted[key] = _own_or_pooled(key, per_window, own, target, fitted)
    return fitted


def _earlier(among: Iterable[int], windows: Mapping[int, Window], k: int) -> list[int]:
    """The windows of `among` (a key's windows, or all of `windows`) that ended by window
    `k`'s origin."""
    return [j for j in among if windows[j].end <= windows[k].origin]


def _own_or_pooled(
    key: str,
    per_window: Mapping[int, tuple[np.ndarray, np.ndarray, float]],
    fit_windows: Sequence[int],
    target: float,
    fitted: Mapping[str, float],
) -> float:
    level, grain, kind = key.split(":", 2)
    pooled = f"{level}:{grain}:category"
    n = sum(len(per_window[j][0]) for j in fit_windows)
    if kind.startswith("category:") and n < CATEGORY_MIN_VALUES and pooled in fitted:
        return fitted[pooled]
    return _fitted_on(per_window, fit_windows, target)


def _categories_intervals(
    pairs: Mapping[str, Mapping[int, tuple[np.ndarray, np.ndarray, float]]],
    level: str,
    grain: str,
    window: int,
    alphas: Mapping[str, float],
) -> dict[str, float] | None:
    """`INTERVAL_METRICS` of every category's rows of a level × grain × window pooled, each
    category within its own α's intervals (the n-weighted mean of the categories' own)."""
    prefix = f"{level}:{grain}:category:"
    parts = [
        (interval_scores(*pairs[key][window][:2], alphas[key]), len(pairs[key][window][0]))
        for key in pairs
        if key.startswith(prefix) and window in pairs[key]
    ]
    total = sum(n for _, n in parts)
    if not total:
        return None
    return {
        metric: float(sum(measured[metric] * n for measured, n in parts if n) / total)
        for metric in INTERVAL_METRICS
    }


def _fitted_on(
    per_window: Mapping[int, tuple[np.ndarray, np.ndarray, float]],
    windows: Sequence[int],
    target: float,
) -> float:
    """α fitted on some windows' (actual, mean) pairs; Poisson (0) on none."""
    if not windows:
        return 0.0
    y = np.concatenate([per_window[j][0] for j in windows])
    mu = np.concatenate([per_window[j][1] for j in windows])
    return fit_dispersion(y, mu, target, max_rows=INTERVAL_SAMPLE)


def with_intervals(
    predictions: pd.DataFrame,
    window_dispersion: Mapping[str, Mapping[int, Dispersion]],
    *,
    level: str,
    frequency: Frequency,
) -> pd.DataFrame:
    """The backtest's predictions (at the modelled `level` and `frequency`) with the quantile
    columns of the forecast (`QUANTILE_COLUMNS`): each row's from the dispersion its model had
    at its window's origin (`Evaluation.window_dispersion`)."""
    out = predictions.copy()
    mean = out["mean"].to_numpy(np.float64)
    q = np.zeros((len(out), len(QUANTILES)))
    groups = out.groupby(["model", "window", "category"], sort=False).indices
    for key, rows in groups.items():
        model, window, category = (str(part) for part in cast("tuple[Any, ...]", key))
        dispersion = window_dispersion.get(model, {}).get(int(window), Dispersion())
        alpha = dispersion.alpha(level, frequency, category)
        q[rows] = nb_quantiles(mean[rows], alpha, QUANTILES)
    for j, column in enumerate(QUANTILE_COLUMNS):
        out[column] = q[:, j]
    return out


def level_pairs(
    frame: pd.DataFrame,
    series: pd.DataFrame,
    hierarchy: Hierarchy,
    actuals: Mapping[str, DensePanel],
    *,
    frequency: Frequency,
    timezone: str,
    per_category: bool = False,
) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray, float]]]:
    """(actual, mean, scale) per "level:grain:kind" and window.

    Kinds: `ALL` (each area's total) and `category` (every category's rows pooled); with
    `per_category`, also `category:<code>` for each category alone (its own scale)."""
    out: dict[str, dict[int, tuple[np.ndarray, np.ndarray, float]]] = {}
    for window, wframe in frame.groupby("window", sort=True):
        means = predictions_panel(wframe, series)
        add_level_pairs(
            out,
            int(str(window)),
            allocate(means, hierarchy, timezone, frequency),
            actuals,
            frequency=frequency,
            timezone=timezone,
            per_category=per_category,
        )
    return out


def add_level_pairs(
    out: dict[str, dict[int, tuple[np.ndarray, np.ndarray, float]]],
    window: int,
    predicted_levels: Mapping[str, DensePanel],
    actuals: Mapping[str, DensePanel],
    *,
    frequency: Frequency,
    timezone: str,
    per_category: bool = False,
) -> None:
    """Add one window's (actual, mean, scale) per "level:grain:kind" to `out`, from each
    level's predicted means (per category and `ALL`) — see `level_pairs`."""
    for level, predicted in predicted_levels.items():
        actual = _aligned(actuals[level], predicted)
        for grain in GRAINS[frequency]:
            pred_g, act_g, history = _at_grain(predicted, actual, frequency, grain, timezone)
            if pred_g.counts.size == 0:
                continue
            category = pred_g.series["category"].astype(str).to_numpy()
            is_all = category == ALL_CATEGORIES
            season = grain_season(grain)
            kinds = [("ALL", is_all), ("category", ~is_all)]
            if per_category:
                kinds += [
                    (f"category:{c}", category == c) for c in dict.fromkeys(category[~is_all])
                ]
            for kind, rows in kinds:
                if not rows.any():
                    continue
                scale = m.seasonal_scale(history[rows], season)
                y = act_g.counts[rows].reshape(-1)
                known = ~np.isnan(y)  # unknown actuals (a week missing from counts)
                out.setdefault(f"{level}:{grain}:{kind}", {})[window] = (
                    y[known],
                    pred_g.counts[rows].reshape(-1)[known],
                    scale,
                )


def _aligned(actual: DensePanel, predicted: DensePanel) -> DensePanel:
    """Actual counts in the predicted panel's series order (missing series: zeros)."""
    index = pd.MultiIndex.from_frame(actual.series[["area_code", "category"]].astype(str))
    pos = index.get_indexer(
        pd.MultiIndex.from_frame(predicted.series[["area_code", "category"]].astype(str))
    )
    counts = np.where(pos[:, None] >= 0, actual.counts[np.maximum(pos, 0)], 0.0)
    return DensePanel(predicted.series, actual.starts, counts)


def _at_grain(
    predicted: DensePanel, actual: DensePanel, frequency: Frequency, grain: str, timezone: str
) -> tuple[DensePanel, DensePanel, np.ndarray]:
    """Predictions and actuals of the window at `grain`, and the actual history before it."""
    if grain != frequency:
        predicted = rollup(predicted, frequency, grain, timezone)  # type: ignore[arg-type]
        actual = rollup(actual, frequency, grain, timezone)  # type: ignore[arg-type]
    if len(predicted.starts) == 0:
        return predicted, predicted, np.zeros((len(predicted.series), 0))
    t = actual.starts.get_indexer(predicted.starts)
    window = DensePanel(predicted.series, predicted.starts, actual.counts[:, t])
    before = actual.counts[:, actual.starts < predicted.starts[0]]
    season = grain_season(grain)
    keep = 2 * season if grain == "week" else 5 * season
    return predicted, window, before[:, -keep:]


def scores(
    y: np.ndarray,
    mean: np.ndarray,
    scale: float,
    alpha: float,
    *,
    level: str,
    grain: str,
    intervals: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Point and interval metrics; `intervals`: the `INTERVAL_METRICS` measured otherwise
    (default: of the NB intervals with dispersion `alpha`)."""
    out = {
        "rmsse": m.rmsse(y, mean, scale),
        "mae": m.mae(y, mean),
        "rmse": m.rmse(y, mean),
        "poisson_deviance": m.poisson_deviance(y, mean),
        "bias_pct": m.bias_pct(y, mean),
        **(interval_scores(y, mean, alpha) if intervals is None else intervals),
        "alpha": alpha,
        "n": float(len(y)),  # paired values: how much the metrics above can be trusted
    }
    if grain == "week" and level == "commune":
        out["class_accuracy_2018"] = m.class_accuracy_2018(y, mean)
    if level == "departement" and grain in ("day", "week"):
        out["mape"] = m.mape(y, mean)
    return out


def interval_scores(y: np.ndarray, mean: np.ndarray, alpha: float) -> dict[str, float]:
    """`INTERVAL_METRICS` of the NB intervals with dispersion `alpha`."""
    # Quantiles cost ~1 µs each: interval metrics of big level × grain blocks (commune × hour)
    # are estimated on a fixed random sample of rows, point metrics on every row.
    rows = np.arange(len(y))
    if len(rows) > INTERVAL_SAMPLE:
        rows = np.sort(np.random.default_rng(0).choice(rows, INTERVAL_SAMPLE, replace=False))
    ys, mus = y[rows], mean[rows]
    q = nb_quantiles(mus, alpha, QUANTILES)
    return {
        "pinball": m.pinball(ys, q, QUANTILES),
        "coverage_80": m.coverage(ys, q[:, 1], q[:, 3]),
        "coverage_95": m.coverage(ys, q[:, 0], q[:, 4]),
        "pit_80": pit_coverage(ys, mus, alpha, 0.8),
        "pit_95": pit_coverage(ys, mus, alpha, 0.95),
    }


def metric_table(metrics: pd.DataFrame, metric: str, kind: str = "ALL") -> pd.DataFrame:
    """One metric over all windows: rows level × grain, columns models."""
    sel = metrics[
        (metrics["window"] == "all") & (metrics["metric"] == metric) & (metrics["kind"] == kind)
    ]
    return sel.pivot_table(index=["level", "grain"], columns="model", values="value", sort=False)


def flat_metrics(metrics: pd.DataFrame, model: str) -> dict[str, float]:
    """`<level>_<grain>[_category]_<metric>` → value over all windows, for one model."""
    sel = metrics[(metrics["model"] == model) & (metrics["window"] == "all")]
    out = {}
    for row in sel.itertuples(index=False):
        kind = "" if row.kind == "ALL" else "_category"
        out[f"{row.level}_{row.grain}{kind}_{row.metric}"] = float(row.value)  # type: ignore[arg-type]
    return out


def default_levels(territory: Territory, model_level: str) -> Sequence[str]:
    """Levels the territory supports, from the finest."""
    out = []
    if territory.communes or model_level == "commune":
        out.append("commune")
    if territory.coverage_zones or model_level == "station":
        out.append("station")
    out.append("departement")
    return out
