"""Which candidates and combinations to ship: the per-origin choice among subsets, rescored.

bench/bench_real.py caches each dataset's run (bench/out/real/<dataset>.pkl) with every CatBoost
candidate's and combination's forecasts and their mean RMSSE per backtest window. For each
`--set` (names without the `catboost:` prefix, the first taking the first origin), this replays
what Prévisecours would have forecast at each origin — the member of the set a training
retrained every week would have chosen then (bench_real.choices_before_origin: its own windows
and the remembered ones, `--keep` in all, default `train.choice_windows`; 0: its own only) —
and prints, per dataset × level × grain, its RMSSE gap to the best peer (%, negative: ahead),
and the mean gap. Nothing is refitted: run bench_real.py once with every name of the sets in
params.yaml first.

Usage (bench/ on the path):
    PYTHONPATH=bench .venv/bin/python bench/experiments/exp_candidate_sets.py
        --set yearly_level,recent_level --set yearly_level,recent_level,all_three [--keep 0]
"""

from __future__ import annotations

import argparse

import pandas as pd

from benchlib.accuracy import LABELS, OURS
from benchlib.common import WORK
from benchlib.real_data import DATASETS, load


def main() -> None:
    import bench_real
    from previsecours.core.backtest import Window
    from previsecours.paths import Project

    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--set", action="append", required=True, dest="sets")
    parser.add_argument(
        "--keep", type=int, help="windows the choice reads (default: train.choice_windows)"
    )
    args = parser.parse_args()
    root = Project.locate().root
    rows = []
    for name in args.datasets:
        ds = load(name, root)
        cached = pd.read_pickle(WORK / "real" / f"{name}.pkl")
        scores = cached["candidate_window_rmsse"]
        windows = [Window(index, origin, end) for index, origin, end in cached["windows"]]
        others = cached["predictions"][cached["predictions"]["model"] != OURS]
        for text in args.sets:
            names = [f"catboost:{n}" for n in text.split(",")]
            params = cached["params"]
            choices = bench_real.choices_before_origin(
                scores,
                windows,
                names,
                own=params.windows_for(cached["frequency"]),
                keep=args.keep if args.keep is not None else params.choice_windows,
            )
            run = {**cached, "predictions": bench_real.picked(others, choices)}
            for (level, grain), table in bench_real.score(ds, run).items():
                if table is None:
                    continue
                best = float(table[table.index.str.startswith("peer:")]["rmsse"].min())
                ours = float(table.loc[LABELS[OURS], "rmsse"])
                rows.append(
                    {
                        "level": f"{name}: {level} × {grain}",
                        "set": text,
                        "gap_pct": round(100 * (ours - best) / best, 1),
                    }
                )
    frame = pd.DataFrame(rows).pivot_table(
        index="level", columns="set", values="gap_pct", sort=False
    )
    print(frame.to_string())
    print("\nmean gap %:\n" + frame.mean().round(2).to_string())
    print("levels not ahead (gap > -0.5 %):\n" + (frame > -0.5).sum().to_string())


if __name__ == "__main__":
    main()
