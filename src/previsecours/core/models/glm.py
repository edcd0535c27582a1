"""A Poisson GLM (scikit-learn): one-hot calendar and area, log1p history, missing indicators.

Fitted on at most `max_rows` rows drawn with `seed` (lbfgs on millions of one-hot rows would
dominate the training time and not change a linear model's coefficients much). When lbfgs does
converge (large counts, e.g. a département's weekly totals, make its steps crawl), the fit is
redone with Newton's method (`newton-cholesky`), which small fits (at most `NEWTON_ROWS` rows:
a few Newton iterations cost less than lbfgs's many) try first; a fit that fails with both
raises `ModelFitError`, and the backtest drops the model with the reason.
"""

from __future__ import annotations

import warnings
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import PoissonRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from previsecours.core.calendar import DAY_FLAGS
from previsecours.core.features import BASELINE_ONLY
from previsecours.errors import ModelFitError

ONE_HOT: Final = ("hour", "weekday", "month", "area_id", "category_id")
SOLVERS: Final = ("lbfgs", "newton-cholesky")
NEWTON_ROWS: Final = 20_000
FLAGS: Final = DAY_FLAGS


class PoissonGLM:
    name = "poisson_glm"

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        p = params or {}
        self.alpha = float(p.get("alpha", 1e-4))
        self.max_rows = int(p.get("max_rows", 200_000))
        self.max_iter = int(p.get("max_iter", 150))
        self.seed = int(p.get("seed", 0))
        self.pipeline: Pipeline | None = None
        self.solver: str | None = None

    def _build(self, features: pd.DataFrame, solver: str) -> Pipeline:
        history = [
            c
            for c in features.columns
            if c.startswith(("lag_", "roll_", "season_", "ref_", "day_")) and c not in BASELINE_ONLY
        ]
        covariates = [c for c in features.columns if c.startswith("cov_")]
        log_history = make_pipeline(
            SimpleImputer(
                strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True
            ),
            FunctionTransformer(np.log1p),
            StandardScaler(),
        )
        columns = ColumnTransformer(
            [
                ("onehot", OneHotEncoder(handle_unknown="ignore"), list(ONE_HOT)),
                ("flags", "passthrough", list(FLAGS)),
                ("history", log_history, history),
                ("trend", StandardScaler(), ["years_since_2000"]),
                (
                    "covariates",
                    make_pipeline(SimpleImputer(keep_empty_features=True), StandardScaler()),
                    covariates,
                ),
            ]
        )
        regressor = PoissonRegressor(alpha=self.alpha, max_iter=self.max_iter, solver=solver)
        return make_pipeline(columns, regressor)

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> PoissonGLM:
        rows = np.arange(len(features))
        if len(rows) > self.max_rows:
            rows = np.sort(np.random.default_rng(self.seed).choice(rows, self.max_rows, False))
        x, target = features.iloc[rows], y[rows]
        solvers = SOLVERS[::-1] if len(rows) <= NEWTON_ROWS else SOLVERS
        for solver in solvers:
            self.pipeline = self._build(features, solver)
            # One BLAS/OpenMP thread: these matrices are small (≤ max_rows), and on shared cores
            # the threads' busy waits made each fit ~7x slower (10 s instead of 1.4 s at 5 zones
            # × 2 years, load 6; bench/results/small_territory.md). threadpoolctl comes with
            # scikit-learn.
            with warnings.catch_warnings(), threadpool_limits(limits=1):
                warnings.simplefilter("error", ConvergenceWarning)
                try:
                    self.pipeline.fit(x, target)
                except (ConvergenceWarning, ValueError, np.linalg.LinAlgError) as exc:
                    failure = f"{solver}: {str(exc).splitlines()[0]}"
                    continue
            self.solver = solver
            return self
        self.pipeline = None
        raise ModelFitError(f"{self.name} did not fit ({failure})")

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        if self.pipeline is None:
            raise RuntimeError("fit the model first")
        return np.clip(np.asarray(self.pipeline.predict(features), dtype=np.float64), 0.0, None)
