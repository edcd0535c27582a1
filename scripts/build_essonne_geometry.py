"""Build Essonne's simplified map polygons from the shared reference data.

Run once by a developer (``python scripts/build_essonne_geometry.py ../shared/data/essonne``);
the outputs under ``territories/essonne/`` are committed as facts with their sources named in
``territories/essonne/SOURCES.md`` and in each file's header (top-level ``source``,
``licence`` and ``generator`` members of the FeatureCollection). Nothing at run time reads
``../shared``.

- ``communes.geojson``: the 196 commune polygons (2018 INSEE codes), properties ``code``,
  ``nom``. Source: gregoiredavid/france-geojson, departements/91-essonne (IGN Admin Express /
  INSEE COG 2018), Licence Ouverte / Open Licence (Etalab).
- ``coverage_zones.geojson``: the 34 first-call coverage zones of SDIS 91 stations (2016),
  property ``cis_code``. Source: SDIS 91 GIS data, published by the 2018 Prévisecours project
  (previsecours/vueJS_Previsecours); that repository states no licence.

The département outline (``departement.geojson``) is not built: the dashboard draws only the
commune and coverage-zone layers (``geometry.communes`` / ``geometry.coverage_zones``).

Simplification keeps the polygons' shared borders shared (no slivers between neighbours):
coordinates are rounded to 5 decimals (~1 m), every ring is cut into arcs at its junctions
(the vertices where the set of neighbouring polygons changes), each arc is simplified once by
Douglas–Peucker in metres (``TOLERANCE_M``) and the same simplified arc is used by every ring
that borders it. Junctions are never moved. The output is deterministic: same input, same bytes.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "territories" / "essonne"
SCALE = 100_000  # 5 decimals of a degree: ~1.1 m of latitude, ~0.7 m of longitude here
TOLERANCE_M = 50.0  # Douglas–Peucker tolerance: ~1 unit of the dashboard's 1000-wide map
METRES_PER_DEGREE = 111_195.0  # mean Earth radius × π / 180

GENERATOR = "scripts/build_essonne_geometry.py"
LAYERS = {
    "communes": {
        "properties": ("code", "nom"),
        "key": "code",
        "name": "essonne_communes_2018",
        "source": (
            "gregoiredavid/france-geojson, departements/91-essonne/communes "
            "(IGN Admin Express / INSEE COG 2018)"
        ),
        "licence": "Licence Ouverte / Open Licence (Etalab)",
    },
    "coverage_zones": {
        "properties": ("cis_code",),
        "key": "cis_code",
        "name": "sdis91_coverage_zones_2016",
        "source": (
            "SDIS 91 GIS data (zones de couverture des CIS, 2016), published by the 2018 "
            "Prévisecours project (previsecours/vueJS_Previsecours)"
        ),
        "licence": (
            "none stated by the publishing repository (public-service data of SDIS 91, "
            "published openly by the Prévisecours project)"
        ),
    },
}

Point = tuple[int, int]
Ring = list[Point]


# ------------------------------------------------------------------ reading


def _quantized_rings(geometry: dict) -> list[list[Ring]]:  # type: ignore[type-arg]
    """Polygons → lists of open rings of integer (lon, lat) × 1e5, consecutive repeats dropped."""
    if geometry["type"] == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        raise ValueError(f"unsupported geometry type {geometry['type']!r}")
    out = []
    for polygon in polygons:
        rings = []
        for ring in polygon:
            points: Ring = []
            for lon, lat, *_ in ring:
                p = (round(lon * SCALE), round(lat * SCALE))
                if not points or p != points[-1]:
                    points.append(p)
            while len(points) > 1 and points[0] == points[-1]:
                points.pop()
            rings.append(points)
        out.append(rings)
    return out


# ------------------------------------------------------------------ topology


def _junctions(rings: Sequence[Ring]) -> set[Point]:
    """Vertices whose neighbours differ between the rings through them (or within one ring)."""
    neighbours: dict[Point, frozenset[Point]] = {}
    junctions: set[Point] = set()
    for ring in rings:
        n = len(ring)
        for i, p in enumerate(ring):
            pair = frozenset((ring[i - 1], ring[(i + 1) % n]))
            if neighbours.setdefault(p, pair) != pair:
                junctions.add(p)
        counts: dict[Point, int] = {}
        for p in ring:
            counts[p] = counts.get(p, 0) + 1
        junctions.update(p for p, c in counts.items() if c > 1)
    return junctions


def _arcs(ring: Ring, junctions: set[Point]) -> list[tuple[Point, ...]]:
    """The ring cut at its junctions into arcs (each arc's first and last points are junctions);
    a ring without junctions is one closed arc starting and ending at its smallest vertex."""
    cuts = [i for i, p in enumerate(ring) if p in junctions]
    if not cuts:
        start = ring.index(min(ring))
        rotated = ring[start:] + ring[:start]
        return [(*rotated, rotated[0])]
    arcs = []
    n = len(ring)
    for a, b in zip(cuts, [*cuts[1:], cuts[0] + n], strict=True):
        arcs.append(tuple(ring[i % n] for i in range(a, b + 1)))
    return arcs


def _canonical(arc: tuple[Point, ...]) -> tuple[tuple[Point, ...], bool]:
    """One orientation for both neighbours of an arc: (canonical arc, reversed?)."""
    backward = arc[::-1]  # a closed arc starts and ends at its smallest vertex either way
    return (arc, False) if arc <= backward else (backward, True)


# ------------------------------------------------------------------ simplification


def _metres(points: Sequence[Point]) -> np.ndarray:  # type: ignore[type-arg]
    xy = np.asarray(points, dtype=np.float64) / SCALE
    lat0 = math.radians(float(xy[:, 1].mean()))
    return np.column_stack(
        (xy[:, 0] * math.cos(lat0) * METRES_PER_DEGREE, xy[:, 1] * METRES_PER_DEGREE)
    )


def _distances(xy: np.ndarray, a: int, b: int) -> np.ndarray:  # type: ignore[type-arg]
    """Distance of xy[a+1:b] to the segment xy[a]–xy[b] (to xy[a] when a and b coincide)."""
    start, end, inner = xy[a], xy[b], xy[a + 1 : b]
    d = end - start
    length2 = float(d @ d)
    if length2 == 0.0:
        return np.asarray(np.hypot(*(inner - start).T))
    t = np.clip(((inner - start) @ d) / length2, 0.0, 1.0)
    nearest = start + t[:, None] * d
    return np.asarray(np.hypot(*(inner - nearest).T))


def _douglas_peucker(arc: Sequence[Point], tolerance: float, min_inner: int) -> list[Point]:
    """Keep the ends; keep at least `min_inner` interior points (the farthest ones first)."""
    if len(arc) <= 2:
        return list(arc)
    xy = _metres(arc)
    keep = np.zeros(len(arc), dtype=bool)
    keep[0] = keep[-1] = True
    # A closed arc (first == last) is first split at its point farthest from the start.
    spans = [(0, len(arc) - 1)]
    forced = min_inner
    while spans:
        a, b = spans.pop()
        if b - a < 2:
            continue
        dist = _distances(xy, a, b)
        i = int(np.argmax(dist))
        if dist[i] > tolerance or forced > 0 or arc[a] == arc[b]:
            forced -= 1
            k = a + 1 + i
            keep[k] = True
            spans.extend([(a, k), (k, b)])
    return [p for p, k in zip(arc, keep, strict=True) if k]


def simplify_layer(polygons: list[list[list[Ring]]], tolerance: float) -> list[list[list[Ring]]]:
    """Simplify every ring of every feature, each shared arc once for all its rings."""
    all_rings = [ring for feature in polygons for polygon in feature for ring in polygon]
    junctions = _junctions(all_rings)
    ring_arcs = [[_canonical(arc) for arc in _arcs(ring, junctions)] for ring in all_rings]
    floors: dict[tuple[Point, ...], int] = {}  # arcs that must keep some interior points
    while True:
        cache = {
            arc: _douglas_peucker(arc, tolerance, floors.get(arc, 0))
            for arc in sorted({arc for arcs in ring_arcs for arc, _ in arcs})
        }
        simplified = []
        degenerate = False
        for arcs in ring_arcs:
            ring: Ring = []
            for arc, backward in arcs:
                points = cache[arc][::-1] if backward else cache[arc]
                ring.extend(points[:-1])  # the next arc (or the closing) repeats the last point
            if len(set(ring)) < 3:  # collapsed: its arcs keep more of their points
                degenerate = True
                for arc, _ in arcs:
                    floors[arc] = floors.get(arc, 0) + 1
            simplified.append(ring)
        if not degenerate:
            break
    out = []
    it = iter(simplified)
    for feature in polygons:
        out.append([[next(it) for _ in polygon] for polygon in feature])
    return out


# ------------------------------------------------------------------ writing


def _number(value: int) -> str:
    """An integer × 1e-5 as its shortest decimal text: 203418 → 2.03418, 4846450 → 48.4645."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), SCALE)
    digits = f"{frac:05d}".rstrip("0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def _geometry_text(feature: list[list[Ring]]) -> str:
    def ring_text(ring: Ring) -> str:
        closed = [*ring, ring[0]]
        return "[" + ",".join(f"[{_number(x)},{_number(y)}]" for x, y in closed) + "]"

    def polygon_text(polygon: list[Ring]) -> str:
        return "[" + ",".join(ring_text(r) for r in polygon) + "]"

    if len(feature) == 1:
        return f'{{"type":"Polygon","coordinates":{polygon_text(feature[0])}}}'
    body = ",".join(polygon_text(p) for p in feature)
    return f'{{"type":"MultiPolygon","coordinates":[{body}]}}'


def layer_text(
    layer: dict,  # type: ignore[type-arg]
    properties: list[dict],  # type: ignore[type-arg]
    polygons: list[list[list[Ring]]],
) -> str:
    """A FeatureCollection, one feature a line, sorted by code; header members name the source."""
    header = {
        "type": "FeatureCollection",
        "name": layer["name"],
        "source": layer["source"],
        "licence": layer["licence"],
        "generator": (
            f"{GENERATOR}: coordinates rounded to 5 decimals (WGS84), shared borders "
            f"simplified once by Douglas-Peucker at {TOLERANCE_M:g} m"
        ),
    }
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":"))[:-1]
    rows = sorted(zip(properties, polygons, strict=True), key=lambda r: str(r[0][layer["key"]]))
    lines = []
    for props, feature in rows:
        kept = {k: props[k] for k in layer["properties"]}
        lines.append(
            '{"type":"Feature","properties":'
            + json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
            + ',"geometry":'
            + _geometry_text(feature)
            + "}"
        )
    return head + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def build_layer(src: Path, name: str, tolerance: float = TOLERANCE_M) -> str:
    layer = LAYERS[name]
    doc = json.loads((src / f"{name}.geojson").read_text(encoding="utf-8"))
    features = doc["features"]
    properties = [f["properties"] for f in features]
    polygons = [_quantized_rings(f["geometry"]) for f in features]
    before = sum(len(r) for p in polygons for poly in p for r in poly)
    simplified = simplify_layer(polygons, tolerance)
    after = sum(len(r) for p in simplified for poly in p for r in poly)
    print(f"{name}: {len(features)} features, {before} → {after} vertices", file=sys.stderr)
    return layer_text(layer, properties, simplified)


def build(src: Path, out: Path = OUT) -> None:
    for name in LAYERS:
        text = build_layer(src, name)
        path = out / f"{name}.geojson"
        path.write_bytes(text.encode("utf-8"))
        print(f"{path}: {len(text.encode('utf-8')):,} bytes", file=sys.stderr)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/essonne"))
