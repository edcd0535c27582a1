"""A model at the day grain against the hourly model's daily sums, on the hourly real datasets.

Issue #18 suggests fitting a model at the grain that is judged instead of summing hourly
forecasts. The platform models one frequency; this experiment measures what a day-grain model
would give before building it: for each hourly dataset of bench/bench_real.py (Denver, city
total; Montgomery, townships) it aggregates the counts (and Denver's covariates: the day's mean
temperature, any home game) to local days, runs the production backtest with params.yaml's
`train:` at the day frequency, 7 days ahead, at the origins of bench_real.py's cached hourly run
(bench/out/real/<dataset>.pkl: run bench_real.py first), with two peers on the same daily
series, and scores, on the daily run's levels:

- `day grain: <model>`: the daily model's days;
- `hourly sums: <model>`: the hourly run's forecasts summed to the same days;
- `mean of grains: <model>`: the mean of the two;
- every other row: a model of the daily run (its baselines, its single candidates, the peers).

RMSSE scales are the daily series' own (a week with a left-out day is a partial sum in the
scale's history too): compare rows within a table, not with bench/results/real_data.md.

A day whose hours are not all known (fewer than 23 of them) is left out of the daily series.
Writes bench/results/day_grain.md. Usage (bench/ on the path):
    PYTHONPATH=bench .venv/bin/python bench/experiments/exp_day_grain.py
        [--datasets denver montco911]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import pandas as pd
import yaml

from benchlib.common import WORK, Report
from benchlib.real_data import RealDataset, load

PEERS = ("sf_window_average", "lgbm_poisson")
KEYS = ["window", "area_code", "category", "period_start"]
SHOWN = ("catboost", "catboost:all_four", "catboost:all_three")


def day_dataset(ds: RealDataset) -> RealDataset:
    """The same service at the day grain, 7 days ahead."""
    from previsecours.core.history import History

    overrides = {**ds.overrides, "frequency": "day", "horizon": "7d"}
    if not ds.history.is_counts:  # events: the panel is built at the day grain directly
        return replace(ds, name=f"{ds.name}_day", overrides=overrides)
    tz = ds.territory.timezone
    frame = ds.history.frame
    days = pd.DatetimeIndex(frame["period_start"]).tz_convert(tz).normalize()
    hours = frame.assign(day=days).groupby("day").size()
    whole = hours[hours >= 23].index
    counts = (
        frame.assign(period_start=days)
        .groupby(["period_start", "area_code", "category"], as_index=False)["count"]
        .sum()
    )
    counts = counts[counts["period_start"].isin(whole)]
    counts["period_start"] = pd.DatetimeIndex(counts["period_start"]).as_unit("s")
    covariates = None
    if ds.covariates is not None:
        cov = ds.covariates
        by_day = pd.DatetimeIndex(cov.index).tz_convert(tz).normalize()
        covariates = pd.DataFrame(
            {
                c: cov[c].groupby(by_day).max()
                if c in ds.known_ahead
                else cov[c].groupby(by_day).mean()
                for c in cov.columns
            }
        )
    return replace(
        ds,
        name=f"{ds.name}_day",
        history=History.of_counts(counts, "day"),
        overrides=overrides,
        covariates=covariates,
    )


def hourly_sums(hourly: dict, tz: str) -> pd.DataFrame:
    """The hourly run's CatBoost forecasts summed to local days."""
    rows = hourly["predictions"]
    rows = rows[rows["model"].isin(SHOWN)]
    day = pd.DatetimeIndex(rows["period_start"]).tz_convert(tz).normalize().as_unit("s")
    return rows.assign(period_start=day).groupby(["model", *KEYS], as_index=False)["mean"].sum()


def with_grains(daily: pd.DataFrame, sums: pd.DataFrame) -> pd.DataFrame:
    """The daily run's rows, plus the hourly sums and the mean of both grains per model."""
    out = [daily[~daily["model"].isin(SHOWN)]]
    for model in SHOWN:
        own = daily[daily["model"] == model]
        if own.empty:
            continue
        hourly = sums[sums["model"] == model][[*KEYS, "mean"]].rename(columns={"mean": "hourly"})
        merged = own.merge(hourly, on=KEYS, how="inner")
        out.append(own.assign(model=f"day grain: {model}"))
        out.append(
            merged.drop(columns="hourly").assign(
                model=f"hourly sums: {model}", mean=merged["hourly"]
            )
        )
        mean = (merged["mean"] + merged["hourly"]) / 2
        out.append(
            merged.drop(columns="hourly").assign(model=f"mean of grains: {model}", mean=mean)
        )
    return pd.concat(out, ignore_index=True)


def summary_row(level: str, table: pd.DataFrame) -> dict:
    rmsse = table["rmsse"]
    peers = rmsse[rmsse.index.str.startswith("peer:")]
    row: dict = {"dataset × level": level}
    for kind in ("hourly sums", "day grain", "mean of grains"):
        row[kind] = rmsse.get(f"{kind}: catboost", float("nan"))
    row["best peer"] = float(peers.min())
    return row


def main() -> None:
    import bench_real
    from previsecours.paths import Project

    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["denver", "montco911"])
    args = parser.parse_args()
    root = Project.locate().root
    train = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    report = Report(
        "day_grain", "A day-grain model against the hourly model's daily sums", __doc__ or ""
    )
    summary: list[dict] = []
    for name in args.datasets:
        ds = load(name, root)
        hourly = pd.read_pickle(WORK / "real" / f"{name}.pkl")
        tz = ds.territory.timezone
        origins = tuple(
            str(pd.Timestamp(hourly["starts"][o]).tz_convert(tz).date())
            for _, o, _ in hourly["windows"]
        )
        daily_ds = day_dataset(ds)
        run = bench_real.run_models(daily_ds, train, origins, PEERS)
        run["predictions"] = with_grains(run["predictions"], hourly_sums(hourly, tz))
        report.add(f"\n## {ds.title}: {len(origins)} origins ({origins[0]} … {origins[-1]})")
        for (level, grain), table in bench_real.score(daily_ds, run).items():
            if table is None:
                continue
            shown = table[["rmsse", "mase", "bias_pct", "coverage_80", "coverage_95"]]
            report.table(f"{name}: {level} × {grain}", shown.sort_values("rmsse"))
            summary.append(summary_row(f"{name}: {level} × {grain}", table))
    report.table(
        "Summary: the chosen CatBoost (`catboost`) at each grain, RMSSE",
        pd.DataFrame(summary).set_index("dataset × level"),
        note="best peer: the lower of the two peers, on the daily series.",
    )
    report.write()


if __name__ == "__main__":
    main()
