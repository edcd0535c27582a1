"""Load a territory from its YAML file and the CSV tables it names.

Every error is a `TerritoryError` whose message starts with the file at fault.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from previsecours.core.territory import (
    BoundingBox,
    Commune,
    CoverageShare,
    ExtractMapping,
    Geometry,
    Station,
    Territory,
    TerritoryError,
)

T = TypeVar("T")


def resolve_territory_path(name_or_path: str, territories_dir: Path) -> Path:
    """`essonne` → `territories/essonne.yaml`; a path ending in .yaml/.yml is taken as is."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        path = Path(name_or_path)
    else:
        path = territories_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in territories_dir.glob("*.yaml"))
        raise TerritoryError(f"{path}: no such territory file (known territories: {known})")
    return path.resolve()


def load_territory(path: Path) -> Territory:
    """Read and check a territory; the message of any error names `path` and the entry."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TerritoryError(f"{path}: cannot read territory file: {exc}") from exc
    if not isinstance(doc, dict):
        raise TerritoryError(f"{path}: a territory file is a YAML mapping")
    try:
        return _build(doc, path.parent)
    except TerritoryError as exc:
        raise TerritoryError(f"{path}: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise TerritoryError(f"{path}: invalid entry: {exc!r}") from exc


def _build(doc: dict[str, Any], base: Path) -> Territory:
    areas = doc.get("areas") or {}
    extract = doc["extract"]
    geometry = doc.get("geometry") or {}
    holidays = doc.get("holidays") or {}
    return Territory(
        name=str(doc["name"]),
        label=str(doc.get("label", doc["name"])),
        timezone=str(doc["timezone"]),
        holidays_country=str(holidays["country"]),
        holidays_subdivision=holidays.get("subdivision"),
        school_zone=(doc.get("school_holidays") or {}).get("zone"),
        bounding_box=BoundingBox(**{k: float(v) for k, v in doc["bounding_box"].items()}),
        categories=tuple(str(c) for c in doc["categories"]),
        frequency=str(doc.get("frequency", "hour")),
        mapping=ExtractMapping(
            columns={str(k): str(v) for k, v in extract["columns"].items()},
            categories={str(k): str(v) for k, v in (extract.get("categories") or {}).items()},
            time_format=extract.get("time_format"),
            category_pattern=extract.get("category_pattern"),
            station_pattern=extract.get("station_pattern"),
            counts_preset=extract.get("counts_preset"),
            id_from=tuple(str(c) for c in extract.get("id_from") or ()),
        ),
        communes=_table(base, areas.get("communes"), _commune),
        stations=_table(base, areas.get("stations"), _station),
        coverage_shares=_table(base, areas.get("coverage_shares"), _share),
        geometry=Geometry(
            communes=_optional_path(base, geometry.get("communes")),
            coverage_zones=_optional_path(base, geometry.get("coverage_zones")),
            commune_property=str(geometry.get("commune_property", "code")),
            coverage_zone_property=str(geometry.get("coverage_zone_property", "code")),
        ),
    )


def _table(base: Path, rel: str | None, parse: Callable[[dict[str, str]], T]) -> tuple[T, ...]:
    if not rel:
        return ()
    path = base / rel
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise TerritoryError(f"cannot read table {path}: {exc}") from exc
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            out.append(parse(row))
        except (KeyError, ValueError) as exc:
            raise TerritoryError(f"{path}, line {line}: {exc!r}") from exc
    return tuple(out)


def _optional_path(base: Path, rel: str | None) -> str | None:
    """Geometry is optional: a path that does not exist here is simply absent."""
    if not rel:
        return None
    path = (base / rel).resolve()
    return str(path) if path.is_file() else None


def _float_or_none(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _commune(row: dict[str, str]) -> Commune:
    return Commune(
        code=row["code"],
        name=row["name"],
        population=int(row["population"] or 0),
        latitude=_float_or_none(row.get("latitude")),
        longitude=_float_or_none(row.get("longitude")),
    )


def _station(row: dict[str, str]) -> Station:
    return Station(
        code=row["code"],
        name=row["name"],
        type=row["type"],
        groupement=row.get("groupement", ""),
        latitude=float(row["latitude"]),
        longitude=float(row["longitude"]),
        coverage_zone=row.get("coverage_zone") or None,
        within_zone=row.get("within_zone") or None,
    )


def _share(row: dict[str, str]) -> CoverageShare:
    return CoverageShare(
        commune_code=row["commune_code"],
        coverage_zone=row["coverage_zone"],
        share_pct=float(row["share_pct"]),
    )
