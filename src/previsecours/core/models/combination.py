"""A combination: the mean of several models' forecasts, a CatBoost first.

Why: on real services the CatBoost candidates (trees: shapes, interactions, covariates; a
level from the last year or the last weeks) and the Poisson GLM (log-linear: a trend it
extrapolates, history read linearly) err in different ways, and the mean of their forecasts is
more accurate than most of them alone at most levels and grains, and never far from the best
(bench/results/real_data.md). Equal weights, not fitted ones: weights estimated on a few
backtest windows are noisy, and an equal mean is hard to beat (the "forecast combination
puzzle"). The backtest judges each combination of params.yaml beside the candidates
(core/training.py `choose_candidate`); a chosen one is what is trained, registered and
forecast — one model version whose learning core is its first member, a CatBoost (its feature
importance and the forecast's SHAP drivers are that CatBoost's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from previsecours.core.models.base import Forecaster
from previsecours.core.models.boosting import CatBoostCount


class Combination:
    name = "catboost"

    def __init__(self, members: Sequence[Forecaster]) -> None:
        if len(members) < 2 or not isinstance(members[0], CatBoostCount):
            raise ValueError("a combination is a CatBoost and at least one other model")
        self.members = list(members)

    @property
    def lead(self) -> CatBoostCount:
        lead = self.members[0]
        assert isinstance(lead, CatBoostCount)
        return lead

    @property
    def model(self) -> Any:
        """The lead CatBoost's booster (what the forecast's drivers explain)."""
        return self.lead.model

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> Combination:
        for member in self.members:
            member.fit(features, y)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return combined_mean([member.predict(features) for member in self.members])

    def feature_importance(self) -> pd.Series:
        return self.lead.feature_importance()


def combined_mean(forecasts: Sequence[np.ndarray]) -> np.ndarray:
    """The combination's forecast from its members' (the backtest's combined rows too)."""
    return np.asarray(np.mean(np.vstack(forecasts), axis=0), dtype=np.float64)
