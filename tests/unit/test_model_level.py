"""The modelled level follows what the territory declares (issue #16): coverage zones when it
has them, else communes; a station level a territory cannot have is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from previsecours.adapters.territory_files import load_territory
from previsecours.config import TrainParams
from previsecours.core.territory import Territory
from previsecours.core.training import model_level_for
from previsecours.errors import ConfigError


def test_auto_is_station_with_coverage_zones_and_commune_without(
    repo_root: Path, essonne: Territory
) -> None:
    montgomery = load_territory(repo_root / "territories" / "montgomery-pa.yaml")
    assert not montgomery.coverage_zones
    assert model_level_for(TrainParams(), essonne) == "station"
    assert model_level_for(TrainParams(), montgomery) == "commune"
    assert model_level_for(TrainParams(model_level="departement"), essonne) == "departement"


def test_a_station_level_without_coverage_zones_is_refused(repo_root: Path) -> None:
    montgomery = load_territory(repo_root / "territories" / "montgomery-pa.yaml")
    with pytest.raises(ConfigError, match="declares no coverage zones"):
        model_level_for(TrainParams(model_level="station"), montgomery)
