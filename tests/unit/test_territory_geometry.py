"""Essonne's map polygons are committed beside its tables: a bare clone draws the same map.

Built by scripts/build_essonne_geometry.py from the reference data; these tests read only the
repository, never ../shared.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from previsecours.core.territory import Territory
from previsecours.dashboard.geometry import MapProjection, layer_shapes


def _features(path: str | None, key: str) -> dict[str, dict[str, Any]]:
    assert path is not None, "the territory names no such geometry file"
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return {str(f["properties"][key]): f["geometry"] for f in doc["features"]}


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    assert geometry["type"] == "MultiPolygon"
    return [ring for polygon in geometry["coordinates"] for ring in polygon]


def test_geometry_files_are_the_committed_ones(essonne: Territory, repo_root: Path) -> None:
    folder = (repo_root / "territories" / "essonne").resolve()
    for path in (essonne.geometry.communes, essonne.geometry.coverage_zones):
        assert path is not None and Path(path).parent == folder, path
    total = sum(Path(p).stat().st_size for p in folder.glob("*.geojson"))
    assert total < 400_000  # simplified: a few hundred kB at most


def test_no_territory_file_refers_to_shared_data(repo_root: Path) -> None:
    offenders = [
        f"{path}:{number}"
        for path in sorted((repo_root / "territories").rglob("*"))
        if path.is_file()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"^[^#]*\.\./shared", line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("layer", "licence"),
    [("communes", "Licence Ouverte"), ("coverage_zones", "none stated")],
)
def test_each_file_names_its_source(essonne: Territory, layer: str, licence: str) -> None:
    path = getattr(essonne.geometry, layer)
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert doc["source"] and doc["generator"].startswith("scripts/build_essonne_geometry.py")
    assert licence in doc["licence"]


def test_every_commune_and_zone_has_a_polygon_inside_the_territory(essonne: Territory) -> None:
    communes = _features(essonne.geometry.communes, essonne.geometry.commune_property)
    zones = _features(essonne.geometry.coverage_zones, essonne.geometry.coverage_zone_property)
    assert sorted(communes) == sorted(essonne.commune_codes)
    assert sorted(zones) == sorted(essonne.coverage_zones)
    box = essonne.bounding_box
    for code, geometry in {**communes, **zones}.items():
        for ring in _rings(geometry):
            assert len(ring) >= 4 and ring[0] == ring[-1], code
            assert len({tuple(p) for p in ring}) >= 3, code
            for lon, lat in ring:
                assert box.lon_min <= lon <= box.lon_max, code
                assert box.lat_min <= lat <= box.lat_max, code


def test_neighbours_share_their_borders(essonne: Territory) -> None:
    """Simplified arc by arc: a border vertex of one commune is a vertex of its neighbour."""
    communes = _features(essonne.geometry.communes, essonne.geometry.commune_property)
    owners: dict[tuple[float, float], set[str]] = {}
    for code, geometry in communes.items():
        for ring in _rings(geometry):
            for lon, lat in ring:
                owners.setdefault((lon, lat), set()).add(code)
    shared = sum(len(codes) > 1 for codes in owners.values())
    assert shared > len(owners) / 2  # most vertices lie on a border between two communes


def test_the_dashboard_draws_both_layers_as_polygons(essonne: Territory) -> None:
    projection = MapProjection.for_territory(essonne)
    communes = layer_shapes(essonne, "commune", projection)
    zones = layer_shapes(essonne, "station", projection)
    assert communes["kind"] == zones["kind"] == "polygons"
    assert sorted(s["code"] for s in communes["shapes"]) == sorted(essonne.commune_codes)
    assert sorted(s["code"] for s in zones["shapes"]) == sorted(essonne.coverage_zones)
