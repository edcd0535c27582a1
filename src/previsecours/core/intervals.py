"""Predictive distributions of counts: negative binomial around the forecast mean.

Variance = μ + α μ², α ≥ 0 fitted per level and grain on backtest forecasts (α = 0 is Poisson).
Chosen by measured calibration (bench/bench_train.py): CatBoost quantile objectives under-cover
badly on small integer counts and symmetric conformal intervals under-cover at hourly grain,
while a count distribution with a fitted dispersion keeps quantiles integer, ordered and
coherent with the mean. α is chosen so that the central 80 % interval covers `target` of the
backtest actuals (coverage only grows with α); when even Poisson over-covers (small hourly
counts: integer quantiles), α stays 0.

Quantiles are integers (the count distribution's own), so intervals include their bounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
ALPHA_MIN: Final = 1e-6
ALPHA_MAX: Final = 5.0


def nb_quantiles(mean: FloatArray, alpha: float, levels: Sequence[float]) -> FloatArray:
    """Quantiles (rows × levels) of NB(mean, α); Poisson when α == 0."""
    mu = np.maximum(np.asarray(mean, dtype=np.float64), 1e-9)[:, None]
    q = np.asarray(levels, dtype=np.float64)[None, :]
    if alpha <= ALPHA_MIN:
        out = stats.poisson.ppf(q, mu)
    else:
        n = 1.0 / alpha
        out = stats.nbinom.ppf(q, n, n / (n + mu))
    return np.asarray(out, dtype=np.float64)


def nb_cdf(k: FloatArray, mean: FloatArray, alpha: float) -> FloatArray:
    mu = np.maximum(mean, 1e-9)
    if alpha <= ALPHA_MIN:
        return np.asarray(stats.poisson.cdf(k, mu), dtype=np.float64)
    n = 1.0 / alpha
    return np.asarray(stats.nbinom.cdf(k, n, n / (n + mu)), dtype=np.float64)


def interval_coverage(y: FloatArray, mean: FloatArray, alpha: float, level: float = 0.8) -> float:
    """Coverage of the central `level` interval without computing quantiles.

    For a discrete F: y ≥ q(lo) ⟺ F(y) ≥ lo, and y ≤ q(hi) ⟺ F(y − 1) < hi.
    """
    lo, hi = (1 - level) / 2, (1 + level) / 2
    inside = (nb_cdf(y, mean, alpha) >= lo) & (nb_cdf(y - 1, mean, alpha) < hi)
    return float(np.mean(inside))


def fit_dispersion(
    y: FloatArray,
    mean: FloatArray,
    target: float = 0.82,
    max_rows: int = 50_000,
    seed: int = 0,
) -> float:
    """Smallest α whose 80 % interval covers `target` of `y` (bisection on log α)."""
    if len(y) > max_rows:
        rows = np.random.default_rng(seed).choice(len(y), max_rows, replace=False)
        y, mean = y[rows], mean[rows]
    if len(y) == 0 or interval_coverage(y, mean, 0.0) >= target:
        return 0.0
    if interval_coverage(y, mean, ALPHA_MAX) < target:
        return ALPHA_MAX
    lo, hi = np.log(ALPHA_MIN), np.log(ALPHA_MAX)
    for _ in range(18):
        mid = (lo + hi) / 2
        if interval_coverage(y, mean, float(np.exp(mid))) >= target:
            hi = mid
        else:
            lo = mid
    return float(np.exp(hi))
