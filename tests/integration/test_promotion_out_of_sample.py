"""Promotion judges every model on forecasts it made without the window's data.

A first version's final fit saw the very week promotion scores it on: scored there, it "beat"
seasonal naive by 90 % and more (its fit, not its skill). One module-scoped story on generated
Essonne events, small trainings:
1. data to Monday 18 March 2024 (the store's last day counts as incomplete: the data end
   18 March 00:00); version 1 trained (backtest windows ending 11 and 18 March)
   and promoted against seasonal naive — scored on its backtest forecast of 11–18 March;
2. version 2, the same model registered outside a training (no backtest forecasts), is refused
   with the one-line reason;
3. the week to 25 March arrives; version 3 is trained and scored on its backtest forecast of
   that week, the champion (version 1, trained a week earlier) on its forecast from the history
   before 18 March, as in production.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.settings import Settings, load_settings
from previsecours.testing.small import write_small_params

if TYPE_CHECKING:
    from previsecours.core.history import History
    from previsecours.core.models.bundle import TrainedForecaster
    from previsecours.core.territory import Territory
    from previsecours.pipelines.promote import PromoteResult

pytestmark = pytest.mark.slow
NOW = datetime(2024, 3, 25, 6, 0, tzinfo=UTC)
TZ = "Europe/Paris"
FIRST_END = pd.Timestamp("2024-03-18", tz=TZ)  # exclusive end of version 1's data
WEEK = pd.Timedelta(days=7)
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Story:
    settings: Settings
    events: pd.DataFrame
    first: PromoteResult
    first_in_sample_rmsse: float
    no_backtest: PromoteResult
    third: PromoteResult
    champion_production_rmsse: float
    v1: TrainedForecaster


def register_copy(settings: Settings, forecaster: TrainedForecaster) -> int:
    """`forecaster` registered again from a run of its own, which logs no backtest."""
    import mlflow

    from previsecours.adapters import registry, store, tracking
    from previsecours.core.features import FEATURE_SPEC_VERSION, area_attributes, build_features
    from previsecours.core.training import history_panel

    territory = settings.territory
    history = store.read_history(settings.paths, territory)
    end = history.end(territory, forecaster.spec.frequency)
    panel = history_panel(forecaster, history, territory, end - pd.Timedelta(days=60), end)
    attributes = area_attributes(
        territory, forecaster.model_level, list(forecaster.hierarchy.model_areas)
    )
    n = len(panel.starts)
    example = build_features(
        panel, forecaster.spec, territory, attributes, first=n - 1, last=n
    ).matrix.head(5)
    experiment = tracking.use_tracking(settings.paths, territory.name)
    tags = {registry.SPEC_VERSION_KEY: str(FEATURE_SPEC_VERSION)}
    with mlflow.start_run(experiment_id=experiment, run_name="copy", tags=tags):
        _, version = tracking.log_forecaster(forecaster, example, tags, register=True)
    assert version is not None
    return version


def departement_rmsse(model: TrainedForecaster, history: History, territory: Territory) -> float:
    """The production route's RMSSE at departement×hour on the latest week (no refit)."""
    from previsecours.pipelines.scoring import score_on_window

    scores = score_on_window(model, history, territory, n_windows=1)
    row = scores[
        (scores["window"] == "all")
        & (scores["level"] == "departement")
        & (scores["grain"] == "hour")
        & (scores["kind"] == "ALL")
        & (scores["metric"] == "rmsse")
    ]
    return float(row["value"].iloc[0])


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, essonne: Territory) -> Story:
    from previsecours.adapters import registry, store
    from previsecours.adapters.tracking import load_forecaster
    from previsecours.core.generator import generate_events
    from previsecours.pipelines.promote import run_promote
    from previsecours.pipelines.train import train

    home = tmp_path_factory.mktemp("out-of-sample-home")
    write_small_params(home)
    settings = load_settings("essonne", home)
    events = generate_events(essonne, dt.date(2023, 11, 6), dt.date(2024, 3, 25), seed=29)
    store.write_events(settings.paths, essonne, events[events["alert_time"] < FIRST_END + DAY])
    assert train(settings).version == 1
    registry.use_registry(settings.paths)
    v1 = load_forecaster("models:/previsecours-essonne/1")
    history = store.read_history(settings.paths, essonne)
    first = run_promote(settings, now=NOW, version=1)
    in_sample = departement_rmsse(v1, history, essonne)

    assert register_copy(settings, v1) == 2
    no_backtest = run_promote(settings, now=NOW, version=2)

    store.write_events(settings.paths, essonne, events)
    assert train(settings).version == 3
    third = run_promote(settings, now=NOW, version=3)
    production = departement_rmsse(v1, store.read_history(settings.paths, essonne), essonne)
    return Story(settings, events, first, in_sample, no_backtest, third, production, v1)


def _primary(result: PromoteResult, column: str) -> float:
    table = result.decision.table.set_index(["level", "metric"])
    return float(table.loc[("departement×hour", "rmsse"), column])  # type: ignore[arg-type]


def _backtest_rmsse(story: Story, version: int, origin: pd.Timestamp) -> float:
    """RMSSE at departement×hour of the version's logged backtest rows for the week from
    `origin`, from the events directly: the hourly sum of the modelled means against the
    hourly count, scaled by the seasonal-naive (one week) error of the 5 weeks before."""
    from previsecours.adapters import registry

    paths = story.settings.paths
    run_id = registry.get_version(paths, "essonne", version).run_id
    assert run_id is not None
    with tempfile.TemporaryDirectory() as tmp:
        local = registry.client(paths).download_artifacts(
            run_id, "backtest/predictions.parquet", tmp
        )
        logged = pd.read_parquet(local)
    rows = logged[logged["model"] == "catboost"]
    starts = pd.DatetimeIndex(rows["period_start"]).tz_convert(TZ)
    week = rows[(starts >= origin) & (starts < origin + WEEK)]
    forecast = week.groupby(pd.DatetimeIndex(week["period_start"]).tz_convert(TZ))["mean"].sum()
    hours = pd.date_range(origin - 5 * WEEK, origin + WEEK, freq="h", inclusive="left")
    alerts = story.events["alert_time"].dt.tz_convert(TZ).dt.floor("h")
    counts = alerts.value_counts().reindex(hours, fill_value=0).to_numpy(np.float64)
    assert len(forecast) == 168 and forecast.index.equals(hours[-168:])
    before, actual = counts[:-168], counts[-168:]
    scale = np.mean((before[168:] - before[:-168]) ** 2)
    return float(np.sqrt(np.mean((actual - forecast.to_numpy()) ** 2) / scale))


def test_the_version_records_the_end_of_its_training_data(story: Story) -> None:
    assert story.v1.data_end == FIRST_END


def test_a_first_version_is_scored_on_its_backtest_not_its_fit(story: Story) -> None:
    decision = story.first.decision
    assert decision.reference == "seasonal naive"
    scored = _primary(story.first, "challenger")
    expected = _backtest_rmsse(story, 1, FIRST_END - WEEK)
    assert scored == pytest.approx(expected, rel=1e-9)
    assert scored != pytest.approx(story.first_in_sample_rmsse, rel=1e-3)
    assert story.first_in_sample_rmsse < scored  # its fit flatters it
    assert "version 1: backtest forecast at origin 2024-03-11 00:00" in decision.reason


def test_a_version_without_backtest_forecasts_of_the_window_is_refused_saying_why(
    story: Story,
) -> None:
    from previsecours.adapters import registry

    decision = story.no_backtest.decision
    assert not decision.promoted
    assert decision.reason == (
        "Refused: version 2 cannot be judged out of sample — window 2024-03-11 00:00–"
        "2024-03-18 00:00: trained on data to 2024-03-18 00:00, and its run holds no backtest "
        "forecasts."
    )
    assert story.no_backtest.champion_after == 1
    tags = registry.get_version(story.settings.paths, "essonne", 2).tags
    assert tags["decision"] == "rejected" and tags["decision_reason"] == decision.reason


def test_a_champion_trained_earlier_is_scored_as_in_production(story: Story) -> None:
    decision = story.third.decision
    assert decision.reference == "champion version 1"
    assert _primary(story.third, "reference") == pytest.approx(
        story.champion_production_rmsse, rel=1e-12
    )
    assert _primary(story.third, "challenger") == pytest.approx(
        _backtest_rmsse(story, 3, FIRST_END), rel=1e-9
    )
    assert (
        "Scored on: version 3: backtest forecast at origin 2024-03-18 00:00; champion version 1: "
        "forecast from the history before 2024-03-18 00:00." in decision.reason
    )


def test_a_week_holding_the_spring_change_is_judged_on_its_backtest(
    tmp_path: Path, essonne: Territory
) -> None:
    """Data to Monday 1 April 2024: the latest week (25 March–1 April) has 167 hours. The
    scoring window is placed as the training's backtest placed it (7 local days, not 168 hours
    back from the end), so the first version is judged on its backtest forecast of that week —
    it was refused as not judgeable out of sample when 168 hours reached into 24 March."""
    from previsecours.adapters import store
    from previsecours.core.generator import generate_events
    from previsecours.pipelines.promote import run_promote
    from previsecours.pipelines.train import train

    write_small_params(tmp_path)
    settings = load_settings("essonne", tmp_path)
    events = generate_events(essonne, dt.date(2023, 11, 6), dt.date(2024, 4, 1), seed=31)
    store.write_events(settings.paths, essonne, events)
    assert train(settings).version == 1
    decision = run_promote(settings, now=NOW, version=1).decision
    assert "cannot be judged" not in decision.reason
    assert "version 1: backtest forecast at origin 2024-03-25 00:00" in decision.reason
