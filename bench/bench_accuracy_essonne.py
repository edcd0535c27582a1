"""Accuracy and calibration against the peers on generated Essonne data, hourly, 7 years.

Generates 2019–2025 (the calibrated generator, seed 7 — bench_train.py's data), runs
Prévisecours' production backtest with params.yaml's `train:` section (coverage zone × hour,
its windows and training span), the peers on the same series and windows in their own
environment, and scores everyone with the project's metric code (bench/benchlib/accuracy.py).
Headline levels: station × hour, station × day, département × hour, département × day.

The generator's expected counts are known (before its daily gamma multiplier and the Poisson
draw), so the département tables also give the share of the attainable skill:
(MSE of the seasonal naive − MSE of the model) / (MSE of the seasonal naive − MSE of the
generator's own mean), all against the actual counts.

Writes bench/results/accuracy_essonne.md. Usage:
    .venv/bin/python bench/bench_accuracy_essonne.py [--years 7] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd
import yaml

from benchlib.accuracy import LABELS, PEERS, compare, level_table, report_closing, verdict
from benchlib.common import Report
from benchlib.truth import generator_expected
from previsecours.config import TrainParams
from previsecours.core.history import History
from previsecours.core.territory import Territory
from previsecours.core.training import history_params
from previsecours.paths import Project
from previsecours.settings import load_settings

HEADLINE = (
    ("station", "hour"),
    ("station", "day"),
    ("departement", "hour"),
    ("departement", "day"),
)
REFERENCE = "seasonal_naive"


def generator_mean(territory: Territory, start: dt.date, end: dt.date, seed: int) -> pd.Series:
    """The generator's expected interventions per hour (all categories), by UTC hour start."""
    hours, expected = generator_expected(territory, start, end, seed)
    return pd.Series(expected.sum(axis=1), index=hours)


def attainable_skill(
    predictions: pd.DataFrame, truth: pd.Series, timezone: str
) -> dict[str, pd.DataFrame]:
    """Département × hour and × day: RMSE, and the share of the attainable skill, per model."""
    hourly = (
        predictions.groupby(["model", "window", "period_start"], sort=False)[["mean", "actual"]]
        .sum()
        .reset_index()
    )
    utc = pd.DatetimeIndex(hourly["period_start"]).tz_convert("UTC")
    hourly["truth"] = truth.reindex(utc).to_numpy()
    local_day = pd.DatetimeIndex(hourly["period_start"]).tz_convert(timezone).normalize()
    grouped = hourly.assign(day=local_day).groupby(["model", "window", "day"], sort=False)
    daily = grouped[["mean", "actual", "truth"]].sum()
    # Whole local days only (23–25 hours): a window need not start at midnight.
    daily = daily[grouped.size() >= 23].reset_index()
    out = {}
    for grain, frame in (("hour", hourly), ("day", daily)):
        mse = (
            frame.assign(
                model_se=(frame["mean"] - frame["actual"]) ** 2,
                truth_se=(frame["truth"] - frame["actual"]) ** 2,
            )
            .groupby("model")[["model_se", "truth_se"]]
            .mean()
        )
        truth_mse = float(mse["truth_se"].iloc[0])
        ref = float(mse.loc[REFERENCE, "model_se"])
        table = pd.DataFrame(
            {
                "rmse": np.sqrt(mse["model_se"]),
                "share_of_attainable_skill": (ref - mse["model_se"]) / (ref - truth_mse),
            }
        )
        table.loc["generator mean (oracle)"] = [np.sqrt(truth_mse), 1.0]
        table = table.sort_values("rmse")
        table.index = pd.Index([LABELS.get(str(i), str(i)) for i in table.index], name="model")
        out[grain] = table
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--windows", type=int, help="fewer backtest windows than params.yaml's (cost; stated)"
    )
    args = parser.parse_args()

    root = Project.locate().root
    section = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    production_windows = TrainParams(**section).windows_for("hour")
    if args.windows:
        section["n_windows"] = args.windows
    params = TrainParams(**section)
    territory = load_settings("essonne", root).territory
    end = dt.date(2025, 12, 31)
    start = dt.date(end.year - args.years + 1, 1, 1)
    report = Report(
        "accuracy_essonne",
        "Accuracy against the peers — generated Essonne, hourly",
        (__doc__ or "").split("\n\n")[0],
    )
    t0 = time.perf_counter()
    events = generate(territory, start, end, args.seed)
    modelled = history_params(params, History.of_events(events), territory).model_level
    report.add(
        f"\n{len(events):,} generated events {start} … {end} (seed {args.seed}) in "
        f"{time.perf_counter() - t0:.1f} s. Prévisecours: params.yaml `train:` "
        f"(model level {modelled}, {params.windows_for('hour')} windows of {params.horizon}, "
        f"{params.train_years:g} training years, "
        f"CatBoost {dict(params.model_params.get('catboost', {}))})."
    )
    if args.windows and args.windows != production_windows:
        report.add(
            f"\n**{args.windows} windows instead of params.yaml's {production_windows}** (cost)."
        )
    comparison = compare(events, territory, params, "accuracy_essonne", PEERS)
    windows = comparison.outcome.result.windows
    starts = comparison.data.panel.starts
    report.add(
        f"\nWindows: {len(windows)} × {windows[0].end - windows[0].origin} hours, origins "
        + ", ".join(str(starts[w.origin].date()) for w in windows)
        + ". Every model forecasts the same station × hour series (all categories together); "
        "levels above are sums, categories split by the measured shares (the production path)."
    )
    verdicts = []
    for level, grain in HEADLINE:
        table = level_table(comparison.metrics, level, grain)
        report.table(f"{level} × {grain}", table)
        verdicts.append(verdict(table, f"{level} × {grain}"))
    truth = generator_mean(territory, start, end, args.seed)
    base = comparison.predictions
    for grain, table in attainable_skill(base, truth, territory.timezone).items():
        report.table(
            f"département × {grain}: share of the attainable skill (against the generator's mean)",
            table,
            note="1 = as good as the generator's own expected counts, 0 = the seasonal naive.",
        )
    report_closing(report, comparison, verdicts, "station × hour")
    report.write()


def generate(territory: Territory, start: dt.date, end: dt.date, seed: int) -> pd.DataFrame:
    from previsecours.core.generator import generate_events

    return generate_events(territory, start, end, seed)


if __name__ == "__main__":
    main()
