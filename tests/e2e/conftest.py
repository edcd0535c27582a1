"""End-to-end fixtures: the real `previsecours dashboard` server and a real headless Chromium.

The server runs as a user would start it (the console script, in a subprocess, on a free
127.0.0.1 port) over a working root holding an Essonne forecast file set and a curated history
around it. Every page records its console errors and every URL it requested, so each test can
assert the page stayed clean and offline.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from previsecours.adapters.forecast_files import ForecastFiles
from previsecours.testing.browser import CHROMIUM, CHROMIUM_ARGS
from previsecours.testing.forecast_fixture import prepared_home

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from previsecours.core.territory import Territory

ISSUED_AT = pd.Timestamp("2026-12-28T05:00:00Z")


@dataclass
class Server:
    url: str
    home: Path
    files: ForecastFiles


@dataclass
class PageLog:
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def dashboard_server(
    tmp_path_factory: pytest.TempPathFactory, essonne: Territory, repo_root: Path
) -> Iterator[Server]:
    prepared = prepared_home(tmp_path_factory.getbasetemp(), essonne, ISSUED_AT)
    yield from serve_dashboard(prepared.home, prepared.files, "essonne", repo_root)


@pytest.fixture(scope="session")
def county_server(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Iterator[Server]:
    """Montgomery County (its own `presentation` words, no stations) with a forecast of
    weekly county counts only — no township, no hour — from a champion biased by +14 %."""
    from previsecours.adapters import forecast_files
    from previsecours.adapters.territory_files import load_territory
    from previsecours.paths import Paths
    from previsecours.testing.forecast_fixture import write_forecast_files

    montgomery = load_territory(repo_root / "territories" / "montgomery-pa.yaml")
    base = tmp_path_factory.mktemp("county")
    full = write_forecast_files(montgomery, base / "full", ISSUED_AT)
    forecast = pd.read_parquet(full.forecast)
    weekly = forecast[(forecast["level"] == "departement") & (forecast["frequency"] == "week")]
    home = base / "home"
    files = forecast_files.write_forecast(
        Paths(home),
        montgomery.name,
        ISSUED_AT,
        forecast=weekly.reset_index(drop=True),
        staffing=pd.read_parquet(full.staffing).iloc[:0],
        drivers=pd.read_parquet(full.drivers).iloc[:0],
        metadata={
            "model_name": "previsecours-montgomery-pa",
            "model_version": "1",
            "data_version": "md5:0c0f",
            "inputs": {"interventions": (ISSUED_AT - pd.Timedelta(hours=2)).isoformat()},
            "champion_backtest": {"bias_pct": {"departement×week": 14.2}},
            "staffing": {"note": "No crews: the store holds counts only."},
        },
    )
    yield from serve_dashboard(home, files, "montgomery-pa", repo_root)


def serve_dashboard(
    home: Path, files: ForecastFiles, territory: str, repo_root: Path
) -> Iterator[Server]:
    """`previsecours dashboard` over `home`, as a user starts it, until the session ends."""
    port = free_port()
    script = Path(sys.executable).with_name("previsecours")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "previsecours.cli"]
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [*command, "--home", str(home), "dashboard", "--territory", territory, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=repo_root,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/api/meta", process, home / "server.log")
        yield Server(url, home, files)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _wait_until_up(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dashboard server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"dashboard server not up after {timeout} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Closed after its module: Playwright's sync API keeps an asyncio loop in this thread
    while it is open, and Prefect's sync calls made later in the session would then return
    coroutines."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Browser, page_log: PageLog) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, accept_downloads=True, locale="fr-FR"
    )
    page = context.new_page()
    page.on("console", lambda m: page_log.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page_log.errors.append(f"page error: {e}"))
    page.on("request", lambda r: page_log.requests.append(r.url))
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the pages' screenshots go: test-artifacts/ (committed, to be looked at) when
    `make screenshots` asks for them (PREVISECOURS_SCREENSHOTS=1), else a temporary folder, so
    `make test` leaves the checkout clean."""
    if not os.environ.get("PREVISECOURS_SCREENSHOTS"):
        return tmp_path_factory.mktemp("screenshots")
    out = repo_root / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out
