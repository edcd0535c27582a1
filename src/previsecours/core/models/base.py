"""The forecaster interface and the names models have in params.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

from previsecours.config import CANDIDATE_PREFIX
from previsecours.core.features import FeatureSpec


class Forecaster(Protocol):
    """Expected counts from features. `predict` returns float64 means ≥ 0, one per row."""

    name: str

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> Forecaster: ...

    def predict(self, features: pd.DataFrame) -> np.ndarray: ...


def model_names() -> tuple[str, ...]:
    from previsecours.core.models.baselines import BASELINES

    return ("catboost", "poisson_glm", *BASELINES)


def make_forecaster(
    name: str, spec: FeatureSpec, params: Mapping[str, Any] | None = None
) -> Forecaster:
    """A new, unfitted forecaster by name (`params`: that model's settings)."""
    from previsecours.core.models.baselines import BASELINES, baseline
    from previsecours.core.models.boosting import CatBoostCount
    from previsecours.core.models.glm import PoissonGLM

    if name == "catboost" or name.startswith(CANDIDATE_PREFIX):
        return CatBoostCount(dict(params or {}))
    if name == "poisson_glm":
        return PoissonGLM(dict(params or {}))
    if name in BASELINES:
        return baseline(name, spec)
    raise ValueError(f"unknown model {name!r}; known: {sorted(model_names())}")
