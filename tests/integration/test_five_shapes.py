"""Five shapes of data, each from its extract to the dashboard's API with DEFAULT params (issue
#16, "how it will be judged"): `ingest` → `train` → `promote` → `forecast`, each the real
command in its own process, each exiting 0, then the dashboard serving the forecast.

No home here has a params.yaml: every step runs on the repository's params.yaml, untouched.
The extracts are the shared reference files as published, never sliced nor rewritten:

1. events with stations — Essonne, four months of `previsecours generate` (the demo's
   calibrated generator; a synthetic export of any span is as real as another: four months
   train in ~35 s with default params, a year in ~155 s; tests/integration/test_demo.py runs
   the demo's flows with small params);
2. events without stations — ../shared/data/montco911/911.zip, exactly as the README says;
3. département-level weekly counts — SDIS 91's weekly totals into `essonne` (preset
   `sdis91-weekly-totals`);
4. hourly counts by area — Denver's hourly EMS calls (`.csv.gz`, UTC hours) with
   territories/denver.yaml;
5. daily counts by type — Berlin's daily missions, wide (a column per type, OTHER the rest of
   the total), with territories/berlin.yaml.

Shapes 2–5 skip, with one line, when ../shared/data is absent.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from previsecours.testing import cli as testing_cli
from tests.conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.slow
STEPS = ("ingest", "train", "promote", "forecast")


@dataclass(frozen=True)
class Shape:
    territory: str  # territories/<name>.yaml
    extract: Callable[[Path], Path]  # a folder to write in → the extract file
    ingest_options: tuple[str, ...] = ()
    needs_shared: bool = True


def essonne_months(folder: Path) -> Path:
    """Four months of Essonne's calibrated synthetic dispatch export (stations, zones)."""
    out = folder / "essonne.csv"
    dates = ("--start", "2025-09-01", "--end", "2025-12-31")
    done = run_cli(folder / "generate-home", "generate", *dates, "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def shared(relative: str) -> Callable[[Path], Path]:
    return lambda _folder: SHARED_DATA / relative


SHAPES = {
    "events with stations": Shape("essonne", essonne_months, needs_shared=False),
    "events without stations": Shape("montgomery-pa", shared("montco911/911.zip")),
    "weekly departement counts": Shape(
        "essonne",
        shared("sdis91/weekly_totals_by_category_2010_2015.csv"),
        ("--format", "counts", "--preset", "sdis91-weekly-totals"),
    ),
    "hourly counts by area": Shape(
        "denver", shared("denver/hourly_ems_calls_2011_2017.csv.gz"), ("--format", "counts")
    ),
    "daily counts by type": Shape(
        "berlin", shared("berlin/daily_missions_2018_2024.csv"), ("--format", "counts")
    ),
}


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return testing_cli.run_cli(home, *args, cwd=REPO, timeout=900)


@dataclass(frozen=True)
class Journey:
    shape: str  # a key of SHAPES
    home: Path
    territory: str
    outputs: dict[str, str]  # step → its stdout
    seconds: dict[str, float]


QUIET = ("Downloading artifacts", "Mean of empty slice", "RuntimeWarning")


def journey(name: str, folder: Path) -> Journey:
    """Every step through the real command, in a home without params.yaml; each must exit 0
    (promote exits 3 when it refuses: the forecast would then have no champion)."""
    shape = SHAPES[name]
    home = folder / "home"
    extract = shape.extract(folder)
    outputs, seconds = {}, {}
    for step in STEPS:
        args = (str(extract), *shape.ingest_options) if step == "ingest" else ()
        clock = time.perf_counter()
        done = run_cli(home, step, "--territory", shape.territory, *args)
        seconds[step] = time.perf_counter() - clock
        reason = next((ln for ln in done.stdout.splitlines() if "Refused" in ln), "")
        assert done.returncode == 0, (
            f"{step} exited {done.returncode}: {reason or done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
        # A command's stderr holds its own lines: no MLflow progress bar, no numpy warning.
        noise = [n for n in QUIET if n in done.stderr]
        assert not noise, f"{step} printed {noise[0]!r} on stderr: {done.stderr[-1500:]}"
        outputs[step] = done.stdout
    assert not (home / "params.yaml").exists()  # default params throughout
    return Journey(name, home, shape.territory, outputs, seconds)


@pytest.fixture(scope="module", params=list(SHAPES))
def trip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Journey:
    shape = SHAPES[request.param]
    if shape.needs_shared and not SHARED_DATA.is_dir():
        pytest.skip(f"reference data absent: {SHARED_DATA} (a bare clone; CI has it)")
    done = journey(request.param, tmp_path_factory.mktemp(shape.territory))
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in done.seconds.items())
    print(f"\n{request.param}: {timings}")  # shown with -s: the cost of each step
    return done


def test_every_step_exits_0_and_the_dashboard_serves_the_forecast(trip: Journey) -> None:
    from previsecours.adapters import forecast_files
    from previsecours.adapters.territory_files import load_territory
    from previsecours.dashboard.app import create_app
    from previsecours.paths import Paths

    territory = load_territory(REPO / "territories" / f"{trip.territory}.yaml")
    stored = forecast_files.latest_forecast(Paths(trip.home), territory.name)
    assert stored is not None
    assert np.isfinite(stored.forecast["mean"].to_numpy(np.float64)).all()
    assert "Promoted" in trip.outputs["promote"]

    client = TestClient(create_app(Paths(trip.home), territory))
    meta = client.get("/api/meta").json()
    opening = meta["opening"]
    assert opening["level"] in {lv["key"] for lv in meta["levels"]}
    assert opening["level"] in set(stored.forecast["level"])
    query = f"level={opening['level']}&frequency={opening['frequency']}&period=0"
    first = client.get(f"/api/map?{query}")
    assert first.status_code == 200, first.text
    assert first.json()["areas"], "the first screen shows the forecast, not an empty map"
    total = client.get("/api/departement").json()
    assert [c["key"] for c in total["categories"]] == ["ALL", *territory.categories]
    assert total["days"]
    mean = total["days"][0]["values"]["ALL"]["mean"]
    assert mean > 0


def test_what_each_shape_stored_and_forecast(trip: Journey) -> None:
    """The facts of each file (README of ../shared/data) as the commands reported them."""
    from previsecours.adapters import forecast_files
    from previsecours.paths import Paths

    ingest = trip.outputs["ingest"]
    stored = forecast_files.latest_forecast(Paths(trip.home), trip.territory)
    assert stored is not None
    levels = set(stored.forecast["level"])
    frequencies = set(stored.forecast["frequency"])
    if trip.shape == "events without stations":
        assert "99492 rows read, 99431 added" in ingest
        assert levels == {"commune", "departement"} and stored.staffing.empty
        assert "declares no stations" in trip.outputs["forecast"]
    elif trip.shape == "hourly counts by area":
        assert "59713 rows read, 59713 added" in ingest and "0 quarantined" in ingest
        assert levels == {"departement"} and "hour" in frequencies
        assert len(_stored(trip, "hour")) == 59713  # ≈ 2.5 % of hours absent: unknown, not 0
    elif trip.shape == "daily counts by type":
        assert "10228 rows read, 10228 added" in ingest  # 2,557 days × 4 types
        assert levels == {"departement"} and frequencies == {"day"}
        raw = pd.read_csv(SHARED_DATA / "berlin" / "daily_missions_2018_2024.csv")
        stored_missions = _stored(trip, "day")["count"].sum()
        assert stored_missions == raw["mission_count_all"].sum()  # OTHER = all − the three
    elif trip.shape == "weekly departement counts":
        assert "1555 rows read, 1555 added" in ingest
        assert levels == {"departement"} and frequencies == {"week"}
    else:  # events with stations: Essonne's crews
        assert {"commune", "station", "departement"} <= levels
        assert not stored.staffing.empty


def _stored(trip: Journey, frequency: str) -> pd.DataFrame:
    """The counts the store holds at `frequency`."""
    from previsecours.adapters import store
    from previsecours.adapters.territory_files import load_territory
    from previsecours.paths import Paths

    territory = load_territory(REPO / "territories" / f"{trip.territory}.yaml")
    return store.read_counts(Paths(trip.home), territory, frequency)
