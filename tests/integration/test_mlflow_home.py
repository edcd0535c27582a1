"""MLflow state that must survive what happens to a home: killed trainings, a moved home.

1. A training killed while it logs (SIGKILL: no `finally`, no atexit) leaves its parent run
   RUNNING. A real one is made by a subprocess that opens the parent run and is then killed;
   the next training closes it as KILLED, and leaves alone a run whose process still lives.
2. MLflow stores artifact roots absolute: a home trained in directory A and renamed to B still
   names A in its database. After the rename the champion still loads, serves a forecast and a
   promotion, and a new training writes its artifacts under B, not A.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from previsecours.adapters import registry, tracking
from previsecours.paths import Paths
from previsecours.settings import load_settings
from previsecours.testing.small import write_small_params

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

NOW = datetime(2024, 4, 15, 6, 0, tzinfo=UTC)
TERRITORY = "testland"

HOLD_A_RUN = """
import sys, time
from pathlib import Path
from previsecours.adapters import tracking
from previsecours.paths import Paths

experiment = tracking.use_tracking(Paths(Path(sys.argv[1])), sys.argv[2])
with tracking.training_run(experiment, sys.argv[3], {"kind": "training"}) as run_id:
    print(run_id, flush=True)
    time.sleep(600)
"""


def _hold_a_run(home: Path, name: str) -> tuple[subprocess.Popen[str], str]:
    """A process holding a training's parent run open; (the process, the run id)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_RUN, str(home), TERRITORY, name],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    assert run_id, f"the subprocess opened no run (exit {process.poll()})"
    return process, run_id


def test_a_killed_training_run_is_closed_by_the_next_training(tmp_path: Path) -> None:
    import mlflow

    paths = Paths(tmp_path)
    killed, killed_id = _hold_a_run(tmp_path, "killed")
    alive, alive_id = _hold_a_run(tmp_path, "alive")
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        experiment = tracking.use_tracking(paths, TERRITORY)
        client = mlflow.MlflowClient()
        old = client.create_run(  # a run of another machine, from the days before pid tags
            experiment,
            start_time=int((datetime.now(UTC) - timedelta(days=3)).timestamp() * 1000),
            run_name="forgotten",
        ).info.run_id
        recent = client.create_run(experiment, run_name="elsewhere").info.run_id
        client.set_tag(recent, tracking.HOST_TAG, "another-host")
        client.set_tag(recent, tracking.PID_TAG, str(killed.pid))
        run = client.get_run(killed_id)
        assert run.info.status == "RUNNING"  # what SIGKILL leaves: nothing ended it
        assert run.data.tags[tracking.PID_TAG] == str(killed.pid)

        with tracking.training_run(experiment, "next", {"kind": "training"}) as next_id:
            pass

        status = {r: client.get_run(r).info.status for r in (killed_id, alive_id, old, recent)}
        assert status == {
            killed_id: "KILLED",
            alive_id: "RUNNING",  # its process lives: a training in progress
            old: "KILLED",  # older than STALE_AFTER, whatever its host
            recent: "RUNNING",  # another machine's recent run: cannot tell, left alone
        }
        assert "is gone" in client.get_run(killed_id).data.tags[tracking.CLOSED_TAG]
        assert "more than" in client.get_run(old).data.tags[tracking.CLOSED_TAG]
        assert client.get_run(next_id).info.status == "FINISHED"
    finally:
        alive.kill()
        alive.wait(timeout=30)


def _artifact_roots(home: Path) -> set[str]:
    with sqlite3.connect(home / "mlruns" / "mlflow.db") as db:
        rows = db.execute(
            "SELECT artifact_location FROM experiments WHERE name LIKE 'previsecours-%'"
        )
        return {str(r[0]) for r in rows}


@pytest.mark.slow
def test_a_moved_home_still_serves_its_champion(tmp_path: Path, essonne: Territory) -> None:
    from previsecours.adapters import store
    from previsecours.core.features import FEATURE_SPEC_VERSION
    from previsecours.core.generator import generate_events
    from previsecours.pipelines.forecast import run_forecast
    from previsecours.pipelines.predict import as_forecaster
    from previsecours.pipelines.promote import run_promote
    from previsecours.pipelines.train import train

    first = tmp_path / "a" / "home"
    write_small_params(first)
    settings = load_settings("essonne", first)
    events = generate_events(essonne, dt.date(2024, 1, 1), dt.date(2024, 4, 14), seed=29)
    store.write_events(settings.paths, essonne, events)
    assert train(settings).version == 1
    registry.set_champion(settings.paths, "essonne", 1)  # what is tested is the move

    moved = tmp_path / "b" / "renamed"
    moved.parent.mkdir()
    first.rename(moved)
    assert not first.exists()
    old_root = str((first / "mlruns" / "artifacts").resolve())
    assert _artifact_roots(moved) == {old_root}  # MLflow keeps the old absolute root

    settings = load_settings("essonne", moved)
    served = registry.load_champion(settings.paths, "essonne", {FEATURE_SPEC_VERSION})
    assert served.version.version == 1
    assert _artifact_roots(moved) == {str(settings.paths.mlflow_artifacts.resolve())}
    forecaster = as_forecaster(served)
    assert forecaster.territory == "essonne"

    forecast = run_forecast(settings, now=pd.Timestamp(NOW))
    assert forecast.metadata["model_version"] == "1"
    assert forecast.files.forecast.is_relative_to(moved)
    assert forecast.forecast["mean"].notna().all()

    again = train(settings)  # a new training in the moved home writes its artifacts there
    assert again.version == 2
    source = registry.get_version(settings.paths, "essonne", 2)
    run = registry.client(settings.paths).get_run(source.run_id)
    assert run.info.artifact_uri.startswith(str(moved.resolve()))
    assert not first.exists(), "artifacts were written to the home's old location"
    promoted = run_promote(settings, now=NOW)  # loads the champion (v1) and v2, both moved
    assert promoted.challenger == 2
    assert promoted.decision.reference == "champion version 1"
