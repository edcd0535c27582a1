"""Real servers for integration tests, on free loopback ports: Prefect, Dask, MLflow.

Each function returns a `previsecours.adapters.services.Service`; start them with
`services.started([...], logs)`, which waits until each is healthy and stops them all on exit.
"""

from __future__ import annotations

import socket
from pathlib import Path

from previsecours.adapters.services import Service, python_module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prefect_server(prefect_home: Path, port: int, env: dict[str, str] | None = None) -> Service:
    """`prefect server start` with its own PREFECT_HOME (and database, unless `env` names one)."""
    return Service(
        "prefect",
        python_module("prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)),
        port=port,
        health_path="/api/health",
        env={
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **(env or {}),
        },
    )


def dask_scheduler(port: int, http_port: int) -> Service:
    return Service(
        "dask-scheduler",
        python_module(
            "dask",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            f"127.0.0.1:{http_port}",
        ),
        port=http_port,
        health_path="/health",
    )


def dask_worker(
    name: str, scheduler_port: int, http_port: int, env: dict[str, str] | None = None
) -> Service:
    """One single-threaded worker without nanny: tasks run in the started process itself."""
    return Service(
        name,
        python_module(
            "dask",
            "worker",
            f"tcp://127.0.0.1:{scheduler_port}",
            "--host",
            "127.0.0.1",
            "--nthreads",
            "1",
            "--no-nanny",
            "--name",
            name,
            "--dashboard-address",
            f"127.0.0.1:{http_port}",
        ),
        port=http_port,
        health_path="/health",
        env=env or {},
    )
