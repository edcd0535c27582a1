"""Monitoring core: forecasts as issued, joined to actuals, scored against seasonal naive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from previsecours.config import MonitorThresholds
from previsecours.core.monitoring import (
    accuracy_by_level,
    as_issued,
    assess,
    drift,
    join_actuals,
    population_stability,
    seasonal_naive,
)

TZ = "Europe/Paris"


def _daily_actuals(days: int, rate: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2025-01-06", tz=TZ)
    periods = pd.date_range(start, periods=days, freq="D")
    return pd.DataFrame(
        {
            "frequency": "day",
            "level": "departement",
            "area_code": "91",
            "category": "ALL",
            "period_start": periods,
            "count": rng.poisson(rate, days).astype(float),
        }
    )


def _forecast_for(actuals: pd.DataFrame, mean: float, issued: pd.Timestamp) -> pd.DataFrame:
    f = actuals.drop(columns="count").copy()
    f["period_end"] = f["period_start"] + pd.Timedelta(days=1)
    f["issued_at"] = issued
    f["mean"] = mean
    f["p10"] = mean - 1.28 * np.sqrt(mean)
    f["p90"] = mean + 1.28 * np.sqrt(mean)
    return f


def test_as_issued_keeps_the_forecast_from_the_latest_origin() -> None:
    actuals = _daily_actuals(3, 250, seed=1)
    early = _forecast_for(actuals, 200.0, pd.Timestamp("2025-01-01", tz=TZ))
    early["origin"] = pd.Timestamp("2025-01-01", tz=TZ)
    late = _forecast_for(actuals, 250.0, pd.Timestamp("2025-01-02", tz=TZ))
    late["origin"] = pd.Timestamp("2025-01-05", tz=TZ)
    reissued = late.assign(mean=260.0, issued_at=pd.Timestamp("2025-01-03", tz=TZ))
    kept = as_issued(pd.concat([reissued, early, late]))
    assert len(kept) == 3
    assert (kept["mean"] == 260.0).all()  # same origin: the later issue wins
    hindsight = late.assign(origin=late["period_start"].max() + pd.Timedelta(days=1))
    assert as_issued(hindsight).empty  # a row before its own origin is no forecast


def test_a_good_model_beats_naive_and_a_broken_one_raises_alerts() -> None:
    actuals = _daily_actuals(42, 250, seed=2)
    history, recent = actuals.iloc[:7], actuals.iloc[7:]
    covered = recent["period_start"].max() + pd.Timedelta(days=1)
    naive = seasonal_naive(actuals)
    issued = pd.Timestamp("2025-01-01", tz=TZ)
    events = _events(rate_per_hour=10, days=28, seed=3)
    report = drift(events, _events(rate_per_hour=10, days=7, seed=4))

    good = join_actuals(_forecast_for(recent, 250.0, issued), recent, covered)
    acc = accuracy_by_level(good, naive)
    assert acc["relative_rmse"].loc[0] < 1.0
    assert not assess(acc, report, MonitorThresholds()).degraded

    bad = join_actuals(_forecast_for(recent, 150.0, issued), recent, covered)
    acc_bad = accuracy_by_level(bad, naive)
    alerts = assess(acc_bad, report, MonitorThresholds()).alerts
    assert any("seasonal-naive" in a for a in alerts)
    assert any("bias" in a for a in alerts)
    assert len(history) == 7


def test_accuracy_matches_an_obvious_loop() -> None:
    actuals = _daily_actuals(14, 40, seed=5)
    f = _forecast_for(actuals, 40.0, pd.Timestamp("2024-12-01", tz=TZ))
    joined = join_actuals(f, actuals, actuals["period_start"].max() + pd.Timedelta(days=1))
    acc = accuracy_by_level(joined, seasonal_naive(actuals)).iloc[0]
    errs = [40.0 - c for c in actuals["count"]]
    assert acc["mae"] == pytest.approx(sum(abs(e) for e in errs) / len(errs))
    assert acc["rmse"] == pytest.approx((sum(e * e for e in errs) / len(errs)) ** 0.5)
    inside = sum(1 for c in actuals["count"] if 40 - 1.28 * 40**0.5 <= c <= 40 + 1.28 * 40**0.5)
    assert acc["coverage80"] == pytest.approx(inside / len(errs))


def _events(rate_per_hour: float, days: int, seed: int, night_share: float = 0.2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = rng.poisson(rate_per_hour * 24 * days)
    start = pd.Timestamp("2025-03-03", tz=TZ)
    night = rng.random(n) < night_share
    hours = np.where(night, rng.integers(0, 6, n), rng.integers(6, 24, n))
    day = rng.integers(0, days, n)
    times = start + pd.to_timedelta(day * 24 + hours, unit="h")
    cats = rng.choice(["SUAP", "ACCI", "AUTR"], n, p=[0.8, 0.1, 0.1])
    return pd.DataFrame({"alert_time": times, "category": cats})


def test_drift_sees_a_changed_hour_mix_and_volume() -> None:
    base = _events(10, 28, seed=6)
    same = _events(10, 7, seed=7)
    shifted = _events(16, 7, seed=8, night_share=0.6)
    calm = drift(base, same)
    assert calm.hour_psi < 0.05
    assert calm.volume_ratio == pytest.approx(1.0, abs=0.05)
    loud = drift(base, shifted)
    assert loud.hour_psi > 0.2
    assert loud.volume_ratio > 1.4
    alerts = assess(pd.DataFrame(columns=["frequency", "level"]), loud, MonitorThresholds()).alerts
    assert any("hour-of-day" in a for a in alerts)
    assert any("daily volume" in a for a in alerts)


def test_psi_is_zero_for_identical_mixes_and_symmetric_in_sign() -> None:
    a = pd.Series({"x": 10, "y": 30})
    assert population_stability(a, a * 3) == pytest.approx(0.0)
    b = pd.Series({"x": 30, "y": 10})
    assert population_stability(a, b) == pytest.approx(population_stability(b, a))
