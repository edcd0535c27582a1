"""Serving: services start healthy, stop together, and a second start says who is serving."""

from __future__ import annotations

import os
import socket
import sys
import threading
from pathlib import Path

import pytest

from previsecours.adapters.services import ServeError, Service, port_in_use, serve_all


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_second_start_names_the_running_one(tmp_path: Path) -> None:
    pid_file = tmp_path / ".prefect" / "serve.pid"
    pid_file.parent.mkdir()
    pid_file.write_text(str(os.getpid()))  # this very process is "serving"
    with pytest.raises(ServeError, match=rf"already being served .*pid {os.getpid()}"):
        serve_all([], tmp_path)


def test_busy_port_is_reported_not_crashed(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        service = Service("web", [sys.executable, "-m", "http.server"], port=port)
        with pytest.raises(ServeError, match=rf"web \(port {port}\)"):
            serve_all([service], tmp_path)


def test_services_start_healthy_and_stop_together(tmp_path: Path) -> None:
    port = _free_port()
    web = Service(
        "web",
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(tmp_path),
        ],
        port=port,
        startup_timeout_s=30,
    )
    worker = Service("worker", [sys.executable, "-c", "import time; time.sleep(600)"], port=None)
    seen: list[str] = []
    up = threading.Event()

    def announce(message: str) -> None:
        seen.append(message)
        if "Ctrl-C" in message:
            up.set()

    def until() -> bool:
        return up.is_set() and port_in_use(port)

    serve_all([web, worker], tmp_path, announce=announce, until=until)
    assert any(f"http://127.0.0.1:{port}/" in m for m in seen)
    assert not port_in_use(port)
    assert not (tmp_path / ".prefect" / "serve.pid").exists()
    assert (tmp_path / "logs" / "web.log").exists()
