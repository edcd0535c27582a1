"""Rolling-origin windows; a model never sees targets of its own window."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.core.backtest import (
    BacktestConfig,
    backtest_windows,
    interval_scores,
    rolling_windows,
    run_backtest,
)
from previsecours.core.calendar import period_starts
from previsecours.core.features import area_attributes, make_spec
from previsecours.core.models import base
from previsecours.core.panel import DensePanel

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

TZ = "Europe/Paris"


def test_windows_end_with_the_data_and_step_back() -> None:
    w = rolling_windows(1000, 168, 4, 100)
    assert [x.origin for x in w] == [532, 632, 732, 832]
    assert w[-1].end == 1000
    with pytest.raises(ValueError, match="not enough"):
        rolling_windows(300, 168, 4, 168)


@dataclass
class Spy:
    """Remembers the largest target it was trained on (targets are the period numbers)."""

    name: str = "spy"
    seen: list[float] = field(default_factory=list)

    def fit(self, features: pd.DataFrame, y: np.ndarray) -> Spy:
        self.seen.append(float(np.max(y)))
        return self

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return np.zeros(len(features))


def test_each_fit_sees_only_targets_before_its_origin(
    essonne: Territory, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 24 * 7 * 8
    starts = pd.date_range("2024-01-01", periods=n, freq="h", tz=TZ).as_unit("s")
    series = pd.DataFrame({"area_code": [essonne.coverage_zones[0]], "category": "ALL"})
    panel = DensePanel(series, starts, np.arange(n, dtype=float)[None, :])  # target = its position
    spy = Spy()
    monkeypatch.setattr(base, "make_forecaster", lambda *a, **k: spy)
    import previsecours.core.backtest as bt

    monkeypatch.setattr(bt, "make_forecaster", lambda *a, **k: spy)
    config = BacktestConfig(horizon=168, n_windows=3, models=("spy",))
    result = run_backtest(
        panel,
        make_spec("hour", 168),
        essonne,
        area_attributes(essonne, "station", list(series["area_code"])),
        config,
    )
    assert spy.seen == [w.origin - 1 for w in result.windows]
    assert result.predictions.groupby("window")["actual"].min().tolist() == [
        w.origin for w in result.windows
    ]


def _hours(start: str, end: str) -> pd.DatetimeIndex:
    return period_starts(pd.Timestamp(start, tz=TZ), pd.Timestamp(end, tz=TZ), "hour", TZ)


def test_calendar_rolling_windows_are_the_old_ones_without_clock_change() -> None:
    starts = _hours("2024-01-01", "2024-03-04")  # no change in the last 4 weeks
    config = BacktestConfig(horizon=169, n_windows=4, calendar_horizon="7d")
    assert backtest_windows(starts, config, "hour", TZ) == rolling_windows(len(starts), 168, 4, 168)
    stepped = BacktestConfig(horizon=169, n_windows=3, step=100, calendar_horizon="7d")
    assert backtest_windows(starts, stepped, "hour", TZ) == rolling_windows(
        len(starts), 168, 3, 100
    )


def test_calendar_rolling_windows_count_back_in_local_weeks() -> None:
    starts = _hours("2024-09-02", "2024-11-11")  # autumn change on Sunday 27 October
    config = BacktestConfig(horizon=169, n_windows=4, calendar_horizon="7d")
    windows = backtest_windows(starts, config, "hour", TZ)
    assert windows[-1].end == len(starts)
    assert [starts[w.origin] for w in windows] == [
        pd.Timestamp(d, tz=TZ) for d in ("2024-10-14", "2024-10-21", "2024-10-28", "2024-11-04")
    ]
    assert [w.end - w.origin for w in windows] == [168, 169, 168, 168]
    assert all(a.end == b.origin for a, b in pairwise(windows))


def test_explicit_origins_are_the_first_periods_at_or_after_local_times() -> None:
    starts = _hours("2024-01-01", "2024-05-01")
    origins = tuple(
        pd.Timestamp(t).tz_localize(TZ)
        for t in ("2024-04-01", "2024-03-25", "2024-04-08T00:30", "2024-03-25")
    )
    config = BacktestConfig(horizon=169, calendar_horizon="7d", origins=origins)
    windows = backtest_windows(starts, config, "hour", TZ)
    assert [w.index for w in windows] == [0, 1, 2]  # sorted, once each
    assert [starts[w.origin] for w in windows] == [
        pd.Timestamp(t, tz=TZ) for t in ("2024-03-25", "2024-04-01", "2024-04-08T01:00")
    ]
    # Monday-midnight origins across the spring change are 167 hours apart.
    assert [w.end - w.origin for w in windows] == [167, 168, 168]
    assert windows[0].end == windows[1].origin


@pytest.mark.parametrize(
    ("origin", "message"),
    [
        ("2024-05-01", "after the data"),
        ("2024-04-28", "ends after the data"),
        ("2023-12-01", "no data before it"),
    ],
)
def test_origins_outside_the_data_are_refused(origin: str, message: str) -> None:
    starts = _hours("2024-01-01", "2024-05-01")
    at = (pd.Timestamp(origin).tz_localize(TZ),)
    config = BacktestConfig(horizon=169, calendar_horizon="7d", origins=at)
    with pytest.raises(ValueError, match=message):
        backtest_windows(starts, config, "hour", TZ)


def test_a_window_longer_than_the_model_horizon_is_cut_to_it() -> None:
    """The autumn week's 169th hour reads the window's first hour at the one-week lag: it is
    not backtested (the model keeps its nominal 168-hour horizon and one-week lags)."""
    starts = _hours("2024-09-02", "2024-11-11")
    config = BacktestConfig(horizon=168, calendar_horizon="7d", n_windows=4)
    windows = backtest_windows(starts, config, "hour", TZ)
    change = pd.Timestamp("2024-10-27", tz=TZ)
    autumn = [w for w in windows if starts[w.origin] <= change < starts[w.end - 1]]
    assert len(autumn) == 1 and autumn[0].end - autumn[0].origin == 168
    assert all(w.end - w.origin <= 168 for w in windows)


def test_fits_at_explicit_origins_see_only_targets_before_them(
    essonne: Territory, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts = _hours("2024-01-01", "2024-04-29")
    n = len(starts)
    series = pd.DataFrame({"area_code": [essonne.coverage_zones[0]], "category": "ALL"})
    panel = DensePanel(series, starts, np.arange(n, dtype=float)[None, :])
    spy = Spy()
    import previsecours.core.backtest as bt

    monkeypatch.setattr(bt, "make_forecaster", lambda *a, **k: spy)
    at = tuple(pd.Timestamp(d, tz=TZ) for d in ("2024-03-25", "2024-04-08"))
    config = BacktestConfig(horizon=169, models=("spy",), calendar_horizon="7d", origins=at)
    result = run_backtest(
        panel,
        make_spec("hour", 169),
        essonne,
        area_attributes(essonne, "station", list(series["area_code"])),
        config,
    )
    assert [starts[w.origin] for w in result.windows] == list(at)
    assert spy.seen == [w.origin - 1 for w in result.windows]
    by_window = result.predictions.groupby("window")["actual"]
    assert by_window.min().tolist() == [w.origin for w in result.windows]
    assert by_window.size().tolist() == [167, 168]


def test_interval_scores_show_the_calibration_integer_intervals_hide() -> None:
    """Around half a call an hour a calibrated 80 % interval covers 90 % and more; its PIT
    share is 80 %, and falls below it when the distribution is too narrow."""
    rng = np.random.default_rng(0)
    mean = np.full(20_000, 0.5)
    calibrated = interval_scores(rng.poisson(mean).astype(float), mean, 0.0)
    assert calibrated["coverage_80"] > 0.88
    assert calibrated["pit_80"] == pytest.approx(0.80, abs=0.015)
    assert calibrated["pit_95"] == pytest.approx(0.95, abs=0.01)
    wider = rng.poisson(rng.gamma(1 / 2.0, 2.0 * mean)).astype(float)  # α = 2, read as Poisson
    too_narrow = interval_scores(wider, mean, 0.0)
    assert too_narrow["pit_80"] < 0.78
    assert too_narrow["pit_95"] < 0.93
