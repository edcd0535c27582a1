"""Quick model experiments on the real datasets, rescored against the cached peers.

Runs the production backtest (`core.training.backtest`, params.yaml's models) with each
`--variant`'s overrides of params.yaml's `train:` section, puts its predictions in place of the
CatBoost's in bench/bench_real.py's cached run (bench/out/real/<dataset>.pkl: run bench_real.py
once first), and prints, per dataset × level × grain, the variant's RMSSE and coverage beside
the best peer's. For iterating only: confirm a choice with bench/bench_real.py.

A variant is `name:key=value,key=value`; keys are `train:` keys, `catboost.<param>`,
`poisson_glm.<param>` or `known_ahead` (the dataset's covariates read at the period, a YAML
list, in place of its own); values are YAML. In a value, `@recent` is the rolling mean of about
four weeks of the frequency (roll_672, roll_28, roll_4) and `@year` the longest one.

Usage (bench/ on the path):
    PYTHONPATH=bench .venv/bin/python bench/experiments/exp_real_variants.py
        [--datasets sdis91 denver berlin] --variant base: --variant off:catboost.offset_column=@year
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import replace
from typing import Any

import pandas as pd
import yaml

from benchlib.accuracy import LABELS, OURS
from benchlib.common import WORK
from benchlib.real_data import DATASETS, load

ROLLS = {
    "hour": ("roll_672", "roll_8736"),
    "day": ("roll_28", "roll_364"),
    "week": ("roll_4", "roll_52"),
}


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    name, _, rest = text.partition(":")
    changes: dict[str, Any] = {}
    for item in filter(None, re.split(r",(?=[\w.]+=)", rest)):
        key, _, value = item.partition("=")
        changes[key.strip()] = value if value.startswith("@") else yaml.safe_load(value)
    return name, changes


def resolve(value: Any, frequency: str) -> Any:
    if value == "@recent":
        return ROLLS[frequency][0]
    if value == "@year":
        return ROLLS[frequency][1]
    if value == "@both":
        return "*".join(ROLLS[frequency])
    return value


def section_of(base: dict, changes: dict[str, Any], frequency: str) -> dict:
    section = dict(base)  # all its models: the combinations it may choose need them
    for key, value in changes.items():
        head, _, tail = key.partition(".")
        if tail:
            section[head] = {**section.get(head, {}), tail: resolve(value, frequency)}
        else:
            section[head] = resolve(value, frequency)
    return section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["sdis91", "denver", "berlin"])
    parser.add_argument("--variant", action="append", default=[])
    args = parser.parse_args()

    import bench_real
    from previsecours.paths import Project

    root = Project.locate().root
    train = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    lines = []
    for name in args.datasets:
        assert name in DATASETS
        ds = load(name, root)
        cached = pd.read_pickle(WORK / "real" / f"{name}.pkl")
        frequency = cached["frequency"]
        tz = ds.territory.timezone
        origins = tuple(
            str(pd.Timestamp(cached["starts"][o]).tz_convert(tz).date())
            for _, o, _ in cached["windows"]
        )
        others = cached["predictions"][cached["predictions"]["model"] != "catboost"]
        for text in args.variant or ["base:"]:
            vname, changes = parse_variant(text)
            ahead = changes.pop("known_ahead", ds.known_ahead)
            variant_ds = replace(ds, known_ahead=tuple(ahead))
            t0 = time.perf_counter()
            run = bench_real.run_models(
                variant_ds, section_of(train, changes, frequency), origins, ()
            )
            seconds = time.perf_counter() - t0
            mine = run["predictions"]
            mine = mine[mine["model"] == "catboost"]
            run["predictions"] = pd.concat([mine, others], ignore_index=True)
            run["peer_info"] = cached["peer_info"]
            for (level, grain), table in bench_real.score(ds, run).items():
                if table is None or LABELS[OURS] not in table.index:
                    continue
                ours = table.loc[LABELS[OURS]]
                peers = table[table.index.str.startswith("peer:")]["rmsse"]
                best = float(peers.min()) if len(peers) else float("nan")
                lines.append(
                    {
                        "dataset": name,
                        "level": f"{level} × {grain}",
                        "variant": vname,
                        "rmsse": round(float(ours["rmsse"]), 3),
                        "best_peer": round(best, 3),
                        "gap_pct": round(100 * (float(ours["rmsse"]) - best) / best, 1),
                        "cov80": round(float(ours["coverage_80"]), 3),
                        "cov95": round(float(ours["coverage_95"]), 3),
                        "bias": round(float(ours["bias_pct"]), 2),
                        "mape": round(float(ours.get("mape", float("nan"))), 2),
                        "s": round(seconds),
                    }
                )
            print(pd.DataFrame(lines).tail(4).to_string(index=False, header=False), flush=True)
    frame = pd.DataFrame(lines)
    print(
        "\n"
        + frame.pivot_table(
            index=["dataset", "level"], columns="variant", values="rmsse", sort=False
        ).to_string()
    )
    print(
        "\n"
        + frame.pivot_table(
            index=["dataset", "level"], columns="variant", values="gap_pct", sort=False
        ).to_string()
    )


if __name__ == "__main__":
    main()
