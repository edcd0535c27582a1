"""The map's shapes in screen coordinates: no tiles, no map library — the polygons are the map.

`MapProjection` maps WGS84 onto an SVG view box of fixed width (equirectangular, longitudes
shrunk by the cosine of the territory's mid-latitude: true enough at a département's scale).
`layer_shapes` turns a GeoJSON file into one SVG path per area, keyed by the area's code; when
the territory has no GeoJSON it returns centroid bubbles sized by population instead, so any
territory gets a map.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from previsecours.core.territory import Territory

VIEW_WIDTH = 1000.0
MAX_BUBBLE = 22.0


@dataclass(frozen=True)
class MapProjection:
    lon_min: float
    lat_max: float
    scale: float  # view units per degree of latitude
    x_factor: float  # cos(mid-latitude)
    height: float

    @classmethod
    def for_territory(cls, territory: Territory) -> MapProjection:
        box = territory.bounding_box
        x_factor = math.cos(math.radians((box.lat_min + box.lat_max) / 2))
        scale = VIEW_WIDTH / ((box.lon_max - box.lon_min) * x_factor)
        return cls(box.lon_min, box.lat_max, scale, x_factor, (box.lat_max - box.lat_min) * scale)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            round((lon - self.lon_min) * self.x_factor * self.scale, 1),
            round((self.lat_max - lat) * self.scale, 1),
        )

    def view_box(self) -> str:
        return f"0 0 {VIEW_WIDTH:.0f} {self.height:.0f}"


def layer_shapes(territory: Territory, layer: str, projection: MapProjection) -> dict[str, Any]:
    """`{"kind": "polygons"|"bubbles", "viewBox", "shapes": [...]}` for `commune`, `station` or
    `departement` (the whole territory: every commune polygon under the territory's code, or
    one bubble in the middle of its bounding box)."""
    geometry = territory.geometry
    if layer == "departement":
        return _whole_territory(territory, projection)
    if layer == "commune":
        path, key = geometry.communes, geometry.commune_property
        names = {c.code: c.name for c in territory.communes}
    else:
        path, key = geometry.coverage_zones, geometry.coverage_zone_property
        names = {z: _zone_name(territory, z) for z in territory.coverage_zones}
    if path and Path(path).is_file():
        shapes = _polygons(Path(path), key, names, projection)
    else:
        shapes = _bubbles(territory, layer, projection)
    return {
        "kind": "polygons" if shapes and "d" in shapes[0] else "bubbles",
        "viewBox": projection.view_box(),
        "shapes": shapes,
    }


def _whole_territory(territory: Territory, projection: MapProjection) -> dict[str, Any]:
    path = territory.geometry.communes
    if path and Path(path).is_file():
        names = {c.code: territory.label for c in territory.communes}
        shapes = _polygons(Path(path), territory.geometry.commune_property, names, projection)
        if shapes:
            whole = [{**s, "code": territory.name, "name": territory.label} for s in shapes]
            return {"kind": "polygons", "viewBox": projection.view_box(), "shapes": whole}
    box = territory.bounding_box
    x, y = projection.point((box.lon_min + box.lon_max) / 2, (box.lat_min + box.lat_max) / 2)
    bubble = {"code": territory.name, "name": territory.label, "x": x, "y": y, "r": 3 * MAX_BUBBLE}
    return {"kind": "bubbles", "viewBox": projection.view_box(), "shapes": [bubble]}


def station_markers(territory: Territory, projection: MapProjection) -> list[dict[str, Any]]:
    out = []
    for s in territory.stations:
        x, y = projection.point(s.longitude, s.latitude)
        out.append(
            {
                "code": s.code,
                "name": s.name,
                "type": s.type,
                "groupement": s.groupement,
                "coverage_zone": s.coverage_zone,
                "within_zone": s.within_zone,
                "x": x,
                "y": y,
            }
        )
    return out


def _zone_name(territory: Territory, zone: str) -> str:
    station = territory.zone_station(zone)
    return station.name if station else zone


def _polygons(
    path: Path, key: str, names: dict[str, str], projection: MapProjection
) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    shapes = []
    for feature in doc.get("features", []):
        code = str((feature.get("properties") or {}).get(key, ""))
        geometry = feature.get("geometry") or {}
        rings = _rings(geometry)
        if not code or not rings:
            continue
        d = "".join(_ring_path(ring, projection) for ring in rings)
        shapes.append({"code": code, "name": names.get(code, code), "d": d})
    return shapes


def _rings(geometry: dict[str, Any]) -> list[Sequence[Sequence[float]]]:
    if geometry.get("type") == "Polygon":
        return list(geometry["coordinates"])
    if geometry.get("type") == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def _ring_path(ring: Iterable[Sequence[float]], projection: MapProjection) -> str:
    points: list[tuple[float, float]] = []
    for lon, lat, *_ in ring:
        point = projection.point(lon, lat)
        if not points or point != points[-1]:  # rounding merges near points: drop repeats
            points.append(point)
    return "M" + "L".join(f"{x:g},{y:g}" for x, y in points) + "Z"


def _bubbles(territory: Territory, layer: str, projection: MapProjection) -> list[dict[str, Any]]:
    """Centroid circles, area ∝ population (zones: at their station, area ∝ covered people)."""
    if layer == "commune":
        points = [
            (c.code, c.name, c.longitude, c.latitude, float(c.population))
            for c in territory.communes
            if c.latitude is not None and c.longitude is not None
        ]
    else:
        people = {c.code: c.population for c in territory.communes}
        covered: dict[str, float] = {}
        for commune, zones in territory.shares_by_commune().items():
            for zone, fraction in zones.items():
                covered[zone] = covered.get(zone, 0.0) + fraction * people.get(commune, 0)
        points = []
        for zone in territory.coverage_zones:
            station = territory.zone_station(zone)
            if station is not None:
                points.append(
                    (zone, station.name, station.longitude, station.latitude, covered.get(zone, 0))
                )
    largest = max((p[4] for p in points), default=0.0)
    shapes = []
    for code, name, lon, lat, weight in points:
        x, y = projection.point(lon, lat)
        # Without populations, every area gets the same mid-sized bubble.
        share = weight / largest if largest > 0 else 0.25
        radius = max(3.0, MAX_BUBBLE * math.sqrt(share))
        shapes.append({"code": code, "name": name, "x": x, "y": y, "r": round(radius, 1)})
    return shapes
