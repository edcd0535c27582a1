"""Drivers: SHAP contributions grouped and worded in plain French."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from previsecours.core.drivers import explain, feature_group
from previsecours.core.features import make_spec
from previsecours.core.forecast_schema import DRIVER_COLUMNS

NAMES = ["hour", "hour_sin", "hour_cos", "weekday", "is_holiday", "roll_24", "ref_3y", "area_id"]


def _keys(n: int) -> pd.DataFrame:
    starts = pd.date_range(pd.Timestamp("2025-07-14 02:00", tz="Europe/Paris"), periods=n, freq="h")
    return pd.DataFrame(
        {"level": "station", "area_code": "EVRY", "category": "ALL", "period_start": starts}
    )


def test_groups_cover_the_feature_spec_names() -> None:
    assert feature_group("hour_cos") == "hour"
    assert feature_group("lag_168") == "recent"
    assert feature_group("roll_8736") == "usual"
    assert feature_group("ref_3y_pm2") == "past_years"
    assert feature_group("cov_grippe") == "flu"
    assert feature_group("something_new") == "other"
    spec = make_spec("hour", 168, ("temp", "game"), known_ahead=("game",))
    assert [c for c in spec.columns if feature_group(c) == "other"] == []


def test_words_follow_values_and_signs() -> None:
    features = pd.DataFrame(
        {
            "hour": [2.0, 18.0],
            "hour_sin": 0.0,
            "hour_cos": 0.0,
            "weekday": [0.0, 6.0],
            "is_holiday": [1.0, 0.0],
            "roll_24": 1.0,
            "ref_3y": 1.0,
            "area_id": 3.0,
        }
    )
    base = 0.7
    shap = np.array(
        [
            [-0.3, -0.2, 0.0, 0.01, 0.4, 0.05, 0.0, 0.0, base],  # 2 am on a holiday
            [0.2, 0.1, 0.0, 0.3, -0.01, -0.2, 0.0, 0.0, base],  # 6 pm on a Sunday
        ]
    )
    out = explain(shap, NAMES, features, _keys(2), top_k=3)
    assert tuple(out.columns) == DRIVER_COLUMNS
    first = out[out["period_start"] == out["period_start"].min()]
    assert list(first["driver"]) == ["nuit", "jour férié", "tendance récente"]
    assert list(first["effect"]) == pytest.approx([-0.5, 0.4, 0.05])
    second = out[out["period_start"] == out["period_start"].max()]
    assert list(second["driver"]) == ["heure de pointe", "week-end", "tendance récente"]
    assert list(second["rank"]) == [1, 2, 3]


def test_all_drivers_add_up_to_the_contributions() -> None:
    rng = np.random.default_rng(0)
    shap = rng.normal(size=(5, len(NAMES)))
    features = pd.DataFrame(rng.integers(0, 2, size=(5, len(NAMES))), columns=NAMES).astype(float)
    out = explain(shap, NAMES, features, _keys(5), top_k=99)
    totals = out.groupby("period_start")["effect"].sum().to_numpy()
    np.testing.assert_allclose(totals, shap.sum(axis=1))


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="do not match"):
        explain(np.zeros((2, 3)), NAMES, pd.DataFrame(), _keys(2))
