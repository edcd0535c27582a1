"""Prefect's overhead per flow run: a trivial flow against the same function called directly.

Against a running (temporary) Prefect API — its start-up is not counted: in production the
server is already up — runs `--runs` times: the plain function, the same function as a flow,
and as a flow calling it as one task (the shape of the project's flows). The overhead is the
median flow-run time minus the median direct call (a few microseconds).

Writes bench/results/prefect_overhead.md. Usage:
    .venv/bin/python bench/bench_prefect_overhead.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import pandas as pd

from benchlib.common import Report


def work(n: int) -> int:
    """A trivial body: the cost measured is Prefect's, not the work's."""
    return sum(range(n))


def timed(call: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    report = Report(
        "prefect_overhead", "Prefect overhead per flow run", (__doc__ or "").split("\n\n")[0]
    )
    plain_flow = flow(name="bench-trivial")(work)
    as_task = task(name="bench-work")(work)

    @flow(name="bench-trivial-with-task")
    def flow_with_task(n: int) -> int:
        return as_task(n)

    with prefect_test_harness(server_startup_timeout=120):
        plain_flow(10)  # first run pays imports and client set-up: reported apart
        t0 = time.perf_counter()
        flow_with_task(10)
        first = time.perf_counter() - t0
        cases = {
            "direct call": timed(lambda: work(10), args.runs),
            "flow": timed(lambda: plain_flow(10), args.runs),
            "flow + 1 task": timed(lambda: flow_with_task(10), args.runs),
        }
    direct = statistics.median(cases["direct call"])
    frame = pd.DataFrame(
        {
            "median s": {k: statistics.median(v) for k, v in cases.items()},
            "min s": {k: min(v) for k, v in cases.items()},
            "max s": {k: max(v) for k, v in cases.items()},
            "overhead s (median − direct)": {
                k: statistics.median(v) - direct for k, v in cases.items()
            },
        }
    ).rename_axis("case")
    report.table(f"{args.runs} runs each (2 shared cores)", frame, 4)
    report.add(f"\nFirst flow-with-task run in the process (warm server): {first:.2f} s.")
    report.write()


if __name__ == "__main__":
    main()
