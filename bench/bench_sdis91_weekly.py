"""Real SDIS 91 weekly totals: backtest over 2014–2015, 1-week horizon, weekly SUAP MAPE.

Reads ../shared/data/sdis91/weekly_totals_by_category_2010_2015.csv (département-wide weekly
counts per category, 2010–2015, with real covariates), builds the département × category × week
panel (missing source weeks stay unknown, never zero), and backtests every model with one
window per week of 2014–2015 (origin steps of one week, refit at each origin, all the history
before it). Covariates (flu incidence, mean temperature, school holidays) enter lagged by the
horizon: last week's values, known when forecasting.

Prints weekly SUAP MAPE (and all categories' total) per model and year; the naive "last week"
forecast is the reference the issue names (≈ 6.5 % on later years).

Usage: .venv/bin/python bench/bench_sdis91_weekly.py [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

COVARIATES = ("inc_grippe", "temperature_average", "has_vacation")
CATEGORIES = ("SUAP", "ACCI", "INCU", "INCN", "AUTR")
TZ = "Europe/Paris"


def load(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(path)
    year, week = raw["yearweek"] // 100, raw["yearweek"] % 100
    monday = [dt.date.fromisocalendar(int(y), int(w), 1) for y, w in zip(year, week, strict=True)]
    raw["period_start"] = pd.DatetimeIndex(pd.to_datetime(monday)).tz_localize(TZ).as_unit("s")
    counts = raw.melt(
        id_vars=["period_start"],
        value_vars=list(CATEGORIES),
        var_name="category",
        value_name="count",
    ).assign(area_code="essonne")
    covariates = raw.set_index("period_start")[list(COVARIATES)].astype(float)
    return counts, covariates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.backtest import BacktestConfig, run_backtest
    from previsecours.core.features import area_attributes, make_spec
    from previsecours.core.panel import DensePanel, panel_from_counts
    from previsecours.settings import repository_root

    root = repository_root()
    territory = load_territory(root / "territories" / "essonne.yaml")
    counts, covariates = load(
        str(root.parent / "shared" / "data" / "sdis91" / "weekly_totals_by_category_2010_2015.csv")
    )
    start = counts["period_start"].min()
    end = counts["period_start"].max() + pd.Timedelta(days=7)
    panel = panel_from_counts(counts, "week", TZ, start, end)
    known = panel.starts.isin(pd.DatetimeIndex(counts["period_start"].unique()))
    dense = panel.counts.copy()
    dense[:, ~known] = np.nan  # a week missing from the source is unknown, not zero
    panel = DensePanel(panel.series, panel.starts, dense)
    spec = make_spec("week", 1, covariates=COVARIATES)
    attributes = area_attributes(territory, "departement", ["essonne"])
    n_windows = int((panel.starts >= pd.Timestamp("2014-01-01", tz=TZ)).sum())
    models = (
        "catboost",
        "last_period",
        "seasonal_naive",
        "seasonal_average_4",
        "reference_3y",
        "reference_3y_pm2",
        "poisson_glm",
    )
    config = BacktestConfig(
        horizon=1,
        n_windows=n_windows,
        step=1,
        refit=True,
        models=models,
        model_params={
            "catboost": {"iterations": 300, "depth": 4, "thread_count": args.threads},
        },
    )
    t0 = time.perf_counter()
    result = run_backtest(panel, spec, territory, attributes, config, covariates=covariates)
    seconds = time.perf_counter() - t0
    p = result.predictions.dropna(subset=["actual"])
    p = p.assign(year=pd.DatetimeIndex(p["period_start"]).year)
    print(f"## SDIS 91 weekly, {n_windows} one-week windows over 2014–2015 ({seconds:.0f} s)")
    suap = p[p["category"] == "SUAP"]
    ape = (suap["mean"] - suap["actual"]).abs() / suap["actual"] * 100
    table = ape.groupby([suap["model"], suap["year"]]).mean().unstack("year")
    table["2014–2015"] = ape.groupby(suap["model"]).mean()
    total = p.groupby(["model", "period_start"])[["actual", "mean"]].sum()
    total_ape = (
        ((total["mean"] - total["actual"]).abs() / total["actual"] * 100).groupby("model").mean()
    )
    table["all categories 2014–2015"] = total_ape
    print("\nWeekly MAPE % (SUAP by year; all categories' total)")
    print(table.loc[list(models)].round(2).to_string())
    print("\nFit seconds per model (all windows):")
    print("  " + ", ".join(f"{k} {v:.1f}" for k, v in result.fit_seconds.items()))


if __name__ == "__main__":
    main()
