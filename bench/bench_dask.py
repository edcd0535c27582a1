"""retrain-all on Dask: 1 vs 2 workers, per-task times, Prefect and Dask overhead, N cores.

Builds a temporary home with `--territories` synthetic territories of growing size (6, 12, 18,
… stations; `--years` of generated history each), starts a real Prefect server, then:
1. fits every territory in this process, without Prefect or Dask (`fit_territory` alone): the
   pure compute time of each task;
2. runs `retrain-all` (flows.retrain_all.run, the CLI's code) on a real Dask cluster — a
   `dask scheduler` and 1, then 2, single-threaded `dask worker` processes on 127.0.0.1 —
   and reads each task's compute time (measured inside the task), the worker that ran it and
   the flow's own recording time (MLflow run + version, promotion: serial, in this process);
3. measures the overhead per task on the same cluster with a no-op body: plain Dask
   (`Client.submit`) and Prefect's DaskTaskRunner (task run states on the server);
4. extrapolates to N cores: the fits spread over N workers (measured per-task times × tasks /
   workers, longest first), the recording staying serial in the flow's process.
CatBoost runs single-threaded here (`thread_count: 1`): one worker per core.

Usage: .venv/bin/python bench/bench_dask.py [--territories 4] [--years 1.2]
Prints markdown tables. Timings are noisy when other jobs share the 2 cores.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from previsecours.adapters.services import started
from previsecours.testing.servers import dask_scheduler, dask_worker, free_port, prefect_server

BENCH_TRAINING: dict[str, Any] = {
    "train": {
        "train_years": 0.5,
        "history_years": 1.2,
        "n_windows": 2,
        "models": ["catboost", "seasonal_naive", "poisson_glm"],
        "catboost": {"iterations": 150, "thread_count": 1},
        "poisson_glm": {"max_rows": 20000},
    },
    "promote": {"coverage_band": [0.0, 1.0]},
}
NO_OP_TASKS = 40


def build_home(home: Path, n_territories: int, years: float) -> list[str]:
    from previsecours.adapters.store import write_events
    from previsecours.adapters.territory_files import write_territory
    from previsecours.core.generator import generate_events
    from previsecours.core.synthetic_territory import synthetic_territory
    from previsecours.settings import load_settings

    (home / "params.yaml").write_text(yaml.safe_dump(BENCH_TRAINING), encoding="utf-8")
    end = date(2025, 6, 30)
    start = end - timedelta(days=round(365.25 * years))
    paths = []
    for k in range(n_territories):
        stations = 6 * (k + 1)
        path = write_territory(
            synthetic_territory(f"bench-{stations:03d}", stations, seed=k), home / "territories"
        )
        settings = load_settings(str(path), home)
        write_events(
            settings.paths, settings.territory, generate_events(settings.territory, start, end, k)
        )
        paths.append(str(path))
    return paths


@contextmanager
def dask_cluster(home: Path, workers: int, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    services = [dask_scheduler(port, free_port())] + [
        dask_worker(f"w{i}", port, free_port(), env=env) for i in range(workers)
    ]
    with started(services, home / "logs", announce=lambda _: None):
        yield f"tcp://127.0.0.1:{port}"


def compute_seconds(seconds: dict[str, float]) -> float:
    return sum(v for k, v in seconds.items() if k not in ("logging", "promotion"))


def direct_fits(paths: list[str], home: Path) -> dict[str, float]:
    from previsecours.ops.retrain_all import fit_territory
    from previsecours.settings import load_settings

    out = {}
    for path in paths:
        settings = load_settings(path, home)
        t0 = time.perf_counter()
        fit_territory(settings, "bench")
        out[settings.territory.name] = time.perf_counter() - t0
    return out


def retrain(paths: list[str], home: Path, address: str) -> tuple[float, dict[str, Any]]:
    from flows.retrain_all import DaskCluster, run

    t0 = time.perf_counter()
    result = run(paths, str(home), DaskCluster(address))
    return time.perf_counter() - t0, result["territories"]


def no_op(x: int) -> int:
    return x


def overhead_per_task(address: str) -> tuple[float, float]:
    """Seconds per no-op task: plain Dask, and Prefect tasks on the DaskTaskRunner."""
    from distributed import Client
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect_dask.task_runners import DaskTaskRunner

    with Client(address) as client:
        client.gather([client.submit(no_op, -1, pure=False)])  # warm
        t0 = time.perf_counter()
        client.gather([client.submit(no_op, i, pure=False) for i in range(NO_OP_TASKS)])
        dask_s = (time.perf_counter() - t0) / NO_OP_TASKS

    noop_task = task(no_op, name="no-op", cache_policy=NO_CACHE)

    @flow(name="bench-no-op", task_runner=DaskTaskRunner(address=address))
    def fan_out(n: int) -> list[int]:
        return [f.result() for f in [noop_task.submit(i) for i in range(n)]]

    fan_out(1)  # warm: flow registration, the workers' first Prefect import
    t0 = time.perf_counter()
    fan_out(NO_OP_TASKS)
    prefect_s = (time.perf_counter() - t0) / NO_OP_TASKS
    return dask_s, prefect_s


def makespan(task_seconds: list[float], workers: int) -> float:
    """Longest-first assignment of tasks to the least loaded worker."""
    loads = [0.0] * workers
    for s in sorted(task_seconds, reverse=True):
        loads[loads.index(min(loads))] += s
    return max(loads)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--territories", type=int, default=4)
    parser.add_argument("--years", type=float, default=1.2)
    args = parser.parse_args()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        paths = build_home(home, args.territories, args.years)
        print(f"{len(paths)} territories generated in {time.perf_counter() - t0:.1f} s")
        direct = direct_fits(paths, home)
        port = free_port()
        api = f"http://127.0.0.1:{port}/api"
        env = {"PREFECT_API_URL": api, "PREFECT_HOME": str(home / ".prefect")}
        os.environ.update(env)
        runs: dict[int, tuple[float, dict[str, Any]]] = {}
        with (
            started([prefect_server(home / ".prefect-server", port)], home / "logs", print),
            temporary_settings(updates={PREFECT_API_URL: api}),
        ):
            for workers in (1, 2):
                with dask_cluster(home, workers, env) as address:
                    runs[workers] = retrain(paths, home, address)
                    if workers == 1:
                        dask_s, prefect_s = overhead_per_task(address)
        report(direct, runs, dask_s, prefect_s)


def report(
    direct: dict[str, float],
    runs: dict[int, tuple[float, dict[str, Any]]],
    dask_s: float,
    prefect_s: float,
) -> None:
    one, two = runs[1][1], runs[2][1]
    names = sorted(direct)
    print("\n## Per territory (seconds; wall, and CPU of the process doing the work)\n")
    print(
        "| territory | fit alone, no Prefect/Dask | fit on 1 worker | fit on 2 workers "
        "| fit CPU | worker pid (2 workers) | recording wall | recording CPU |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        r1, r2 = one[name], two[name]
        print(
            f"| {name} | {direct[name]:.1f} | {compute_seconds(r1['seconds']):.1f} | "
            f"{compute_seconds(r2['seconds']):.1f} | {r1['cpu_seconds']['fit']:.1f} | "
            f"{r2['worker']['pid']} | {recording_seconds(r1):.1f} | "
            f"{r1['cpu_seconds']['record']:.1f} |"
        )
    wall1, wall2 = runs[1][0], runs[2][0]
    print("\n## retrain-all wall time (seconds; Prefect server and Dask cluster already up)\n")
    print("| workers | wall | speed-up |")
    print("|---|---|---|")
    print(f"| 1 | {wall1:.1f} | 1.00 |")
    print(f"| 2 | {wall2:.1f} | {wall1 / wall2:.2f} |")
    print("\n## Overhead per task (no-op body, 1 worker)\n")
    print("| layer | ms per task |")
    print("|---|---|")
    print(f"| Dask (Client.submit → result) | {dask_s * 1000:.1f} |")
    print(f"| Prefect task on DaskTaskRunner (states on the server) | {prefect_s * 1000:.1f} |")
    print(f"| Prefect's share | {(prefect_s - dask_s) * 1000:.1f} |")
    fits = [one[n]["cpu_seconds"]["fit"] for n in names]
    records = [one[n]["cpu_seconds"]["record"] for n in names]
    extrapolate(fits, records, prefect_s)


def recording_seconds(r: dict[str, Any]) -> float:
    return float(r["seconds"].get("logging", 0.0) + r["seconds"].get("promotion", 0.0))


def extrapolate(fits: list[float], records: list[float], per_task_s: float) -> None:
    """N cores from per-task CPU seconds (what each task costs on a core of its own)."""
    mean_fit, mean_record = statistics.mean(fits), statistics.mean(records)
    print(
        f"\n## Expected on N cores (per territory: fit {mean_fit:.1f} CPU s on a worker, "
        f"recording {mean_record:.1f} CPU s in the flow's process)\n"
    )
    print("Fits spread over N single-threaded workers, longest first (measured per-task CPU")
    print("seconds × tasks / workers); recording stays serial in the flow's process, overlapping")
    print("the fits: wall ≈ max(fit makespan, Σ recording) + one recording + overhead × tasks.\n")
    print("| territories | N workers | fit makespan | Σ recording | expected wall | speed-up |")
    print("|---|---|---|---|---|---|")
    for k, per_fit in ((len(fits), fits), (100, [mean_fit] * 100)):
        serial = 0.0
        for n in (1, 2, 4, 8, 16, 32):
            span = makespan(per_fit, n)
            record_total = mean_record * k
            wall = max(span, record_total) + mean_record + per_task_s * k
            serial = serial or wall
            print(
                f"| {k} | {n} | {span:.0f} | {record_total:.0f} | {wall:.0f} | "
                f"{serial / wall:.2f} |"
            )
    bound = math.floor(mean_fit / max(mean_record, 1e-9))
    print(
        f"\nBeyond ~{bound} workers the serial recording (MLflow run, model, plots, promotion) "
        "bounds one flow: run several retrain-all flows (e.g. one per region) against the "
        "team's MLflow server."
    )


if __name__ == "__main__":
    main()
