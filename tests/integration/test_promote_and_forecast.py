"""Promotion and forecast with real trained CatBoost versions in a real MLflow registry.

One module-scoped story (training is the expensive part, done once):
1. generated Essonne events to Sunday 23 March are stored in a temporary home and a small
   training runs (`pipelines.train.train`, real backtest and MLflow logging); three versions of
   the trained CatBoost are registered: v1 = its first 40 % of trees, v2 = its first 10 %
   (worse), v3 = all trees;
2. the week to Sunday 30 March arrives, and `run_promote` decides on each in turn on that week
   — after the versions' training data, so each forecasts it from the history before it, as in
   production (they log no backtest of their own: on a week they were fitted on they could not
   be judged): v1 against seasonal naive (first version), v2 against v1 (refused), v3 against
   v1 (promoted);
3. a fresh process (`previsecours forecast` in a subprocess) serves the champion and writes
   the forecast files, whose contents are checked: levels add up, intervals widen sensibly,
   crews per station and shift, drivers, the reader;
4. `rollback` moves the champion back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import yaml

from previsecours.adapters import forecast_files, registry, store
from previsecours.core.forecast_schema import (
    ALL_CATEGORIES,
    DRIVER_COLUMNS,
    FORECAST_COLUMNS,
    STAFFING_COLUMNS,
)
from previsecours.paths import Project
from previsecours.settings import Settings, load_settings

if TYPE_CHECKING:
    from previsecours.core.models.bundle import TrainedForecaster
    from previsecours.pipelines.promote import PromoteResult

pytestmark = pytest.mark.slow
NOW = datetime(2025, 4, 1, 6, 0, tzinfo=UTC)
ITERATIONS = 60
CLI = "from previsecours.cli import main; main()"


@dataclass(frozen=True)
class Story:
    settings: Settings
    decisions: dict[int, PromoteResult]


def _settings(home: Path) -> Settings:
    params = yaml.safe_load(Project.locate().params_file.read_text(encoding="utf-8"))
    params["train"] = {
        **params.get("train", {}),
        "n_windows": 1,
        "train_years": 1.0,
        "history_years": 3.3,
        "allocation_years": 1.0,
        "models": ["catboost", "seasonal_naive"],
        "catboost": {**params.get("train", {}).get("catboost", {}), "iterations": ITERATIONS},
    }
    (home / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    return load_settings("essonne", home)


def _register_variant(settings: Settings, forecaster: TrainedForecaster, trees: int) -> int:
    """Log the forecaster cut to its first `trees` trees as a new registered version."""
    import mlflow

    from previsecours.adapters import tracking
    from previsecours.core.features import FEATURE_SPEC_VERSION, area_attributes, build_features
    from previsecours.core.models.boosting import CatBoostCount
    from previsecours.core.training import history_panel

    fc = forecaster
    assert isinstance(fc.model, CatBoostCount) and fc.model.model is not None, fc.model
    booster = fc.model.model.copy()
    booster.shrink(ntree_end=trees)
    cut = CatBoostCount(fc.model.params)
    cut.model = booster
    variant = replace(fc, model=cut)
    history = store.read_history(settings.paths, settings.territory)
    end = pd.Timestamp("2025-03-01", tz=settings.territory.timezone)
    panel = history_panel(variant, history, settings.territory, end - pd.Timedelta(days=400), end)
    areas = list(variant.hierarchy.model_areas)
    attributes = area_attributes(settings.territory, variant.model_level, areas)
    n = len(panel.starts)
    example = build_features(
        panel, variant.spec, settings.territory, attributes, first=n - 1, last=n
    ).matrix.head(5)
    experiment = tracking.use_tracking(settings.paths, "essonne")
    tags = {registry.SPEC_VERSION_KEY: str(FEATURE_SPEC_VERSION), "trees": str(trees)}
    with mlflow.start_run(experiment_id=experiment, run_name=f"variant-{trees}", tags=tags):
        _, version = tracking.log_forecaster(variant, example, tags, register=True)
    assert version is not None
    return version


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Story:
    from previsecours.adapters.tracking import load_forecaster
    from previsecours.core.generator import generate_events
    from previsecours.pipelines.promote import run_promote
    from previsecours.pipelines.train import train

    home = tmp_path_factory.mktemp("home")
    settings = _settings(home)
    # Data to Sunday 30 March: the forecast starts Monday, one whole week of weekly rows.
    events = generate_events(settings.territory, date(2022, 1, 1), date(2025, 3, 30), 7)
    # Trained a week earlier (the store's last day counts as incomplete: data end 23 March),
    # so the promotion week, 23-30 March, is after every version's training data.
    week_before = pd.Timestamp("2025-03-24", tz=settings.territory.timezone)
    store.write_events(
        settings.paths, settings.territory, events[events["alert_time"] < week_before]
    )
    trained = train(settings, register=False)
    registry.use_registry(settings.paths)
    full = load_forecaster(trained.model_uri)
    assert full.data_end == pd.Timestamp("2025-03-23", tz=settings.territory.timezone)
    versions = [_register_variant(settings, full, t) for t in (24, 6, ITERATIONS)]
    assert versions == [1, 2, 3]
    store.write_events(settings.paths, settings.territory, events)
    decisions = {v: run_promote(settings, now=NOW, version=v) for v in versions}
    return Story(settings, decisions)


def test_first_version_must_beat_seasonal_naive(story: Story) -> None:
    first = story.decisions[1]
    assert first.decision.reference == "seasonal naive"
    assert first.decision.promoted, first.decision.reason
    table = first.decision.table.set_index(["level", "metric"])
    rmsse = table.loc[("station×hour", "rmsse")]
    assert isinstance(rmsse, pd.Series), rmsse
    assert rmsse["challenger"] < rmsse["reference"]
    assert "forecast from the history before 2025-03-23 00:00" in first.decision.reason


def test_worse_challenger_is_refused_and_tagged(story: Story) -> None:
    worse = story.decisions[2]
    assert not worse.decision.promoted
    assert worse.decision.reference == "champion version 1"
    assert worse.champion_after == 1
    tags = registry.get_version(story.settings.paths, "essonne", 2).tags
    assert tags["decision"] == "rejected"
    assert tags["decision_reason"].startswith("Refused")
    assert "station×hour" in tags["metrics_summary"]
    champion_tags = registry.get_version(story.settings.paths, "essonne", 1).tags
    assert champion_tags["last_challenge"] == "version 3: promoted"  # the latest challenge


def test_better_challenger_is_promoted_and_the_old_champion_kept(story: Story) -> None:
    better = story.decisions[3]
    assert better.decision.promoted, better.decision.reason
    paths = story.settings.paths
    champion = registry.champion(paths, "essonne")
    assert champion is not None and champion.version == 3
    previous = registry.alias_version(paths, "essonne", registry.PREVIOUS_CHAMPION)
    assert previous is not None and previous.version == 1
    assert registry.get_version(paths, "essonne", 3).tags["decision"] == "promoted"


@pytest.fixture(scope="module")
def served(story: Story) -> forecast_files.StoredForecast:
    """`previsecours forecast` in a fresh process: it finds the champion by itself."""
    env = {**os.environ, "PREVISECOURS_HOME": str(story.settings.paths.home)}
    done = subprocess.run(
        [sys.executable, "-c", CLI, "forecast", "--territory", "essonne"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    stored = forecast_files.latest_forecast(story.settings.paths, "essonne")
    assert stored is not None
    return stored


def test_fresh_process_serves_the_champion(served: forecast_files.StoredForecast) -> None:
    assert tuple(served.forecast.columns) == FORECAST_COLUMNS
    assert set(served.forecast["model_version"]) == {"3"}
    assert served.metadata["model_version"] == "3"
    hourly = served.forecast[served.forecast["frequency"] == "hour"]
    assert hourly["period_start"].nunique() == 168
    assert set(served.forecast["level"]) == {"commune", "station", "departement"}
    csv = pd.read_csv(served.files.csv, sep=";", decimal=",", encoding="utf-8-sig")
    assert len(csv) == len(forecast_files.csv_rows(served.forecast))
    assert served.forecast["ref_3y_mean"].notna().mean() > 0.99


def test_levels_add_up_to_the_unit(served: forecast_files.StoredForecast) -> None:
    f = served.forecast
    sums = (
        f.groupby(["frequency", "level", "category", "period_start"])["mean"].sum().unstack("level")
    )
    np.testing.assert_allclose(sums["commune"], sums["departement"], rtol=1e-9)
    np.testing.assert_allclose(sums["station"], sums["departement"], rtol=1e-9)
    by_cat = (
        f[f["category"] != ALL_CATEGORIES]
        .groupby(["frequency", "level", "area_code", "period_start"])["mean"]
        .sum()
    )
    total = f[f["category"] == ALL_CATEGORIES].set_index(
        ["frequency", "level", "area_code", "period_start"]
    )["mean"]
    np.testing.assert_allclose(by_cat.sort_index(), total.sort_index(), rtol=1e-9)
    hours = f[(f["frequency"] == "hour") & (f["level"] == "departement")]
    days = f[(f["frequency"] == "day") & (f["level"] == "departement")]
    in_days = hours[hours["period_start"] >= days["period_start"].min()]
    in_days = in_days[in_days["period_start"] < days["period_end"].max()]
    assert in_days["mean"].sum() == pytest.approx(days["mean"].sum(), rel=1e-9)


def test_intervals_widen_sensibly_with_aggregation(served: forecast_files.StoredForecast) -> None:
    f = served.forecast[served.forecast["category"] == ALL_CATEGORIES]

    def widths(frame: pd.DataFrame) -> tuple[float, float]:
        absolute = (frame["p90"] - frame["p10"]).mean()
        return float(absolute), float(absolute / frame["mean"].mean())

    day = f[f["frequency"] == "day"]
    commune, station, dep = (
        widths(day[day["level"] == lvl]) for lvl in ("commune", "station", "departement")
    )
    assert commune[0] < station[0] < dep[0]  # absolute width grows with the area
    assert commune[1] > station[1] > dep[1]  # relative width shrinks
    d = f[f["level"] == "departement"]
    hour, daily, week = (widths(d[d["frequency"] == g]) for g in ("hour", "day", "week"))
    assert hour[0] < daily[0] < week[0]
    assert hour[1] > daily[1] > week[1]
    assert (f["p02_5"] <= f["p10"]).all() and (f["p10"] <= f["p50"]).all()
    assert (f["p50"] <= f["p90"]).all() and (f["p90"] <= f["p97_5"]).all()


def test_crews_and_drivers_are_written(served: forecast_files.StoredForecast) -> None:
    staffing, drivers = served.staffing, served.drivers
    assert tuple(staffing.columns) == STAFFING_COLUMNS
    assert staffing["station_code"].nunique() == 34
    assert set(staffing["shift"]) >= {"jour ouvré", "nuit"}
    assert (staffing["recommended_crews"] >= 1).all()
    evry = staffing[staffing["station_code"] == "EVRY"]["recommended_crews"].max()
    assert evry > staffing["recommended_crews"].median()
    from previsecours.pipelines.forecast import station_days

    days = station_days(served.forecast)  # the flow's table artifact
    assert len(days) == 34 * 7
    assert days["peak_hour"].str.fullmatch(r"\d\dh").all()
    assert tuple(drivers.columns) == DRIVER_COLUMNS
    assert set(drivers["rank"]) == {1, 2, 3}
    assert drivers["driver"].isin(["heure de pointe", "nuit", "heure creuse"]).any()


def test_rollback_restores_the_previous_champion(
    story: Story, served: forecast_files.StoredForecast
) -> None:
    from previsecours.pipelines.promote import run_rollback

    outcome = run_rollback(story.settings, now=NOW)
    assert (outcome.result.demoted, outcome.result.restored) == (3, 1)
    paths = story.settings.paths
    champion = registry.champion(paths, "essonne")
    assert champion is not None and champion.version == 1
    assert registry.get_version(paths, "essonne", 3).tags["decision"] == "rolled-back"
