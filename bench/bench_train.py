"""Training at Essonne scale on generated data: time and memory per step, accuracy per level.

Generates 7 years of hourly Essonne interventions (the calibrated generator, seed 7), runs the
whole `train` (panel, backtest of 4 weekly windows for every model, final fit, MLflow logging
and registration in a temporary home), then prints:
- seconds per step and peak RSS (resource.getrusage);
- RMSSE, bias % and 80/95 % coverage per level × grain and model (all categories together),
  and issue #4's judged criteria on these windows (bench/benchlib/criteria.py);
- CatBoost vs LightGBM fit time on the same final training matrix (same trees, depth, rate).

Usage: .venv/bin/python bench/bench_train.py [--years 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from previsecours.core.generator import generate_events
    from previsecours.paths import Project
    from previsecours.settings import load_settings

    params = yaml.safe_load(Project.locate().params_file.read_text(encoding="utf-8"))
    params["train"].setdefault("catboost", {})["thread_count"] = args.threads
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
        settings = load_settings("essonne", home)
        t0 = time.perf_counter()
        end = dt.date(2025, 12, 31)
        events = generate_events(
            settings.territory, dt.date(end.year - args.years + 1, 1, 1), end, seed=7
        )
        print(f"generated {len(events):,} events in {time.perf_counter() - t0:.1f} s")
        from previsecours.core.history import History
        from previsecours.pipelines.train import fit, record

        t0 = time.perf_counter()
        result = record(settings, fit(settings, history=History.of_events(events)))
        steps = {**result.seconds, "total": time.perf_counter() - t0}
        print("\n## Whole train (panel + backtest + final fit + MLflow logging)")
        for step, seconds in steps.items():
            print(f"  {step:<22} {seconds:7.1f} s")
        print(f"  peak RSS               {peak_rss_gb():7.2f} GB")
        print(f"  registered version     {result.version}")
        _accuracy_tables(home, settings)
        _catboost_vs_lightgbm(settings, events, args.threads)


def _accuracy_tables(home: Path, settings: object) -> None:
    from previsecours.core.backtest import metric_table

    metrics = pd.read_parquet(home / "data" / "backtest" / "essonne" / "metrics.parquet")
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    for metric in ("rmsse", "bias_pct", "coverage_80", "coverage_95", "pinball"):
        print(f"\n## {metric} (4 windows of 7 days, all categories)")
        print(metric_table(metrics, metric).round(3).to_string())
    print("\n## CatBoost, each category (pooled) ")
    cat = metrics[(metrics["model"] == "catboost") & (metrics["window"] == "all")]
    cat = cat[cat["kind"] == "category"].pivot_table(
        index=["level", "grain"], columns="metric", values="value", sort=False
    )
    print(cat[["rmsse", "bias_pct", "coverage_80", "coverage_95"]].round(3).to_string())
    from benchlib.criteria import criteria

    print(
        "\n## Issue #4's criteria on these windows (bench_seasons.py: on 28 windows, 2 histories)"
    )
    print(criteria(metrics[metrics["window"] != "all"]).to_string())


def _catboost_vs_lightgbm(settings, events: pd.DataFrame, threads: int) -> None:  # type: ignore[no-untyped-def]
    import lightgbm as lgb

    from previsecours.adapters.covariates import with_covariates
    from previsecours.core.features import area_attributes, build_features
    from previsecours.core.history import History
    from previsecours.core.models.boosting import DEFAULTS, CatBoostCount
    from previsecours.core.training import backtest_config, history_params, modelled_panel

    history = History.of_events(events)
    params = history_params(settings.params.train, history, settings.territory)
    data = with_covariates(modelled_panel(history, settings.territory, params), settings.territory)
    config = backtest_config(params, settings.territory)
    from previsecours.core.features import make_spec

    spec = make_spec(params.frequency_of(settings.territory), config.horizon)
    areas = list(dict.fromkeys(data.panel.series["area_code"].astype(str)))
    attributes = area_attributes(settings.territory, params.model_level, areas)
    n = len(data.panel.starts)
    block = build_features(
        data.panel, spec, settings.territory, attributes, first=n - config.train_periods, last=n
    )
    known = ~np.isnan(block.y)
    x, y = block.matrix[known], block.y[known]
    cb_params = {**DEFAULTS, **params.model_params.get("catboost", {}), "thread_count": threads}
    t0 = time.perf_counter()
    CatBoostCount(cb_params).fit(x, y)
    cb = time.perf_counter() - t0
    t0 = time.perf_counter()
    lgb.LGBMRegressor(
        objective="poisson",
        n_estimators=int(cb_params["iterations"]),
        learning_rate=float(cb_params["learning_rate"]),
        num_leaves=2 ** int(cb_params["depth"]),
        max_depth=int(cb_params["depth"]),
        subsample=float(cb_params["subsample"]),
        subsample_freq=1,
        n_jobs=threads,
        verbose=-1,
    ).fit(x, y)
    lg = time.perf_counter() - t0
    print(f"\n## Fit time on the same matrix ({len(x):,} rows × {x.shape[1]} features)")
    print(f"  CatBoost {cb:6.1f} s   LightGBM {lg:6.1f} s   ratio {cb / lg:4.2f}×")


if __name__ == "__main__":
    from benchlib.common import recorded

    with recorded(
        "train",
        "Training at Essonne scale: time per step, memory, accuracy, CatBoost vs LightGBM",
        (__doc__ or "").split("\n\n")[0],
    ):
        main()
