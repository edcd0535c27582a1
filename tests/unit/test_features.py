"""Features: every history feature respects the horizon (leakage test), one dtype, one order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.core.features import (
    FEATURE_DTYPE,
    FeatureSpec,
    area_attributes,
    build_features,
    make_spec,
)
from previsecours.core.panel import DensePanel

if TYPE_CHECKING:
    from previsecours.core.schema import Frequency
    from previsecours.core.territory import Territory

TZ = "Europe/Paris"


def _panel(essonne: Territory, periods: int, frequency: str = "hour", seed: int = 0) -> DensePanel:
    start = pd.Timestamp("2023-01-02", tz=TZ)
    freq = {"hour": "h", "day": "D", "week": "7D"}[frequency]
    starts = pd.date_range(start, periods=periods, freq=freq).as_unit("s")
    zones = list(essonne.coverage_zones[:3])
    series = pd.DataFrame({"area_code": zones, "category": "ALL"})
    counts = np.random.default_rng(seed).poisson(2.0, size=(3, periods)).astype(float)
    return DensePanel(series, starts, counts)


@pytest.mark.parametrize(
    ("frequency", "horizon", "periods"), [("hour", 168, 24 * 7 * 60), ("week", 1, 220)]
)
def test_features_up_to_the_cutoff_ignore_every_later_target(
    essonne: Territory, frequency: Frequency, horizon: int, periods: int
) -> None:
    panel = _panel(essonne, periods, frequency)
    spec = make_spec(frequency, horizon)
    attrs = area_attributes(essonne, "station", list(panel.series["area_code"]))
    cutoff = periods - 3 * horizon - 5
    perturbed = panel.counts.copy()
    perturbed[:, cutoff:] = np.random.default_rng(1).poisson(50.0, size=perturbed[:, cutoff:].shape)
    other = DensePanel(panel.series, panel.starts, perturbed)
    # Every period before cutoff + horizon may only read targets before the cutoff.
    last = cutoff + horizon
    a = build_features(panel, spec, essonne, attrs, first=0, last=last).matrix
    b = build_features(other, spec, essonne, attrs, first=0, last=last).matrix
    pd.testing.assert_frame_equal(a, b)
    # ...and the perturbation is visible one period later (the test can fail).
    c = build_features(panel, spec, essonne, attrs, first=last, last=last + 1).matrix
    d = build_features(other, spec, essonne, attrs, first=last, last=last + 1).matrix
    assert not c.equals(d)


def test_every_lag_is_at_least_the_horizon() -> None:
    cases: tuple[tuple[Frequency, int], ...] = (
        ("hour", 168),
        ("hour", 24),
        ("day", 7),
        ("week", 1),
        ("week", 4),
    )
    for frequency, horizon in cases:
        spec = make_spec(frequency, horizon)
        lags = (
            *spec.lags,
            *spec.seasonal_lags,
            *spec.reference_lags,
            *spec.reference_pm2_lags,
            *spec.day_profile_lags,
        )
        assert min(lags) >= horizon


def test_features_have_one_dtype_and_the_spec_order(essonne: Territory) -> None:
    panel = _panel(essonne, 24 * 7 * 6)
    spec = make_spec("hour", 168)
    attrs = area_attributes(essonne, "station", list(panel.series["area_code"]))
    block = build_features(panel, spec, essonne, attrs, first=24 * 7 * 5, last=24 * 7 * 6)
    assert tuple(block.matrix.columns) == spec.columns
    assert set(block.matrix.dtypes) == {np.dtype(FEATURE_DTYPE)}
    assert len(block.matrix) == 3 * 168
    # lag_168 of the first forecast row is the count one week earlier
    assert block.matrix["lag_168"].iloc[0] == panel.counts[0, 24 * 7 * 4]


def test_spec_round_trip_and_version_check() -> None:
    spec = make_spec("hour", 168)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="retrain"):
        FeatureSpec.from_dict({**spec.to_dict(), "version": 99})


def test_covariates_read_lagged_or_at_the_period_when_known_ahead(essonne: Territory) -> None:
    # Leakage guarantee for covariates: a lagged one reads only values ≤ t − horizon; a
    # known-ahead one (a match calendar) reads the value at t and nothing after t.
    horizon, periods = 168, 24 * 7 * 8
    panel = _panel(essonne, periods)
    spec = make_spec("hour", horizon, ("temp", "game"), known_ahead=("game",))
    assert spec.known_ahead == ("game",) and spec.covariate_lag("temp") == horizon
    attrs = area_attributes(essonne, "station", list(panel.series["area_code"]))
    values = np.random.default_rng(2).normal(size=(periods, 2))
    frame = pd.DataFrame(values, index=panel.starts, columns=["temp", "game"])
    first = periods - 2 * horizon

    def columns(covariates: pd.DataFrame) -> pd.DataFrame:
        block = build_features(
            panel, spec, essonne, attrs, first=first, last=periods, covariates=covariates
        )
        return block.matrix[["cov_temp", "cov_game"]].iloc[: periods - first]  # first series

    read = columns(frame)
    np.testing.assert_array_equal(read["cov_game"], values[first:, 1].astype(FEATURE_DTYPE))
    np.testing.assert_array_equal(
        read["cov_temp"], values[first - horizon : periods - horizon, 0].astype(FEATURE_DTYPE)
    )
    cutoff = first + horizon // 2
    later = frame.copy()
    later.iloc[cutoff:] += 100.0  # every value from the cutoff on
    moved = columns(later)
    k = cutoff - first  # rows before the cutoff's period
    pd.testing.assert_series_equal(read["cov_game"].iloc[:k], moved["cov_game"].iloc[:k])
    assert (read["cov_game"].iloc[k:] != moved["cov_game"].iloc[k:]).all()
    pd.testing.assert_series_equal(
        read["cov_temp"].iloc[: k + horizon], moved["cov_temp"].iloc[: k + horizon]
    )
    assert (read["cov_temp"].iloc[k + horizon :] != moved["cov_temp"].iloc[k + horizon :]).all()


def test_specs_without_known_ahead_still_load() -> None:
    spec = make_spec("week", 1, ("flu", "games"), known_ahead=("games",))
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    older = make_spec("week", 1, ("flu",)).to_dict()
    del older["known_ahead"]  # a version trained before the field: all covariates lagged
    assert FeatureSpec.from_dict(older).known_ahead == ()
    with pytest.raises(ValueError, match=r"\['rain'\] are not covariates"):
        FeatureSpec.from_dict({**spec.to_dict(), "known_ahead": ["rain"]})


def _weekly(essonne: Territory, level: np.ndarray) -> DensePanel:
    """One zone's weekly counts: `level` (a float per week) with a yearly season on it."""
    weeks = len(level)
    starts = pd.date_range(pd.Timestamp("2015-01-05", tz=TZ), periods=weeks, freq="7D")
    season = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(weeks) / 52)
    series = pd.DataFrame({"area_code": [essonne.coverage_zones[0]], "category": "ALL"})
    return DensePanel(series, starts.as_unit("s"), (level * season)[None, :])


def _trend_columns(essonne: Territory, panel: DensePanel, first: int) -> pd.DataFrame:
    spec = make_spec("week", 1)
    attrs = area_attributes(essonne, "station", list(panel.series["area_code"]))
    last = panel.counts.shape[1]
    block = build_features(panel, spec, essonne, attrs, first=first, last=last)
    frame = block.matrix[["ref_3y_pm2", "ref_3y_pm2_trend"]].astype(np.float64)
    return frame.assign(actual=block.y)


def test_the_trend_reference_forecasts_a_growing_service_at_its_level(
    essonne: Territory,
) -> None:
    # 5 % a year: the 3-year reference, centred two years back, forecasts ~10 % low; scaled by
    # the last quarter's growth over the same quarter of the years before, it is near the level.
    weeks = 52 * 5
    panel = _weekly(essonne, 1000.0 * 1.05 ** (np.arange(weeks) / 52))
    frame = _trend_columns(essonne, panel, first=52 * 4)
    reference_error = (frame["ref_3y_pm2"] / frame["actual"] - 1).mean()
    trend_error = (frame["ref_3y_pm2_trend"] / frame["actual"] - 1).abs().max()
    assert reference_error < -0.08
    assert trend_error < 0.02


def test_the_trend_reference_is_the_reference_without_growth_or_past_years(
    essonne: Territory,
) -> None:
    flat = _trend_columns(essonne, _weekly(essonne, np.full(52 * 5, 500.0)), first=52 * 4)
    np.testing.assert_allclose(flat["ref_3y_pm2_trend"], flat["ref_3y_pm2"], rtol=1e-6)
    # Less than a year before the rows: no growth known, the reference as it is (NaN included).
    young = _weekly(essonne, 500.0 * 1.5 ** (np.arange(56) / 52))
    early = _trend_columns(essonne, young, first=40)
    pd.testing.assert_series_equal(
        early["ref_3y_pm2_trend"], early["ref_3y_pm2"], check_names=False
    )


def test_specs_before_the_trend_reference_build_no_such_column() -> None:
    older = make_spec("week", 1).to_dict()
    del older["growth_window"]
    spec = FeatureSpec.from_dict(older)
    assert spec.growth_window == 0 and "ref_3y_pm2_trend" not in spec.columns
    assert "ref_3y_pm2_trend" in make_spec("week", 1).columns
