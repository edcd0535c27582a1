"""The registry adapter against a real MLflow sqlite registry in a temporary home.

Small real models (scikit-learn linear regressions) stand in for the trained ones here: what is
tested is the alias, tag and rollback mechanics. That a fresh process serves a champion
registered by an earlier one is tested with the real trained model and the real command
(`previsecours forecast` in a subprocess) in test_promote_and_forecast.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from previsecours.adapters import registry
from previsecours.paths import Paths

TERRITORY = "testland"
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def register_linear(paths: Paths, slope: float, spec_version: int = 1) -> int:
    """Log y = slope·x as a new version of the territory's model; return its number."""
    import mlflow
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    registry.use_registry(paths)
    experiment = f"previsecours-{TERRITORY}"
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=str(paths.mlflow_artifacts))
    mlflow.set_experiment(experiment)
    x = np.arange(10, dtype=np.float64).reshape(-1, 1)
    model = LinearRegression().fit(x, slope * x.ravel())
    with mlflow.start_run():
        mlflow.set_tag(registry.SPEC_VERSION_KEY, str(spec_version))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=registry.model_name(TERRITORY),
            pip_requirements=["scikit-learn"],
        )
    return int(info.registered_model_version)


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path)


def _aliases(paths: Paths) -> dict[str, int | None]:
    return {
        alias: (v.version if (v := registry.alias_version(paths, TERRITORY, alias)) else None)
        for alias in (registry.CHAMPION, registry.PREVIOUS_CHAMPION)
    }


def test_champion_chain_and_rollbacks(paths: Paths) -> None:
    with pytest.raises(registry.NoChampionError, match="no model registered"):
        registry.load_champion(paths, TERRITORY, {1})
    versions = [register_linear(paths, slope) for slope in (1.0, 2.0, 3.0)]
    assert versions == [1, 2, 3]
    newest = registry.newest_version(paths, TERRITORY)
    assert newest is not None and newest.version == 3
    with pytest.raises(registry.NoChampionError, match="none promoted"):
        registry.load_champion(paths, TERRITORY, {1})

    assert registry.set_champion(paths, TERRITORY, 1) is None
    assert registry.set_champion(paths, TERRITORY, 2) == 1
    assert registry.set_champion(paths, TERRITORY, 3) == 2
    assert _aliases(paths) == {"champion": 3, "previous-champion": 2}

    first = registry.rollback(paths, TERRITORY, NOW)
    assert (first.demoted, first.restored, first.previous_champion) == (3, 2, 1)
    assert _aliases(paths) == {"champion": 2, "previous-champion": 1}
    assert registry.get_version(paths, TERRITORY, 3).tags["decision"] == "rolled-back"
    restored = registry.get_version(paths, TERRITORY, 2).tags
    assert restored["decision"] == "restored"
    assert restored["decision_at"] == "2026-01-05T08:00:00+00:00"

    registry.rollback(paths, TERRITORY, NOW)
    assert _aliases(paths) == {"champion": 1, "previous-champion": None}
    with pytest.raises(registry.RegistryError, match="nothing to roll back to"):
        registry.rollback(paths, TERRITORY, NOW)

    served = registry.load_champion(paths, TERRITORY, {1})
    assert served.version.version == 1
    assert served.model.predict(np.array([[4.0]]))[0] == pytest.approx(4.0)


def test_decision_tags_and_incompatible_feature_spec(paths: Paths) -> None:
    version = register_linear(paths, 1.0, spec_version=99)
    registry.record_decision(
        paths, TERRITORY, version, {"decision": "promoted", "metrics_summary": "x" * 9000}, NOW
    )
    tags = registry.get_version(paths, TERRITORY, version).tags
    assert tags["decision"] == "promoted"
    assert len(tags["metrics_summary"]) == registry.TAG_LIMIT
    registry.set_champion(paths, TERRITORY, version)
    with pytest.raises(registry.IncompatibleModelError, match="needs feature spec version 99"):
        registry.load_champion(paths, TERRITORY, {1})


def test_a_version_is_loaded_once_per_process(paths: Paths) -> None:
    """A registered version's files never change: a second load in the same process (the weekly
    retrain's forecast after its promotion) serves the model already loaded; another version,
    or the same number in another home, is its own model."""
    for slope in (1.0, 2.0):
        register_linear(paths, slope)
    first = registry.load_version(paths, registry.get_version(paths, TERRITORY, 2), {1})
    again = registry.load_version(paths, registry.get_version(paths, TERRITORY, 2), {1})
    assert again.model is first.model
    other = registry.load_version(paths, registry.get_version(paths, TERRITORY, 1), {1})
    assert other.model.predict(np.array([[3.0]]))[0] == pytest.approx(3.0)

    elsewhere = Paths(paths.home / "elsewhere")
    register_linear(elsewhere, 5.0)
    served = registry.load_version(elsewhere, registry.get_version(elsewhere, TERRITORY, 1), {1})
    assert served.model.predict(np.array([[1.0]]))[0] == pytest.approx(5.0)
