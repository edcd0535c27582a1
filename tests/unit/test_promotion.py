"""The promotion decision: better promoted, worse refused, every guard able to refuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from previsecours.config import PromotionPolicy
from previsecours.core.promotion import (
    ModelScore,
    PredictionStats,
    decide,
)

LEVELS = ["station×hour", "station×day", "departement×hour", "departement×day"]
OK = PredictionStats(n=1000)


def _metrics(rmsse: float, coverage: float = 0.82, **by_level: float) -> pd.DataFrame:
    values = {level: by_level.get(level.replace("×", "_"), rmsse) for level in LEVELS}
    return pd.DataFrame(
        {"rmsse": values, "mae": dict.fromkeys(LEVELS, 1.0), "coverage_80": coverage},
        index=LEVELS,
    )


def _score(label: str, rmsse: float, stats: PredictionStats | None = OK, **kw: float) -> ModelScore:
    return ModelScore(label, _metrics(rmsse, **kw), stats)


def test_better_challenger_is_promoted_and_worse_refused() -> None:
    policy = PromotionPolicy()
    better = decide(_score("version 2", 0.80), _score("version 1", 0.85), policy)
    assert better.promoted and better.outcome == "promoted"
    assert "improves by +5.88%" in better.reason
    worse = decide(_score("version 3", 0.90), _score("version 2", 0.80), policy)
    assert not worse.promoted
    assert "worse at" in worse.reason  # the level guard catches it first
    table = better.table.set_index(["level", "metric"])
    assert table.loc[("station×hour", "rmsse"), "challenger"] == 0.80
    assert table.loc[("station×hour", "rmsse"), "reference"] == 0.85
    assert "| guard | result | detail |" in better.markdown()
    assert better.summary("rmsse").startswith("station×hour: 0.8 vs 0.85")


def test_improvement_below_tolerance_is_refused() -> None:
    decision = decide(
        _score("v2", 0.849), _score("v1", 0.85), PromotionPolicy(min_improvement=0.01)
    )
    assert not decision.promoted
    assert "less than the 1.00% required" in decision.reason


def test_one_level_much_worse_blocks_promotion() -> None:
    challenger = _score("v2", 0.80, departement_day=0.95)
    decision = decide(challenger, _score("v1", 0.85), PromotionPolicy(level_margin=0.05))
    assert not decision.promoted
    assert "departement×day" in decision.reason


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1.0, np.nan], "1 NaN"), ([1.0, -0.5], "1 negative"), ([np.inf, 2.0], "1 infinite")],
)
def test_unusable_predictions_are_refused(values: list[float], expected: str) -> None:
    stats = PredictionStats.of(values)
    decision = decide(_score("v2", 0.5, stats), _score("v1", 0.85), PromotionPolicy())
    assert not decision.promoted
    assert expected in decision.reason


def test_unchecked_predictions_are_refused() -> None:
    decision = decide(_score("v2", 0.5, None), _score("v1", 0.85), PromotionPolicy())
    assert not decision.promoted and "not checked" in decision.reason


def test_coverage_outside_the_band_is_refused() -> None:
    over = decide(_score("v2", 0.5, coverage=0.99), _score("v1", 0.85), PromotionPolicy())
    assert not over.promoted and "(outside)" in over.reason
    policy = PromotionPolicy(coverage_levels=("commune×week",))
    unmeasured = decide(_score("v2", 0.5), _score("v1", 0.85), policy)
    assert not unmeasured.promoted and "not measured" in unmeasured.reason


def test_first_version_against_seasonal_naive() -> None:
    naive = _score("seasonal naive", 1.0)
    assert decide(_score("version 1", 0.8), naive, PromotionPolicy()).promoted
    refused = decide(_score("version 1", 1.02), naive, PromotionPolicy(level_margin=0.5))
    assert not refused.promoted and "improves by -2.00%" in refused.reason
