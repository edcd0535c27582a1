"""Real Montgomery County (PA) 911 calls: hourly forecasts per township and for the county.

Maps ../shared/data/montco911/911.zip with the territory file (territories/montgomery-pa.yaml,
the ingest mapping: no intervention id, categories from "EMS: …" titles, US/Eastern local time),
keeps calls with a known township and category, and backtests township × hour (categories
together, split by measured shares) with 4 weekly windows: CatBoost against the seasonal naive
(same hour last week), the 4-week seasonal average and the Poisson GLM. Levels: township (the
territory's "commune") and the county (its "departement"); grains: hour and day.

Usage: .venv/bin/python bench/bench_montgomery.py [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from previsecours.adapters.readers import read_extract
    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.backtest import metric_table
    from previsecours.core.ingest import map_events
    from previsecours.core.schema import CANONICAL_COLUMNS
    from previsecours.pipelines.train import backtest, train_params
    from previsecours.settings import repository_root

    root = repository_root()
    territory = load_territory(root / "territories" / "montgomery-pa.yaml")
    path = root.parent / "shared" / "data" / "montco911" / "911.zip"
    raw = read_extract(path)
    mapped = map_events(raw.frame, territory, path.name, raw.row_complete, raw.text_source).frame
    events = mapped[list(CANONICAL_COLUMNS)]
    keep = (
        events["alert_time"].notna()
        & events["category"].isin(territory.categories)
        & events["commune_code"].isin(territory.commune_codes)
    )
    events = events[keep].drop_duplicates("intervention_id").reset_index(drop=True)
    print(f"{len(events):,} calls kept of {len(raw.frame):,}")
    params = train_params(
        {
            "model_level": "commune",
            "split_categories": True,
            "horizon": "7d",
            "n_windows": 4,
            "train_years": 0.5,
            "history_years": 1.0,
            "allocation_years": 1.0,
            "models": ["catboost", "seasonal_naive", "seasonal_average_4", "poisson_glm"],
            "catboost": {"thread_count": args.threads},
        }
    )
    t0 = time.perf_counter()
    outcome = backtest(events, territory, params)
    print(f"backtest in {time.perf_counter() - t0:.0f} s: {dict(outcome.result.fit_seconds)}")
    pd.set_option("display.width", 200)
    metrics = outcome.evaluation.metrics
    for metric in ("rmsse", "mae", "poisson_deviance", "bias_pct", "coverage_80"):
        print(f"\n## {metric} (4 windows of 7 days, all categories)")
        print(metric_table(metrics, metric).round(3).to_string())


if __name__ == "__main__":
    main()
