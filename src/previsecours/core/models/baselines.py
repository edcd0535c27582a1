"""Baselines that read history columns of the features (nothing to fit).

- `seasonal_naive`: same hour last week / same day last week / same week last year.
- `seasonal_average_4`: mean of the last 4 seasons available at the horizon.
- `last_period`: the most recent period known at the horizon (weekly data: "last week").
- `reference_3y` / `reference_3y_pm2`: the 2018 Prévisecours references, 3-year mean of the
  same week, and of the same weeks ±2 over 3 years.
- `reference_3y_pm2_trend`: the latter at today's level, scaled by the territory's growth of
  the last 13 weeks over the same weeks of the 3 years before (core.features `_growth`).
A missing value (too little history) falls back to the next column of the chain, then to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from previsecours.core.features import FeatureSpec


@dataclass
class ColumnBaseline:
    """Predicts the first known value along a chain of feature columns."""

    name: str
    chain: tuple[str, ...]

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> ColumnBaseline:
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        out = np.full(len(features), np.nan)
        for column in self.chain:
            values = features[column].to_numpy(np.float64)
            out = np.where(np.isnan(out), values, out)
        clipped: np.ndarray = np.clip(np.nan_to_num(out, nan=0.0), 0.0, None)
        return clipped


def baseline(name: str, spec: FeatureSpec) -> ColumnBaseline:
    season = f"lag_{spec.seasonal_lag}"
    chains = {
        "seasonal_naive": (season, "season_mean_4"),
        "seasonal_average_4": ("season_mean_4", season),
        "last_period": (f"lag_{spec.horizon}", season),
        "reference_3y": ("ref_3y", "season_mean_4"),
        "reference_3y_pm2": ("ref_3y_pm2", "ref_3y", "season_mean_4"),
        "reference_3y_pm2_trend": ("ref_3y_pm2_trend", "ref_3y_pm2", "ref_3y", "season_mean_4"),
    }
    return ColumnBaseline(name, chains[name])


BASELINES = (
    "seasonal_naive",
    "seasonal_average_4",
    "last_period",
    "reference_3y",
    "reference_3y_pm2",
    "reference_3y_pm2_trend",
)
