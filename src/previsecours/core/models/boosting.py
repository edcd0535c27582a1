"""CatBoost with a count objective: the main model.

Speed settings measured on 2 cores (STACK_NOTES): `leaf_estimation_iterations=1`, the area as a
plain number (no CTR categorical), Bernoulli subsampling, `thread_count` = the free cores.
The mean is `exp(raw)`: Poisson and Tweedie both model the log of the expected count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from catboost import CatBoostRegressor

DEFAULTS: Final[dict[str, Any]] = {
    "loss_function": "Poisson",
    "iterations": 300,
    "depth": 6,
    "learning_rate": 0.1,
    "leaf_estimation_iterations": 1,
    "bootstrap_type": "Bernoulli",
    "subsample": 0.5,
    "thread_count": 2,
    "random_seed": 0,
}


class CatBoostCount:
    name = "catboost"

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = {**DEFAULTS, **(params or {})}
        self.model: CatBoostRegressor | None = None

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> CatBoostCount:
        self.model = CatBoostRegressor(**self.params, verbose=False, allow_writing_files=False)
        self.model.fit(features, y)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("fit or load the model first")
        mean = self.model.predict(features, prediction_type="Exponent")
        return np.clip(np.asarray(mean, dtype=np.float64), 0.0, None)

    def feature_importance(self) -> pd.Series:
        if self.model is None:
            raise RuntimeError("fit or load the model first")
        names = list(self.model.feature_names_)
        values = np.asarray(self.model.get_feature_importance(), dtype=np.float64)
        return pd.Series(values, index=names).sort_values(ascending=False)

    def save(self, path: Path) -> None:
        if self.model is None:
            raise RuntimeError("fit the model first")
        self.model.save_model(str(path), format="cbm")

    @staticmethod
    def load(path: Path) -> CatBoostCount:
        out = CatBoostCount()
        out.model = CatBoostRegressor()
        out.model.load_model(str(path), format="cbm")
        return out
