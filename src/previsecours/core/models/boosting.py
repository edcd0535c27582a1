"""CatBoost with a count objective: the main model.

Speed settings measured on 2 cores (STACK_NOTES): `leaf_estimation_iterations=1`, the area as a
plain number (no CTR categorical), Bernoulli subsampling, `thread_count` = the free cores.

Level offset (`offset_column`; off by default, the candidates of params.yaml set it): every
row starts from the log of an expected level known at the forecast origin (CatBoost's
`baseline`) and the trees learn the multiplicative deviation from it — shapes, not a level they
cannot extrapolate (a trend, a recording change). Kinds: "year" (the series' mean over the
last year before the horizon, `roll_8736`/`roll_364`/`roll_52`), "recent" (over the last four
weeks, `roll_672`/`roll_28`/`roll_4`), "profile" (the territory's same-weeks ±2 reference over
3 years times the area's share of the last year) or any history column. Where the level is
unknown (a series' first year), the training rows' mean. The offset kind and the fallback are
stored in the model file's metadata. Measured on real services (bench/results/real_data.md):
a yearly level helps daily series with a trend (Berlin), a recent one weekly counts (SDIS 91);
the backtest picks (core/training.py `choose_candidate`).
The mean is exp(offset + raw): Poisson and Tweedie both model the log of the expected count.

The time index `years_since_2000` is ignored by default (`ignored_features`; the GLM keeps it
for its log-linear trend): trees cannot extrapolate it, so every forecast falls in the leaves of
the latest training weeks and inherits their level — in August the July level, around All
Saints the October one. The trend still reaches the trees through the yearly history features
(`roll_8736`, `ref_3y`, …); the measured effect is in bench/README.md (experiment log).
With less than a year of training rows a "year" level is no year's level — the mean of the
few months known, or where fewer than six, the training rows' mean: at Montgomery, whose calls
start in December, a winter level for a summer week — so such a fit reads the "recent" level
instead (its metadata says so; measured: bench/results/real_data.md). Likewise, with less
than a year of training rows (Montgomery's 8 months of calls), the seasonal position
(`SEASON_POSITION`: month, week and day of year and their cyclic encodings) is a time index
too: the forecast weeks hold values no training row had, so they fall in the leaves of the
latest weeks. `fit` ignores those features when the training rows span less than a year (by
`years_since_2000`; weeks missing inside a longer span — a gap in published counts — do not
count). Measured on Montgomery's real calls: bench/results/montgomery.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from catboost import CatBoostRegressor, Pool

from previsecours.core.features import BASELINE_ONLY

DEFAULTS: Final[dict[str, Any]] = {
    "loss_function": "Poisson",
    "iterations": 150,
    "depth": 6,
    "learning_rate": 0.1,
    "leaf_estimation_iterations": 1,
    "bootstrap_type": "Bernoulli",
    "subsample": 0.5,
    "thread_count": 2,
    "random_seed": 0,
    "ignored_features": ["years_since_2000"],  # a time index: see the module docstring
}
SEASON_POSITION: Final = ("month", "week_of_year", "day_of_year", "doy_sin", "doy_cos")
A_YEAR: Final = 51 / 52  # rows from first to last over 51 weeks apart see every week once
PROFILE: Final = "profile"
YEAR: Final = "year"
RECENT: Final = "recent"
LEVEL_FLOOR: Final = 1e-3


class CatBoostCount:
    name = "catboost"

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        merged = {**DEFAULTS, **(params or {})}
        self.offset_column: str | None = merged.pop("offset_column", None)
        # The level the fitted trees start from: `offset_column`, but a yearly level without a
        # year of training rows is the recent one (`fit`).
        self.offset_kind: str | None = self.offset_column
        self.offset_fallback = 0.0
        self.params = merged
        self.model: CatBoostRegressor | None = None

    def _offset(self, features: pd.DataFrame) -> np.ndarray:
        level = np.full(len(features), np.nan)
        if self.offset_kind == PROFILE:
            if {"total_ref_3y_pm2", "area_share"} <= set(features.columns):
                level = features["total_ref_3y_pm2"].to_numpy(np.float64) * features[
                    "area_share"
                ].to_numpy(np.float64)
            rolls = [c for c in features.columns if c.startswith("roll_")]
            if rolls:  # before three years of history: the area's last-year mean
                longest = max(rolls, key=lambda c: int(c.split("_")[1]))
                level = np.where(np.isnan(level), features[longest].to_numpy(np.float64), level)
        elif self.offset_kind in (YEAR, RECENT):
            column = level_column(features, self.offset_kind)
            if column is not None:
                level = features[column].to_numpy(np.float64)
        elif self.offset_kind and self.offset_kind in features:
            level = features[self.offset_kind].to_numpy(np.float64)
        return np.where(
            np.isnan(level), self.offset_fallback, np.log(np.maximum(level, LEVEL_FLOOR))
        )

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> CatBoostCount:
        self.offset_fallback = float(np.log(max(float(np.mean(y)), LEVEL_FLOOR)))
        short = under_a_year(features)
        self.offset_kind = RECENT if self.offset_column == YEAR and short else self.offset_column
        asked = [
            *self.params.get("ignored_features", []),
            *BASELINE_ONLY,
            *partial_season(features),
        ]
        ignored = [c for c in dict.fromkeys(asked) if c in features]  # CatBoost refuses others
        params = {**self.params, "ignored_features": ignored}
        self.model = CatBoostRegressor(**params, verbose=False, allow_writing_files=False)
        self.model.fit(Pool(features, y, baseline=self._offset(features)))
        metadata = self.model.get_metadata()
        metadata["offset_column"] = self.offset_kind or ""  # what `predict` reads
        metadata["offset_fallback"] = repr(self.offset_fallback)
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("fit or load the model first")
        raw = np.asarray(self.model.predict(features, prediction_type="RawFormulaVal"))
        mean: np.ndarray = np.exp(raw + self._offset(features)).astype(np.float64)
        return mean

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
        metadata = dict(out.model.get_metadata())
        out.offset_column = out.offset_kind = metadata.get("offset_column") or None
        out.offset_fallback = float(metadata.get("offset_fallback", "0.0"))
        return out


def partial_season(features: pd.DataFrame) -> list[str]:
    """The seasonal-position columns, when the rows span less than a year (else none)."""
    if not under_a_year(features):
        return []
    return [c for c in SEASON_POSITION if c in features]


def under_a_year(features: pd.DataFrame) -> bool:
    """Whether the rows span less than a year (by `years_since_2000`; without it: unknown,
    False)."""
    if "years_since_2000" not in features:
        return False
    t = features["years_since_2000"].to_numpy(np.float64)
    t = t[np.isfinite(t)]
    return bool(t.size) and float(t.max() - t.min()) < A_YEAR


def level_column(features: pd.DataFrame, kind: str) -> str | None:
    """The series' own rolling mean behind a level kind: the longest window (a year) for
    "year", the one 13 times shorter (four weeks: 672 hours, 28 days, 4 weeks) for "recent"."""
    windows = sorted(int(c.split("_")[1]) for c in features.columns if c.startswith("roll_"))
    if not windows:
        return None
    wanted = windows[-1] if kind == YEAR else windows[-1] // 13
    return f"roll_{wanted}" if wanted in windows else None
