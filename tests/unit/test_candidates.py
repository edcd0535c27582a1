"""CatBoost candidates: the backtest compares them, the best is trained as `catboost`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from previsecours.config import Params, TrainParams
from previsecours.core.backtest import BacktestResult, Evaluation, Window
from previsecours.core.hierarchy import Dispersion
from previsecours.core.models.boosting import CatBoostCount, level_column
from previsecours.core.training import as_catboost, choose_candidate
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


def test_the_candidate_with_the_lowest_mean_rmsse_is_chosen() -> None:
    table = metrics(
        {
            "catboost:yearly": [0.70, 0.90],  # mean 0.80
            "catboost:recent": [0.72, 0.80],  # mean 0.76: best on average, not on the first row
            "seasonal_naive": [0.10, 0.10],  # not a candidate, whatever its score
        }
    )
    models = ("catboost:yearly", "catboost:recent", "seasonal_naive")
    assert choose_candidate(table, models) == "catboost:recent"
    assert choose_candidate(table, ("catboost", "seasonal_naive")) is None
    unscored = metrics({"seasonal_naive": [0.1, 0.1]})
    assert choose_candidate(unscored, models) == "catboost:yearly"  # nothing scored: the first


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
