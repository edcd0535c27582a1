"""Start the platform's servers on 127.0.0.1, wait until healthy, stop them all cleanly.

`serve_all` owns the processes it starts: each in its own process group, logs under
`<home>/logs/`, a pid file `<home>/.prefect/serve.pid` so that a second start says who is
already serving instead of failing on a busy port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from previsecours.errors import StepError

HOST = "127.0.0.1"


class ServeError(StepError, RuntimeError):
    """The platform cannot be served as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Service:
    name: str
    argv: Sequence[str]
    port: int | None  # None: a worker process with no HTTP endpoint (alive = healthy)
    health_path: str = "/"
    ui_path: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout_s: float = 120.0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.ui_path}" if self.port else "(no web page)"

    @property
    def health_url(self) -> str | None:
        return f"http://{HOST}:{self.port}{self.health_path}" if self.port else None


@dataclass
class Running:
    service: Service
    process: subprocess.Popen[bytes]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def already_serving(pid_file: Path) -> int | None:
    """The pid of a live `serve` recorded in `pid_file`, if any (a stale file is removed)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return None
    except PermissionError:
        return pid
    return pid


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(200 <= response.status < 300)
    except (urllib.error.URLError, OSError):
        return False


def _start(service: Service, logs: Path) -> Running:
    logs.mkdir(parents=True, exist_ok=True)
    log = (logs / f"{service.name}.log").open("ab")
    env = {**os.environ, **service.env}
    process = subprocess.Popen(
        list(service.argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    return Running(service, process)


WORKER_SETTLE_S = 5.0  # a service without endpoint that stays up this long has started


def _wait_healthy(running: Running, logs: Path) -> None:
    service = running.service
    started = time.monotonic()
    while (waited := time.monotonic() - started) < service.startup_timeout_s:
        if running.process.poll() is not None:
            raise ServeError(
                f"{service.name} exited with code {running.process.returncode}"
                f" during start-up; see {logs / (service.name + '.log')}"
            )
        url = service.health_url
        if (url is None and waited >= WORKER_SETTLE_S) or (url is not None and _healthy(url)):
            return
        time.sleep(0.5)
    raise ServeError(
        f"{service.name} was not healthy after {service.startup_timeout_s:.0f} s; see {logs}"
    )


def stop_all(running: Sequence[Running], grace_s: float = 15.0) -> None:
    """Stop the last started first, each before the next (the deployments runner pauses its
    schedules through the Prefect server, so the server goes last): SIGTERM, then SIGKILL."""
    for r in reversed(running):
        if r.process.poll() is not None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(r.process.pid, signal.SIGTERM)
        try:
            r.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(r.process.pid, signal.SIGKILL)
            r.process.wait()


@contextmanager
def started(
    services: Sequence[Service], logs: Path, announce: Callable[[str], None] = print
) -> Iterator[list[Running]]:
    """Start `services` in order, each healthy before the next; stop them all on exit."""
    running: list[Running] = []
    try:
        for service in services:
            announce(f"starting {service.name} …")
            running.append(_start(service, logs))
            _wait_healthy(running[-1], logs)
        yield running
    finally:
        stop_all(running)


def serve_all(
    services: Sequence[Service],
    home: Path,
    announce: Callable[[str], None] = print,
    until: Callable[[], bool] | None = None,
) -> None:
    """Start `services` in order (each healthy before the next), print URLs, wait, stop all.

    Returns when interrupted (Ctrl-C / SIGTERM), when a service dies, or when `until()` is true.
    """
    pid_file = home / ".prefect" / "serve.pid"
    other = already_serving(pid_file)
    if other is not None:
        raise ServeError(
            f"Prévisecours is already being served from {home} (pid {other}). "
            f"Open the URLs it printed, or stop it (Ctrl-C in its terminal, or "
            f"kill {other}) before starting again."
        )
    busy = [f"{s.name} (port {s.port})" for s in services if s.port and port_in_use(s.port)]
    if busy:
        raise ServeError(
            f"ports already in use by another program: {', '.join(busy)}; "
            f"free them or choose other ports (see `previsecours serve --help`)"
        )
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(str(os.getpid()))
    logs = home / "logs"
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with started(services, logs, announce) as running:
            announce("\n".join(f"  {r.service.name:<12} {r.service.url}" for r in running))
            announce("Ctrl-C stops them all.")
            while until is None or not until():
                dead = next((r for r in running if r.process.poll() is not None), None)
                if dead is not None:
                    raise ServeError(
                        f"{dead.service.name} stopped (code "
                        f"{dead.process.returncode}); see "
                        f"{logs / (dead.service.name + '.log')}"
                    )
                time.sleep(1.0)
    except KeyboardInterrupt:
        announce("stopping …")
    finally:
        signal.signal(signal.SIGTERM, previous)
        pid_file.unlink(missing_ok=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    del signum, frame
    raise KeyboardInterrupt


def python_module(module: str, *args: str) -> list[str]:
    """argv running `python -m module` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def prefect_server(port: int, env: dict[str, str]) -> Service:
    """Prefect's API and UI on 127.0.0.1 behind a host check (`flows/server.py`), answering
    cross-origin calls from its own origin only (`env`: its PREFECT_HOME, database, ...)."""
    origins = f"http://{HOST}:{port},http://localhost:{port}"
    return Service(
        "prefect",
        python_module("flows.server", "--host", HOST, "--port", str(port)),
        port=port,
        health_path="/api/health",
        env={"PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": origins, **env},
    )


def mlflow_server(port: int, backend_store: str, *artifact_options: str) -> Service:
    """MLflow's tracking server and UI on 127.0.0.1, one worker, no job runner."""
    return Service(
        "mlflow",
        python_module(
            "mlflow",
            "server",
            "--workers",
            "1",
            "--host",
            HOST,
            "--port",
            str(port),
            "--backend-store-uri",
            backend_store,
            *artifact_options,
        ),
        port=port,
        health_path="/health",
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
