"""Accuracy across the seasons: 12 weekly windows 4 weeks apart, two generated histories.

params.yaml's backtest scores the 4 latest weeks (December: Christmas, flu); 28 département
days cannot separate models closer than a few per cent. This bench runs the production backtest
(params.yaml `train:`, every model) on 12 weekly windows 4 weeks apart covering the last year of
two generated Essonne histories (7 years each, seeds 7 and 11), and scores every model twice:
- against the actual counts (RMSSE, bias %, 80 % coverage; the training report's metrics);
- against the generator's mean (bench/truth.py): RMSE of station × hour, station × day and
  département × day forecasts against the noise-free expected counts, and the truth's own
  RMSE against actuals (the floor no forecast can beat on actuals);
then the département's weekly bias of CatBoost per window, against actuals and against the
truth (where the realised noise, not the model, makes the bias).

Writes bench/results/seasons.md. Usage: .venv/bin/python bench/bench_seasons.py [--seeds 7 11]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import pandas as pd
import yaml

from common import Report, peak_rss_mib
from truth import against_truth, scored_stations, station_truth, weekly_bias

LEVELS = (("station", "hour"), ("station", "day"), ("departement", "hour"), ("departement", "day"))
END = dt.date(2025, 12, 31)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11])
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--step-weeks", type=int, default=4)
    args = parser.parse_args()

    from previsecours.core.backtest import metric_table
    from previsecours.core.generator import generate_events
    from previsecours.pipelines.train import backtest, train_params
    from previsecours.settings import load_settings, repository_root

    root = repository_root()
    territory = load_settings("essonne", root).territory
    section = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    section.update(n_windows=args.windows, step=168 * args.step_weeks)
    params = train_params(section)
    report = Report("seasons", "Accuracy across the seasons — generated Essonne, hourly", __doc__)
    report.add(
        f"\nparams.yaml `train:` (allocation {params.allocation}, {params.train_years:g} training "
        f"years, CatBoost {dict(params.model_params.get('catboost', {}))}) with "
        f"{args.windows} windows of {params.horizon}, {args.step_weeks} weeks apart."
    )
    start = dt.date(END.year - 6, 1, 1)
    for seed in args.seeds:
        t0 = time.perf_counter()
        events = generate_events(territory, start, END, seed=seed)
        outcome = backtest(events, territory, params)
        seconds = time.perf_counter() - t0
        metrics = outcome.evaluation.metrics
        origins = sorted(outcome.result.predictions.groupby("window")["period_start"].min())
        report.add(
            f"\n## Seed {seed}\n\n{len(events):,} events {start} … {END}; origins "
            f"{origins[0]:%Y-%m-%d} … {origins[-1]:%Y-%m-%d}; backtest {seconds:.0f} s."
        )
        for metric in ("rmsse", "bias_pct", "coverage_80"):
            table = metric_table(metrics, metric).reindex(pd.MultiIndex.from_tuples(LEVELS))
            table.index = [f"{level} × {grain}" for level, grain in LEVELS]
            report.table(f"{metric}, seed {seed} (mean over windows)", table.T, digits=3)
        stations = scored_stations(outcome, territory)
        truth = station_truth(territory, start, END, seed)
        for name, table in against_truth(stations, truth, territory.timezone).items():
            report.table(f"against the generator's mean, {name}, seed {seed}", table, digits=3)
        weeks = weekly_bias(stations, truth, "catboost")
        report.table(f"CatBoost's département week per window, seed {seed}", weeks, digits=1)
    report.add(f"\npeak RSS {peak_rss_mib():,.0f} MiB")
    report.write()


if __name__ == "__main__":
    main()
