"""`make demo` at reduced size, run twice in the same home as a user would (a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from previsecours.testing.small import write_small_params


def _demo(home: Path) -> str:
    env = {**os.environ, "PREFECT_HOME": str(home / ".prefect")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "previsecours.demo",
            "--years",
            "1",
            "--end",
            "2025-03-31",
            "--home",
            str(home),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_demo_runs_end_to_end_and_again(tmp_path: Path) -> None:
    write_small_params(tmp_path)
    first = _demo(tmp_path)
    for flow in ("weekly-retrain", "ingest-inbox", "daily-forecast"):
        assert f"Prefect flow run: {flow} /" in first
        assert f"summary artifact {flow}-essonne" in first  # each parent run tells its story
    assert "monitor: essonne: nothing to monitor yet" in first  # the first retrain: no forecast
    assert "quarantined (" in first  # the dirty extract's defects are reported
    assert "promotion: promoted" in first
    # The recent extract's actuals score the weekly retrain's forecast.
    assert "forecast issue(s) scored against actuals" in first
    assert "monitor-accuracy-essonne, monitor-drift-essonne" in first
    assert "from 2025-03-18" in first  # the weekly forecast: the week after the history
    assert "from 2025-04-01" in first  # the daily forecast: the coming week
    assert "crews per station and shift" in first
    assert (tmp_path / ".prefect").is_dir()  # the runs are recorded where `make serve` looks
    forecasts = sorted((tmp_path / "forecasts" / "essonne").glob("*.json"))
    assert len(forecasts) == 2

    second = _demo(tmp_path)
    assert " 0 added" in second  # the same extracts again: nothing stored twice
    assert "monitor: not run: no new rows" in second
    assert "trained version 2" in second
    assert "forecast issue(s) scored against actuals" in second  # the first run's forecasts
    assert len(sorted((tmp_path / "forecasts" / "essonne").glob("*.json"))) == 4
