"""`previsecours serve`: the Prefect server and its scheduled deployments, the MLflow UI and the
dashboard, all on 127.0.0.1, started together and stopped together."""

from __future__ import annotations

from dataclasses import dataclass

from previsecours.adapters.services import Service, mlflow_server, prefect_server, python_module
from previsecours.settings import Settings


@dataclass(frozen=True)
class Ports:
    prefect: int = 4200
    mlflow: int = 5000
    dashboard: int = 8050


def platform_services(settings: Settings, ports: Ports) -> list[Service]:
    """The services in start order: each needs the ones before it."""
    paths = settings.paths
    prefect_env = {
        "PREFECT_HOME": str(paths.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": f"http://127.0.0.1:{ports.prefect}/api",
    }
    home_env = {"PREVISECOURS_HOME": str(paths.home), **prefect_env}
    territory = str(settings.territory_file)
    return [
        prefect_server(ports.prefect, prefect_env),
        Service(
            "deployments",
            python_module("flows.deployments", "--territory", territory, "--home", str(paths.home)),
            port=None,
            env=home_env,
        ),
        mlflow_server(
            ports.mlflow,
            paths.mlflow_tracking_uri,
            "--default-artifact-root",
            str(paths.mlflow_artifacts),
        ),
        Service(
            "dashboard",
            python_module(
                "previsecours",
                "dashboard",
                "--territory",
                territory,
                "--port",
                str(ports.dashboard),
            ),
            port=ports.dashboard,
            health_path="/",
            env=home_env,
        ),
    ]
