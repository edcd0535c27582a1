"""Bottom-up or reconciled? Station and département forecasts made to add up, compared.

The platform forecasts coverage zone (station) × hour with CatBoost and sums it to the
département (bottom-up). This bench also fits the same model, same features, at the
département level and makes the two levels coherent in several ways:
- `bottom_up`: station forecasts, summed (the platform before `train.allocation: top_down`);
- `top_down_own`: the station forecasts' own total split by measured shares of each category
  and the category mix of the month and hour (today's platform: core/hierarchy.py pooling);
- `top_down_hist`: the département forecast split by each station's share of the
  interventions of the `allocation_years` before the origin;
- `top_down_fp`: the département forecast split by the station forecasts' proportions
  (its département figures are the département model's own, unreconciled forecasts);
- `ols`, `wls_struct`, `wls_var`, `mint_shrink`: the optimal-combination family
  ỹ = S (SᵀW⁻¹S)⁻¹ SᵀW⁻¹ ŷ with S = [1ᵀ; I] (the département over 34 zones) and W = I,
  diag(S·1), the diagonal of the hourly base-forecast error variances, and their shrunk
  covariance (Schäfer–Strimmer, as in MinT). Variances come only from windows BEFORE the one
  scored (the `--warmup` extra windows, then expanding): nothing of a window reaches its weights.
Reconciled station means below zero (rare) are set to 0 and the département re-summed, so every
approach adds up exactly.

Every forecast goes through the project's own code: `count_panel`, `make_spec`,
`area_attributes`/`build_features` via `run_backtest` (CatBoost from params.yaml), and
`evaluate` (category split, commune weights, seasonal-naive scales of core/metrics.py), so the
bottom-up row is the training backtest's CatBoost row. Prints RMSSE, MAE and bias % per
level × grain (mean over the scored windows, all categories together), then the cost of each
approach. Timings are noisy when the machine is shared.

Measured (7 generated years, CatBoost 300 iterations, 2 cores): `top_down_own` (today's
platform) is best at station × hour and keeps bottom-up's département figures. 4 weekly windows
(December 2025): station × hour RMSSE 0.723 top_down_own, 0.724 bottom-up, 0.725–0.726 the
others; station × day 0.721 vs 0.724 bottom-up (0.729–0.743 the others); département × day
0.807 for both (0.836 MinT, 0.886 top-down from the département model). Earlier, with CatBoost
still reading the time index, over 12 windows 4 weeks apart over 2025 (`--windows 12
--step-weeks 4`): département × day 0.749 bottom-up, 0.763 MinT, 0.764 WLS var, 0.768 WLS
structural, 0.803 OLS, 0.806 top-down from the département model. The département model alone
is less biased but noisier; reconciling costs < 1 ms per origin (MinT 0.1 s) on top of the
second fit (~0.6 s).

Usage: .venv/bin/python bench/bench_reconciliation.py [--years 7] [--windows 4] [--warmup 2]
       [--threads 2] [--iterations 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import yaml

from previsecours.adapters.covariates import with_covariates
from previsecours.adapters.territory_files import load_territory
from previsecours.config import TrainParams
from previsecours.core.backtest import BacktestResult, evaluate, metric_table, run_backtest
from previsecours.core.calendar import PERIOD_HOURS, horizon_periods
from previsecours.core.features import area_attributes, make_spec
from previsecours.core.generator import generate_events
from previsecours.core.history import History
from previsecours.core.panel import count_panel
from previsecours.core.territory import Territory
from previsecours.core.training import (
    PanelData,
    backtest_config,
    fitted_hierarchy,
    modelled_panel,
)
from previsecours.paths import Project

Reconciler = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(station base means z × h, département base mean h, past hourly errors (1+z) × n) → z × h."""

LEVEL_GRAINS = (
    ("station", "hour"),
    ("station", "day"),
    ("departement", "hour"),
    ("departement", "day"),
    ("commune", "hour"),
    ("commune", "day"),
)


def summing_matrix(n_bottom: int) -> np.ndarray:
    """S = [1ᵀ; I]: the département, then each zone."""
    return np.vstack([np.ones((1, n_bottom)), np.eye(n_bottom)])


def combine(base: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Bottom series of the generalised-least-squares reconciliation with error covariance w."""
    s = summing_matrix(base.shape[0] - 1)
    w_inv_s = np.linalg.solve(w, s)
    projection = np.linalg.solve(s.T @ w_inv_s, w_inv_s.T)  # (SᵀW⁻¹S)⁻¹SᵀW⁻¹
    bottom: np.ndarray = projection @ base
    return bottom


def stacked(stations: np.ndarray, dep: np.ndarray) -> np.ndarray:
    return np.vstack([dep[None, :], stations])


def ols(stations: np.ndarray, dep: np.ndarray, errors: np.ndarray) -> np.ndarray:
    return combine(stacked(stations, dep), np.eye(len(stations) + 1))


def wls_struct(stations: np.ndarray, dep: np.ndarray, errors: np.ndarray) -> np.ndarray:
    return combine(stacked(stations, dep), np.diag(summing_matrix(len(stations)).sum(axis=1)))


def wls_var(stations: np.ndarray, dep: np.ndarray, errors: np.ndarray) -> np.ndarray:
    return combine(stacked(stations, dep), np.diag(np.mean(errors**2, axis=1)))


def shrunk_covariance(errors: np.ndarray) -> np.ndarray:
    """Schäfer–Strimmer shrinkage of the (uncentred) error covariance towards its diagonal."""
    e = errors.T  # observations × series
    n = e.shape[0]
    cov = e.T @ e / n
    scaled = e / np.sqrt(np.diag(cov))
    corr = scaled.T @ scaled / n
    v = ((scaled**2).T @ (scaled**2) - n * corr**2) / (n * (n - 1))
    np.fill_diagonal(v, 0.0)
    off = corr**2
    np.fill_diagonal(off, 0.0)
    lam = float(np.clip(v.sum() / off.sum(), 0.0, 1.0))
    shrunk: np.ndarray = lam * np.diag(np.diag(cov)) + (1.0 - lam) * cov
    return shrunk


def mint_shrink(stations: np.ndarray, dep: np.ndarray, errors: np.ndarray) -> np.ndarray:
    return combine(stacked(stations, dep), shrunk_covariance(errors))


def top_down_fp(stations: np.ndarray, dep: np.ndarray, errors: np.ndarray) -> np.ndarray:
    total = stations.sum(axis=0)
    share = np.divide(
        stations, total, out=np.full_like(stations, 1 / len(stations)), where=total > 0
    )
    out: np.ndarray = share * dep
    return out


RECONCILERS: dict[str, Reconciler] = {
    "top_down_fp": top_down_fp,
    "ols": ols,
    "wls_struct": wls_struct,
    "wls_var": wls_var,
    "mint_shrink": mint_shrink,
}
APPROACHES = ("bottom_up", "top_down_own", "top_down_hist", *RECONCILERS)


@dataclass(frozen=True)
class Bases:
    """Base forecasts of both levels over the same windows, and their cost."""

    data: PanelData  # the station panel
    station: BacktestResult
    departement: BacktestResult
    seconds: dict[str, float]  # per level, whole backtest
    horizon: int


@dataclass(frozen=True)
class Reconciled:
    predictions: pd.DataFrame  # model = approach, station rows as in a backtest
    seconds: dict[str, float]  # per approach, reconciliation only, all scored windows
    clipped: dict[str, int]  # station-hours set from < 0 to 0


def base_backtests(events: pd.DataFrame, territory: Territory, params: TrainParams) -> Bases:
    """The training backtest of CatBoost at the station level and at the département level."""
    frequency = params.frequency_of(territory)
    data = with_covariates(modelled_panel(History.of_events(events), territory, params), territory)
    dep_panel = count_panel(
        events,
        territory,
        "departement",
        frequency,
        start=data.start,
        end=data.end,
        by_category=False,
    )
    config = backtest_config(params, territory)
    spec = make_spec(frequency, config.horizon)
    areas = list(dict.fromkeys(data.panel.series["area_code"].astype(str)))
    results: dict[str, BacktestResult] = {}
    seconds: dict[str, float] = {}
    for level, panel, level_areas in (
        ("station", data.panel, areas),
        ("departement", dep_panel, [territory.name]),
    ):
        t0 = time.perf_counter()
        attributes = area_attributes(territory, level, level_areas)
        results[level] = run_backtest(panel, spec, territory, attributes, config)
        seconds[level] = time.perf_counter() - t0
        print(f"{level} backtest: {len(results[level].windows)} windows in {seconds[level]:.1f} s")
    return Bases(data, results["station"], results["departement"], seconds, config.horizon)


def window_matrix(result: BacktestResult, k: int, column: str, horizon: int) -> np.ndarray:
    frame = result.predictions[result.predictions["window"] == k]
    return frame[column].to_numpy(np.float64).reshape(-1, horizon)


def reconcile_windows(bases: Bases, warmup: int, allocation_periods: int) -> Reconciled:
    """Every approach on each window after the warm-up, from errors of earlier windows only."""
    frames: list[pd.DataFrame] = []
    seconds = dict.fromkeys(APPROACHES, 0.0)
    clipped = dict.fromkeys(APPROACHES, 0)
    past_errors: list[np.ndarray] = []
    h = bases.horizon
    for w in bases.station.windows:
        stations = window_matrix(bases.station, w.index, "mean", h)
        dep = window_matrix(bases.departement, w.index, "mean", h)[0]
        if w.index >= warmup:
            past = np.hstack(past_errors)
            bottoms = {"bottom_up": stations}
            t0 = time.perf_counter()
            counts = bases.data.panel.counts[:, max(w.origin - allocation_periods, 0) : w.origin]
            recent = counts.sum(axis=1)
            bottoms["top_down_hist"] = (recent / recent.sum())[:, None] * dep
            seconds["top_down_hist"] += time.perf_counter() - t0
            for name, reconcile in RECONCILERS.items():
                t0 = time.perf_counter()
                bottoms[name] = reconcile(stations, dep, past)
                seconds[name] += time.perf_counter() - t0
            base = bases.station.predictions[bases.station.predictions["window"] == w.index]
            for name, bottom in bottoms.items():
                clipped[name] += int((bottom < 0).sum())
                frames.append(
                    base.reset_index(drop=True).assign(
                        model=name,
                        window=w.index - warmup,
                        mean=np.maximum(bottom, 0.0).reshape(-1),
                    )
                )
        past_errors.append(
            np.vstack(
                [
                    window_matrix(bases.departement, w.index, "actual", h) - dep,
                    window_matrix(bases.station, w.index, "actual", h) - stations,
                ]
            )
        )
    return Reconciled(pd.concat(frames, ignore_index=True), seconds, clipped)


def score(
    *,
    events: pd.DataFrame,
    territory: Territory,
    params: TrainParams,
    bases: Bases,
    reconciled: Reconciled,
    warmup: int,
) -> pd.DataFrame:
    """The training backtest's evaluation of every approach (all levels, grains, categories)."""
    scored = bases.station.windows[warmup:]
    first_origin = bases.data.panel.starts[scored[0].origin]
    areas = list(dict.fromkeys(bases.data.panel.series["area_code"].astype(str)))
    # Allocation measured before the first scored window, as in core.training.backtest:
    # every approach's zones as they are, and `top_down_own` = bottom_up's total, pooled.
    history = History.of_events(events)
    hierarchies = {
        allocation: fitted_hierarchy(
            history, territory, replace(params, allocation=allocation), areas, first_origin
        )
        for allocation in ("bottom_up", "top_down")
    }
    frequency = params.frequency_of(territory)
    actuals = history.level_actuals(
        territory,
        tuple(hierarchies["bottom_up"].levels),
        frequency,
        start=first_origin - pd.Timedelta(days=36),
        end=bases.data.end,
    )
    predictions = reconciled.predictions
    own = predictions[predictions["model"] == "bottom_up"].assign(model="top_down_own")
    metrics = [
        evaluate(
            BacktestResult(tuple(scored), frame, {}, {}),
            bases.data.panel.series,
            hierarchies[allocation],
            actuals,
            frequency=frequency,
            timezone=territory.timezone,
            coverage_target=params.coverage_target,
        ).metrics
        for frame, allocation in ((predictions, "bottom_up"), (own, "top_down"))
    ]
    return pd.concat(metrics, ignore_index=True)


def print_report(
    metrics: pd.DataFrame, bases: Bases, reconciled: Reconciled, n_scored: int
) -> None:
    pd.set_option("display.width", 200)
    for metric, label in (("rmsse", "RMSSE"), ("mae", "MAE"), ("bias_pct", "bias %")):
        table = metric_table(metrics, metric)
        table = table.reindex(index=pd.MultiIndex.from_tuples(LEVEL_GRAINS), columns=APPROACHES)
        print(f"\n## {label}, mean over windows (top_down_fp's département = département model)")
        print(table.round(3).to_string())
    per_window = metrics[(metrics["metric"] == "rmsse") & (metrics["kind"] == "ALL")]
    for level, grain in (("station", "hour"), ("departement", "day")):
        sel = per_window[(per_window["level"] == level) & (per_window["grain"] == grain)]
        table = sel.pivot_table(index="window", columns="model", values="value", sort=False)
        print(f"\n## RMSSE per window, {level} × {grain}")
        print(table.reindex(columns=APPROACHES).round(3).to_string())

    station_s = bases.seconds["station"] / len(bases.station.windows)
    dep_s = bases.seconds["departement"] / len(bases.departement.windows)
    uses = {
        "bottom_up": (1, 0),
        "top_down_own": (1, 0),
        "top_down_hist": (0, 1),
        **dict.fromkeys(RECONCILERS, (1, 1)),
    }
    print("\n## Cost per forecast origin (features + fit + predict; noisy: shared cores)")
    print(f"{'approach':<14} {'models':>10} {'reconcile':>12} {'total':>9} {'clipped <0':>11}")
    for name in APPROACHES:
        station, dep = uses[name]
        models = station_s * station + dep_s * dep
        rec = reconciled.seconds[name] / n_scored
        print(
            f"{name:<14} {models:8.1f} s {1000 * rec:9.2f} ms {models + rec:7.1f} s "
            f"{reconciled.clipped[name]:>11}"
        )
    print(f"(station model {station_s:.1f} s, département model {dep_s:.1f} s per origin)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=7)
    parser.add_argument("--windows", type=int, default=4, help="scored weekly windows")
    parser.add_argument("--warmup", type=int, default=2, help="earlier windows for the weights")
    parser.add_argument("--step-weeks", type=int, default=1, help="weeks between origins")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=None, help="CatBoost (params.yaml)")
    args = parser.parse_args()

    root = Project.locate().root
    territory = load_territory(root / "territories" / "essonne.yaml")
    section = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    section["catboost"]["thread_count"] = args.threads
    if args.iterations:
        section["catboost"]["iterations"] = args.iterations
    params = TrainParams(**section)
    week = horizon_periods(params.horizon, params.frequency_of(territory))
    params = replace(
        params,
        n_windows=args.warmup + args.windows,
        step=week * args.step_weeks,
        models=("catboost",),
    )

    t0 = time.perf_counter()
    end = dt.date(2025, 12, 31)
    events = generate_events(territory, dt.date(end.year - args.years + 1, 1, 1), end, seed=7)
    print(
        f"generated {len(events):,} events ({args.years} years), {time.perf_counter() - t0:.1f} s"
    )
    bases = base_backtests(events, territory, params)
    per_year = 8766 / PERIOD_HOURS[params.frequency_of(territory)]
    reconciled = reconcile_windows(bases, args.warmup, round(params.allocation_years * per_year))
    # The département base forecast must be exactly `top_down_fp`'s département.
    dep_windows = bases.departement.predictions["window"] >= args.warmup
    dep_base = float(bases.departement.predictions.loc[dep_windows, "mean"].sum())
    fp = reconciled.predictions.loc[reconciled.predictions["model"] == "top_down_fp", "mean"]
    assert abs(dep_base - float(fp.sum())) < 1e-6 * dep_base, (dep_base, float(fp.sum()))
    t0 = time.perf_counter()
    metrics = score(
        events=events,
        territory=territory,
        params=params,
        bases=bases,
        reconciled=reconciled,
        warmup=args.warmup,
    )
    print(f"evaluation of {len(APPROACHES)} approaches: {time.perf_counter() - t0:.1f} s")

    scored = bases.station.windows[args.warmup :]
    starts = bases.data.panel.starts
    print(
        f"\n{args.windows} scored windows of {week} hours, origins "
        f"{starts[scored[0].origin].date()} … {starts[scored[-1].origin].date()} "
        f"every {args.step_weeks} week(s), after "
        f"{args.warmup} warm-up window(s) for the weights; {args.years} generated years; CatBoost "
        f"{section['catboost']['iterations']} iterations on {params.train_years:g} years; "
        "all categories together."
    )
    print_report(metrics, bases, reconciled, len(scored))


if __name__ == "__main__":
    from benchlib.common import recorded

    with recorded(
        "reconciliation",
        "Bottom-up vs reconciled station and département forecasts",
        (__doc__ or "").split("\n\n")[0],
    ):
        main()
