"""A baseline that cannot fit the data is dropped with its reason, never slows or spoils a run
(issue #16, item 9: the Poisson GLM on a département's weekly totals)."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from previsecours.core.backtest import BacktestConfig, merge_results, run_backtest
from previsecours.core.features import area_attributes, build_features, make_spec
from previsecours.core.generator import generate_events
from previsecours.core.models.glm import PoissonGLM
from previsecours.core.panel import DensePanel, count_panel
from previsecours.core.territory import Territory
from previsecours.errors import ModelFitError

TZ = "Europe/Paris"


def _weekly_departement(essonne: Territory) -> DensePanel:
    """Three years of département weekly totals per category (~300 to ~1,400 a week)."""
    events = generate_events(essonne, dt.date(2021, 1, 4), dt.date(2023, 12, 31), seed=3)
    start, end = pd.Timestamp("2021-01-04", tz=TZ), pd.Timestamp("2024-01-01", tz=TZ)
    return count_panel(events, essonne, "departement", "week", start=start, end=end)


def test_the_glm_converges_on_large_weekly_counts(essonne: Territory) -> None:
    panel = _weekly_departement(essonne)
    spec = make_spec("week", 1)
    attributes = area_attributes(essonne, "departement", ["essonne"])
    n = len(panel.starts)
    block = build_features(panel, spec, essonne, attributes, first=60, last=n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # lbfgs's ConvergenceWarning would fail here
        model = PoissonGLM().fit(block.matrix, block.y)
    assert model.solver == "newton-cholesky"
    assert np.isfinite(model.predict(block.matrix)).all()


def test_a_model_that_cannot_fit_is_dropped_with_its_reason(essonne: Territory) -> None:
    panel = _weekly_departement(essonne)
    spec = make_spec("week", 1)
    attributes = area_attributes(essonne, "departement", ["essonne"])
    config = BacktestConfig(
        horizon=1,
        n_windows=3,
        models=("seasonal_naive", "poisson_glm"),
        model_params={"poisson_glm": {"max_iter": 1}},  # neither solver converges in 1 step
    )
    result = run_backtest(panel, spec, essonne, attributes, config)
    assert set(result.predictions["model"]) == {"seasonal_naive"}
    assert "did not fit" in result.dropped["poisson_glm"]
    parts = [run_backtest(panel, spec, essonne, attributes, config, only=(k,)) for k in (0, 1)]
    merged = merge_results(parts)
    assert set(merged.predictions["model"]) == {"seasonal_naive"} and merged.dropped
    block = build_features(panel, spec, essonne, attributes, first=60, last=len(panel.starts))
    with pytest.raises(ModelFitError, match="did not fit"):
        PoissonGLM({"max_iter": 1}).fit(block.matrix, block.y)
