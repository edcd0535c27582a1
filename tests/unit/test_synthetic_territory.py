"""Synthetic territories: checked, seeded, Essonne-like densities, files that load back."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from previsecours.adapters.territory_files import load_territory, write_territory
from previsecours.core.generator import generate_events
from previsecours.core.generator.rates import REFERENCE_POPULATION, volume_scale
from previsecours.core.synthetic_territory import synthetic_territory

if TYPE_CHECKING:
    from previsecours.core.territory import Territory


def test_same_arguments_same_territory_other_seed_other_one() -> None:
    a = synthetic_territory("alpha", 12, seed=3)
    assert a == synthetic_territory("alpha", 12, seed=3)
    assert a != synthetic_territory("alpha", 12, seed=4)


@pytest.mark.parametrize("n_stations", [1, 5, 50, 300])
def test_sizes_follow_essonne_densities(n_stations: int) -> None:
    t = synthetic_territory("t", n_stations, seed=1)
    assert len(t.stations) == n_stations
    assert len(t.communes) == max(1, round(n_stations * 196 / 50))
    population = sum(c.population for c in t.communes)
    assert population == round(n_stations * REFERENCE_POPULATION / 50)
    owners = [s for s in t.stations if s.coverage_zone]
    assert owners and all(s.code == s.coverage_zone for s in owners)
    assert set(t.coverage_zones) <= {s.code for s in owners}
    # Every station belongs to some zone; every commune is covered.
    assert all(s.within_zone in t.coverage_zones or s.coverage_zone for s in t.stations)
    assert set(t.shares_by_commune()) == t.commune_codes


def test_explicit_sizes_and_shares_sum_to_100() -> None:
    t = synthetic_territory("b", 8, n_communes=40, population=100_000, seed=2)
    assert len(t.communes) == 40
    assert sum(c.population for c in t.communes) == 100_000
    for fractions in t.shares_by_commune().values():
        assert sum(fractions.values()) == pytest.approx(1.0)
        assert len(fractions) <= 2
    assert t.categories == ("SUAP", "ACCI", "INCU", "INCN", "AUTR")
    assert (t.frequency, t.timezone, t.holidays_country) == ("hour", "Europe/Paris", "FR")


def test_rejects_no_station() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        synthetic_territory("none", 0)


def test_written_files_load_back_equal(tmp_path: Path) -> None:
    t = synthetic_territory("gamma", 7, seed=5)
    path = write_territory(t, tmp_path)
    assert path == tmp_path / "gamma.yaml"
    assert sorted(p.name for p in (tmp_path / "gamma").iterdir()) == [
        "communes.csv",
        "coverage_shares.csv",
        "stations.csv",
    ]
    assert load_territory(path) == t


def test_essonne_written_and_read_keeps_its_tables(tmp_path: Path, essonne: Territory) -> None:
    loaded = load_territory(write_territory(essonne, tmp_path))
    assert loaded.communes == essonne.communes
    assert loaded.stations == essonne.stations
    assert loaded.coverage_shares == essonne.coverage_shares
    assert loaded.mapping == essonne.mapping


def test_generator_volumes_scale_with_population(essonne: Territory) -> None:
    assert volume_scale(essonne) == 1.0
    small = synthetic_territory("small", 5, seed=0)
    large = synthetic_territory("large", 20, seed=0)
    assert volume_scale(large) == pytest.approx(4 * volume_scale(small), rel=1e-3)
    start, end = date(2024, 3, 1), date(2024, 3, 28)
    small_events = generate_events(small, start, end, seed=9)
    large_events = generate_events(large, start, end, seed=9)
    essonne_events = generate_events(essonne, start, end, seed=9)
    # 5 stations ≈ a tenth of Essonne's population: about a tenth of its interventions.
    assert len(small_events) == pytest.approx(len(essonne_events) / 10, rel=0.1)
    assert len(large_events) == pytest.approx(4 * len(small_events), rel=0.1)
    assert set(large_events["station_code"]) <= {s.code for s in large.stations}
    assert set(large_events["commune_code"]) <= large.commune_codes
    box = large.bounding_box
    assert large_events["latitude"].between(box.lat_min, box.lat_max).all()


def test_territory_without_population_keeps_fitted_volumes(essonne: Territory) -> None:
    from dataclasses import replace

    unpopulated = replace(
        essonne, communes=tuple(replace(c, population=0) for c in essonne.communes)
    )
    assert volume_scale(unpopulated) == 1.0
