"""Promotion guards each category, against a reference that does not share the model's split.

A small real CatBoost is trained and registered (version 1); a copy whose hierarchy's category
shares put SUAP's share onto AUTR is registered as version 2, with version 1's backtest forecasts
(the same CatBoost: promotion judges both on them, the window being one they were fitted on) —
its `ALL` totals are the original's to the last digit, only the split is wrong (issue #17:
such a version was promoted as first champion, "every guard passes", and forecast SUAP 0).
Promoted first, the tampered version must be refused, the reason naming SUAP at a level
judged; the untampered one is then promoted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.settings import Settings, load_settings
from previsecours.testing.small import write_small_params

if TYPE_CHECKING:
    from previsecours.core.models.bundle import TrainedForecaster
    from previsecours.core.territory import Territory
    from previsecours.pipelines.promote import PromoteResult

pytestmark = pytest.mark.slow
NOW = datetime(2024, 4, 15, 6, 0, tzinfo=UTC)


def moved_onto(forecaster: TrainedForecaster, source: str, target: str) -> TrainedForecaster:
    """The forecaster with `source`'s category share added to `target`'s, `source` at 0."""
    hierarchy = forecaster.hierarchy
    shares = hierarchy.category_shares
    assert shares is not None, "the model splits categories by measured shares"
    wide = shares.pivot_table(
        index=["model_area", "month", "daypart"], columns="category", values="share"
    )
    wide[target] += wide[source]
    wide[source] = 0.0
    stacked = wide.stack()
    assert isinstance(stacked, pd.Series)
    tampered = stacked.rename("share").reset_index()[list(shares.columns)]
    return replace(forecaster, hierarchy=replace(hierarchy, category_shares=tampered))


def register(
    settings: Settings, forecaster: TrainedForecaster, label: str, backtest: pd.DataFrame
) -> int:
    """Log `forecaster` as a new registered version with `backtest` (its CatBoost's backtest
    forecasts), as training does."""
    import mlflow

    from previsecours.adapters import registry, store, tracking
    from previsecours.core.features import FEATURE_SPEC_VERSION, area_attributes, build_features
    from previsecours.core.training import history_panel

    territory = settings.territory
    history = store.read_history(settings.paths, territory)
    end = history.end(territory, forecaster.spec.frequency)
    panel = history_panel(forecaster, history, territory, end - pd.Timedelta(days=60), end)
    areas = list(forecaster.hierarchy.model_areas)
    attributes = area_attributes(territory, forecaster.model_level, areas)
    n = len(panel.starts)
    example = build_features(
        panel, forecaster.spec, territory, attributes, first=n - 1, last=n
    ).matrix.head(5)
    experiment = tracking.use_tracking(settings.paths, territory.name)
    tags = {registry.SPEC_VERSION_KEY: str(FEATURE_SPEC_VERSION), "variant": label}
    with mlflow.start_run(experiment_id=experiment, run_name=label, tags=tags):
        tracking.log_frame(backtest.assign(model="catboost"), "backtest", "predictions.parquet")
        _, version = tracking.log_forecaster(forecaster, example, tags, register=True)
    assert version is not None
    return version


@dataclass(frozen=True)
class Story:
    settings: Settings
    tampered: PromoteResult
    untampered: PromoteResult
    forecast_suap: float
    forecast_autr: float


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, essonne: Territory) -> Story:
    from previsecours.adapters import registry, store
    from previsecours.adapters.tracking import load_forecaster
    from previsecours.core.generator import generate_events
    from previsecours.pipelines.predict import predict_levels
    from previsecours.pipelines.promote import run_promote
    from previsecours.pipelines.train import train

    home = tmp_path_factory.mktemp("categories-home")
    write_small_params(home)
    settings = load_settings("essonne", home)
    events = generate_events(essonne, dt.date(2024, 1, 1), dt.date(2024, 4, 14), seed=23)
    store.write_events(settings.paths, essonne, events)
    trained = train(settings)
    assert trained.version == 1
    registry.use_registry(settings.paths)
    original = load_forecaster("models:/previsecours-essonne/1")
    tampered = moved_onto(original, "SUAP", "AUTR")
    backtest = registry.backtest_forecasts(
        settings.paths, registry.get_version(settings.paths, "essonne", 1)
    )
    assert backtest is not None
    assert register(settings, tampered, "suap-onto-autr", backtest) == 2

    history = store.read_history(settings.paths, essonne)
    start = history.forecast_origin(essonne, "hour")
    week = predict_levels(tampered, history, essonne, start, 168, "hour")
    dep = week[(week["level"] == "departement") & (week["frequency"] == "hour")]
    by_category = dep.groupby("category")["mean"].sum()
    reference = predict_levels(original, history, essonne, start, 168, "hour")
    total = reference[(reference["level"] == "departement") & (reference["category"] == "ALL")]
    np.testing.assert_allclose(by_category["ALL"], total["mean"].sum(), rtol=1e-9)

    first = run_promote(settings, now=NOW, version=2)
    second = run_promote(settings, now=NOW, version=1)
    return Story(settings, first, second, by_category["SUAP"], by_category["AUTR"])


def test_the_tampered_version_is_refused_naming_the_category(story: Story) -> None:
    assert story.forecast_suap == 0.0 and story.forecast_autr > 0  # the split is broken
    decision = story.tampered.decision
    assert decision.reference == "seasonal naive"
    assert not decision.promoted, decision.reason
    assert story.tampered.champion_after is None
    guard = next(g for g in decision.guards if g.name.startswith("no category worse"))
    assert not guard.passed
    assert "SUAP at departement×hour" in guard.detail and "AUTR" in guard.detail
    assert "SUAP at departement×hour" in decision.reason
    table = decision.category_table
    suap = table[
        (table["level"] == "departement×hour")
        & (table["category"] == "SUAP")
        & (table["metric"] == "rmsse")
    ]
    assert suap["improvement_pct"].iloc[0] < -50  # far worse than the naive of the real series
    assert "Per category, at the levels judged" in story.tampered.markdown()


def test_the_tags_keep_the_per_category_rows(story: Story) -> None:
    import json

    from previsecours.adapters import registry

    tags = registry.get_version(story.settings.paths, "essonne", 2).tags
    assert tags["decision"] == "rejected"
    assert "SUAP" in tags["decision_reason"]
    categories = json.loads(tags["decision_categories"])
    challenger, reference, improvement = categories["departement×hour|SUAP|rmsse"]
    assert challenger > reference and improvement < 0


def test_the_untampered_version_still_promotes(story: Story) -> None:
    from previsecours.adapters import registry

    decision = story.untampered.decision
    assert decision.reference == "seasonal naive"
    assert decision.promoted, decision.reason
    guard = next(g for g in decision.guards if g.name.startswith("no category worse"))
    assert guard.passed, guard.detail
    champion = registry.champion(story.settings.paths, "essonne")
    assert champion is not None and champion.version == 1
