"""A foreign service end to end, through the real command: a small Montgomery-like county.

A territory that declares no stations (no coverage zones), foreign categories (EMS, FIRE,
TRAFFIC) and its own `presentation` block; synthetic events up to yesterday → `ingest` →
`train` (small parameters) → `promote` → `forecast` → the dashboard's API. Each command
exits 0; the forecast has no crews and says why; the dashboard answers in the territory's words
and opens where the forecast is.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from previsecours.testing import cli as testing_cli
from previsecours.testing.small import write_small_params
from tests.conftest import REPO

pytestmark = pytest.mark.slow
TZ = "America/New_York"
TOWNSHIPS = {  # code: (name, population, latitude, longitude)
    "ABINGTON": ("Abington", 55000, 40.11, -75.12),
    "CHELTENHAM": ("Cheltenham", 37000, 40.07, -75.14),
    "LOWER MERION": ("Lower Merion", 58000, 40.02, -75.27),
    "NORRISTOWN": ("Norristown", 35000, 40.12, -75.34),
    "POTTSTOWN": ("Pottstown", 23000, 40.25, -75.65),
    "LANSDALE": ("Lansdale", 18000, 40.24, -75.28),
}
CATEGORY_SHARES = {"EMS": 0.6, "FIRE": 0.15, "TRAFFIC": 0.25}
# Relative volume per local hour of day: quiet nights, busy afternoons.
HOUR_PROFILE = np.array(
    [
        *(0.5, 0.4, 0.35, 0.3, 0.3, 0.4, 0.6, 0.9, 1.1, 1.2, 1.3, 1.35),
        *(1.4, 1.4, 1.4, 1.45, 1.5, 1.5, 1.4, 1.3, 1.1, 0.9, 0.75, 0.6),
    ]
)
PRESENTATION = {
    "total_label": "County",
    "area_label": "township",
    "credits": "Synthetic calls for the tests.",
    "category_labels": {"EMS": "EMS — emergency medical services"},
    "category_colours": {"EMS": "#1f77b4", "FIRE": "#d62728"},  # TRAFFIC: the palette's
}


def write_territory(folder: Path) -> Path:
    (folder / "smallco").mkdir(parents=True)
    pd.DataFrame(
        [(code, *values) for code, values in TOWNSHIPS.items()],
        columns=["code", "name", "population", "latitude", "longitude"],
    ).to_csv(folder / "smallco" / "townships.csv", index=False)
    doc = {
        "name": "smallco",
        "label": "Small County, PA",
        "timezone": TZ,
        "holidays": {"country": "US", "subdivision": "PA"},
        "school_holidays": {"zone": None},
        "bounding_box": {"lat_min": 39.94, "lat_max": 40.49, "lon_min": -75.73, "lon_max": -74.98},
        "categories": list(CATEGORY_SHARES),
        "frequency": "hour",
        "areas": {"communes": "smallco/townships.csv"},
        "extract": {
            "columns": {
                "intervention_id": "call_id",
                "alert_time": "timeStamp",
                "commune_code": "twp",
                "category": "title",
            },
            "time_format": "%Y-%m-%d %H:%M:%S",
            "category_pattern": r"^\s*(\w+):",
            "categories": {"EMS": "EMS", "Fire": "FIRE", "Traffic": "TRAFFIC"},
        },
        "presentation": PRESENTATION,
    }
    path = folder / "smallco.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_calls(path: Path, end: pd.Timestamp, days: int, seed: int = 11) -> int:
    """Calls of `days` days up to `end` (local midnight), ~4 an hour, in the export's words."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(end - pd.Timedelta(days=days), end, freq="h", inclusive="left")
    weekday = np.where(hours.day_of_week >= 5, 0.85, 1.0)
    counts = rng.poisson(4.0 * HOUR_PROFILE[hours.hour] * weekday)
    n = int(counts.sum())
    times = hours.repeat(counts) + pd.to_timedelta(rng.uniform(0, 3600, n).astype(int), "s")
    population = np.array([v[1] for v in TOWNSHIPS.values()], dtype=float)
    export = {"EMS": "EMS", "FIRE": "Fire", "TRAFFIC": "Traffic"}
    category = rng.choice(list(CATEGORY_SHARES), n, p=list(CATEGORY_SHARES.values()))
    pd.DataFrame(
        {
            "call_id": [f"C{i:07d}" for i in range(n)],
            "timeStamp": times.strftime("%Y-%m-%d %H:%M:%S"),
            "twp": rng.choice(list(TOWNSHIPS), n, p=population / population.sum()),
            "title": [f"{export[c]}: SOMETHING HAPPENED" for c in category],
            "desc": "ADDRESS; Station 999;",  # an unmapped column: dropped
        }
    ).to_csv(path, index=False)
    return n


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return testing_cli.run_cli(home, *args, cwd=REPO, timeout=900)


@dataclass(frozen=True)
class Story:
    home: Path
    territory_file: Path
    forecast: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    """The county's calls up to last night, through ingest, train, promote and forecast."""
    base = tmp_path_factory.mktemp("foreign")
    home = base / "home"
    territory_file = write_territory(base / "territories")
    write_small_params(
        home,
        {
            "forecast": {"horizon": "2d", "grains": ["day", "week"]},
            # No station level here: the promotion is judged where the forecast is.
            "promote": {
                "primary_level": "departement×hour",
                "coverage_levels": ["departement×hour"],
            },
        },
    )
    today = pd.Timestamp.now(tz=TZ).normalize().tz_localize(None)
    calls = base / "calls.csv"
    write_calls(calls, end=today, days=120)
    t = str(territory_file)
    for step in ("ingest", "train", "promote"):
        done = run_cli(home, step, *([str(calls)] if step == "ingest" else []), "-t", t)
        reason = next((line for line in done.stdout.splitlines() if "Refused" in line), "")
        # promote exits 3 when it refuses: the forecast would then have no champion.
        assert done.returncode == 0, f"{step}: {reason or done.stdout[-2000:] + done.stderr}"
    return Story(home, territory_file, run_cli(home, "forecast", "-t", t))


def test_the_forecast_runs_and_says_why_there_are_no_crews(story: Story) -> None:
    from previsecours.adapters import forecast_files
    from previsecours.paths import Paths

    forecast = story.forecast
    assert forecast.returncode == 0, forecast.stdout + forecast.stderr
    # Data up to last night: nothing stale to warn about; no crews, and why.
    assert "warning:" not in forecast.stderr
    assert "Busiest hours for the County" in forecast.stdout
    assert "declares no stations" in forecast.stdout
    stored = forecast_files.latest_forecast(Paths(story.home), "smallco")
    assert stored is not None
    assert stored.staffing.empty
    assert set(stored.forecast["level"]) == {"commune", "departement"}
    assert stored.metadata["staffing"]["note"].startswith("No crews:")
    assert stored.metadata["data_stale"] is None
    assert "champion_backtest" in stored.metadata


def test_the_dashboard_answers_in_the_territorys_words(story: Story) -> None:
    from previsecours.adapters.territory_files import load_territory
    from previsecours.dashboard.app import create_app
    from previsecours.paths import Paths

    client = TestClient(create_app(Paths(story.home), load_territory(story.territory_file)))
    meta = client.get("/api/meta").json()
    assert meta["territory"]["label"] == "Small County, PA"
    assert meta["presentation"]["total_label"] == "County"
    assert meta["presentation"]["credits"] == "Synthetic calls for the tests."
    assert {lv["key"]: lv["label"] for lv in meta["levels"]} == {
        "commune": "township",
        "departement": "county",
    }
    colours = {c["key"]: c["colour"] for c in meta["categories"]}
    assert colours["EMS"] == "#1f77b4"
    assert colours["FIRE"] == "#d62728"
    assert colours["TRAFFIC"] not in {"#1f77b4", "#d62728", "#5b6475"}  # its own, not grey
    labels = {c["key"]: c["label"] for c in meta["categories"]}
    assert labels["EMS"] == "EMS — emergency medical services"
    assert meta["opening"] == {"level": "commune", "frequency": "hour", "note": ""}
    assert "centres" in meta["crews_note"]
    first = client.get("/api/map?level=commune&frequency=hour&period=0").json()
    assert {a["code"] for a in first["areas"]} == set(TOWNSHIPS)
    county = client.get("/api/departement").json()
    assert [c["key"] for c in county["categories"]] == ["ALL", *CATEGORY_SHARES]
    assert county["days"]
    assert client.get("/api/stations").json() == []


def test_old_data_are_flagged(story: Story) -> None:
    from previsecours.adapters import store
    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.forecast_report import stale_data
    from previsecours.paths import Paths

    territory = load_territory(story.territory_file)
    history = store.read_history(Paths(story.home), territory)
    now = pd.Timestamp.now(tz="UTC")
    assert stale_data(history, territory, "hour", now) is None
    later = stale_data(history, territory, "hour", now + pd.Timedelta(days=30))
    assert later is not None
    assert later["limit_days"] == 7
    assert "not today" in later["text"]
    assert stale_data(history, territory, "week", now + pd.Timedelta(days=15)) is None


@pytest.mark.parametrize(("promoted", "code"), [(True, 0), (False, 3)])
def test_promote_exit_code_tells_a_refusal_from_a_promotion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, promoted: bool, code: int
) -> None:
    """0 promoted, 3 refused (a refusal used to exit 0, like a success)."""
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from previsecours.cli import app
    from previsecours.pipelines import promote as pipeline

    verdict = "Promoted." if promoted else "Refused: coverage."
    result = SimpleNamespace(decision=SimpleNamespace(promoted=promoted), markdown=lambda: verdict)
    monkeypatch.setattr(pipeline, "run_promote", lambda *_, **__: result)
    done = CliRunner().invoke(app, ["--home", str(tmp_path), "promote", "-t", "essonne"])
    assert done.exit_code == code, done.output
    assert verdict in done.output
