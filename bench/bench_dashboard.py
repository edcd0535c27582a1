"""Dashboard speed for Essonne: server start, page ready in Chromium, slider, station view, API.

Builds the test forecast file set (196 communes, 34 zones, 7 days hourly, all levels and
categories) and a curated history in a temporary working root, starts `previsecours dashboard`
as a user would, drives Debian's headless Chromium, and prints a table (median of N runs).
Run: `.venv/bin/python bench/bench_dashboard.py` (needs /usr/bin/chromium: `make browser`).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

from previsecours.testing.browser import CHROMIUM, CHROMIUM_ARGS
from previsecours.testing.forecast_fixture import write_forecast_files, write_history
from previsecours.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
RUNS = 5
ISSUED_AT = pd.Timestamp("2026-12-28T05:00:00Z")


def main() -> None:
    import subprocess

    from playwright.sync_api import sync_playwright

    from previsecours.adapters.territory_files import load_territory

    essonne = load_territory(ROOT / "territories" / "essonne.yaml")
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        files = write_forecast_files(essonne, home, ISSUED_AT)
        write_history(home, essonne, ISSUED_AT)
        size = files.forecast.stat().st_size / 1e6
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        script = Path(sys.executable).with_name("previsecours")
        started = time.perf_counter()
        server = subprocess.Popen(
            [str(script), "--home", str(home), "dashboard", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(f"{url}/api/meta")
            rows.append(("server start → API ready (forecast loaded)", _since(started), "s"))
            rows += _api_rows(url)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                rows += _browser_rows(browser, url)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(f"forecast file: {size:.1f} MB parquet, {RUNS} runs each, median; machine shared")
    print(f"{'measure':<52} {'value':>10}")
    for name, value, unit in rows:
        print(f"{name:<52} {value:>8.3f} {unit}")


def _browser_rows(browser, url: str) -> list[tuple[str, float, str]]:  # type: ignore[no-untyped-def]
    ready, slider, station, departement = [], [], [], []
    for _ in range(RUNS):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        t = time.perf_counter()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready=true]")
        ready.append(_since(t))
        page.focus("#period")
        t = time.perf_counter()
        page.keyboard.press("ArrowRight")
        page.wait_for_selector("#map[data-period='1']")
        slider.append(_since(t))
        t = time.perf_counter()
        page.click("#map .station[data-code='EVRY']")
        page.wait_for_selector("#station-chart .main-svg")
        station.append(_since(t))
        t = time.perf_counter()
        page.click("#tabs [data-view=departement]")
        page.wait_for_selector("#dept-hourly-chart .main-svg")
        departement.append(_since(t))
        context.close()
    return [
        ("page load → map coloured (cold browser context)", statistics.median(ready), "s"),
        ("slider step → map recoloured", statistics.median(slider), "s"),
        ("click station → 7-day chart drawn (loads Plotly)", statistics.median(station), "s"),
        ("département tab → charts drawn", statistics.median(departement), "s"),
    ]


def _api_rows(url: str) -> list[tuple[str, float, str]]:
    out = []
    for path in (
        "/api/meta",
        "/api/geometry/commune",
        "/api/map?period=14",
        "/api/area/commune/91228?period=14",
        "/api/station/EVRY",
        "/api/departement",
        "/api/export/map.csv?period=14",
    ):
        times, size = [], 0
        for _ in range(RUNS):
            t = time.perf_counter()
            with urllib.request.urlopen(url + path) as response:
                size = len(response.read())
            times.append(_since(t))
        out.append((f"GET {path} ({size / 1000:.0f} kB)", statistics.median(times) * 1000, "ms"))
    return out


def _wait(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server not up: {url}")


def _since(t: float) -> float:
    return time.perf_counter() - t


if __name__ == "__main__":
    from benchlib.common import recorded

    with recorded("dashboard", "Dashboard speed for Essonne", (__doc__ or "").split("\n\n")[0]):
        main()
