"""Real servers for integration tests, on free loopback ports: Prefect, Dask, PostgreSQL.

Each function returns a `previsecours.adapters.services.Service`; start them with
`services.started([...], logs)`, which waits until each is healthy and stops them all on exit.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from previsecours.adapters import services
from previsecours.adapters.services import Service, python_module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prefect_server(prefect_home: Path, port: int, env: dict[str, str] | None = None) -> Service:
    """The project's Prefect server (`flows/server.py`) with its own PREFECT_HOME (and
    database, unless `env` names one)."""
    own = {"PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return services.prefect_server(port, {**own, **(env or {})})


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


def postgres_bin() -> Path | None:
    """The directory of Debian's PostgreSQL programs (initdb, pg_ctl), newest version first."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").is_file():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@contextmanager
def running_postgres(databases: tuple[str, ...], user: str = "previsecours") -> Iterator[str]:
    """A throw-away PostgreSQL on a free loopback port with `databases`; yields
    `user@127.0.0.1:port` (trust authentication). Stopped and removed on exit.

    PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user (or
    `nobody`) through `runuser`. Skips the test when PostgreSQL is not installed.
    """
    import pytest

    programs = postgres_bin()
    if programs is None:
        pytest.skip(
            "PostgreSQL is not installed (Debian's `postgresql` package; `make postgres` "
            "installs it): the PostgreSQL server test is skipped"
        )
    root = Path(tempfile.mkdtemp(prefix="previsecours-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        owner = "postgres" if _user_exists("postgres") else "nobody"
        shutil.chown(root, owner)
        as_owner = ["runuser", "-u", owner, "--"]
    data, port = root / "data", free_port()

    def run(program: str, *args: str, check: bool = True) -> None:
        subprocess.run(
            [*as_owner, str(programs / program), *args],
            check=check,
            capture_output=True,
            timeout=120,
        )

    run("initdb", "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync")
    options = f"-h 127.0.0.1 -p {port} -k {root}"
    run("pg_ctl", "-D", str(data), "-l", str(root / "postgres.log"), "-w", "-o", options, "start")
    try:
        for database in databases:
            run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", user, database)
        yield f"{user}@127.0.0.1:{port}"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
