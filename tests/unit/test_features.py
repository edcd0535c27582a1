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
