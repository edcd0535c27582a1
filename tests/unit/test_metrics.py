"""Metrics against slow obvious loops, and the dispersion fit against its target."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from previsecours.core import metrics as m
from previsecours.core.intervals import (
    finite_sample_share,
    fit_dispersion,
    interval_coverage,
    nb_quantiles,
    pit_coverage,
)

RNG = np.random.default_rng(3)
Y = RNG.poisson(3.0, 400).astype(float)
MU = np.clip(Y + RNG.normal(0, 1.5, 400), 0, None)


def test_point_metrics_match_loops() -> None:
    n = len(Y)
    pairs = list(zip(Y, MU, strict=True))
    assert math.isclose(m.mae(Y, MU), sum(abs(a - b) for a, b in pairs) / n)
    assert math.isclose(
        m.rmse(Y, MU), math.sqrt(sum((a - b) ** 2 for a, b in zip(Y, MU, strict=True)) / n)
    )
    dev = 0.0
    for a, b in zip(Y, MU, strict=True):
        mu = max(b, 0.01)
        dev += 2 * ((a * math.log(a / mu) if a > 0 else 0.0) - (a - mu))
    assert math.isclose(m.poisson_deviance(Y, MU), dev / n)
    assert math.isclose(m.bias_pct(Y, MU), 100 * (sum(MU) - sum(Y)) / sum(Y))


def test_rmsse_uses_the_seasonal_naive_scale() -> None:
    history = RNG.poisson(2.0, (3, 50)).astype(float)
    season = 7
    diffs = [
        (history[i, t] - history[i, t - season]) ** 2 for i in range(3) for t in range(season, 50)
    ]
    scale = sum(diffs) / len(diffs)
    assert math.isclose(m.seasonal_scale(history, season), scale)
    expected = math.sqrt(sum((a - b) ** 2 for a, b in zip(Y, MU, strict=True)) / len(Y) / scale)
    assert math.isclose(m.rmsse(Y, MU, scale), expected)


def test_unknown_periods_leave_the_scale_and_mape_quietly() -> None:
    """A counts store's gaps (NaN) are left out of the scale; with no known pair the scale (and
    MAPE without a known count) is unknown — without numpy's "Mean of empty slice" warning on
    the command's stderr."""
    history = np.array([[1.0, 2.0, np.nan, 4.0, 5.0, 7.0]])
    assert math.isclose(m.seasonal_scale(history, 3), ((4.0 - 1.0) ** 2 + (5.0 - 2.0) ** 2) / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(m.seasonal_scale(np.full((2, 6), np.nan), 3))
        assert math.isnan(m.mape(np.full(3, np.nan), np.ones(3)))  # a week not published


def test_pinball_and_coverage_match_loops() -> None:
    levels = (0.1, 0.5, 0.9)
    q = np.stack([MU * 0.5, MU, MU * 1.5], axis=1)
    total = 0.0
    for i, y in enumerate(Y):
        for j, tau in enumerate(levels):
            d = y - q[i, j]
            total += tau * d if d >= 0 else (tau - 1) * d
    assert math.isclose(m.pinball(Y, q, levels), total / (len(Y) * len(levels)))
    inside = sum(1 for i, y in enumerate(Y) if q[i, 0] <= y <= q[i, 2])
    assert math.isclose(m.coverage(Y, q[:, 0], q[:, 2]), inside / len(Y))


def test_2018_classes() -> None:
    values = np.array([0, 0.4, 1, 13, 14, 37, 38, 100], dtype=float)
    assert m.classes_2018(values).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert m.class_accuracy_2018(np.array([0.0, 20.0]), np.array([0.2, 40.0])) == 0.5


def test_dispersion_fit_reaches_its_coverage_target() -> None:
    rng = np.random.default_rng(5)
    mean = rng.uniform(20, 200, 20_000)
    alpha_true = 0.05
    n = 1 / alpha_true
    y = rng.negative_binomial(n, n / (n + mean)).astype(float)
    alpha = fit_dispersion(y, mean, target=0.80)
    assert 0.035 < alpha < 0.07
    assert abs(interval_coverage(y, mean, alpha) - 0.80) < 0.02
    q = nb_quantiles(mean[:2000], alpha, (0.1, 0.9))
    inside = ((y[:2000] >= q[:, 0]) & (y[:2000] <= q[:, 1])).mean()
    assert abs(inside - interval_coverage(y[:2000], mean[:2000], alpha)) < 1e-9


def test_finite_sample_share_covers_a_new_value_as_often_as_the_target() -> None:
    assert finite_sample_share(0.82, 8) == 1.0  # 7 of 8 covered: a 9th inside 7 times in 9
    assert finite_sample_share(0.82, 28) == 24 / 28
    assert finite_sample_share(0.80, 9) == 8 / 9  # (9 + 1) × 0.8 is 8, not 8.000…1
    assert finite_sample_share(0.82, 0) == 0.82
    assert 0.82 <= finite_sample_share(0.82, 50_000) < 0.8201


@pytest.mark.parametrize("n_fitted", [8, 28])
def test_a_dispersion_fitted_on_few_values_covers_the_next_one_at_its_target(
    n_fitted: int,
) -> None:
    """Fitted on n NB values, the 80 % interval around a new value's mean holds it ≥ 82 % of
    the time; covering 82 % of the fitted values only (the rule before) fell short at n = 8."""
    rng = np.random.default_rng(11)
    hits = {True: 0.0, False: 0.0}
    reps = 1000
    for _ in range(reps):
        mean = rng.uniform(50, 150, n_fitted + 1)
        y = rng.negative_binomial(25, 25 / (25 + mean)).astype(float)  # α = 0.04
        for finite in hits:
            alpha = fit_dispersion(y[:-1], mean[:-1], 0.82, finite_sample=finite)
            hits[finite] += interval_coverage(y[-1:], mean[-1:], alpha)
    assert hits[True] / reps >= 0.82 - 0.02  # Monte Carlo noise: sd ≈ 0.012
    if n_fitted == 8:
        assert hits[False] / reps < 0.80  # 7 of 8: about 7 / 9


def test_poisson_data_keeps_alpha_zero() -> None:
    mean = np.full(5000, 0.3)
    y = np.random.default_rng(2).poisson(mean).astype(float)
    assert fit_dispersion(y, mean, target=0.82) == 0.0


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_pit_coverage_shows_calibration_where_integer_intervals_cannot(level: float) -> None:
    """Calibrated small counts: the integer interval over-covers, the PIT band does not; a
    too-narrow distribution (Poisson around NB data) is caught by both."""
    rng = np.random.default_rng(7)
    mean = rng.uniform(0.2, 1.5, 40_000)
    poisson = rng.poisson(mean).astype(float)
    assert interval_coverage(poisson, mean, 0.0, level) > min(level + 0.08, 0.98)
    assert abs(pit_coverage(poisson, mean, 0.0, level) - level) < 0.01
    wide = rng.negative_binomial(0.5, 0.5 / (0.5 + mean * 20)).astype(float)  # α = 2
    assert interval_coverage(wide, mean * 20, 0.0, level) < level - 0.1
    assert pit_coverage(wide, mean * 20, 0.0, level) < level - 0.1
    assert abs(pit_coverage(wide, mean * 20, 2.0, level) - level) < 0.01


def test_quantiles_are_scipys_exactly_from_tiny_to_huge_counts_and_any_dispersion() -> None:
    """The CDF search returns what scipy's `ppf` returns — the smallest k with F(k) ≥ level —
    for Poisson and negative binomial, near-zero to 20,000 expected counts, mild to extreme
    dispersion (the few values out of the search's reach go to scipy)."""
    from scipy import stats

    rng = np.random.default_rng(3)
    levels = (0.025, 0.1, 0.5, 0.9, 0.975)
    mean = np.concatenate(
        [rng.gamma(0.5, 5, 3000), rng.uniform(0, 1e-6, 50), rng.uniform(500, 20000, 300)]
    )
    for alpha in (0.0, 1e-4, 0.05, 0.5, 5.0):
        mu = np.maximum(mean, 1e-9)[:, None]
        if alpha == 0.0:
            expected = stats.poisson.ppf(np.asarray(levels)[None, :], mu)
        else:
            n = 1 / alpha
            expected = stats.nbinom.ppf(np.asarray(levels)[None, :], n, n / (n + mu))
        np.testing.assert_array_equal(nb_quantiles(mean, alpha, levels), expected)
