"""The promotion decision: better promoted, worse refused, every guard able to refuse."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from previsecours.config import PromotionPolicy
from previsecours.core.promotion import (
    ModelScore,
    PredictionStats,
    decide,
    improvement_pct,
    ranking_metric,
)

LEVELS = ["station×hour", "station×day", "departement×hour", "departement×day"]
OK = PredictionStats(n=1000)


def _metrics(rmsse: float, coverage: float = 0.82, **by_level: float) -> pd.DataFrame:
    values = {level: by_level.get(level.replace("×", "_"), rmsse) for level in LEVELS}
    return pd.DataFrame(
        {"rmsse": values, "mae": dict.fromkeys(LEVELS, 1.0), "coverage_80": coverage},
        index=LEVELS,
    )


CATEGORIES = ["SUAP", "AVP", "INC", "AUTR"]


def _categories(rmsse: float, **by_category: float) -> pd.DataFrame:
    """RMSSE per level × category (`departement_hour_SUAP=2.0` overrides one cell)."""
    index = pd.MultiIndex.from_product([LEVELS, CATEGORIES], names=["level", "category"])
    values = [by_category.get(f"{lvl.replace('×', '_')}_{cat}", rmsse) for lvl, cat in index]
    return pd.DataFrame({"rmsse": values, "mae": 1.0}, index=index)


def _score(
    label: str,
    rmsse: float,
    stats: PredictionStats | None = OK,
    categories: pd.DataFrame | None = None,
    **kw: float,
) -> ModelScore:
    by_category = _categories(rmsse) if categories is None else categories
    return ModelScore(label, _metrics(rmsse, **kw), stats, by_category)


def test_better_challenger_is_promoted_and_worse_refused() -> None:
    policy = PromotionPolicy()
    better = decide(_score("version 2", 0.80), _score("version 1", 0.85), policy)
    assert better.promoted and better.outcome == "promoted"
    assert "improvement +5.88%" in better.reason
    worse = decide(_score("version 3", 0.90), _score("version 2", 0.80), policy)
    assert not worse.promoted
    assert "worse at" in worse.reason  # the level guard catches it first
    table = better.table.set_index(["level", "metric"])
    assert table.loc[("station×hour", "rmsse"), "challenger"] == 0.80
    assert table.loc[("station×hour", "rmsse"), "reference"] == 0.85
    assert "| guard | result | detail |" in better.markdown()
    assert better.summary("rmsse").startswith("station×hour: 0.8 vs 0.85 (improvement +5.88%)")
    # One sign everywhere: the table's improvement is the sentence's, positive when better.
    assert table.loc[("station×hour", "rmsse"), "improvement_pct"] == pytest.approx(5.8824, 1e-4)
    assert "change_pct" not in better.table.columns
    assert "improvement_pct" in better.markdown() and "positive: the challenger is better" in (
        better.markdown()
    )
    worse_table = worse.table.set_index(["level", "metric"])
    assert worse_table.loc[("station×hour", "rmsse"), "improvement_pct"] == pytest.approx(-12.5)


def test_improvement_below_tolerance_is_refused() -> None:
    decision = decide(
        _score("v2", 0.849), _score("v1", 0.85), PromotionPolicy(min_improvement=0.01)
    )
    assert not decision.promoted
    assert "improvement +0.12%" in decision.reason
    assert "less than the +1.00% required" in decision.reason


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
    absent = decide(_score("v2", 0.5), _score("v1", 0.85), policy)
    # A level the model does not forecast (a counts store has no station×day) is not judged.
    assert absent.promoted
    coverage = next(g for g in absent.guards if g.name.startswith("coverage_80"))
    assert "commune×week: not a level of this model, not judged" in coverage.detail
    broken = _metrics(0.5)
    broken.loc["station×day", "coverage_80"] = float("nan")
    unmeasured = decide(
        ModelScore("v2", broken, OK, _categories(0.5)), _score("v1", 0.85), PromotionPolicy()
    )
    assert not unmeasured.promoted and "not measured" in unmeasured.reason


def test_levels_and_categories_with_too_few_values_are_not_judged() -> None:
    """A 7-day coverage is k/7 and a rare category's week one number (issue #16, item 5)."""
    few = _metrics(0.5, coverage=1.0).assign(n=7.0)
    categories = _categories(0.5, station_hour_INC=9.0).assign(n=7.0)
    reference = ModelScore(
        "seasonal naive", _metrics(1.0).assign(n=7.0), None, _categories(1.0).assign(n=7.0)
    )
    decision = decide(ModelScore("v1", few, OK, categories), reference, PromotionPolicy())
    assert decision.promoted, decision.reason
    details = " ".join(g.detail for g in decision.guards)
    assert "7 values, fewer than promote.min_points (28): not judged" in details
    assert "INC at station×hour (7 values)" in details
    enough = PromotionPolicy(min_points=5)
    refused = decide(ModelScore("v1", few, OK, categories), reference, enough)
    assert not refused.promoted and "outside" in refused.reason


def test_first_version_against_seasonal_naive() -> None:
    naive = _score("seasonal naive", 1.0)
    assert decide(_score("version 1", 0.8), naive, PromotionPolicy()).promoted
    refused = decide(_score("version 1", 1.02), naive, PromotionPolicy(level_margin=0.5))
    assert not refused.promoted and "improvement -2.00%" in refused.reason


def test_improvement_is_positive_when_the_challenger_is_better_for_every_metric() -> None:
    assert improvement_pct("rmsse", 0.8, 1.0) == pytest.approx(20.0)
    assert improvement_pct("mae", 1.2, 1.0) == pytest.approx(-20.0)
    # bias_pct stays each model's signed bias; the improvement is on its size.
    assert improvement_pct("bias_pct", -5.0, 10.0) == pytest.approx(50.0)
    assert improvement_pct("bias_pct", 20.0, -10.0) == pytest.approx(-100.0)
    # a coverage improves when it gets closer to its nominal level, from either side.
    assert improvement_pct("coverage_80", 0.78, 0.70) == pytest.approx(80.0)
    assert improvement_pct("coverage_95", 0.99, 0.96) == pytest.approx(-300.0)
    assert improvement_pct("class_accuracy_2018", 0.6, 0.5) == pytest.approx(20.0)
    assert np.isnan(improvement_pct("alpha", 0.3, 0.2))
    assert np.isnan(improvement_pct("rmsse", 0.8, 0.0))


def test_level_guard_speaks_of_improvement_with_the_same_sign() -> None:
    challenger = _score("v2", 0.80, departement_day=0.95)
    decision = decide(challenger, _score("v1", 0.85), PromotionPolicy(level_margin=0.05))
    assert "departement×day (improvement -11.8%)" in decision.reason


def test_ranking_metric_names_the_primary_metric_at_the_primary_level() -> None:
    policy = PromotionPolicy(primary_metric="rmsse", primary_level="departement×hour")
    assert ranking_metric(policy) == ("departement_hour_rmsse", "rank_departement_hour_rmsse")


def test_a_category_much_worse_at_a_judged_level_blocks_promotion() -> None:
    """The pooled figures improve, but SUAP's error at the primary level is far worse (a model
    whose category shares moved SUAP onto AUTR): refused, naming the category and level."""
    policy = PromotionPolicy(primary_level="departement×hour", coverage_levels=("station×day",))
    broken = _categories(0.8, departement_hour_SUAP=2.5, departement_hour_AUTR=6.0)
    decision = decide(_score("version 1", 0.8, categories=broken), _score("naive", 1.0), policy)
    assert not decision.promoted
    assert "SUAP at departement×hour" in decision.reason
    assert "AUTR at departement×hour" in decision.reason
    table = decision.category_table
    assert set(table["level"]) == {"departement×hour", "station×day"}  # the levels judged
    assert set(table["category"]) == set(CATEGORIES)
    suap = table[(table["category"] == "SUAP") & (table["metric"] == "rmsse")]
    assert suap["improvement_pct"].iloc[0] == pytest.approx(-150.0)
    assert "Per category, at the levels judged" in decision.markdown()
    # a level not judged does not block, and a small loss stays within category_margin
    elsewhere = _categories(0.8)
    elsewhere.loc[("station×hour", "SUAP"), "rmsse"] = 3.0
    elsewhere.loc[("station×day", "INC"), "rmsse"] = 1.04
    assert decide(_score("v", 0.8, categories=elsewhere), _score("naive", 1.0), policy).promoted
    margin = replace(policy, category_margin=0.01)
    tight = decide(_score("v", 0.8, categories=elsewhere), _score("naive", 1.0), margin)
    assert not tight.promoted and "INC at station×day (improvement -4.0%)" in tight.reason


def test_unmeasured_categories_are_refused() -> None:
    challenger = ModelScore("v2", _metrics(0.5), OK)  # no per-category metrics
    decision = decide(challenger, _score("v1", 0.85), PromotionPolicy())
    assert not decision.promoted
    assert "per-category metrics were not measured" in decision.reason


def test_a_weekly_model_is_judged_at_its_own_grain_of_the_primary_level() -> None:
    """SDIS 91's weekly totals have no `departement×hour` (the default primary level): with
    default params a first version 93 % better than seasonal naive was refused ("per-category
    metrics were not measured", then the primary metric missing)."""
    levels = ["departement×week"]

    def weekly(label: str, rmsse: float) -> ModelScore:
        metrics = pd.DataFrame({"rmsse": rmsse, "n": 5.0}, index=levels)
        index = pd.MultiIndex.from_product([levels, CATEGORIES], names=["level", "category"])
        categories = pd.DataFrame({"rmsse": rmsse, "n": 1.0}, index=index)
        return ModelScore(label, metrics, OK, categories)

    policy = PromotionPolicy(primary_level="departement×hour")
    decision = decide(weekly("version 1", 0.02), weekly("seasonal naive", 0.23), policy)
    assert decision.promoted, decision.reason
    assert "rmsse at departement×week (departement×hour: not a grain of this model)" in (
        decision.reason
    )
    worse = decide(weekly("version 2", 0.30), weekly("version 1", 0.02), policy)
    assert not worse.promoted and "departement×week" in worse.reason
    # A level the model does not have at any coarser grain is still refused as missing.
    elsewhere = PromotionPolicy(primary_level="station×hour")
    missing = decide(weekly("version 1", 0.02), weekly("seasonal naive", 0.23), elsewhere)
    assert not missing.promoted
