"""What a history allows the training: its frequency's CatBoost settings among them."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from previsecours.config import TrainParams
from previsecours.core.history import History
from previsecours.core.synthetic_territory import synthetic_territory
from previsecours.core.training import history_params

PARAMS = TrainParams(
    catboost={"depth": 6},
    catboost_by_frequency={
        "hour": {"iterations": 150},
        "day": {"iterations": 300},
        "week": {"iterations": 300},
    },
)


def test_events_train_with_the_settings_of_the_territory_frequency() -> None:
    territory = synthetic_territory("small", 3, seed=5)  # hourly
    events = History.of_events(pd.DataFrame({"alert_time": []}))
    assert history_params(PARAMS, events, territory).catboost_params()["iterations"] == 150
    daily = history_params(PARAMS, events, replace(territory, frequency="day"))
    assert daily.catboost_params()["iterations"] == 300


def test_weekly_counts_train_with_the_weekly_settings() -> None:
    territory = synthetic_territory("small", 3, seed=5)
    weeks = pd.date_range("2020-01-06", periods=3, freq="7D", tz=territory.timezone)
    frame = pd.DataFrame(
        {"period_start": weeks, "area_code": territory.name, "category": "ALL", "count": 1.0}
    )
    params = history_params(PARAMS, History.of_counts(frame, "week"), territory)
    assert params.frequency == "week"
    assert params.catboost_params() == {"iterations": 300, "depth": 6}
