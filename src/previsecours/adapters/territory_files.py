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
    CovariateSource,
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
        covariates=_covariates(base, doc.get("covariates")),
    )


_COVARIATE_KEYS = frozenset({"file", "date_column", "value_column", "frequency", "date_format"})


def _covariates(base: Path, section: Any) -> tuple[CovariateSource, ...]:
    """The optional `covariates:` mapping (name → file, date_column, value_column, frequency).

    Paths are relative to the territory file, like the area tables. The file is only read when
    a pipeline needs the values (adapters/covariates.py), so a territory whose covariate file
    is not there yet still loads (e.g. for the dashboard).
    """
    if not section:
        return ()
    if not isinstance(section, dict):
        raise TerritoryError("covariates: expected a mapping name → {file, date_column, ...}")
    out = []
    for name, entry in section.items():
        if not isinstance(entry, dict):
            raise TerritoryError(f"covariates.{name}: expected a mapping with file, ...")
        unknown = sorted(set(entry) - _COVARIATE_KEYS)
        missing = sorted({"file", "date_column", "value_column", "frequency"} - set(entry))
        if unknown or missing:
            raise TerritoryError(
                f"covariates.{name}: "
                + "; ".join(
                    [f"missing key(s) {missing}"] * bool(missing)
                    + [f"unknown key(s) {unknown}"] * bool(unknown)
                )
                + f" (keys: {sorted(_COVARIATE_KEYS)})"
            )
        out.append(
            CovariateSource(
                name=str(name),
                file=str((base / str(entry["file"])).resolve()),
                date_column=str(entry["date_column"]),
                value_column=str(entry["value_column"]),
                frequency=str(entry["frequency"]),
                date_format=entry.get("date_format"),
            )
        )
    return tuple(out)


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


# ------------------------------------------------------------------ writing


def write_territory(territory: Territory, directory: Path) -> Path:
    """Write `territory` as `<directory>/<name>.yaml` and its tables under `<directory>/<name>/`.

    The inverse of `load_territory`: loading the written file gives an equal territory
    (geometry aside: a written territory has none). Returns the YAML file's path.
    """
    tables = directory / territory.name
    tables.mkdir(parents=True, exist_ok=True)
    areas: dict[str, str] = {}
    for key, header, rows in _table_rows(territory):
        if rows:
            _write_csv(tables / f"{key}.csv", header, rows)
            areas[key] = f"{territory.name}/{key}.csv"
    path = directory / f"{territory.name}.yaml"
    path.write_text(
        yaml.safe_dump(_document(territory, areas), sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def _document(t: Territory, areas: dict[str, str]) -> dict[str, Any]:
    m = t.mapping
    extract: dict[str, Any] = {"columns": dict(m.columns), "categories": dict(m.categories)}
    optional = {
        "time_format": m.time_format,
        "category_pattern": m.category_pattern,
        "station_pattern": m.station_pattern,
        "counts_preset": m.counts_preset,
    }
    extract |= {k: v for k, v in optional.items() if v is not None}
    if m.id_from:
        extract["id_from"] = list(m.id_from)
    box = t.bounding_box
    covariates = {
        c.name: {
            "file": c.file,
            "date_column": c.date_column,
            "value_column": c.value_column,
            "frequency": c.frequency,
        }
        | ({"date_format": c.date_format} if c.date_format else {})
        for c in t.covariates
    }
    return {
        "name": t.name,
        "label": t.label,
        "timezone": t.timezone,
        "holidays": {"country": t.holidays_country, "subdivision": t.holidays_subdivision},
        "school_holidays": {"zone": t.school_zone},
        "bounding_box": {
            "lat_min": box.lat_min,
            "lat_max": box.lat_max,
            "lon_min": box.lon_min,
            "lon_max": box.lon_max,
        },
        "categories": list(t.categories),
        "frequency": t.frequency,
        "areas": areas,
        "extract": extract,
    } | ({"covariates": covariates} if covariates else {})


def _table_rows(t: Territory) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
    communes = [(c.code, c.name, c.population, c.latitude, c.longitude) for c in t.communes]
    stations = [
        (
            s.code,
            s.name,
            s.type,
            s.groupement,
            s.latitude,
            s.longitude,
            s.coverage_zone,
            s.within_zone,
        )
        for s in t.stations
    ]
    shares = [(s.commune_code, s.coverage_zone, s.share_pct) for s in t.coverage_shares]
    return [
        ("communes", ("code", "name", "population", "latitude", "longitude"), communes),
        (
            "stations",
            (
                "code",
                "name",
                "type",
                "groupement",
                "latitude",
                "longitude",
                "coverage_zone",
                "within_zone",
            ),
            stations,
        ),
        ("coverage_shares", ("commune_code", "coverage_zone", "share_pct"), shares),
    ]


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(tuple("" if v is None else v for v in row) for row in rows)
