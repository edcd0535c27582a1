"""Rolling-origin windows; a model never sees targets of its own window."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.core.backtest import BacktestConfig, rolling_windows, run_backtest
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
