"""Prévisecours against the peers on event data (generated Essonne, Montgomery County 911).

One path for every model:
1. Prévisecours runs its production backtest: `core.training.backtest` with the train
   section given (params.yaml's), so CatBoost and the core baselines (seasonal naive, seasonal
   window average, …) are exactly what `previsecours train` fits and scores.
2. The same modelled series (area × period of the modelled level, all categories together),
   the same windows (origins, horizon) and the same training span go to the peer environment
   (bench/benchlib/common.py: write_inputs, run_peers).
3. Every peer's means are put in the backtest's layout and scored by `core.backtest.evaluate`
   with the same hierarchy (category shares, commune weights) and the same actuals as the
   production backtest: every level and grain, the same metric code, and for everyone the
   same interval method (negative binomial around the mean, dispersion cross-fitted on the
   other windows). The peers' own intervals are scored apart at the modelled grain.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchlib.common import (
    WORK,
    PeerTask,
    Report,
    peak_rss_mib,
    peer_predictions,
    run_peers,
    write_inputs,
)
from previsecours.adapters.covariates import with_covariates
from previsecours.config import TrainParams
from previsecours.core import metrics as m
from previsecours.core.backtest import BacktestResult, evaluate
from previsecours.core.history import History
from previsecours.core.territory import Territory
from previsecours.core.training import (
    BacktestOutcome,
    PanelData,
    backtest,
    backtest_config,
    modelled_panel,
)

OURS = "catboost"
PEERS = ("sf_seasonal_naive", "sf_window_average", "mstl_ets", "lgbm_poisson", "prophet")
LABELS = {
    OURS: "Prévisecours (CatBoost)",
    "seasonal_naive": "peer: seasonal naive (core)",
    "seasonal_average_4": "peer: seasonal window average 4 (core)",
    "last_period": "peer: last period (core)",
    "sf_seasonal_naive": "peer: statsforecast SeasonalNaive",
    "sf_window_average": "peer: statsforecast SeasonalWindowAverage(4)",
    "mstl_ets": "peer: statsforecast MSTL + AutoETS trend",
    "lgbm_poisson": "peer: mlforecast + LightGBM Poisson",
    "prophet": "peer: Prophet",
    "poisson_glm": "project alt.: Poisson GLM",
    "reference_3y": "project alt.: reference 3 years",
    "reference_3y_pm2": "project alt.: reference 3 years ±2 weeks",
    "reference_3y_pm2_trend": "project alt.: reference 3 years ±2 weeks × recent growth",
}
"""Peers are what a user would pick instead; "project alt." are the project's own other models."""
METRICS = (
    "rmsse",
    "mae",
    "rmse",
    "poisson_deviance",
    "bias_pct",
    "pinball",
    "coverage_80",
    "coverage_95",
)
SEASONS = {"hour": (24, 168), "day": (7,), "week": (52,)}


@dataclass(frozen=True)
class Comparison:
    outcome: BacktestOutcome  # the production backtest (CatBoost and the core baselines)
    data: PanelData
    metrics: pd.DataFrame  # every model, evaluate's long layout
    predictions: pd.DataFrame  # every model at the modelled grain (+ peers' own quantiles)
    peers: dict  # seconds, skipped (with the reason), versions
    seconds: dict[str, float]


def compare(
    events: pd.DataFrame,
    territory: Territory,
    params: TrainParams,
    folder_name: str,
    peers: Sequence[str] = PEERS,
) -> Comparison:
    seconds: dict[str, float] = {}
    history = History.of_events(events)
    t0 = time.perf_counter()
    data = with_covariates(modelled_panel(history, territory, params), territory)
    outcome = backtest(history, territory, params, data)
    seconds["prévisecours backtest (all core models)"] = time.perf_counter() - t0
    frequency = params.frequency_of(territory)
    config = backtest_config(params, territory)
    task = PeerTask(
        folder=WORK / folder_name,
        frequency=frequency,
        seasons=SEASONS[frequency],
        horizon=config.horizon,
        train_periods=config.train_periods or 0,
        windows=tuple((w.origin, w.end) for w in outcome.result.windows),
        models=tuple(peers),
    )
    write_inputs(task, data.panel.series, data.panel.starts, data.panel.counts)
    t0 = time.perf_counter()
    peer_info = run_peers(task)
    seconds["peers (their environment, all)"] = time.perf_counter() - t0
    aligned = align(outcome.result.predictions, peer_predictions(task, data.panel.starts))
    t0 = time.perf_counter()
    peer_metrics = score_like_backtest(
        outcome, aligned, history, territory, params=params, data=data
    )
    seconds["scoring the peers"] = time.perf_counter() - t0
    metrics = pd.concat([outcome.evaluation.metrics, peer_metrics], ignore_index=True)
    predictions = pd.concat([outcome.result.predictions, aligned], ignore_index=True)
    return Comparison(outcome, data, metrics, predictions, peer_info, seconds)


def align(core: pd.DataFrame, peers: pd.DataFrame) -> pd.DataFrame:
    """Peer rows in the backtest's row order (series, then period), with the actuals."""
    keys = ["window", "area_code", "category", "period_start"]
    base = core[core["model"] == OURS][[*keys, "actual"]].reset_index(drop=True)
    frames = []
    for model, frame in peers.groupby("model", sort=False):
        merged = base.merge(frame.drop(columns="model"), on=keys, how="left", validate="1:1")
        if merged["mean"].isna().any():
            raise ValueError(f"{model}: {int(merged['mean'].isna().sum())} forecasts missing")
        frames.append(merged.assign(model=model))
    return pd.concat(frames, ignore_index=True)


def score_like_backtest(
    outcome: BacktestOutcome,
    predictions: pd.DataFrame,
    history: History,
    territory: Territory,
    *,
    params: TrainParams,
    data: PanelData,
) -> pd.DataFrame:
    """`evaluate` with the production backtest's hierarchy and actuals (as in
    core.training.backtest)."""
    frequency = params.frequency_of(territory)
    first_origin = data.panel.starts[outcome.result.windows[0].origin]
    scaling_days = 104 * 7 if frequency == "week" else 36
    actuals = history.level_actuals(
        territory,
        tuple(outcome.hierarchy.levels),
        frequency,
        start=first_origin - pd.Timedelta(days=scaling_days),
        end=data.end,
    )
    result = BacktestResult(outcome.result.windows, predictions, {}, {})
    return evaluate(
        result,
        data.panel.series,
        outcome.hierarchy,
        actuals,
        frequency=frequency,
        timezone=territory.timezone,
        coverage_target=params.coverage_target,
    ).metrics


def label(model: str) -> str:
    return LABELS.get(model, model)


def level_table(metrics: pd.DataFrame, level: str, grain: str) -> pd.DataFrame:
    """Models × metrics over all windows (all categories together), ranked by RMSSE."""
    sel = metrics[
        (metrics["window"] == "all")
        & (metrics["kind"] == "ALL")
        & (metrics["level"] == level)
        & (metrics["grain"] == grain)
        & metrics["metric"].isin(METRICS)
    ]
    table = sel.pivot_table(index="model", columns="metric", values="value", sort=False)
    table = table.reindex(columns=[c for c in METRICS if c in table.columns])
    table = table.sort_values("rmsse")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table.index = pd.Index([label(str(i)) for i in table.index], name="model")
    return table


def verdict(table: pd.DataFrame, heading: str, ours: str = LABELS[OURS]) -> str:
    """Plainly, on RMSSE: first among the peers, within 1 % of the best peer, or behind by how
    much; and whether one of the project's other models does better still."""
    if ours not in table.index:
        return f"- {heading}: Prévisecours not scored"
    own = float(table.loc[ours, "rmsse"])
    names = pd.Series(table.index, index=table.index)
    peers = table[names.str.startswith("peer:")]["rmsse"]
    best, best_name = float(peers.min()), str(peers.idxmin())
    gap = 100 * (own - best) / best
    rank = int(table.loc[ours, "rank"])
    if gap <= 0:
        state = (
            f"FIRST among peers (RMSSE {own:.3f}, {-gap:.1f} % better than {best_name} {best:.3f})"
        )
    elif gap <= 1:
        state = f"WITHIN 1 % of the best peer ({best_name} {best:.3f}; ours {own:.3f})"
    else:
        state = f"NOT first: {gap:.1f} % behind {best_name} ({best:.3f} vs ours {own:.3f})"
    alternatives = table[names.str.startswith("project alt.")]["rmsse"]
    better = alternatives[alternatives < own]
    if len(better):
        state += "; the project's own " + ", ".join(
            f"{k.removeprefix('project alt.: ')} does better ({v:.3f})" for k, v in better.items()
        )
    return f"- {heading}: overall rank {rank} of {len(table)}, {state}"


def own_intervals(predictions: pd.DataFrame) -> pd.DataFrame:
    """Peers' own intervals at the modelled grain: coverage and pinball on their quantiles."""
    rows = {}
    for model, frame in predictions.groupby("model", sort=False):
        if "q10" not in frame or frame["q10"].isna().all():
            continue
        y = frame["actual"].to_numpy(float)
        row = {"coverage_80": m.coverage(y, frame["q10"].to_numpy(), frame["q90"].to_numpy())}
        if frame["q2_5"].notna().all():
            row["coverage_95"] = m.coverage(y, frame["q2_5"].to_numpy(), frame["q97_5"].to_numpy())
        rows[label(str(model))] = row
    return pd.DataFrame(rows).T.rename_axis("model")


def fit_seconds_table(comparison: Comparison) -> pd.DataFrame:
    """Fit + predict seconds over all windows, per model (core ones from the backtest)."""
    result = comparison.outcome.result
    seconds = {
        label(k): result.fit_seconds.get(k, 0.0) + result.predict_seconds.get(k, 0.0)
        for k in result.fit_seconds
    }
    skipped = comparison.peers.get("skipped", {})
    seconds.update(
        {label(k): v for k, v in comparison.peers["seconds"].items() if k not in skipped}
    )
    return pd.DataFrame({"seconds (all windows)": seconds}).rename_axis("model")


def report_closing(
    report: Report, comparison: Comparison, verdicts: Sequence[str], modelled: str
) -> None:
    """The tables and lines every peer bench ends with: the peers' own intervals at the
    `modelled` grain, fit time, the verdicts, skipped peers, stage times and peer versions."""
    base = comparison.predictions
    own = own_intervals(base[base["model"].isin(PEERS)])
    if len(own):
        report.table(
            f"Peers' own intervals at {modelled} (the tables above use the project's NB "
            "intervals for everyone)",
            own,
        )
    report.table(
        "Fit + predict time over all windows (s, 2 shared cores)", fit_seconds_table(comparison), 1
    )
    report.add("\n### Verdict (RMSSE, all categories together)\n\n" + "\n".join(verdicts))
    skipped = comparison.peers.get("skipped", {})
    if skipped:
        report.add("\nSkipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    report.add(
        "\nStages: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in comparison.seconds.items())
        + f"; peak RSS (main process) {peak_rss_mib():.0f} MiB. Peer versions: "
        + ", ".join(f"{k} {v}" for k, v in comparison.peers.get("versions", {}).items())
    )
