"""How `train` grows: wall time and peak memory for 1, 2, 4, 8 years and 10, 25, 50, 100 stations.

Each case is one fresh process running `pipelines.train.train` on a home whose store
holds generated events (written beforehand by the parent, not timed): Essonne with 1, 2, 4, 8
years of history, and synthetic territories (core/synthetic_territory.py, Essonne's densities:
about 2/3 of the stations own a coverage zone) of 10, 25, 50 and 100 stations with 2 years.
The training is params.yaml's `train:` section with three changes that keep the sweep short and
make the history the variable: one backtest window (`n_windows: 1`), CatBoost alone
(`models: [catboost]`), and `train_years` = `history_years` = the years in the store.

Also measured in each process: the floor — reading the stored events and one pass over them
(counting events per commune × hour) — to set against the whole training.

The growth law is a least-squares fit of log(seconds) and log(peak MiB) on log(rows), rows =
modelled series × hourly periods of the training span (the final fit's matrix). Wall time on
shared cores moves with the other jobs' load; the training's CPU time (user + system) is given
beside it and is the steadier measure of how the work grows.

Writes bench/results/growth.md. Usage: .venv/bin/python bench/bench_growth.py
    [--years 1 2 4 8] [--stations 10 25 50 100]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchlib.common import REPO, Report

END = dt.date(2025, 12, 31)
SEED = 7


def prepare(home: Path, territory_file: Path, years: int) -> int:
    """params.yaml (the repo's, with the sweep's changes) and the generated store; events."""
    from previsecours.adapters import store
    from previsecours.core.generator import generate_events
    from previsecours.settings import load_settings

    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["train"].update(
        n_windows=1, models=["catboost"], train_years=float(years), history_years=float(years)
    )
    home.mkdir(parents=True, exist_ok=True)
    (home / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    settings = load_settings(str(territory_file), home)
    start = dt.date(END.year - years + 1, 1, 1)
    events = generate_events(settings.territory, start, END, SEED)
    store.write_events(settings.paths, settings.territory, events)
    return len(events)


def measure(territory_file: str, home: str) -> dict[str, object]:
    """In the child: the floor, then the whole training; seconds per step and peak RSS."""
    t0 = time.perf_counter()
    from previsecours.adapters import store
    from previsecours.core.history import History
    from previsecours.pipelines.train import fit, record
    from previsecours.settings import load_settings

    imports = time.perf_counter() - t0
    settings = load_settings(territory_file, Path(home))
    t0 = time.perf_counter()
    events = store.read_events(settings.paths, settings.territory)
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    hour = events["alert_time"].dt.tz_convert("UTC").dt.floor("h")
    events.groupby([events["commune_code"], hour]).size()
    one_pass = time.perf_counter() - t0
    peak_floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    result = record(settings, fit(settings, history=History.of_events(events)), register=False)
    train = time.perf_counter() - t0
    train_cpu = _cpu_seconds() - cpu0
    params = settings.params.train
    zones = len(settings.territory.coverage_zones) or len(settings.territory.communes)
    hours = round(params.train_years * 8766)
    return {
        "events": len(events),
        "zones": zones,
        "rows": zones * hours,
        "imports_s": imports,
        "read_s": read,
        "one_pass_s": one_pass,
        "train_s": train,
        "train_cpu_s": train_cpu,
        "steps": {**result.seconds, "total": train},  # as `train` reports it
        "peak_floor_mib": peak_floor,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its threads: less sensitive than wall time
    to other jobs on the shared cores (it still grows with cache and memory contention)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_case(label: str, territory_file: Path, years: int, tmp: Path) -> dict[str, object]:
    home = tmp / label.replace(" ", "_")
    generated = prepare(home, territory_file, years)
    t0 = time.perf_counter()
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(territory_file), str(home)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if child.returncode:
        raise SystemExit(f"{label}: {child.stderr[-3000:]}")
    out: dict[str, object] = json.loads(child.stdout.strip().splitlines()[-1])
    out.update(case=label, years=years, generated=generated, process_s=wall)
    print(
        f"  {label}: {out['rows']:,} rows, train {out['train_s']:.0f} s, "
        f"peak {out['peak_mib']:.0f} MiB",
        flush=True,
    )
    return out


def slope(x: pd.Series, y: pd.Series) -> float:
    return float(np.polyfit(np.log(x.astype(float)), np.log(y.astype(float)), 1)[0])


def affine(x: pd.Series, y: pd.Series) -> tuple[float, float]:
    """y ≈ a + b·x (least squares): a fixed cost plus a cost per row."""
    b, a = np.polyfit(x.astype(float), y.astype(float), 1)
    return float(a), float(b)


def table(cases: list[dict[str, object]]) -> pd.DataFrame:
    rows = []
    for c in cases:
        steps = c["steps"]
        assert isinstance(steps, dict)
        rows.append(
            {
                "case": c["case"],
                "zones": c["zones"],
                "years": c["years"],
                "events": c["events"],
                "rows (zones × hours)": c["rows"],
                "process s": c["process_s"],
                "train s": c["train_s"],
                "train CPU s": c.get("train_cpu_s", np.nan),
                "backtest fit s": steps.get("backtest_fit_predict", np.nan),
                "evaluation s": steps.get("evaluation", np.nan),
                "final fit s": steps.get("final_fit", np.nan),
                "logging s": steps.get("logging", np.nan),
                "floor s (read + one pass)": float(c["read_s"]) + float(c["one_pass_s"]),  # type: ignore[arg-type]
                "peak MiB": c["peak_mib"],
                "floor peak MiB": c["peak_floor_mib"],
            }
        )
    return pd.DataFrame(rows).set_index("case")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--stations", type=int, nargs="*", default=[10, 25, 50, 100])
    args = parser.parse_args()

    from previsecours.adapters.territory_files import write_territory
    from previsecours.core.synthetic_territory import synthetic_territory

    essonne = REPO / "territories" / "essonne.yaml"
    by_years: list[dict[str, object]] = []
    by_stations: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-growth-") as name:
        tmp = Path(name)
        # Smallest first (about 2/3 of the stations own a zone), the results file rewritten
        # after each case: a sweep stopped early still leaves its smaller cases.
        cases = [(34 * y, "years", y) for y in args.years]
        cases += [(2 * n * 2 / 3, "stations", n) for n in args.stations]
        for _, kind, size in sorted(cases):
            if kind == "years":
                by_years.append(run_case(f"essonne {size}y", essonne, size, tmp))
            else:
                territory = synthetic_territory(f"synth{size}", size, seed=SEED)
                path = write_territory(territory, tmp / "territories")
                by_stations.append(run_case(f"synth {size} stations 2y", path, 2, tmp))
            write_report(by_years, by_stations)


def write_report(by_years: list[dict[str, object]], by_stations: list[dict[str, object]]) -> None:
    report = Report(
        "growth",
        "How `train` grows with history and territory size",
        (__doc__ or "").split("\n\n")[0],
    )
    laws = []
    for heading, cases in (
        ("history (Essonne, 34 zones)", by_years),
        ("stations (2 years)", by_stations),
    ):
        if not cases:
            continue
        frame = table(cases)
        report.table(f"Growth with {heading}", frame, 1)
        if len(frame) >= 2:
            rows = frame["rows (zones × hours)"]
            laws.append(
                f"- {heading}: train time ∝ rows^{slope(rows, frame['train s']):.2f} "
                f"(CPU time ∝ rows^{slope(rows, frame['train CPU s']):.2f}), "
                f"final fit ∝ rows^{slope(rows, frame['final fit s']):.2f}, "
                f"backtest fit ∝ rows^{slope(rows, frame['backtest fit s']):.2f}, "
                f"peak memory ∝ rows^{slope(rows, frame['peak MiB']):.2f} "
                f"(log-log least squares over {len(frame)} cases; 1.00 = linear)"
            )
            mem0, mem = affine(rows, frame["peak MiB"])
            cpu0, cpu = affine(rows, frame["train CPU s"])
            laws.append(
                f"  - affine: peak ≈ {mem0:.0f} MiB + {1000 * mem:.2f} MiB per 1,000 rows; "
                f"train CPU ≈ {cpu0:.0f} s + {1e6 * cpu:.0f} s per million rows "
                "(a fixed cost makes the log-log slope read below 1)"
            )
    report.add("\n### Growth law\n\n" + "\n".join(laws))
    report.write()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
    else:
        main()
