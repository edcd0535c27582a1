"""Accuracy across the seasons: 12 weekly windows 4 weeks apart, two generated histories.

params.yaml's backtest scores the 4 latest weeks (December: Christmas, flu); 28 département
days cannot separate models closer than a few per cent. This bench runs the production backtest
(params.yaml `train:`, every model) on those 4 December windows, then on 12 weekly windows 4
weeks apart covering the last year of two generated Essonne histories (7 years each, seeds 7
and 11), and scores every model:
- against the actual counts (RMSSE, bias %, 80 % coverage; the training report's metrics);
- against the generator's mean (bench/benchlib/truth.py): RMSE of station × hour, station × day and
  département × day forecasts against the noise-free expected counts, and the truth's own
  RMSE against actuals (the floor no forecast can beat on actuals);
- CatBoost against each model on the département's days: Diebold–Mariano t of the squared
  errors' difference (|t| < 2: not separable) and the days CatBoost was closer;
then the département's weekly bias of CatBoost per window, against actuals and against the
truth (where the realised noise, not the model, makes the bias).
Last, issue #4's judged criteria (CatBoost's RMSSE below every baseline's at station × hour and
département × day, département × day bias within ±2 %, 80 % intervals covering 78–90 % at
station × day and département × day) per set and over all the windows together (each window
weighs the same), with the Diebold–Mariano test over all the département days end to end.

Writes bench/results/seasons.md. Usage: .venv/bin/python bench/bench_seasons.py [--seeds 7 11]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

import pandas as pd
import yaml

from benchlib.common import Report, peak_rss_mib
from benchlib.criteria import MAIN, criteria
from benchlib.truth import (
    against_truth,
    day_errors,
    paired_days,
    scored_stations,
    station_truth,
    weekly_bias,
)

LEVELS = (("station", "hour"), ("station", "day"), ("departement", "hour"), ("departement", "day"))
END = dt.date(2025, 12, 31)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--step-weeks", type=int, default=4)
    args = parser.parse_args()

    from previsecours.adapters.covariates import with_covariates
    from previsecours.config import TrainParams
    from previsecours.core.generator import generate_events
    from previsecours.core.history import History
    from previsecours.core.training import backtest, modelled_panel
    from previsecours.paths import Project
    from previsecours.settings import load_settings

    root = Project.locate().root
    territory = load_settings("essonne", root).territory
    section = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    production = TrainParams(**section)
    seasons = TrainParams(**{**section, "n_windows": args.windows, "step": 168 * args.step_weeks})
    report = Report("seasons", "Accuracy across the seasons — generated Essonne, hourly", __doc__)
    report.add(
        f"\nparams.yaml `train:` (allocation {production.allocation}, "
        f"{production.train_years:g} training years, CatBoost "
        f"{dict(production.model_params.get('catboost', {}))}); "
        f"{production.windows_for('hour')} windows of {production.horizon} as in production, "
        f"then {args.windows}, {args.step_weeks} weeks apart."
    )
    start = dt.date(END.year - 6, 1, 1)
    cases = [(f"{production.windows_for('hour')} December windows, seed 7", 7, production)]
    cases += [(f"{args.windows} windows, seed {seed}", seed, seasons) for seed in args.seeds]
    histories: dict[int, pd.DataFrame] = {}
    windows, days, verdicts = [], [], {}
    for name, seed, params in cases:
        if seed not in histories:
            histories[seed] = generate_events(territory, start, END, seed=seed)
        t0 = time.perf_counter()
        history = History.of_events(histories[seed])
        data = with_covariates(modelled_panel(history, territory, params), territory)
        outcome = backtest(history, territory, params, data)
        seconds = time.perf_counter() - t0
        origins = sorted(outcome.result.predictions.groupby("window")["period_start"].min())
        report.add(
            f"\n## {name}\n\n{len(histories[seed]):,} events {start} … {END}; origins "
            f"{origins[0]:%Y-%m-%d} … {origins[-1]:%Y-%m-%d}; backtest {seconds:.0f} s."
        )
        truth = station_truth(territory, start, END, seed)
        stations = _case_tables(report, name, outcome, territory, truth)
        metrics = outcome.evaluation.metrics
        windows.append(metrics[metrics["window"] != "all"].assign(case=name))
        days.append(day_errors(stations, truth, territory.timezone))
        verdicts[name] = criteria(windows[-1])
    _closing(report, windows, days, verdicts)
    report.add(f"\npeak RSS {peak_rss_mib():,.0f} MiB")
    report.write()


def _case_tables(
    report: Report, name: str, outcome: Any, territory: Any, truth: Any
) -> pd.DataFrame:
    from previsecours.core.backtest import metric_table

    metrics = outcome.evaluation.metrics
    for metric in ("rmsse", "bias_pct", "coverage_80"):
        table = metric_table(metrics, metric).reindex(pd.MultiIndex.from_tuples(LEVELS))
        table.index = [f"{level} × {grain}" for level, grain in LEVELS]
        report.table(f"{metric}, {name} (mean over windows)", table.T, digits=3)
    stations = scored_stations(outcome, territory)
    for level, table in against_truth(stations, truth, territory.timezone).items():
        report.table(f"against the generator's mean, {level}, {name}", table, digits=3)
    report.table(
        f"CatBoost against each model, département × day, {name}",
        paired_days(day_errors(stations, truth, territory.timezone)),
        digits=2,
    )
    weeks = weekly_bias(stations, truth, MAIN)
    report.table(f"CatBoost's département week per window, {name}", weeks, digits=1)
    return stations


def _closing(
    report: Report,
    windows: list[pd.DataFrame],
    days: list[pd.DataFrame],
    verdicts: dict[str, pd.DataFrame],
) -> None:
    every = pd.concat(windows, ignore_index=True)
    n = every.groupby(["case", "window"]).ngroups
    together = f"all {n} windows together"
    report.add(f"\n## Issue #4's criteria\n\n{len(verdicts)} sets: " + "; ".join(verdicts) + ".")
    for name, table in verdicts.items():
        report.table(f"criteria, {name}", table)
    report.table(f"criteria, {together}", criteria(every))
    ranked = every[(every["metric"] == "rmsse") & (every["kind"] == "ALL")]
    report.table(
        f"rmsse, {together}",
        ranked.pivot_table(index="model", columns=["level", "grain"], values="value"),
        digits=4,
    )
    report.table(
        f"CatBoost against each model, département × day, {together}",
        paired_days(pd.concat(days, ignore_index=True)),
        digits=2,
    )


if __name__ == "__main__":
    main()
