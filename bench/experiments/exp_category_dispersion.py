"""One dispersion per category, or one for all categories of a level: which intervals cover?

The production backtest fits a dispersion on its own windows (params.yaml's 4); the real-data
bench fits each window's on every window before it. This replays the production case on
bench/bench_real.py's cached runs (bench/out/real/<dataset>.pkl: run bench_real.py first): at
each origin, α fitted on the `--last` windows just before it — pooled over every category's
rows, or each category's own — then the 80 / 95 % coverage of each category's NB intervals,
pooled over the origins that have `--last` windows before them. The chosen CatBoost's
forecasts (`catboost`), at the datasets' "each category" level.

Writes bench/results/category_dispersion.md. Usage (bench/ on the path):
    PYTHONPATH=bench .venv/bin/python bench/experiments/exp_category_dispersion.py
        [--datasets sdis91 berlin] [--last 4 13]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchlib.common import WORK, Report
from benchlib.real_data import Alphas, Rows, earlier_alphas, load, pooled_metrics


def alphas_before(rows: Rows, origin_end: dict, last: int, target: float, own: bool) -> Alphas:
    """Each origin's α per category from the `last` windows before it: each category's own as
    the platform fits it (`earlier_alphas`), or every category's rows pooled."""
    from previsecours.core.intervals import fit_dispersion

    if own:
        return earlier_alphas(rows, origin_end, target, last)
    out: Alphas = {}
    for k, (origin, _) in origin_end.items():
        before = sorted(j for j, (_, end) in origin_end.items() if end <= origin)[-last:]
        if len(before) < last:
            continue
        keep = np.isin(rows.window, before)
        pooled = fit_dispersion(rows.y[keep], rows.mean[keep], target)
        out[k] = {str(g): pooled for g in np.unique(rows.group)}
    return out


def coverage_row(rows: Rows, alphas: Alphas) -> dict[str, str]:
    out = {}
    for g in np.unique(rows.group):
        sub = Rows(*(getattr(rows, f)[rows.group == g] for f in Rows.__annotations__))
        m = pooled_metrics(sub, alphas)
        out[str(g)] = f"{m['coverage_80']:.2f} / {m['coverage_95']:.2f}"
    m = pooled_metrics(rows, alphas)
    out["every category"] = f"{m['coverage_80']:.2f} / {m['coverage_95']:.2f}"
    return out


def main() -> None:
    import bench_real
    from previsecours.paths import Project

    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["sdis91", "berlin"])
    parser.add_argument("--last", nargs="+", type=int, default=[4, 13])
    args = parser.parse_args()
    root = Project.locate().root
    report = Report(
        "category_dispersion", "A dispersion per category against one for all", __doc__ or ""
    )
    for name in args.datasets:
        ds = load(name, root)
        run = pd.read_pickle(WORK / "real" / f"{name}.pkl")
        rows = bench_real.level_rows(ds, run)
        origin_end = rows.pop("_origin_end")  # type: ignore[arg-type]
        for (level, grain), per_model in rows.items():
            if level != "each category":
                continue
            r = per_model["catboost"]
            table = {}
            for last in args.last:
                for own in (False, True):
                    alphas = alphas_before(r, origin_end, last, run["coverage_target"], own)
                    if alphas:  # some origin has `last` windows before it
                        kind = "each its own" if own else "pooled"
                        table[f"{last} windows, {kind}"] = coverage_row(r, alphas)
            frame = pd.DataFrame(table).T
            frame.index.name = "α fitted on"
            report.table(
                f"{name}: each category × {grain}, coverage 80 / 95 %",
                frame,
                note=f"{len(origin_end)} origins; goals 75–88 % and 91–98 %.",
            )
    report.write()


if __name__ == "__main__":
    main()
