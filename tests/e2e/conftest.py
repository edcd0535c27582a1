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

import numpy as np
import pandas as pd
import pytest

from tests.e2e.forecast_fixture import ForecastFiles, write_forecast_files

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
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


def write_history(home: Path, territory, issued_at: pd.Timestamp, seed: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Events in the weeks the dashboard reads: the last 8 days and the same weeks ±4 of 3 years.

    About 10 interventions an hour, spread over communes by population, first station from the
    coverage shares — enough for recent actuals and the "same weeks ±2" references.
    """
    from previsecours.adapters.store import write_events
    from previsecours.core.schema import conform_extract

    rng = np.random.default_rng(seed)
    start = issued_at.tz_convert(territory.timezone).floor("h")
    windows = [(start - pd.Timedelta(days=8), start)]
    for k in (1, 2, 3):
        centre = start - pd.DateOffset(years=k)
        windows.append((centre - pd.Timedelta(weeks=4), centre + pd.Timedelta(weeks=4)))
    communes = [c.code for c in territory.communes]
    weights = np.array([max(c.population, 300) for c in territory.communes], dtype=float)
    weights /= weights.sum()
    shares = territory.shares_by_commune()
    frames = []
    for begin, end in windows:
        hours = pd.date_range(begin, end, freq="h", inclusive="left")
        counts = rng.poisson(10.0, len(hours))
        times = hours.repeat(counts) + pd.to_timedelta(rng.uniform(0, 3600, counts.sum()), "s")
        where = rng.choice(len(communes), counts.sum(), p=weights)
        commune_codes = np.array(communes)[where]
        stations = [
            rng.choice(list(shares[c]), p=list(shares[c].values())) if c in shares else None
            for c in commune_codes
        ]
        frames.append(
            pd.DataFrame(
                {
                    "alert_time": times,
                    "commune_code": commune_codes,
                    "category": rng.choice(
                        ["SUAP", "ACCI", "INCU", "INCN", "AUTR"],
                        counts.sum(),
                        p=[0.78, 0.07, 0.04, 0.02, 0.09],
                    ),
                    "station_code": stations,
                }
            )
        )
    events = pd.concat(frames, ignore_index=True)
    events.insert(0, "intervention_id", [f"E{i:07d}" for i in range(len(events))])
    from previsecours.settings import Paths

    write_events(Paths(home), territory, conform_extract(events, territory.timezone))


@pytest.fixture(scope="session")
def dashboard_server(
    tmp_path_factory: pytest.TempPathFactory, essonne, repo_root: Path
) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("dashboard-home")
    files = write_forecast_files(essonne, home / "forecasts" / essonne.name, ISSUED_AT)
    write_history(home, essonne, ISSUED_AT)
    port = free_port()
    script = Path(sys.executable).with_name("previsecours")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "previsecours.cli"]
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [*command, "--home", str(home), "dashboard", "--territory", "essonne", "--port", str(port)],
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


def _wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:  # type: ignore[type-arg]
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


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
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
def page(browser, page_log: PageLog) -> Iterator[object]:  # type: ignore[no-untyped-def]
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
def artifacts(repo_root: Path) -> Path:
    out = repo_root / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out
