"""Servers for a team: MLflow and Prefect on PostgreSQL, a process work pool, on 127.0.0.1.

`previsecours serve-team` starts, each healthy before the next:
- Prefect's server on PostgreSQL (`PREFECT_API_DATABASE_CONNECTION_URL`,
  `postgresql+asyncpg://…`: Prefect's own setting, read by its server);
- MLflow's tracking server with a PostgreSQL backend store (`postgresql+psycopg2://…`: name the
  driver, SQLAlchemy 2.1's default for `postgresql://` is psycopg 3, not installed) and a
  shared artifact location (`--artifacts-destination`: a shared directory, or s3://, gs://,
  wasbs:// with the matching client library) that the server proxies, so clients need no
  storage credentials;
- a Prefect process worker polling the work pool (created by the worker when missing): runs of
  deployments registered with `python -m flows.deployments --work-pool NAME` start there.

Prefect's server requires basic auth (`PREFECT_SERVER_API_AUTH_STRING=user:password`, required
here) and answers only requests addressed to 127.0.0.1 / localhost from its own origin
(`flows/server.py`). Clients (the CLI, flows, Dask workers) then point at the servers with
`client_env()`: `PREFECT_API_URL`, `PREFECT_API_AUTH_STRING` and `PREVISECOURS_TRACKING_URI`.
Secrets stay in the environment, never in params.yaml, and are masked when shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from previsecours.adapters.services import (
    HOST,
    Service,
    mlflow_server,
    prefect_server,
    python_module,
)
from previsecours.paths import TRACKING_URI_ENV

MLFLOW_BACKEND_ENV = "PREVISECOURS_MLFLOW_BACKEND_STORE_URI"
MLFLOW_ARTIFACTS_ENV = "PREVISECOURS_MLFLOW_ARTIFACTS_DESTINATION"
PREFECT_DATABASE_ENV = "PREFECT_API_DATABASE_CONNECTION_URL"
PREFECT_AUTH_ENV = "PREFECT_SERVER_API_AUTH_STRING"  # user:password, Prefect's basic auth
PREFECT_CLIENT_AUTH_ENV = "PREFECT_API_AUTH_STRING"
WORK_POOL_ENV = "PREVISECOURS_WORK_POOL"
DEFAULT_WORK_POOL = "previsecours"


@dataclass(frozen=True)
class TeamServers:
    mlflow_backend_store: str  # postgresql+psycopg2://user:password@host:5432/mlflow
    artifacts_destination: str  # /shared/mlflow-artifacts, s3://bucket/prefix, …
    prefect_database: str  # postgresql+asyncpg://user:password@host:5432/prefect
    prefect_auth: str  # user:password: a team's Prefect server is never open
    work_pool: str = DEFAULT_WORK_POOL
    prefect_port: int = 4200
    mlflow_port: int = 5000

    @classmethod
    def from_env(cls, env: Mapping[str, str], **ports: int) -> TeamServers:
        """The servers the environment describes; a clear error naming what is missing."""
        wanted = (MLFLOW_BACKEND_ENV, MLFLOW_ARTIFACTS_ENV, PREFECT_DATABASE_ENV, PREFECT_AUTH_ENV)
        missing = [name for name in wanted if not env.get(name)]
        if missing:
            raise ValueError(f"set {', '.join(missing)} (see docs/scaling.md)")
        user, _, password = env[PREFECT_AUTH_ENV].partition(":")
        if not user or not password:
            raise ValueError(f"{PREFECT_AUTH_ENV} must be user:password")
        return cls(
            mlflow_backend_store=env[MLFLOW_BACKEND_ENV],
            artifacts_destination=env[MLFLOW_ARTIFACTS_ENV],
            prefect_database=env[PREFECT_DATABASE_ENV],
            prefect_auth=env[PREFECT_AUTH_ENV],
            work_pool=env.get(WORK_POOL_ENV) or DEFAULT_WORK_POOL,
            **ports,
        )

    @property
    def prefect_api_url(self) -> str:
        return f"http://{HOST}:{self.prefect_port}/api"

    @property
    def tracking_uri(self) -> str:
        return f"http://{HOST}:{self.mlflow_port}"

    def client_env(self, *, masked: bool = False) -> dict[str, str]:
        """What a client process needs to use these servers (`masked`: to show people)."""
        user = self.prefect_auth.partition(":")[0]
        return {
            "PREFECT_API_URL": self.prefect_api_url,
            PREFECT_CLIENT_AUTH_ENV: f"{user}:***" if masked else self.prefect_auth,
            TRACKING_URI_ENV: self.tracking_uri,
        }


def team_services(
    servers: TeamServers, prefect_home: Path, worker_env: Mapping[str, str] | None = None
) -> list[Service]:
    """Prefect server, MLflow server, process worker: in start order."""
    prefect_env = {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    return [
        prefect_server(
            servers.prefect_port,
            {
                **prefect_env,
                PREFECT_DATABASE_ENV: servers.prefect_database,
                PREFECT_AUTH_ENV: servers.prefect_auth,
            },
        ),
        mlflow_server(
            servers.mlflow_port,
            servers.mlflow_backend_store,
            "--artifacts-destination",
            servers.artifacts_destination,
            "--serve-artifacts",
        ),
        Service(
            "worker",
            python_module(
                "prefect", "worker", "start", "--pool", servers.work_pool, "--type", "process"
            ),
            port=None,
            env={**prefect_env, **servers.client_env(), **(worker_env or {})},
        ),
    ]
