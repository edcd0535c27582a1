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

Usage: .venv/bin/python bench/exp_catboost.py [--years 5] [--end 2025-06-30] [--seed 7]
           [--windows 4] [--models catboost,seasonal_naive,...] [--set catboost.depth=5 ...]
           [--truth] [--save predictions.parquet] [--load predictions.parquet]
`--years 7` (default end and seed) is bench/bench_train.py's data: same backtest figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import pandas as pd
import yaml

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

    from previsecours.core.generator import generate_events
    from previsecours.pipelines.train import backtest, train_params
    from previsecours.settings import load_settings, repository_root

    params = yaml.safe_load((repository_root() / "params.yaml").read_text(encoding="utf-8"))
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
    settings = load_settings("essonne", repository_root())
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
        _against_truth(pd.read_parquet(args.load), settings.territory, start, end, args.seed)
        return
    t0 = time.perf_counter()
    outcome = backtest(events, settings.territory, train_params(section))
    seconds = time.perf_counter() - t0
    stations = scored_stations(outcome, settings.territory)
    if args.save:
        stations.to_parquet(args.save)
    _print_tables(args, seconds, outcome)
    if args.truth:
        _against_truth(stations, settings.territory, start, end, args.seed)


def _print_tables(args: argparse.Namespace, seconds: float, outcome: object) -> None:
    from previsecours.core.backtest import metric_table

    metrics = outcome.evaluation.metrics  # type: ignore[attr-defined]
    pd.set_option("display.width", 200)
    print(f"{args} backtest {seconds:.0f} s, fits {outcome.result.fit_seconds}")  # type: ignore[attr-defined]
    print(metric_table(metrics, "rmsse").round(3).to_string())
    if "catboost" in args.models:
        print(metric_table(metrics, "bias_pct").round(2).to_string())
        print(metric_table(metrics, "coverage_80").round(3).to_string())


def scored_stations(outcome: object, territory: object) -> pd.DataFrame:
    """Each model's station × hour means as scored: after the hierarchy's allocation (which,
    with `allocation: top_down`, is not the model's own station output)."""
    from previsecours.core.backtest import predictions_panel
    from previsecours.core.hierarchy import allocate

    result, hierarchy = outcome.result, outcome.hierarchy  # type: ignore[attr-defined]
    if hierarchy.model_level != "station":
        return result.predictions  # type: ignore[no-any-return]
    frames = []
    for (model, window), frame in result.predictions.groupby(["model", "window"], sort=False):
        series = frame[["area_code", "category"]].drop_duplicates().reset_index(drop=True)
        panel = predictions_panel(frame, series)
        tz = territory.timezone  # type: ignore[attr-defined]
        station = allocate(panel, hierarchy, tz, outcome.spec.frequency)["station"].to_frame()  # type: ignore[attr-defined]
        station = station[station["category"] == "ALL"].rename(columns={"count": "mean"})
        actual = frame.groupby(["area_code", "period_start"], as_index=False)["actual"].sum()
        merged = station.merge(actual, on=["area_code", "period_start"], how="inner")
        frames.append(merged.assign(model=model, window=window))
    return pd.concat(frames, ignore_index=True)


def _against_truth(
    predictions: pd.DataFrame, territory: object, start: dt.date, end: dt.date, seed: int
) -> None:
    """RMSE of each model's forecasts against actuals and the generator's mean, per level.

    The generator's mean of a station is its expected counts per category times the category's
    chance that the station answers first (commune weights × coverage shares).
    """
    import numpy as np

    from previsecours.core.generator import calendar, places, rates
    from previsecours.core.generator.episodes import draw_episodes
    from previsecours.core.generator.events import Streams

    grid = calendar.hourly_grid(start, end, territory.timezone)  # type: ignore[attr-defined]
    days = calendar.day_calendar(start, end, territory)  # type: ignore[arg-type]
    expected = rates.expected_counts(grid, days, draw_episodes(days, Streams(seed)("episodes")))
    where = places.territory_places(territory)  # type: ignore[arg-type]
    first = np.diff(where.station_cumulative, axis=1, prepend=0.0)  # [commune, station]
    by_station = expected @ (where.weights @ first)  # [hour, station]
    hours = pd.to_datetime(grid.utc_seconds, unit="s", utc=True)
    truth = pd.DataFrame(by_station, columns=list(where.station_codes))
    truth["period_start"] = hours
    truth = truth.melt("period_start", var_name="area_code", value_name="truth")
    frame = predictions.assign(period_start=predictions["period_start"].dt.tz_convert("UTC"))
    frame = frame.merge(truth, on=["period_start", "area_code"], how="left")
    if frame["truth"].isna().any():
        print("predictions are not at station level: no station truth")
        return
    local = predictions["period_start"]
    frame["day"] = local.dt.date.to_numpy()
    complete = frame.groupby(["model", "area_code", "day"])["period_start"].transform("size")
    day_hours = pd.Series(
        pd.Series(grid.day).value_counts().to_numpy(),
        index=[days.dates[i] for i in pd.Series(grid.day).value_counts().index],
    )
    frame = frame[complete.to_numpy() == day_hours.reindex(frame["day"]).to_numpy()]
    levels = {
        "station × hour": frame,
        "station × day": frame.groupby(["model", "area_code", "day"])[["mean", "actual", "truth"]]
        .sum()
        .reset_index(),
        "département × day": frame.groupby(["model", "day"])[["mean", "actual", "truth"]]
        .sum()
        .reset_index(),
    }
    for name, level in levels.items():
        rows = {}
        for model, g in level.groupby("model"):
            rows[model] = {
                "rmse_vs_actual": float(np.sqrt(np.mean((g["mean"] - g["actual"]) ** 2))),
                "rmse_vs_truth": float(np.sqrt(np.mean((g["mean"] - g["truth"]) ** 2))),
                "truth_rmse_vs_actual": float(np.sqrt(np.mean((g["truth"] - g["actual"]) ** 2))),
                "bias_vs_truth_pct": float(100 * (g["mean"].sum() / g["truth"].sum() - 1)),
            }
        print(f"\n{name} ({frame['day'].nunique()} whole days)")
        print(pd.DataFrame(rows).T.round(4).to_string())


if __name__ == "__main__":
    main()
