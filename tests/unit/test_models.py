"""Models behind one interface; CatBoost beats seasonal naive on generated data."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.core import metrics as m
from previsecours.core.backtest import BacktestConfig, run_backtest
from previsecours.core.features import area_attributes, make_spec
from previsecours.core.generator import generate_events
from previsecours.core.models import make_forecaster, model_names
from previsecours.core.models.baselines import ColumnBaseline
from previsecours.core.panel import count_panel

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

TZ = "Europe/Paris"


def test_baselines_read_their_columns() -> None:
    spec = make_spec("hour", 168)
    frame = pd.DataFrame(
        {c: [np.nan, 2.0] for c in spec.columns}
        | {"lag_168": [np.nan, 3.0], "season_mean_4": [1.5, 2.5]}
    )
    naive = make_forecaster("seasonal_naive", spec).fit(frame, np.zeros(2))
    assert naive.predict(frame).tolist() == [1.5, 3.0]  # falls back to the 4-season mean
    assert make_forecaster("seasonal_average_4", spec).predict(frame).tolist() == [1.5, 2.5]
    weekly = make_spec("week", 1)
    last = make_forecaster("last_period", weekly)
    seasonal = make_forecaster("seasonal_naive", weekly)
    assert isinstance(last, ColumnBaseline) and isinstance(seasonal, ColumnBaseline)
    assert last.chain[0] == "lag_1"
    assert seasonal.chain[0] == "lag_52"
    with pytest.raises(ValueError, match="unknown model"):
        make_forecaster("prophet", spec)
    assert {"catboost", "poisson_glm", "reference_3y_pm2"} <= set(model_names())
    # The trend reference, where no growth or reference is known: the reference, then older ones.
    trend = pd.DataFrame(
        {c: [np.nan] * 3 for c in spec.columns}
        | {"ref_3y_pm2_trend": [4.4, np.nan, np.nan], "ref_3y_pm2": [4.0, 3.0, np.nan]}
        | {"season_mean_4": [1.0, 1.0, 2.0]}
    )
    reference = make_forecaster("reference_3y_pm2_trend", spec)
    assert reference.predict(trend).tolist() == [4.4, 3.0, 2.0]


def test_catboost_beats_seasonal_naive_on_generated_data(essonne: Territory) -> None:
    events = generate_events(essonne, dt.date(2024, 2, 5), dt.date(2024, 5, 26), seed=8)
    start, end = pd.Timestamp("2024-02-05", tz=TZ), pd.Timestamp("2024-05-27", tz=TZ)
    panel = count_panel(events, essonne, "station", "hour", start=start, end=end, by_category=False)
    spec = make_spec("hour", 168)
    attrs = area_attributes(essonne, "station", list(panel.series["area_code"]))
    config = BacktestConfig(
        horizon=168,
        n_windows=2,
        train_periods=24 * 7 * 8,
        models=("catboost", "seasonal_naive"),
        model_params={"catboost": {"iterations": 60}},
    )
    result = run_backtest(panel, spec, essonne, attrs, config)
    p = result.predictions
    scale = m.seasonal_scale(panel.counts[:, : result.windows[0].origin], 168)
    rmsse = {
        name: m.rmsse(g["actual"].to_numpy(), g["mean"].to_numpy(), scale)
        for name, g in p.groupby("model")
    }
    assert rmsse["catboost"] < 0.9 * rmsse["seasonal_naive"]
    assert (p["mean"] >= 0).all() and np.isfinite(p["mean"]).all()


def test_catboost_ignores_the_seasonal_position_under_a_year_of_rows() -> None:
    from previsecours.core.models.boosting import SEASON_POSITION, CatBoostCount, partial_season

    rng = np.random.default_rng(0)
    days = pd.date_range("2024-01-01", periods=2 * 365, freq="D")
    frame = pd.DataFrame(
        {
            "month": days.month,
            "week_of_year": days.isocalendar().week.to_numpy(),
            "day_of_year": days.day_of_year,
            "doy_sin": np.sin(2 * np.pi * days.day_of_year / 365.25),
            "doy_cos": np.cos(2 * np.pi * days.day_of_year / 365.25),
            "weekday": days.day_of_week,
            "years_since_2000": days.year - 2000 + days.day_of_year / 365.25,
        }
    ).astype(np.float32)
    y = rng.poisson(3.0 + 2.0 * (frame["weekday"] >= 5) + frame["month"] / 4).astype(float)
    assert partial_season(frame) == []  # two whole years: a season, not a time index
    recent = frame.iloc[-200:]  # 200 days miss some weeks of the year
    assert partial_season(recent) == list(SEASON_POSITION)
    gappy = frame[frame["week_of_year"] != 1]  # a week missing inside two years: still a year
    assert partial_season(gappy) == []
    params = {"iterations": 30, "thread_count": 1}
    short = CatBoostCount(params).fit(recent, y[-200:]).feature_importance()
    assert (short[list(SEASON_POSITION)] == 0).all() and short["weekday"] > 0
    full = CatBoostCount(params).fit(frame, y).feature_importance()
    assert full[list(SEASON_POSITION)].sum() > 0  # a whole year of rows: the season is learnt
    assert full["years_since_2000"] == 0  # a time index, ignored by default


def test_the_learning_models_do_not_read_the_baseline_only_columns() -> None:
    # The trend-adjusted reference is a baseline's column: even where it predicts the target
    # perfectly, CatBoost and the GLM forecast the same without it (shuffled).
    from previsecours.core.features import BASELINE_ONLY

    rng = np.random.default_rng(1)
    n = 400
    level = rng.uniform(1.0, 9.0, n)
    spec = make_spec("week", 1)
    frame = pd.DataFrame(
        {c: np.zeros(n) for c in spec.columns}
        | {
            "week_of_year": rng.integers(1, 53, n),
            "lag_1": rng.poisson(level),
            "ref_3y_pm2": rng.poisson(level),
            "years_since_2000": np.linspace(20.0, 22.0, n),
        }
        | dict.fromkeys(BASELINE_ONLY, level)
    ).astype(np.float32)
    y = rng.poisson(level).astype(float)
    shuffled = frame.assign(**{c: rng.permutation(level) for c in BASELINE_ONLY})
    for name, params in (("catboost", {"iterations": 30, "thread_count": 1}), ("poisson_glm", {})):
        model = make_forecaster(name, spec, params).fit(frame, y)
        np.testing.assert_array_equal(model.predict(frame), model.predict(shuffled))
