"""Each category has its own dispersion, its level's pooled one when it has too few values to fit
one; every category's rows are read within their own category's intervals."""

from __future__ import annotations

import numpy as np

from previsecours.core.backtest import (
    CATEGORY_MIN_VALUES,
    Window,
    fitted_dispersions,
    interval_scores,
)
from previsecours.core.intervals import fit_dispersion

Pairs = dict[str, dict[int, tuple[np.ndarray, np.ndarray, float]]]
WINDOWS = {k: Window(k, origin=100 * k, end=100 * k + 50) for k in range(3)}


def _draws(rng: np.random.Generator, mean: float, alpha: float, n: int) -> np.ndarray:
    """Negative-binomial counts with variance μ + α μ² (Poisson for α = 0)."""
    if alpha == 0:
        return rng.poisson(mean, n).astype(float)
    return rng.poisson(rng.gamma(1 / alpha, mean * alpha, n)).astype(float)


def _pairs(n_per_window: int, seed: int = 0) -> Pairs:
    """Two categories at station × day: A near Poisson, B strongly overdispersed."""
    rng = np.random.default_rng(seed)
    pairs: Pairs = {"station:day:category": {}}
    for name, alpha in (("A", 0.0), ("B", 0.3)):
        own: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
        for k in WINDOWS:
            own[k] = (_draws(rng, 20.0, alpha, n_per_window), np.full(n_per_window, 20.0), 1.0)
        pairs[f"station:day:category:{name}"] = own
    for k in WINDOWS:
        parts = [pairs[f"station:day:category:{c}"][k] for c in "AB"]
        pairs["station:day:category"][k] = (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            1.0,
        )
    return pairs


def _own(pairs: Pairs, key: str, windows: list[int]) -> float:
    y = np.concatenate([pairs[key][k][0] for k in windows])
    return fit_dispersion(y, np.full(len(y), 20.0), 0.8)


def test_a_category_with_values_enough_has_its_own_alpha() -> None:
    pairs = _pairs(2000)
    every, earlier = fitted_dispersions(pairs, WINDOWS, 0.8)
    pooled = every["station:day:category"]
    a, b = every["station:day:category:A"], every["station:day:category:B"]
    assert a < pooled < b  # the calm category no longer carries the wild one's α
    assert b == _own(pairs, "station:day:category:B", [0, 1, 2])
    # Out of sample: the first window has no earlier one (Poisson), the last reads the two first.
    assert earlier[0]["station:day:category:B"] == 0.0
    assert earlier[2]["station:day:category:B"] == _own(pairs, "station:day:category:B", [0, 1])


def test_a_category_with_too_few_values_reads_the_pooled_alpha() -> None:
    n = CATEGORY_MIN_VALUES // 2 + 1  # two windows reach the minimum, one does not
    pairs = _pairs(n)
    every, earlier = fitted_dispersions(pairs, WINDOWS, 0.8)
    assert every["station:day:category:B"] == _own(pairs, "station:day:category:B", [0, 1, 2])
    assert earlier[1]["station:day:category:B"] == earlier[1]["station:day:category"]
    assert earlier[2]["station:day:category:B"] == _own(pairs, "station:day:category:B", [0, 1])


def test_own_alphas_bring_each_category_nearer_its_target_than_the_pooled_one() -> None:
    pairs = _pairs(3000, seed=1)
    every, _ = fitted_dispersions(pairs, WINDOWS, 0.8)
    pooled = every["station:day:category"]
    for c in "AB":
        key = f"station:day:category:{c}"
        y, mu, _ = pairs[key][2]
        own = interval_scores(y, mu, every[key])["coverage_80"]
        shared = interval_scores(y, mu, pooled)["coverage_80"]
        assert abs(own - 0.8) < abs(shared - 0.8)
