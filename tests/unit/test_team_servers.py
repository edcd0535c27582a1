"""Team servers read from the environment; task runners: Dask only with a Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest

from previsecours.ops.team_servers import TeamServers, team_services

ENV = {
    "PREVISECOURS_MLFLOW_BACKEND_STORE_URI": "postgresql+psycopg2://m@db:5432/mlflow",
    "PREVISECOURS_MLFLOW_ARTIFACTS_DESTINATION": "s3://bucket/artifacts",
    "PREFECT_API_DATABASE_CONNECTION_URL": "postgresql+asyncpg://p@db:5432/prefect",
    "PREFECT_SERVER_API_AUTH_STRING": "team:s3cret",
}


def test_servers_from_the_environment_and_what_clients_need(tmp_path: Path) -> None:
    servers = TeamServers.from_env(ENV, prefect_port=4300, mlflow_port=5100)
    assert servers.work_pool == "previsecours"
    assert servers.client_env() == {
        "PREFECT_API_URL": "http://127.0.0.1:4300/api",
        "PREFECT_API_AUTH_STRING": "team:s3cret",
        "PREVISECOURS_TRACKING_URI": "http://127.0.0.1:5100",
    }
    assert servers.client_env(masked=True)["PREFECT_API_AUTH_STRING"] == "team:***"
    prefect, mlflow, worker = team_services(servers, tmp_path)
    assert (
        prefect.env["PREFECT_API_DATABASE_CONNECTION_URL"]
        == ENV["PREFECT_API_DATABASE_CONNECTION_URL"]
    )
    argv = list(mlflow.argv)
    assert (
        argv[argv.index("--backend-store-uri") + 1] == ENV["PREVISECOURS_MLFLOW_BACKEND_STORE_URI"]
    )
    assert argv[argv.index("--artifacts-destination") + 1] == "s3://bucket/artifacts"
    assert list(worker.argv)[-4:] == ["--pool", "previsecours", "--type", "process"]
    assert worker.env["PREFECT_API_URL"] == "http://127.0.0.1:4300/api"
    assert prefect.env["PREFECT_SERVER_API_AUTH_STRING"] == "team:s3cret"
    assert worker.env["PREFECT_API_AUTH_STRING"] == "team:s3cret"
    assert prefect.env["PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS"] == (
        "http://127.0.0.1:4300,http://localhost:4300"
    )
    assert "flows.server" in prefect.argv


def test_missing_settings_are_named() -> None:
    partial = {k: v for k, v in ENV.items() if not k.startswith("PREFECT")}
    with pytest.raises(
        ValueError, match="PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_SERVER_API_AUTH_STRING"
    ):
        TeamServers.from_env(partial)
    with pytest.raises(ValueError, match="user:password"):
        TeamServers.from_env({**ENV, "PREFECT_SERVER_API_AUTH_STRING": "no-colon"})


def test_dask_needs_a_prefect_server_and_no_cluster_means_one_task_at_a_time() -> None:
    from flows.runners import DaskCluster, PrefectServerRequiredError, task_runner
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask.task_runners import DaskTaskRunner

    serial = task_runner(None)
    assert isinstance(serial, ThreadPoolTaskRunner) and serial._max_workers == 1
    with (
        temporary_settings(updates={PREFECT_API_URL: None}),
        pytest.raises(PrefectServerRequiredError, match="PREFECT_API_URL"),
    ):
        task_runner(DaskCluster("tcp://127.0.0.1:8786"))
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        runner = task_runner(DaskCluster("tcp://127.0.0.1:8786"))
    assert isinstance(runner, DaskTaskRunner), runner
    assert runner.address == "tcp://127.0.0.1:8786"
