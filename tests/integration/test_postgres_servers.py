"""Servers for a team on a real PostgreSQL (Debian's package, a throw-away cluster on a loopback
port): Prefect's server and MLflow's tracking server on it, a process worker of a work pool
running the `train` deployment, and the rows checked in PostgreSQL itself."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from previsecours.adapters.services import started
from previsecours.testing.servers import free_port, running_postgres
from previsecours.testing.small import SMALL_TRAINING, write_small_params

POOL = "team-pool"
TWO_MODELS = ["catboost", "seasonal_naive"]


@pytest.fixture(scope="module")
def territory_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from previsecours.adapters.store import write_events
    from previsecours.adapters.territory_files import write_territory
    from previsecours.core.generator import generate_events
    from previsecours.core.synthetic_territory import synthetic_territory
    from previsecours.settings import load_settings

    home = tmp_path_factory.mktemp("team-home")
    # One CatBoost (no candidates) and seasonal naive: a parent run and two children.
    train = {**SMALL_TRAINING["train"], "models": TWO_MODELS, "candidates": None}
    write_small_params(home, {"train": train})
    path = write_territory(synthetic_territory("team", 2, seed=4), home / "territories")
    settings = load_settings(str(path), home)
    events = generate_events(settings.territory, date(2024, 1, 1), date(2024, 4, 14), 4)
    write_events(settings.paths, settings.territory, events)
    return path


def _rows(dsn: str, query: str) -> list[tuple[object, ...]]:
    import psycopg2

    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(query)
        return list(cursor.fetchall())


@pytest.mark.slow
def test_training_through_a_work_pool_lands_in_postgresql(territory_file: Path) -> None:
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from previsecours.ops.team_servers import TeamServers, team_services

    home = territory_file.parents[1]
    with running_postgres(("mlflow", "prefect")) as server:
        servers = TeamServers(
            mlflow_backend_store=f"postgresql+psycopg2://{server}/mlflow",
            artifacts_destination=str(home / "shared-artifacts"),
            prefect_database=f"postgresql+asyncpg://{server}/prefect",
            prefect_auth="team:s3cret",
            work_pool=POOL,
            prefect_port=free_port(),
            mlflow_port=free_port(),
        )
        client_env = {**servers.client_env(), "PREFECT_HOME": str(home / ".prefect")}
        worker_env = {**client_env, "PREFECT_WORKER_QUERY_SECONDS": "1"}
        services = team_services(servers, home / ".prefect-server", worker_env)
        with started(services, home / "logs", announce=lambda _: None):
            deploy = ("--territory", str(territory_file), "--home", str(home), "--work-pool", POOL)
            subprocess.run(
                [sys.executable, "-m", "flows.deployments", *deploy],
                env={**os.environ, **client_env},
                check=True,
                capture_output=True,
                timeout=120,
            )
            updates = {PREFECT_API_URL: servers.prefect_api_url, PREFECT_API_AUTH_STRING: None}
            with temporary_settings(updates=updates), pytest.raises(Exception, match="401"):
                run_deployment("train/team", timeout=10, poll_interval=2)  # no password
            updates[PREFECT_API_AUTH_STRING] = servers.prefect_auth
            with temporary_settings(updates=updates):
                run = run_deployment("train/team", timeout=300, poll_interval=2)
            assert isinstance(run, FlowRun), run  # sync_compatible: called from sync code
            assert run.state is not None and run.state.is_completed(), run.state

        mlflow_db, prefect_db = f"postgresql://{server}/mlflow", f"postgresql://{server}/prefect"
        assert _rows(mlflow_db, "select name, version from model_versions") == [
            ("previsecours-team", 1)
        ]
        tag_rows = _rows(mlflow_db, "select key, value from model_version_tags")
        tags = {str(key): str(value) for key, value in tag_rows}
        assert tags["territory"] == "team"
        runs = _rows(mlflow_db, "select name, status from runs")
        assert {status for _, status in runs} == {"FINISHED"} and len(runs) == 3  # parent + 2
        metrics = {key for (key,) in _rows(mlflow_db, "select distinct key from metrics")}
        assert "station_hour_rmsse" in metrics
        assert _rows(prefect_db, f"select type from work_pool where name = '{POOL}'") == [
            ("process",)
        ]
        flow_runs = _rows(
            prefect_db,
            "select f.name, r.state_type, p.name from flow_run r"
            " join flow f on f.id = r.flow_id join work_queue q on q.id = r.work_queue_id"
            " join work_pool p on p.id = q.work_pool_id",
        )
        assert ("train", "COMPLETED", POOL) in flow_runs
        deployments = {name for (name,) in _rows(prefect_db, "select name from deployment")}
        assert {"team"} == deployments
    # The model's files went to the shared artifact location, through the server.
    stored = {p.name for p in (home / "shared-artifacts").rglob("*") if p.is_file()}
    assert {"forecaster.json", "MLmodel"} <= stored
