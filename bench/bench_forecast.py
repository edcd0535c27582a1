"""Speed of the forecast step at Essonne scale: 7 days hourly, every level, area and category.

Goal (issue 5): the forecast flow in ≤ 30 s on 2 cores. Measured three ways:
- the pipeline in this process, step by step (champion load, history read, prediction of every
  level, 3-year references, crews, drivers, files);
- `previsecours forecast` in a fresh process (Python start-up and imports included);
- the Prefect flow `forecast` against a running (temporary) Prefect API, whose start-up is not
  counted (in production the server is already up).

The champion comes from `--home` when it has one; otherwise a temporary home is built first
(generated Essonne events 2021–2025, a training with the default CatBoost settings and one
backtest window, promotion) — that set-up is timed apart and is not the forecast's cost.

Usage: .venv/bin/python bench/bench_forecast.py [--home DIR] [--skip-flow]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import yaml

from previsecours.adapters import registry, store
from previsecours.paths import Project
from previsecours.settings import Settings, load_settings

CLI = "from previsecours.cli import main; main()"


def build_home(home: Path) -> float:
    """Generated history, one training, one promotion; returns the seconds it took."""
    from previsecours.core.generator import generate_events
    from previsecours.pipelines.promote import run_promote
    from previsecours.pipelines.train import train

    clock = time.perf_counter()
    params = yaml.safe_load(Project.locate().params_file.read_text(encoding="utf-8"))
    params["train"] = {**params.get("train", {}), "n_windows": 1}
    (home / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    settings = load_settings("essonne", home)
    events = generate_events(settings.territory, date(2021, 1, 1), date(2025, 12, 31), 7)
    store.write_events(settings.paths, settings.territory, events)
    train(settings)
    run_promote(settings, now=datetime.now(UTC))
    return time.perf_counter() - clock


def in_process(settings: Settings) -> dict[str, float]:
    from previsecours.pipelines.forecast import run_forecast

    clock = time.perf_counter()
    result = run_forecast(settings, now=pd.Timestamp.now(tz="UTC"))
    total = time.perf_counter() - clock
    rows = result.forecast.groupby("frequency").size().to_dict()
    print(
        f"  {len(result.forecast):,} forecast rows ({rows}), {len(result.staffing.shifts):,} "
        f"station shifts, {len(result.drivers):,} driver rows"
    )
    return {**result.seconds, "total (in process)": total}


def fresh_process(home: Path) -> float:
    clock = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CLI, "forecast", "--territory", "essonne"],
        check=True,
        capture_output=True,
        env={**os.environ, "PREVISECOURS_HOME": str(home)},
    )
    return time.perf_counter() - clock


def prefect_flow(home: Path) -> float:
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.forecast import forecast
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        clock = time.perf_counter()
        forecast(territory="essonne", home=str(home))
        return time.perf_counter() - clock


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--skip-flow", action="store_true")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-forecast-"))
    settings = load_settings("essonne", home)
    if registry.champion(settings.paths, "essonne") is None:
        print(f"building a home with a champion in {home} ...")
        print(f"  set-up (generate, train, promote): {build_home(home):.0f} s")
        settings = load_settings("essonne", home)
    print("forecast step, Essonne, 7 days hourly, all levels (machine shared: timings noisy)")
    timings = in_process(settings)
    timings["previsecours forecast (fresh process)"] = fresh_process(home)
    if not args.skip_flow:
        timings["Prefect flow `forecast` (API already up)"] = prefect_flow(home)
    width = max(len(k) for k in timings)
    print(f"| {'step':<{width}} | seconds |\n|{'-' * (width + 2)}|---------|")
    for step, seconds in timings.items():
        print(f"| {step:<{width}} | {seconds:7.1f} |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {rss:.0f} MiB, fresh process {child:.0f} MiB")


if __name__ == "__main__":
    from benchlib.common import recorded

    with recorded(
        "forecast",
        "Forecast step at Essonne scale: time per step, fresh process, Prefect flow",
        (__doc__ or "").split("\n\n")[0],
    ):
        main()
