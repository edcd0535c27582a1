"""`previsecours retrain-all` on a real Dask cluster (a scheduler and two worker processes on
127.0.0.1) reporting to a real Prefect server: three synthetic territories, each fitted on a
worker, each registered and promoted to champion by the command's own process; then `train
--dask` on the same cluster, its backtest windows as tasks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from previsecours.adapters.services import started
from previsecours.testing.servers import dask_scheduler, dask_worker, free_port, prefect_server
from previsecours.testing.small import SMALL_TRAINING, write_small_params

TERRITORIES = {"north": 2, "centre": 3, "south": 4}  # name → stations
LINE = re.compile(r"^(\S+): version (\d+), champion (\d+) \(fit on (\S+) pid (\d+)\)")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from previsecours.adapters.store import write_events
    from previsecours.adapters.territory_files import write_territory
    from previsecours.core.generator import generate_events
    from previsecours.core.synthetic_territory import synthetic_territory
    from previsecours.settings import load_settings

    home = tmp_path_factory.mktemp("retrain-all-home")
    # A week of a 2-station territory is too few station-days to judge interval coverage.
    write_small_params(
        home,
        {
            "train": {**SMALL_TRAINING["train"], "models": ["catboost", "seasonal_naive"]},
            "promote": {"coverage_band": [0.0, 1.0]},
        },
    )
    for seed, (name, stations) in enumerate(TERRITORIES.items()):
        path = write_territory(synthetic_territory(name, stations, seed=seed), home / "territories")
        settings = load_settings(str(path), home)
        events = generate_events(settings.territory, date(2024, 1, 1), date(2024, 4, 14), seed)
        write_events(settings.paths, settings.territory, events)
    return home


def _cli(home: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "previsecours", "--home", str(home), "retrain-all", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_retrain_all_with_dask_says_a_prefect_server_is_needed(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = _cli(home, "--dask", "local", env={**env, "PREFECT_HOME": str(home / ".prefect")})
    assert done.returncode == 2
    assert "PREFECT_API_URL" in done.stderr and "Prefect server" in done.stderr


@pytest.mark.slow
def test_retrain_all_fans_fits_out_to_dask_workers_and_promotes_each(home: Path) -> None:
    from distributed import Client
    from flows.runners import DaskCluster
    from flows.train import run as train_flow
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from previsecours.adapters import registry
    from previsecours.settings import load_settings

    prefect_port, scheduler_port = free_port(), free_port()
    api = f"http://127.0.0.1:{prefect_port}/api"
    client_env = {"PREFECT_API_URL": api, "PREFECT_HOME": str(home / ".prefect")}
    services = [
        prefect_server(home / ".prefect-server", prefect_port),
        dask_scheduler(scheduler_port, free_port()),
        dask_worker("worker-a", scheduler_port, free_port(), env=client_env),
        dask_worker("worker-b", scheduler_port, free_port(), env=client_env),
    ]
    paths = [str(home / "territories" / f"{name}.yaml") for name in TERRITORIES]
    with started(services, home / "logs", announce=lambda _: None) as running:
        worker_pids = {r.process.pid for r in running[2:]}
        # distributed leaves Client.__init__ unannotated
        with Client(f"tcp://127.0.0.1:{scheduler_port}") as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(2, timeout=60)  # both registered before any submission
        done = _cli(
            home,
            *(arg for path in paths for arg in ("-t", path)),
            env={
                **os.environ,
                **client_env,
                "DASK_SCHEDULER_ADDRESS": f"tcp://127.0.0.1:{scheduler_port}",
            },
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        fit_runs = _task_runs(api, "fit-")
        # The train flow fans its backtest windows out on the same cluster (`train --dask`).
        with temporary_settings(updates={PREFECT_API_URL: api}):
            trained = train_flow(
                paths[0], str(home), DaskCluster(f"tcp://127.0.0.1:{scheduler_port}")
            )
        assert trained["version"] == 2
        window_runs = _task_runs(api, "backtest-window-")

    lines = {m[1]: m for m in map(LINE.match, done.stdout.splitlines()) if m}
    assert set(lines) == set(TERRITORIES), done.stdout
    pids = {int(m[5]) for m in lines.values()}
    assert pids <= worker_pids, (pids, worker_pids)
    assert len(pids) == 2, "three fits on two idle workers: both take work"
    assert sorted(fit_runs) == sorted(f"fit-{name}" for name in TERRITORIES)
    assert set(fit_runs.values()) == {"COMPLETED"}
    assert window_runs == {"backtest-window-0": "COMPLETED", "backtest-window-1": "COMPLETED"}
    for name in TERRITORIES:
        settings = load_settings(str(home / "territories" / f"{name}.yaml"), home)
        champion = registry.champion(settings.paths, name)
        assert champion is not None and champion.version == int(lines[name][2]) == 1


def _task_runs(api: str, prefix: str) -> dict[str, str]:
    """Task runs named `prefix…` on the server: name → state."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: api}),
        get_client(sync_client=True) as client,
    ):
        runs = client.read_task_runs(
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=prefix))
        )
    return {r.name: r.state_type.value for r in runs if r.state_type is not None}
