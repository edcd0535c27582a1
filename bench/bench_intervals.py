"""Interval method: negative binomial around the CatBoost mean, or something else? Measured.

The platform's 80 % / 95 % intervals are negative-binomial quantiles around the CatBoost mean,
the dispersion α fitted per level × grain on backtest forecasts so that 80 % intervals cover
`coverage_target` (0.82) — core/intervals.py, core/hierarchy.py `with_quantiles`. This bench
runs production's CatBoost Poisson backtest (`core.training.backtest`, params.yaml `train:`)
on generated Essonne data — 5 years, 12 weekly windows 4 weeks apart so seasons vary — and
scores, on windows 2–11, each calibrated ONLY on the windows before it (expanding):
(a) NB around the mean, α fitted as production does (`fit_dispersion`) on earlier windows;
    also the training report's NB (cross-fitted on all other windows, later ones included);
(b) Poisson around the mean (α = 0), the naive floor;
(c) CatBoost MultiQuantile (2.5, 9, 50, 91, 97.5 %) with production's features, training span
    and windows, fitted directly at each scored level × grain on that level's own panel
    (station × hour, station × day, département × day): quantiles do not add up over hours or
    stations, so nothing is summed; bounds as predicted, and rounded to the nearest count;
(d) split-conformal around the mean: conformal quantiles of the earlier windows' scaled
    residuals (y − μ)/√μ, pooled, and per quartile of μ (Mondrian).
Every calibrated method aims its 80 % interval at 82 %, like production. Scores: coverage
80/95 % and pinball over the 5 quantiles (core/metrics.py), mean width, 80 % interval score.

Measured (seed 7, data to 2025-12-31, windows of 16 Apr … 24 Dec 2025; 2 shared cores;
bench/results/intervals.md), cov80 / width80 / pinball / interval score 80:
- station × day (2,142 station-days): NB 0.852 / 6.73 / 0.496 / 9.97 — α = 0 here, so NB is
  Poisson; conformal 0.825 / 6.59 / 0.501 / 10.15 (pinball +0.006 ± 0.006, better in 2 of 10
  windows); MultiQuantile 0.915 / 13.10 / 0.666 / 14.90 (twice as wide, worse in 10/10).
- département × day (63 days: ± 0.05 on a coverage): NB 0.810 / 116 / 7.44 / 154 (α ≈ 0.022);
  Poisson 0.413 / 42 / 9.97 / 207; MultiQuantile on the département's own panel 0.841 / 120 /
  7.13 / 138 (pinball −0.25 ± 0.88, better in 6/10 windows: within noise); conformal 0.857 /
  129 / 7.65 / 163. Per-window 80 % coverage spans 0.50–1.00 for NB (0.33–1.00 to 0.67–1.00
  for the others): 7 days a window.
- station × hour (5 of the windows): NB = Poisson (α = 0) 0.959 / 1.02 / 0.071 / 1.49 — with
  means ≈ 0.3 an integer interval cannot cover 80 %; continuous bounds can (conformal 0.813,
  MultiQuantile 0.853; 120 trees at rate 0.25 there, for time) but score worse on pinball (0.078,
  0.076) and interval score (2.42, 2.22).
- The training report's cross-fitted NB reads a little optimistic at département × day: 0.841
  against 0.810 with earlier windows only.
Second dataset (seed 11, data to 2025-06-30, windows 14 Oct 2024 … 23 Jun 2025, so through the
winter; station × hour on 1 window only; bench/results/intervals_seed11.md):
- station × day: NB (= Poisson) 0.853 / 6.83 / 0.483 / 9.72; conformal 0.808 / 6.37 / 0.486 /
  9.89 (pinball +0.004 ± 0.003); MultiQuantile 0.898 / 13.10 / 0.676 / 15.25.
- département × day: NB 0.723 / 78 / 5.86 / 118 (α ≈ 0.009) — BELOW the band (the training
  report's cross-fit: 0.769, below too); Poisson 0.415; conformal 0.815 / 90 / 6.07 / 116
  (pinball +0.20 ± 0.24, better in 2/10 windows); MultiQuantile 0.908 / 108 / 6.21 / 125.
- station × hour: NB 0.958, conformal 0.799, MultiQuantile 0.842; NB best pinball again.
Third dataset (seed 3, data to 2025-09-30, windows 13 Jan … 23 Sep 2025; station × hour on 1
window; bench/results/intervals_seed3.md): station × day NB 0.847 / 6.71 / 0.496 / 10.00,
conformal 0.818 / 6.40 / 0.499 / 10.13; département × day NB 0.746 / 98 / 7.17 / 147 — below the
band again (cross-fit 0.821) —, conformal 0.821 / 121 / 7.68 / 162 (pinball +0.51 ± 0.20),
MultiQuantile 0.821 / 114 / 7.19 / 145.
Width at equal coverage, département × day (`--nb-targets`: NB calibrated to 85 % instead of
82 %): NB-85 covers 0.873 / 0.769 / 0.851 (seeds 7 / 11 / 3; mean 0.831) with widths 124 / 84 /
114 (mean 107) and pinball 7.47 / 5.88 / 7.18; conformal covers 0.857 / 0.815 / 0.821 (mean 0.831,
the same) with widths 129 / 90 / 121 (mean 114, +6 %) and pinball 7.65 / 6.07 / 7.68. At station
× day NB-85 barely moves (α ≤ 0.005: coverage +0.005, width +3 %). Scoring only windows with
≥ 5 earlier ones (`--min-calibration 5`): département × day NB 0.800 / 0.761 / 0.755, conformal
0.844 / 0.826 / 0.837 — the shortfall is not just small calibration sets.

Re-run with `train.allocation: top_down` (zones split from the territory's total; the results
files): station-level figures moved by ≤ 0.01 — station × day NB 0.849 / 6.71 / 0.491 / 9.95,
0.851 / 6.80 / 0.477 / 9.59, 0.841 / 6.68 / 0.494 / 9.97 (seeds 7 / 11 / 3), conformal 0.833 /
0.812 / 0.813 with a worse pinball on all three; département figures unchanged (the same sum).

Conclusion: keep NB — no alternative wins at every headline level — but its département × day
calibration falls short. NB has the best pinball and interval score at station × hour and
station × day on every dataset, and covers 0.85 at station × day (α = 0 there: it is Poisson).
The département-level quantile model is twice too wide at station × day, level with NB at
département × day, and incoherent with the bottom-up means. Split-conformal around the same mean
is the only method in the 78–90 % band at all three levels on all three datasets, but it is not
sharper: at equal mean coverage NB is 6 % narrower with a better pinball. The weakness: at
département × day, α fitted on past windows is too small for the next ones — NB covered 0.810 /
0.723 / 0.746 (2 of 3 datasets below 78 %; the training report's cross-fit, which also uses later
windows, reads 0.841 / 0.769 / 0.821). For the lead to decide (production untouched): a higher
département coverage target (0.85 brought 2 of 3 datasets into the band, mean 0.83) or
split-conformal at département × day only (in band 3/3; 11–24 % wider than
production's NB, 6 % wider than NB-85 at the same mean coverage). With 7 days a window
(per-window coverage 0.3–1.0) each dataset's département figure is ± 0.05.
Run time (default arguments) 1,299 s = 21.6 min (means backtest 700 s, MultiQuantile fits
578 s) at load 13–15 on 2 cores — above the 15 minutes aimed at; peak RSS 1.4 GB. Seed 11 with
`--hour-every 10`: 469 s at load ~10, seed 3 likewise 561 s. `--reuse` rescores the cached
forecasts in ~10 s.

Usage: .venv/bin/python bench/bench_intervals.py [--years 5] [--end 2025-12-31] [--seed 7]
       [--windows 12] [--step-weeks 4] [--min-calibration 2] [--nb-targets 0.85]
       [--hour-every 2] [--hour-iterations 120] [--hour-learning-rate 0.25]
       [--name intervals] [--reuse]
The other datasets: `--seed 11 --end 2025-06-30 --hour-every 10 --name intervals_seed11` and
`--seed 3 --end 2025-09-30 --hour-every 10 --name intervals_seed3`.
`--reuse` skips the fits and rescores the forecasts cached in bench/out/intervals/ by the last
run with the same data and windows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from catboost import CatBoostRegressor

from benchlib.common import WORK, Report, peak_rss_mib
from previsecours.adapters.covariates import with_covariates
from previsecours.config import TrainParams
from previsecours.core import metrics as m
from previsecours.core.backtest import predictions_panel, rolling_windows
from previsecours.core.calendar import PERIOD_HOURS
from previsecours.core.features import area_attributes, build_features, make_spec
from previsecours.core.forecast_schema import ALL_CATEGORIES, QUANTILES
from previsecours.core.hierarchy import Hierarchy, allocate, rollup
from previsecours.core.history import History
from previsecours.core.intervals import fit_dispersion, nb_quantiles
from previsecours.core.panel import DensePanel, count_panel
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory
from previsecours.core.training import backtest, backtest_config, fitted_hierarchy, modelled_panel
from previsecours.paths import Project
from previsecours.settings import load_settings

Level = Literal["station", "departement"]
LEVEL_GRAINS: tuple[tuple[Level, Frequency], ...] = (
    ("station", "hour"),
    ("station", "day"),
    ("departement", "day"),
)
BAND = (0.78, 0.90)  # the acceptance band for 80 % intervals
INTERVAL_SAMPLE = 50_000  # rows of station × hour each dispersion fit sees (production: 10,000)
MEAN_FLOOR = 0.01
Q = np.asarray(QUANTILES)  # 2.5, 10, 50, 90, 97.5 %


def target_levels(target: float) -> np.ndarray:
    """Quantile levels aimed at: the 80 % interval calibrated to `target`, like production's NB."""
    lo = (1.0 - target) / 2.0
    return np.array([Q[0], lo, 0.5, 1.0 - lo, Q[-1]])


# ------------------------------------------------------------------ data and forecasts


def events_for(territory: Territory, years: int, end: dt.date, seed: int) -> pd.DataFrame:
    from previsecours.core.generator import generate_events

    cache = WORK / "intervals" / f"events_{seed}_{years}_{end}.parquet"
    if cache.exists():
        return pd.read_parquet(cache)
    start = dt.date(end.year - years, end.month, end.day) + dt.timedelta(days=1)
    events = generate_events(territory, start, end, seed=seed)
    cache.parent.mkdir(parents=True, exist_ok=True)
    events.to_parquet(cache)
    return events


def with_step(params: TrainParams, frequency: Frequency, step_weeks: int) -> TrainParams:
    step = step_weeks * 168 // PERIOD_HOURS[frequency]
    return replace(params, frequency=frequency, step=step)


def mean_frames(
    predictions: pd.DataFrame,
    series: pd.DataFrame,
    hierarchy: Hierarchy,
    *,
    events: pd.DataFrame,
    territory: Territory,
    end: pd.Timestamp,
) -> dict[tuple[str, str], pd.DataFrame]:
    """window, area_code, period_start, actual, mean per level × grain (`ALL` categories).

    The means go through the same category split, level weights and roll-up as the training's
    evaluation and the forecast flow (core.hierarchy); actual counts come from the events.
    """
    tz = territory.timezone
    start = pd.Timestamp(predictions["period_start"].min()).tz_convert(tz).floor("D")
    actual: dict[tuple[str, Frequency], pd.DataFrame] = {
        (level, grain): count_panel(
            events, territory, level, grain, start=start, end=end, by_category=False
        ).to_frame()
        for level, grain in LEVEL_GRAINS
    }
    parts: dict[tuple[str, Frequency], list[pd.DataFrame]] = {k: [] for k in LEVEL_GRAINS}
    for window, wframe in predictions.groupby("window", sort=True):
        per_level = allocate(predictions_panel(wframe, series), hierarchy, tz, "hour")
        for level, grain in LEVEL_GRAINS:
            panel = per_level[level]
            rows = (panel.series["category"] == ALL_CATEGORIES).to_numpy()
            panel = DensePanel(
                panel.series[rows].reset_index(drop=True), panel.starts, panel.counts[rows]
            )
            if grain != "hour":
                panel = rollup(panel, "hour", grain, tz)
            frame = panel.to_frame().rename(columns={"count": "mean"})
            frame.insert(0, "window", int(str(window)))
            parts[(level, grain)].append(frame)
    out: dict[tuple[str, str], pd.DataFrame] = {}
    for key, frames in parts.items():
        frame = pd.concat(frames, ignore_index=True).drop(columns="category")
        counts = actual[key].drop(columns="category").rename(columns={"count": "actual"})
        merged = frame.merge(counts, on=["area_code", "period_start"], how="left")
        if merged["actual"].isna().any():
            raise RuntimeError(f"{key}: forecasts without actual counts")
        out[key] = merged
    return out


def quantile_backtest(
    events: pd.DataFrame,
    territory: Territory,
    params: TrainParams,
    *,
    level: Level,
    windows_fitted: set[int],
    levels: np.ndarray,
    catboost: dict[str, object],
) -> tuple[pd.DataFrame, float]:
    """CatBoost MultiQuantile fitted directly at `level` × `params.frequency` on the same
    features, training span and windows as the mean model; quantiles sorted per row."""
    params = replace(params, model_level=level)
    data = with_covariates(modelled_panel(History.of_events(events), territory, params), territory)
    config = backtest_config(params, territory)
    spec = make_spec(params.frequency_of(territory), config.horizon)
    areas = list(dict.fromkeys(data.panel.series["area_code"].astype(str)))
    attributes = area_attributes(territory, level, areas)
    n = len(data.panel.starts)
    windows = rolling_windows(n, config.horizon, config.n_windows, config.step or config.horizon)
    history = config.train_periods or windows[0].origin
    first = max(windows[0].origin - history, 0)
    block = build_features(
        data.panel, spec, territory, attributes, first=first, last=windows[-1].end
    )
    position = np.tile(np.arange(first, windows[-1].end), len(data.panel.series))
    loss = "MultiQuantile:alpha=" + ",".join(f"{a:.4g}" for a in levels)
    settings = {**catboost, "loss_function": loss}
    frames, seconds = [], 0.0
    for w in windows:
        if w.index not in windows_fitted:
            continue
        train = (position >= w.origin - history) & (position < w.origin) & ~np.isnan(block.y)
        test = (position >= w.origin) & (position < w.end)
        t0 = time.perf_counter()
        model = CatBoostRegressor(**settings, verbose=False, allow_writing_files=False)
        model.fit(block.matrix[train], block.y[train])
        seconds += time.perf_counter() - t0
        q = np.sort(np.maximum(np.asarray(model.predict(block.matrix[test])), 0.0), axis=1)
        frame = block.keys[test].reset_index(drop=True).drop(columns="category")
        frame.insert(0, "window", w.index)
        for j in range(q.shape[1]):
            frame[f"q{j}"] = q[:, j]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), seconds


def quantile_forecasts(
    events: pd.DataFrame,
    territory: Territory,
    params: TrainParams,
    *,
    args: argparse.Namespace,
    scored: list[int],
    cache: Path,
    seconds: dict[str, float],
) -> dict[tuple[str, str], pd.DataFrame]:
    """The MultiQuantile backtest of each level × grain (cached), aimed at the same target.

    Production's CatBoost settings with gradient leaf estimation: CatBoost's default (exact)
    leaf values for quantile losses took twice as long and, at 100 trees, had not left the
    zero lower bounds of station-hours. Station × hour fits 600 k rows per window: fewer,
    larger steps there (`--hour-iterations`, `--hour-learning-rate`) and only every
    `--hour-every`-th scored window (every method is scored on those same windows there).
    """
    catboost = dict(params.model_params.get("catboost", {}))
    catboost.pop("loss_function", None)
    catboost.update(leaf_estimation_method="Gradient", leaf_estimation_iterations=1)
    out: dict[tuple[str, str], pd.DataFrame] = {}
    for level, grain in LEVEL_GRAINS:
        path = cache / f"quantiles_{level}_{grain}.parquet"
        t0 = time.perf_counter()
        if args.reuse and path.exists():
            out[(level, grain)] = pd.read_parquet(path)
            continue
        settings, fitted = dict(catboost), set(scored)
        if grain == "hour":
            settings.update(iterations=args.hour_iterations, learning_rate=args.hour_learning_rate)
            fitted = set(scored[::-1][:: args.hour_every])  # the latest, then every k-th before
        frame, fit_s = quantile_backtest(
            events,
            territory,
            with_step(params, grain, args.step_weeks),
            level=level,
            windows_fitted=fitted,
            levels=target_levels(params.coverage_target),
            catboost=settings,
        )
        frame.to_parquet(path)
        out[(level, grain)] = frame
        seconds[f"MultiQuantile {level} × {grain}: fits"] = fit_s
        seconds[f"MultiQuantile {level} × {grain}: features + fits"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------ interval methods

Method = Callable[[pd.DataFrame, pd.DataFrame, float], np.ndarray]
"""(calibration rows: earlier windows, scored window rows, target) → quantiles (rows × 5)."""


def nb_fitted(cal: pd.DataFrame, cur: pd.DataFrame, target: float) -> np.ndarray:
    alpha = fit_dispersion(
        cal["actual"].to_numpy(np.float64),
        cal["mean"].to_numpy(np.float64),
        target,
        max_rows=INTERVAL_SAMPLE,
    )
    cur.attrs["alpha"] = alpha
    return nb_quantiles(cur["mean"].to_numpy(np.float64), alpha, QUANTILES)


def poisson(cal: pd.DataFrame, cur: pd.DataFrame, target: float) -> np.ndarray:
    return nb_quantiles(cur["mean"].to_numpy(np.float64), 0.0, QUANTILES)


def _scaled(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    mu = np.maximum(frame["mean"].to_numpy(np.float64), MEAN_FLOOR)
    return (frame["actual"].to_numpy(np.float64) - mu) / np.sqrt(mu), mu


def _conformal_quantiles(residuals: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Split-conformal quantiles: the ⌈(n+1)τ⌉-th smallest above the median, ⌊(n+1)τ⌋-th below."""
    r = np.sort(residuals)
    n = len(r)
    rank = np.where(levels >= 0.5, np.ceil((n + 1) * levels), np.floor((n + 1) * levels))
    out: np.ndarray = r[np.clip(rank.astype(np.int64) - 1, 0, n - 1)]
    return out


def conformal(cal: pd.DataFrame, cur: pd.DataFrame, target: float) -> np.ndarray:
    """μ + r_τ √μ with r_τ the conformal quantiles of earlier windows' scaled residuals."""
    r, _ = _scaled(cal)
    qr = _conformal_quantiles(r, target_levels(target))
    mu = np.maximum(cur["mean"].to_numpy(np.float64), MEAN_FLOOR)
    out: np.ndarray = np.maximum(mu[:, None] + qr[None, :] * np.sqrt(mu)[:, None], 0.0)
    return out


def conformal_binned(cal: pd.DataFrame, cur: pd.DataFrame, target: float) -> np.ndarray:
    """Mondrian split-conformal: the same, residual quantiles per quartile of the mean."""
    r, mu_cal = _scaled(cal)
    edges = np.quantile(mu_cal, [0.25, 0.5, 0.75])
    mu = np.maximum(cur["mean"].to_numpy(np.float64), MEAN_FLOOR)
    bins_cal, bins = np.searchsorted(edges, mu_cal), np.searchsorted(edges, mu)
    out = np.zeros((len(mu), len(Q)))
    levels = target_levels(target)
    for b in range(4):
        qr = _conformal_quantiles(r[bins_cal == b] if (bins_cal == b).any() else r, levels)
        rows = bins == b
        out[rows] = mu[rows, None] + qr[None, :] * np.sqrt(mu[rows])[:, None]
    return np.maximum(out, 0.0)


def catboost_quantile(cal: pd.DataFrame, cur: pd.DataFrame, target: float) -> np.ndarray:
    return cur[[f"q{j}" for j in range(len(Q))]].to_numpy(np.float64)


def catboost_quantile_rounded(cal: pd.DataFrame, cur: pd.DataFrame, target: float) -> np.ndarray:
    """The quantile model's bounds read as the nearest count (a lower bound of 0.001 is 0)."""
    return np.round(catboost_quantile(cal, cur, target))


METHODS: dict[str, Method] = {
    "NB, dispersion of earlier windows (production's method)": nb_fitted,
    "Poisson (no dispersion)": poisson,
    "CatBoost MultiQuantile at this level": catboost_quantile,
    "CatBoost MultiQuantile, bounds rounded to counts": catboost_quantile_rounded,
    "conformal, scaled residuals": conformal,
    "conformal, scaled residuals per mean quartile": conformal_binned,
}


def _nb_aimed(aim: float) -> Method:
    """Production's NB with another coverage target (to compare widths at equal coverage)."""

    def method(cal: pd.DataFrame, cur: pd.DataFrame, target: float) -> np.ndarray:
        return nb_fitted(cal, cur, aim)

    return method


# ------------------------------------------------------------------ scores


def scores(y: np.ndarray, q: np.ndarray) -> dict[str, float]:
    """The project's coverage and pinball (core.metrics), widths and the 80 % interval score.

    Bounds are read as counts: an interval [l, u] holds the integers ⌈l⌉ … ⌊u⌋, so widths are
    ⌊u⌋ − ⌈l⌉ (NB quantiles are integers already); coverage is unchanged by this.
    """
    lo80, hi80 = np.ceil(q[:, 1] - 1e-9), np.floor(q[:, 3] + 1e-9)
    lo95, hi95 = np.ceil(q[:, 0] - 1e-9), np.floor(q[:, 4] + 1e-9)
    # Winkler interval score of the central 80 % interval: width + 2/0.2 × distance outside.
    miss = np.maximum(lo80 - y, 0.0) + np.maximum(y - hi80, 0.0)
    return {
        "coverage_80": m.coverage(y, q[:, 1], q[:, 3]),
        "coverage_95": m.coverage(y, q[:, 0], q[:, 4]),
        "width_80": float(np.mean(np.maximum(hi80 - lo80, 0.0))),
        "width_95": float(np.mean(np.maximum(hi95 - lo95, 0.0))),
        "pinball": m.pinball(y, q, QUANTILES),
        "interval_score_80": float(np.mean(np.maximum(hi80 - lo80, 0.0) + 10.0 * miss)),
    }


def evaluate_methods(
    frames: dict[tuple[str, str], pd.DataFrame],
    quantiles: dict[tuple[str, str], pd.DataFrame],
    scored: list[int],
    target: float,
    nb_targets: tuple[float, ...] = (),
) -> pd.DataFrame:
    """Per level × grain × method: scores pooled over the scored windows, the range of each
    window's 80 % coverage, and the pinball difference to production's NB per window (mean ±
    2 standard errors over windows, and how many windows the method beats NB on).

    Calibration (dispersion, residuals) only from earlier windows (expanding). The NB row of
    production's training report (cross-fitted on all other windows, later ones included) is
    shown too."""
    methods: dict[str, tuple[Method, bool]] = {name: (f, True) for name, f in METHODS.items()}
    for aim in nb_targets:
        methods[f"NB, dispersion of earlier windows, aimed at {aim:.0%}"] = (_nb_aimed(aim), True)
    methods["NB cross-fitted on all other windows (as the training report)"] = (nb_fitted, False)
    rows = []
    for key, frame in frames.items():
        merged = frame.merge(
            quantiles[key], on=["window", "area_code", "period_start"], how="inner"
        )
        reference: dict[int, float] = {}
        for name, (method, expanding) in methods.items():
            ys, qs, coverage, pinball, alphas = [], [], [], {}, []
            for k in scored:
                cur = merged[merged["window"] == k].copy()
                if cur.empty:  # a window the quantile model was not fitted for
                    continue
                cal = frame[frame["window"] < k] if expanding else frame[frame["window"] != k]
                q = method(cal, cur, target)
                y = cur["actual"].to_numpy(np.float64)
                ys.append(y)
                qs.append(q)
                coverage.append(m.coverage(y, q[:, 1], q[:, 3]))
                pinball[k] = m.pinball(y, q, QUANTILES)
                alphas.append(cur.attrs.get("alpha", np.nan))
            reference = reference or pinball  # the first method: production's NB
            diff = np.array([pinball[k] - reference[k] for k in pinball])
            result = scores(np.concatenate(ys), np.vstack(qs))
            rows.append(
                {
                    "level × grain": f"{key[0]} × {key[1]}",
                    "method": name,
                    **result,
                    "coverage_80 per window (min–max)": f"{min(coverage):.2f}–{max(coverage):.2f}",
                    "in 78–90 %": "yes" if BAND[0] <= result["coverage_80"] <= BAND[1] else "no",
                    "Δ pinball vs NB (± 2 SE)": f"{diff.mean():+.3f} ± "
                    + (
                        f"{2 * diff.std(ddof=1) / np.sqrt(len(diff)):.3f}" if len(diff) > 1 else "?"
                    ),
                    "windows better than NB": f"{int((diff < 0).sum())}/{len(diff)}",
                    "NB α (median)": float(np.nanmedian(alphas))
                    if name.startswith("NB")
                    else np.nan,
                    "rows": int(sum(len(y) for y in ys)),
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ main


def describe(
    report: Report,
    args: argparse.Namespace,
    *,
    events: pd.DataFrame,
    predictions: pd.DataFrame,
    scored: list[int],
    target: float,
) -> None:
    end = args.end
    starts = sorted(pd.to_datetime(predictions["period_start"]).dt.date.unique())
    windows = predictions.groupby("window")["period_start"].min().dt.date
    report.add(
        f"\n{len(events):,} generated events (seed {args.seed}, {args.years} years to {end}). "
        f"CatBoost Poisson means from `core.training.backtest` (params.yaml `train:`, "
        f"{args.windows} weekly windows {args.step_weeks} weeks apart, from {starts[0]} to "
        f"{starts[-1]}); scored: windows {scored[0]}–{scored[-1]} (starting "
        f"{', '.join(str(windows[k]) for k in scored)}), each calibrated only on the windows "
        f"before it (expanding, at least {args.min_calibration}). 80 % intervals aimed at "
        f"{target:.0%} coverage by every calibrated method (production's `coverage_target`)."
    )
    if args.reuse:
        report.add(
            "\nRescored (`--reuse`) from the forecasts cached in bench/out/intervals/ by a full "
            "run of the same data and windows; the seconds below are that run's."
        )


def show(report: Report, table: pd.DataFrame, seconds: dict[str, float], peak: float) -> None:
    shown = table.set_index(["level × grain", "method"])
    report.table(
        "Calibration and sharpness (all categories together)",
        shown.drop(columns=["rows"]),
        note=(
            "coverage_80/95 and pinball (mean over the 5 quantiles 2.5–97.5 %): "
            "core/metrics.py; widths: mean ⌊upper⌋ − ⌈lower⌉ in interventions; interval score "
            "80: width + 10 × distance outside (Winkler; lower is better, rewards calibration "
            "and sharpness together). Rows scored: "
            + ", ".join(
                f"{k}: {v}" for k, v in table.groupby("level × grain")["rows"].first().items()
            )
            + "."
        ),
    )
    report.table(
        "Seconds (2 shared cores: noisy)",
        pd.DataFrame({"seconds": pd.Series(seconds)}).rename_axis("step"),
        digits=1,
        note=f"peak RSS {peak:.0f} MiB",
    )


def recorded_cost(path: Path, seconds: dict[str, float], *, reuse: bool) -> dict[str, Any]:
    """This run's seconds and peak RSS; with --reuse, those of the run that made the cache."""
    cost: dict[str, Any] = {"seconds": seconds, "peak_rss_mib": peak_rss_mib()}
    if reuse and path.exists():
        cost = json.loads(path.read_text(encoding="utf-8"))
        cost["seconds"]["rescoring only (--reuse)"] = seconds["total"]
    else:
        path.write_text(json.dumps(cost, indent=1), encoding="utf-8")
    return cost


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--end", default="2025-12-31")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--step-weeks", type=int, default=4)
    parser.add_argument("--min-calibration", type=int, default=2)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--name", default="intervals", help="bench/results/<name>.md")
    parser.add_argument("--nb-targets", default="0.85", help="extra NB rows, other targets")
    parser.add_argument("--hour-iterations", type=int, default=120)
    parser.add_argument("--hour-learning-rate", type=float, default=0.25)
    parser.add_argument("--hour-every", type=int, default=2, help="station × hour: every k-th")
    parser.add_argument("--iterations", type=int, help="smoke tests only: fewer CatBoost trees")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    t_start = time.perf_counter()

    root = Project.locate().root
    settings = load_settings("essonne", root)
    territory = settings.territory
    section = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    section.update(models=["catboost"], n_windows=args.windows)
    if args.iterations:
        section["catboost"]["iterations"] = args.iterations
    params = with_step(TrainParams(**section), "hour", args.step_weeks)
    target = params.coverage_target
    end = dt.date.fromisoformat(args.end)
    scored = list(range(args.min_calibration, args.windows))
    run = f"s{args.seed}_y{args.years}_{end}_w{args.windows}_s{args.step_weeks}"
    cache = WORK / "intervals" / f"{run}_i{args.iterations or 0}_h{args.hour_iterations}"
    cache = cache.with_name(f"{cache.name}x{args.hour_every}")
    cache.mkdir(parents=True, exist_ok=True)

    report = Report(
        args.name,
        "Interval methods for counts — generated Essonne, hourly",
        (__doc__ or "").split("\n\n")[0],
    )
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    events = events_for(territory, args.years, end, args.seed)
    history = History.of_events(events)
    seconds["events"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    data = with_covariates(modelled_panel(history, territory, params), territory)
    if args.reuse and (cache / "means.parquet").exists():
        predictions = pd.read_parquet(cache / "means.parquet")
    else:
        outcome = backtest(history, territory, params, data)  # production's code path
        predictions = outcome.result.predictions
        predictions.to_parquet(cache / "means.parquet")
    seconds["CatBoost Poisson backtest (means)"] = time.perf_counter() - t0
    areas = list(dict.fromkeys(data.panel.series["area_code"].astype(str)))
    origin = pd.Timestamp(predictions["period_start"].min())
    hierarchy = fitted_hierarchy(history, territory, params, areas, origin)
    frames = mean_frames(
        predictions, data.panel.series, hierarchy, events=events, territory=territory, end=data.end
    )

    quantiles = quantile_forecasts(
        events, territory, params, args=args, scored=scored, cache=cache, seconds=seconds
    )

    t0 = time.perf_counter()
    aims = tuple(float(a) for a in args.nb_targets.split(",") if a)
    table = evaluate_methods(frames, quantiles, scored, target, aims)
    seconds["scoring"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start
    cost = recorded_cost(cache / "cost.json", seconds, reuse=args.reuse)

    describe(report, args, events=events, predictions=predictions, scored=scored, target=target)
    show(report, table, cost["seconds"], cost["peak_rss_mib"])
    report.write()


if __name__ == "__main__":
    main()
