"""Quick CatBoost experiments on generated Essonne data (backtest + evaluation only, no MLflow).

Generates (and caches under /tmp) `--years` of events ending `--end` with `--seed`, runs the
rolling-origin backtest of `--windows` weekly windows for the listed models with the params.yaml
`train:` section (optionally overridden: `--set catboost.depth=5`), and prints RMSSE per level ×
grain for every model, then (when CatBoost is listed) bias % and 80 % coverage. Meant for
iterating on features and settings, also on windows other than the official bench's (other
seasons, other seeds); confirm any choice with bench/bench_train.py.

`--truth` also prints, per model, the RMSE of its station × hour, station × day and
département × day forecasts (as scored: after the hierarchy's allocation; `--save` writes these
station rows) against the actual counts and against the generator's own expected counts (the
noise-free truth: seeded episodes × calendar × levels, before the daily gamma multiplier and the
Poisson draw). With 28 days scored,
the ranking against actuals is mostly the realised noise; against the truth it is accuracy.

Usage (bench/ on the path for `benchlib`, the bench scripts' helpers):
    PYTHONPATH=bench .venv/bin/python bench/experiments/exp_catboost.py [--years 5]
           [--end 2025-06-30] [--seed 7] [--windows 4] [--models catboost,seasonal_naive,...]
           [--set catboost.depth=5 ...] [--truth] [--save p.parquet] [--load p.parquet]
`--years 7` (default end and seed) is bench/bench_train.py's data: same backtest figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

if TYPE_CHECKING:
    from previsecours.core.territory import Territory
    from previsecours.core.training import BacktestOutcome

ALL_MODELS = "catboost,seasonal_naive,seasonal_average_4,reference_3y,reference_3y_pm2,poisson_glm"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--end", default="2025-12-31")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--windows", type=int, default=4)
    parser.add_argument("--models", default=ALL_MODELS)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--truth", action="store_true")
    parser.add_argument("--save", help="write the backtest predictions to this Parquet file")
    parser.add_argument("--load", help="skip the backtest: --truth on these saved predictions")
    args = parser.parse_args()

    from benchlib.truth import scored_stations
    from previsecours.core.generator import generate_events
    from previsecours.paths import Project
    from previsecours.settings import load_settings

    root = Project.locate().root
    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    section = params["train"]
    section["models"] = args.models.split(",")
    section["n_windows"] = args.windows
    for item in args.set:
        key, value = item.split("=", 1)
        target = section
        *path, last = key.split(".")
        for p in path:
            target = target.setdefault(p, {})
        target[last] = yaml.safe_load(value)
    settings = load_settings("essonne", root)
    end = dt.date.fromisoformat(args.end)
    cache = Path(f"/tmp/exp/events_{args.seed}_{args.years}_{end}.parquet")
    start = dt.date(end.year - args.years, end.month, end.day) + dt.timedelta(days=1)
    if cache.exists():
        events = pd.read_parquet(cache)
    else:
        events = generate_events(settings.territory, start, end, seed=args.seed)
        cache.parent.mkdir(parents=True, exist_ok=True)
        events.to_parquet(cache)
    if args.load:
        _print_truth(pd.read_parquet(args.load), settings.territory, start, end, args.seed)
        return
    t0 = time.perf_counter()
    outcome = _backtest(events, settings.territory, section)
    seconds = time.perf_counter() - t0
    # As scored (see bench/benchlib/truth.py).
    stations = scored_stations(outcome, settings.territory)
    if args.save:
        stations.to_parquet(args.save)
    _print_tables(args, seconds, outcome)
    if args.truth:
        _print_truth(stations, settings.territory, start, end, args.seed)


def _backtest(
    events: pd.DataFrame, territory: Territory, section: dict[str, Any]
) -> BacktestOutcome:
    """The production backtest (core.training) of the `train:` section on these events."""
    from previsecours.adapters.covariates import with_covariates
    from previsecours.config import TrainParams
    from previsecours.core.history import History
    from previsecours.core.training import backtest, modelled_panel

    history, params = History.of_events(events), TrainParams(**section)
    data = with_covariates(modelled_panel(history, territory, params), territory)
    return backtest(history, territory, params, data)


def _print_tables(args: argparse.Namespace, seconds: float, outcome: object) -> None:
    from previsecours.core.backtest import metric_table

    metrics = outcome.evaluation.metrics  # type: ignore[attr-defined]
    pd.set_option("display.width", 200)
    print(f"{args} backtest {seconds:.0f} s, fits {outcome.result.fit_seconds}")  # type: ignore[attr-defined]
    print(metric_table(metrics, "rmsse").round(3).to_string())
    if "catboost" in args.models:
        print(metric_table(metrics, "bias_pct").round(2).to_string())
        print(metric_table(metrics, "coverage_80").round(3).to_string())


def _print_truth(
    stations: pd.DataFrame, territory: object, start: dt.date, end: dt.date, seed: int
) -> None:
    from benchlib.truth import against_truth, station_truth

    truth = station_truth(territory, start, end, seed)
    for name, table in against_truth(stations, truth, territory.timezone).items():  # type: ignore[attr-defined]
        print(f"\n{name}")
        print(table.round(4).to_string())


if __name__ == "__main__":
    main()
