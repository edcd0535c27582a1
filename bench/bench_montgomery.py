"""Real Montgomery County (PA) 911 calls against the peers: hourly per township and county.

Maps ../shared/data/montco911/911.zip through the ingestion path's reader and mapping
(adapters.readers.read_extract, core.ingest.map_events with territories/montgomery-pa.yaml: no
intervention id, categories from "EMS: …" titles, US/Eastern local time), keeps calls with a
known township and category, then compares Prévisecours (its production backtest with
params.yaml's `train:` section; only `model_level` is set to `commune`, the territory having
no coverage zones) with the peers on the same township × hour series and windows
(bench/benchlib/accuracy.py). Levels: township (the territory's "commune") and the county (its
"departement"); grains: hour and day.

Writes bench/results/montgomery.md. Usage: .venv/bin/python bench/bench_montgomery.py
"""

from __future__ import annotations

import argparse
import time

import yaml

from benchlib.accuracy import PEERS, compare, level_table, report_closing, verdict
from benchlib.common import Report
from benchlib.real_data import montco_events

HEADLINE = (
    ("commune", "hour"),
    ("commune", "day"),
    ("departement", "hour"),
    ("departement", "day"),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--windows", type=int, help="fewer backtest windows than params.yaml's (cost; stated)"
    )
    args = parser.parse_args()

    from previsecours.config import TrainParams
    from previsecours.paths import Project

    root = Project.locate().root
    report = Report(
        "montgomery",
        "Accuracy against the peers — real Montgomery County 911 calls, hourly",
        (__doc__ or "").split("\n\n")[0],
    )
    t0 = time.perf_counter()
    territory, events, rows_read = montco_events(root, root.parent / "shared" / "data")
    section = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))["train"]
    section["model_level"] = "commune"
    production_windows = section.get("n_windows")
    if args.windows:
        section["n_windows"] = args.windows
    params = TrainParams(**section)
    report.add(
        f"\n{len(events):,} calls kept of {rows_read:,} "
        f"({events['alert_time'].min().date()} … {events['alert_time'].max().date()}), read and "
        f"mapped in {time.perf_counter() - t0:.0f} s. Prévisecours: params.yaml `train:` with "
        f"model level commune ({params.windows_for('hour')} windows of {params.horizon}, "
        f"{params.train_years:g} training years)."
    )
    if args.windows and args.windows != production_windows:
        report.add(
            f"\n**{args.windows} windows instead of params.yaml's {production_windows}** (cost)."
        )
    comparison = compare(events, territory, params, "montgomery", PEERS)
    windows = comparison.outcome.result.windows
    starts = comparison.data.panel.starts
    report.add(
        f"\nWindows: {len(windows)} × {windows[0].end - windows[0].origin} hours, origins "
        + ", ".join(str(starts[w.origin].date()) for w in windows)
        + f"; {len(comparison.data.panel.series)} township series (all categories together)."
    )
    verdicts = []
    names = {"commune": "township", "departement": "county"}
    for level, grain in HEADLINE:
        table = level_table(comparison.metrics, level, grain)
        heading = f"{names[level]} × {grain}"
        report.table(heading, table)
        verdicts.append(verdict(table, heading))
    report_closing(report, comparison, verdicts, "township × hour")
    report.write()


if __name__ == "__main__":
    main()
