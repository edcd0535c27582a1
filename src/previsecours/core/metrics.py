"""Forecast metrics for counts. Each function is a plain formula over flat arrays.

- `rmsse`: root mean squared error scaled by the in-sample seasonal-naive squared error of the
  same level and grain — the ranking metric (MAE and MASE reward the median, which is 0 for most
  station-hours, so a useless all-zero model would win them).
- `poisson_deviance`: mean unit deviance, forecasts floored at 0.01 (a 0 forecast of a count
  that happens would be infinitely wrong).
- `bias_pct`: 100 × (Σ forecast − Σ actual) / Σ actual.
- `pinball`: mean pinball loss over the given quantiles (a discrete CRPS approximation).
- `coverage`: share of actuals inside [low, high] (bounds included: counts are integers).
- `class_accuracy_2018`: the 2018 Prévisecours project's 4 weekly classes (0, < 14, < 38, ≥ 38).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
DEVIANCE_FLOOR: Final = 0.01
CLASS_EDGES_2018: Final = (14.0, 38.0)


def mae(y: FloatArray, mean: FloatArray) -> float:
    return float(np.mean(np.abs(y - mean)))


def rmse(y: FloatArray, mean: FloatArray) -> float:
    return float(np.sqrt(np.mean((y - mean) ** 2)))


def seasonal_scale(history: FloatArray, season: int) -> float:
    """Mean squared error of the seasonal-naive forecast over `history` (series × periods)."""
    if history.shape[-1] <= season:
        return float("nan")
    diff = history[..., season:] - history[..., :-season]
    known = diff[np.isfinite(diff)]  # unknown periods (a counts store's gaps) left out
    return float(np.mean(known**2)) if known.size else float("nan")


def rmsse(y: FloatArray, mean: FloatArray, scale: float) -> float:
    if not scale > 0:
        return float("nan")
    return float(np.sqrt(np.mean((y - mean) ** 2) / scale))


def poisson_deviance(y: FloatArray, mean: FloatArray) -> float:
    mu = np.maximum(mean, DEVIANCE_FLOOR)
    with np.errstate(divide="ignore", invalid="ignore"):
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return float(np.mean(2.0 * (ylogy - (y - mu))))


def bias_pct(y: FloatArray, mean: FloatArray) -> float:
    total = float(np.sum(y))
    return float("nan") if total == 0 else 100.0 * (float(np.sum(mean)) - total) / total


def pinball(y: FloatArray, quantiles: FloatArray, levels: Sequence[float]) -> float:
    """`quantiles[:, j]` is the forecast quantile at `levels[j]`."""
    diff = y[:, None] - quantiles
    tau = np.asarray(levels, dtype=np.float64)[None, :]
    return float(np.mean(np.maximum(tau * diff, (tau - 1.0) * diff)))


def coverage(y: FloatArray, low: FloatArray, high: FloatArray) -> float:
    return float(np.mean((y >= low) & (y <= high)))


def classes_2018(values: FloatArray) -> npt.NDArray[np.int64]:
    """0 for no intervention (a forecast under 0.5 rounds to 0), then < 14, < 38, ≥ 38."""
    rounded = np.round(values)
    return np.where(
        rounded <= 0, 0, 1 + np.searchsorted(np.asarray(CLASS_EDGES_2018), values, side="right")
    ).astype(np.int64)


def class_accuracy_2018(y: FloatArray, mean: FloatArray) -> float:
    return float(np.mean(classes_2018(y) == classes_2018(mean)))


def mape(y: FloatArray, mean: FloatArray) -> float:
    """Mean absolute percentage error: only for large counts (département weeks)."""
    keep = y > 0  # also leaves unknown actuals (NaN) out
    if not keep.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(mean[keep] - y[keep]) / y[keep]))
