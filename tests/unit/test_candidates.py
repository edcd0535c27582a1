"""CatBoost candidates: the backtest compares them, the best is trained as `catboost`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from previsecours.config import Params, TrainParams
from previsecours.core.backtest import BacktestResult, Evaluation, Window, with_combinations
from previsecours.core.calendar import DAY_FLAGS
from previsecours.core.choice import choose
from previsecours.core.features import make_spec
from previsecours.core.hierarchy import Dispersion
from previsecours.core.models.boosting import CatBoostCount, level_column
from previsecours.core.models.combination import Combination
from previsecours.core.models.glm import PoissonGLM
from previsecours.core.training import as_catboost, final_model
from previsecours.errors import ConfigError

CANDIDATES: dict[str, dict[str, Any]] = {
    "yearly": {"offset_column": "year"},
    "recent": {"learning_rate": 0.05},
}


def metrics(rmsse: dict[str, list[float]]) -> pd.DataFrame:
    """Pooled RMSSE rows of each model over two level × grain rows."""
    rows = [
        (model, "all", level, grain, "ALL", "rmsse", value)
        for model, values in rmsse.items()
        for (level, grain), value in zip(
            [("station", "hour"), ("departement", "day")], values, strict=True
        )
    ]
    return pd.DataFrame(
        rows, columns=["model", "window", "level", "grain", "kind", "metric", "value"]
    )


def test_candidates_replace_catboost_in_the_backtest_with_their_merged_settings() -> None:
    params = TrainParams(
        models=("catboost", "seasonal_naive"),
        catboost={"iterations": 50, "learning_rate": 0.1},
        candidates=CANDIDATES,
    )
    assert params.backtest_models == ("catboost:yearly", "catboost:recent", "seasonal_naive")
    assert params.model_params["catboost:recent"] == {"iterations": 50, "learning_rate": 0.05}
    assert params.catboost_params("yearly")["offset_column"] == "year"
    assert params.catboost_params() == {"iterations": 50, "learning_rate": 0.1}
    plain = TrainParams(models=("catboost",), candidates=None)
    assert plain.backtest_models == ("catboost",)


@pytest.mark.parametrize("bad", [{"not a name": {}}, {}])
def test_candidates_are_named_and_not_empty(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"train\.candidates"):
        Params.parse({"train": {"candidates": bad}})


def window_scores(rmsse: dict[str, list[float]]) -> pd.DataFrame:
    """Each model's score on consecutive weekly windows (core/choice.py's table)."""
    origins = pd.date_range("2025-01-06", periods=len(next(iter(rmsse.values()))), freq="7D")
    return pd.DataFrame(
        [
            ("f", origin, origin + pd.Timedelta(days=6), model, value)
            for model, values in rmsse.items()
            for origin, value in zip(origins, values, strict=True)
        ],
        columns=["fingerprint", "origin", "last", "model", "rmsse"],
    )


def test_the_candidate_with_the_lowest_mean_rmsse_is_chosen() -> None:
    table = window_scores(
        {
            "catboost:yearly": [0.70, 0.90],  # mean 0.80
            "catboost:recent": [0.72, 0.80],  # mean 0.76: best on average, not on the first row
            "seasonal_naive": [0.10, 0.10],  # not a candidate, whatever its score
        }
    )
    models = ("catboost:yearly", "catboost:recent", "seasonal_naive")
    assert choose(table, models) == "catboost:recent"
    assert choose(table, ("catboost", "seasonal_naive")) is None
    unscored = window_scores({"seasonal_naive": [0.1, 0.1]})
    assert choose(unscored, models) == "catboost:yearly"  # nothing scored: the first


def test_the_chosen_candidate_is_renamed_catboost_everywhere() -> None:
    predictions = pd.DataFrame(
        {"model": ["catboost:yearly", "catboost:recent"], "window": [0, 0], "mean": [1.0, 2.0]}
    )
    result = BacktestResult(
        (Window(0, 10, 17),), predictions, {"catboost:yearly": 1.0, "catboost:recent": 2.0}, {}
    )
    evaluation = Evaluation(
        metrics({"catboost:yearly": [0.8, 0.8], "catboost:recent": [0.7, 0.7]}),
        {"catboost:recent": Dispersion({"a": 0.1}), "catboost:yearly": Dispersion({})},
        {"catboost:recent": {0: Dispersion({})}},
    )
    result, evaluation = as_catboost(result, evaluation, "catboost:recent")
    assert list(result.predictions["model"]) == ["catboost:yearly", "catboost"]
    assert set(result.fit_seconds) == {"catboost:yearly", "catboost"}
    assert set(evaluation.metrics["model"]) == {"catboost:yearly", "catboost"}
    assert evaluation.dispersion["catboost"].alphas == {"a": 0.1}
    assert set(evaluation.window_dispersion) == {"catboost"}


def test_level_offsets_start_each_row_from_the_series_own_level() -> None:
    """Year and recent levels name the longest rolling mean and the one 13 times shorter; with
    the level as offset, a model that learns nothing (one iteration, no learning) predicts it."""
    rng = np.random.default_rng(0)
    n = 400
    features = pd.DataFrame(
        {
            "roll_4": rng.uniform(5, 50, n),
            "roll_13": rng.uniform(5, 50, n),
            "roll_52": rng.uniform(5, 50, n),
        }
    )
    assert level_column(features, "year") == "roll_52"
    assert level_column(features, "recent") == "roll_4"
    assert level_column(features[["roll_13"]], "recent") is None
    y = rng.poisson(features["roll_52"].to_numpy())
    for kind, column in (("year", "roll_52"), ("recent", "roll_4")):
        model = CatBoostCount(
            {"offset_column": kind, "iterations": 1, "learning_rate": 1e-4, "thread_count": 1}
        ).fit(features, y.astype(float))
        np.testing.assert_allclose(model.predict(features), features[column], rtol=1e-2)


def test_a_yearly_level_without_a_year_of_training_rows_is_the_recent_level(
    tmp_path: Path,
) -> None:
    """Less than a year of rows: the "year" level is a few months' mean, so the fit starts from
    the recent level; the saved model reads the same. A year of rows: the yearly level."""
    rng = np.random.default_rng(1)
    n = 400
    features = pd.DataFrame({"roll_4": rng.uniform(5, 50, n), "roll_52": rng.uniform(5, 50, n)})
    y = rng.poisson(features["roll_4"].to_numpy()).astype(float)
    settings = {"offset_column": "year", "iterations": 1, "learning_rate": 1e-4, "thread_count": 1}
    for span, column in ((0.5, "roll_4"), (1.5, "roll_52")):
        rows = features.assign(years_since_2000=np.linspace(16.0, 16.0 + span, n))
        model = CatBoostCount({**settings, "ignored_features": ["years_since_2000"]}).fit(rows, y)
        np.testing.assert_allclose(model.predict(rows), rows[column], rtol=1e-2)
        model.save(tmp_path / "m.cbm")
        loaded = CatBoostCount.load(tmp_path / "m.cbm")
        np.testing.assert_allclose(loaded.predict(rows), model.predict(rows))
    assert model.offset_column == "year"  # the setting is kept for the next fit


COMBINATIONS = {
    "recent_glm": ("recent", "poisson_glm"),
    "all_three": ("yearly", "recent", "poisson_glm"),
}


def test_combinations_are_judged_when_their_members_are_backtested() -> None:
    params = TrainParams(
        models=("catboost", "seasonal_naive", "poisson_glm"),
        catboost={"iterations": 50},
        candidates=CANDIDATES,
        combinations=COMBINATIONS,
    )
    assert params.judged_combinations == {
        "catboost:recent_glm": ("catboost:recent", "poisson_glm"),
        "catboost:all_three": ("catboost:yearly", "catboost:recent", "poisson_glm"),
    }
    # Nothing more is fitted: the backtest fits each candidate and each model once.
    assert params.backtest_models == (
        "catboost:yearly",
        "catboost:recent",
        "seasonal_naive",
        "poisson_glm",
    )
    # A combination's CatBoost settings are its first member's.
    assert params.catboost_params("recent_glm") == params.catboost_params("recent")
    assert params.catboost_params("all_three")["offset_column"] == "year"
    # A member the backtest does not run, or no candidates: not judged.
    assert replace(params, models=("catboost", "seasonal_naive")).judged_combinations == {}
    assert replace(params, candidates=None).judged_combinations == {}


def test_the_backtest_chooses_among_choose_from_when_it_is_judged() -> None:
    params = TrainParams(
        models=("catboost", "poisson_glm"),
        candidates=CANDIDATES,
        combinations=COMBINATIONS,
        choose_from=("all_three", "recent"),
    )
    assert params.choosable == ("catboost:all_three", "catboost:recent")
    table = window_scores(
        {
            "catboost:yearly": [0.1, 0.1],  # best, but not offered
            "catboost:recent": [0.8, 0.8],
            "catboost:all_three": [0.7, 0.7],
        }
    )
    assert choose(table, params.choosable) == "catboost:all_three"
    # Without its partner backtested, all_three is not judged: what remains offered.
    alone = replace(params, models=("catboost",))
    assert alone.choosable == ("catboost:recent",)
    everything = replace(params, choose_from=None)
    assert everything.choosable == (
        "catboost:yearly",
        "catboost:recent",
        "catboost:recent_glm",
        "catboost:all_three",
    )
    with pytest.raises(ConfigError, match="choose_from"):
        Params.parse({"train": {"candidates": CANDIDATES, "choose_from": ["recent", "nothing"]}})


@pytest.mark.parametrize(
    "bad",
    [
        {"glm_first": ["poisson_glm", "recent"]},  # a CatBoost candidate leads
        {"alone": ["recent"]},  # at least two members
        {"recent": ["recent", "poisson_glm"]},  # a candidate's name
        {"twice": ["recent", "catboost:yearly"]},  # candidates by their own names
        {"not a name": ["recent", "poisson_glm"]},
    ],
)
def test_combinations_are_named_and_led_by_a_candidate(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"train"):
        Params.parse({"train": {"candidates": CANDIDATES, "combinations": bad}})


def test_a_combination_forecasts_the_mean_of_its_members_rows() -> None:
    keys = pd.DataFrame(
        {
            "window": [0, 0, 1],
            "area_code": ["a", "b", "a"],
            "category": "ALL",
            "period_start": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-08"]),
            "actual": [3.0, np.nan, 5.0],
        }
    )
    lead = keys.assign(model="catboost:recent", mean=[2.0, 4.0, 6.0])
    # The other members' rows in another order: rows are matched by their keys.
    glm = keys.assign(model="poisson_glm", mean=[4.0, 8.0, 2.0]).iloc[::-1]
    yearly = keys.assign(model="catboost:yearly", mean=[3.0, 3.0, 1.0]).iloc[[1, 2, 0]]
    result = BacktestResult(
        (Window(0, 10, 17), Window(1, 17, 24)),
        pd.concat([lead, glm, yearly], ignore_index=True),
        {"catboost:recent": 2.0, "poisson_glm": 1.0, "catboost:yearly": 2.0},
        {"catboost:recent": 0.5, "poisson_glm": 0.25, "catboost:yearly": 0.5},
    )
    pair = "catboost:recent_glm"
    three = "catboost:all_three"
    out = with_combinations(
        result,
        {
            pair: ("catboost:recent", "poisson_glm"),
            three: ("catboost:recent", "poisson_glm", "catboost:yearly"),
        },
    )
    assert list(out.predictions.columns) == list(result.predictions.columns)
    combined = out.predictions[out.predictions["model"] == pair]
    assert list(combined["mean"]) == [3.0, 6.0, 4.0]
    assert list(combined["area_code"]) == ["a", "b", "a"]
    np.testing.assert_array_equal(combined["actual"], keys["actual"])
    assert list(out.predictions[out.predictions["model"] == three]["mean"]) == [3.0, 5.0, 3.0]
    assert out.fit_seconds[pair] == 3.0 and out.predict_seconds[three] == 1.25
    # A member that did not fit (dropped): no combination, the result unchanged.
    missing = {"catboost:x": ("catboost:recent", "reference_3y")}
    assert with_combinations(result, missing) is result


def test_a_chosen_combination_is_trained_as_its_members_averaged() -> None:
    rng = np.random.default_rng(1)
    n = 300
    features = pd.DataFrame(
        {
            "roll_4": rng.uniform(5, 50, n),
            "roll_52": rng.uniform(5, 50, n),
            "hour": rng.integers(0, 24, n).astype(float),
            "weekday": rng.integers(0, 7, n).astype(float),
            "month": rng.integers(1, 13, n).astype(float),
            "area_id": 0.0,
            "category_id": 0.0,
            "years_since_2000": rng.uniform(20, 22, n),
            **dict.fromkeys(DAY_FLAGS, 0.0),
        }
    )
    y = rng.poisson(features["roll_52"].to_numpy()).astype(float)
    params = TrainParams(
        models=("catboost", "poisson_glm"),
        catboost={"iterations": 20, "thread_count": 1},
        candidates=CANDIDATES,
        combinations=COMBINATIONS,
    )
    spec = make_spec("week", 1)
    assert isinstance(final_model(params, spec, "recent"), CatBoostCount)
    model = final_model(params, spec, "all_three")
    assert isinstance(model, Combination)
    model.fit(features, y)
    yearly = CatBoostCount(params.catboost_params("yearly")).fit(features, y)
    recent = CatBoostCount(params.catboost_params("recent")).fit(features, y)
    glm = PoissonGLM().fit(features, y)
    np.testing.assert_allclose(
        model.predict(features),
        (yearly.predict(features) + recent.predict(features) + glm.predict(features)) / 3,
    )
    assert model.model is model.lead.model  # the drivers explain its leading CatBoost
    assert list(model.feature_importance().index) == list(yearly.feature_importance().index)
    with pytest.raises(ValueError, match="a CatBoost and at least one other"):
        Combination([glm, yearly])
