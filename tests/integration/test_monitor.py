"""Monitoring against real stores: forecast files vs curated actuals, logged to MLflow."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from previsecours.adapters import forecast_files, store
from previsecours.core.forecast_schema import (
    DRIVER_COLUMNS,
    FORECAST_COLUMNS,
    STAFFING_COLUMNS,
)
from previsecours.core.generator import generate_events
from previsecours.core.history import History
from previsecours.core.territory import Territory
from previsecours.pipelines.monitor import actual_counts, run_monitor
from previsecours.settings import Settings, load_settings

ISSUED = pd.Timestamp("2025-02-09 05:00", tz="Europe/Paris")


@pytest.fixture(scope="module")
def events(essonne: Territory) -> pd.DataFrame:
    return generate_events(essonne, date(2024, 1, 1), date(2025, 2, 20), seed=11)


def _home(tmp_path: Path, events: pd.DataFrame, essonne: Territory) -> Settings:
    # Perfect point forecasts cover 100 %: widen the band so only accuracy can alert here.
    params = {"monitor": {"coverage80_band": [0.0, 1.0]}}
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    settings = load_settings("essonne", tmp_path)
    store.write_events(settings.paths, essonne, events)
    return settings


def _issue(settings: Settings, events: pd.DataFrame, scale: float, issued: pd.Timestamp) -> None:
    """A forecast issue for the week after ISSUED whose means are `scale` × the actuals."""
    start, end = ISSUED.normalize() + pd.Timedelta(days=1), ISSUED + pd.Timedelta(days=8)
    actual = actual_counts(History.of_events(events), settings, start, end.normalize())
    actual = actual[actual["period_start"] >= start]
    mean = actual["count"] * scale
    steps = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1)}
    frame = actual.assign(
        territory="essonne",
        issued_at=issued.tz_convert("UTC"),
        period_end=actual["period_start"] + actual["frequency"].map(steps),
        area_name="",
        mean=mean,
        p02_5=mean * 0.8 - 2,
        p10=mean * 0.9 - 1,
        p50=mean,
        p90=mean * 1.1 + 1,
        p97_5=mean * 1.2 + 2,
        ref_3y_mean=float("nan"),
        model_name="previsecours-essonne",
        model_version="1",
        data_version="test",
    )
    forecast_files.write_forecast(
        settings.paths,
        "essonne",
        issued,
        forecast=frame[list(FORECAST_COLUMNS)],
        staffing=pd.DataFrame(columns=list(STAFFING_COLUMNS)),
        drivers=pd.DataFrame(columns=list(DRIVER_COLUMNS)),
        metadata={"model_version": "1"},
    )


def test_nothing_to_monitor_without_forecasts(
    tmp_path: Path, events: pd.DataFrame, essonne: Territory
) -> None:
    result = run_monitor(_home(tmp_path, events, essonne))
    assert result.assessment is None
    assert not result.degraded


def test_good_forecasts_pass_and_a_drop_in_accuracy_is_caught(
    tmp_path: Path, events: pd.DataFrame, essonne: Territory
) -> None:
    home = _home(tmp_path, events, essonne)
    _issue(home, events, scale=1.0, issued=ISSUED)
    good = run_monitor(home)
    assert good.assessment is not None, good.summary()
    assert not good.degraded, good.summary()
    acc = good.assessment.accuracy.set_index(["frequency", "level"])
    assert acc.loc[("day", "departement"), "mae"] == pytest.approx(0.0)
    assert acc.loc[("day", "departement"), "periods"] == 7
    assert good.run_id

    # A later issue, still before the week starts, is what planners saw: it is the one scored.
    _issue(home, events, scale=0.6, issued=ISSUED + pd.Timedelta(hours=1))
    bad = run_monitor(home)
    assert bad.issues_scored == 2
    assert bad.degraded
    assert bad.assessment is not None
    assert any("bias -40.0 %" in a for a in bad.assessment.alerts), bad.assessment.alerts


def test_a_recent_doubling_of_the_volume_is_an_alert_forecasts_scored_or_not(
    tmp_path: Path, events: pd.DataFrame, essonne: Territory
) -> None:
    """Toronto's volume doubles from one week on (a recording change; issue #16, item 16):
    the monitor says so in words, before any forecast is scored and beside the scores."""
    later = events[events["alert_time"] >= pd.Timestamp("2025-01-06", tz=essonne.timezone)]
    doubled = pd.concat(
        [events, later.assign(intervention_id=later["intervention_id"] + "-bis")],
        ignore_index=True,
    ).sort_values("alert_time", ignore_index=True)
    home = _home(tmp_path, doubled, essonne)
    unscored = run_monitor(home)
    assert unscored.assessment is None and unscored.degraded
    (alert,) = unscored.alerts
    assert alert.startswith("level shift from the week of 2025-01-06: "), alert
    assert "interventions a week (×2.0" in alert and "retrain" in alert
    assert unscored.summary().startswith("essonne: nothing to monitor yet")
    assert alert in unscored.summary()

    _issue(home, doubled, scale=1.0, issued=ISSUED)
    scored = run_monitor(home)
    assert scored.assessment is not None and scored.alerts[0] == alert
    from mlflow import MlflowClient

    run = MlflowClient().get_run(str(scored.run_id))
    assert run.data.tags["level_shift"] == alert
    assert run.data.tags["degraded"] == "true"
