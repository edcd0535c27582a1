"""Forecasters behind one small interface (`Forecaster`): CatBoost and the baselines.

Every forecaster maps a feature frame (`core.features`) to non-negative expected counts. The
baselines read their history columns from the same frame, so all models are fitted, backtested
and compared on exactly the same rows.
"""

from previsecours.core.models.base import Forecaster, make_forecaster, model_names

__all__ = ["Forecaster", "make_forecaster", "model_names"]
