"""Load a territory from its YAML file and the CSV tables it names.

Every error is a `TerritoryError` of one line whose message starts with the file at fault
("territory file PATH: ...") and names the entry: a missing file, a YAML syntax error (line and
column), a document that is not a mapping, a missing key or section (what it is for), a section
of the wrong kind, a value that is not a number.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Callable, Mapping
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
    Presentation,
    Station,
    Territory,
    TerritoryError,
    WideCounts,
)

T = TypeVar("T")


def resolve_territory_path(name_or_path: str, territories_dir: Path) -> Path:
    """`essonne` → `territories/essonne.yaml`; a path ending in .yaml/.yml is taken as is."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
        path = Path(name_or_path)
    else:
        path = territories_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in territories_dir.glob("*.yaml"))) or "none"
        raise TerritoryError(
            f"{path}: no such territory file (known territories: {known}; "
            "or give the path of a territory YAML file)"
        )
    return path.resolve()


DOCS = "docs/data-and-territories.md"

# What each required entry is for: a missing one is named with this and where to read more.
_REQUIRED = {
    "name": "the territory's short name, e.g. essonne",
    "timezone": "an IANA time zone such as Europe/Paris",
    "holidays": "the public-holiday calendar: country and subdivision",
    "holidays.country": "the `holidays` package's country code, e.g. FR",
    "bounding_box": "lat_min, lat_max, lon_min, lon_max around the territory",
    "categories": "the list of intervention categories, e.g. [SUAP, ACCI, INCU, INCN, AUTR]",
    "extract": "the column mapping",
    "extract.columns": "canonical column → the export's column",
}
_BOX_KEYS = ("lat_min", "lat_max", "lon_min", "lon_max")


def load_territory(path: Path) -> Territory:
    """Read and check a territory; the message of any error names `path` and the entry."""
    where = f"territory file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TerritoryError(f"{where}: cannot read it ({_reason(exc)})") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TerritoryError(f"{where}: invalid YAML{_yaml_problem(exc)}") from exc
    if not isinstance(doc, dict):
        found = "an empty file" if doc is None else f"a {type(doc).__name__}"
        raise TerritoryError(
            f"{where}: expected a YAML mapping (name, timezone, extract, ...), found {found} "
            f"(see {DOCS})"
        )
    try:
        return _build(doc, path.parent)
    except TerritoryError as exc:
        raise TerritoryError(f"{where}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TerritoryError(f"{where}: invalid entry ({_reason(exc)}; see {DOCS})") from exc


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """' at line L, column C: what' from a YAML error, on one line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or _reason(exc)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{at}: {problem}"


def _required(section: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    """`section[key]`, or a `TerritoryError` naming the key, what it is for, a near miss."""
    if section.get(key) is not None:
        return section[key]
    dotted = f"{prefix}{key}"
    what = _REQUIRED.get(dotted)
    hint = f"{what}: see {DOCS}" if what else f"see {DOCS}"
    if key in section:
        raise TerritoryError(f"key {dotted!r} has no value ({hint})")
    near = difflib.get_close_matches(key, [str(k) for k in section], n=1)
    typo = f"; found {near[0]!r}, a typo?" if near else ""
    raise TerritoryError(f"missing key {dotted!r} ({hint}){typo}")


def _mapping(value: Any, dotted: str) -> Mapping[str, Any]:
    """A section that must be a YAML mapping (None: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TerritoryError(f"{dotted}: expected a mapping, found {type(value).__name__}")
    return value


def _bounding_box(value: Any) -> BoundingBox:
    box = _mapping(value, "bounding_box")
    unknown = sorted(str(k) for k in box if k not in _BOX_KEYS)
    if unknown:
        raise TerritoryError(f"bounding_box: unknown key(s) {unknown} (keys: {list(_BOX_KEYS)})")
    numbers = {}
    for key in _BOX_KEYS:
        raw = _required(box, key, "bounding_box.")
        try:
            numbers[key] = float(raw)
        except (TypeError, ValueError) as exc:
            raise TerritoryError(f"bounding_box.{key}: {raw!r} is not a number") from exc
    return BoundingBox(**numbers)


def _categories(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TerritoryError(
            f"categories: expected a list such as [SUAP, ACCI], found {type(value).__name__}"
        )
    return tuple(str(c) for c in value)


_EXTRACT_KEYS = (
    "columns",
    "counts_columns",
    "constants",
    "categories",
    "time_format",
    "time_zone_suffix",
    "naive_times",
    "wide_counts",
    "category_pattern",
    "station_pattern",
    "counts_preset",
    "id_from",
    "territory_codes",
)


def _extract_section(value: Any) -> Mapping[str, Any]:
    """The `extract:` mapping; an unknown key is named (with its near miss): a misspelt
    `columns` must not quietly make a counts-only territory."""
    extract = _mapping(value, "extract")
    for key in extract:
        if key not in _EXTRACT_KEYS:
            near = difflib.get_close_matches(str(key), _EXTRACT_KEYS, n=1)
            typo = f"; a typo of {near[0]!r}?" if near else ""
            known = ", ".join(_EXTRACT_KEYS)
            raise TerritoryError(f"extract: unknown key {key!r}{typo} (keys: {known}; see {DOCS})")
    return extract


def _names(extract: Mapping[str, Any], key: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in _mapping(extract.get(key), f"extract.{key}").items()}


_WIDE_KEYS = ("columns", "total", "remainder")


def _wide_counts(value: Any) -> WideCounts | None:
    """`extract.wide_counts`: {columns: {category: export column}, total, remainder}."""
    if value is None:
        return None
    wide = _mapping(value, "extract.wide_counts")
    unknown = sorted(str(k) for k in wide if k not in _WIDE_KEYS)
    if unknown:
        raise TerritoryError(
            f"extract.wide_counts: unknown key(s) {unknown} (keys: {', '.join(_WIDE_KEYS)})"
        )
    total, remainder = wide.get("total"), wide.get("remainder")
    return WideCounts(
        columns={
            str(k): str(v)
            for k, v in _mapping(wide.get("columns"), "extract.wide_counts.columns").items()
        },
        total=None if total is None else str(total),
        remainder=None if remainder is None else str(remainder),
    )


def _build(doc: dict[str, Any], base: Path) -> Territory:
    name = _required(doc, "name")
    timezone = _required(doc, "timezone")
    holidays = _mapping(_required(doc, "holidays"), "holidays")
    country = _required(holidays, "country", "holidays.")
    bounding_box = _bounding_box(_required(doc, "bounding_box"))
    categories = _categories(_required(doc, "categories"))
    extract = _extract_section(_required(doc, "extract"))
    columns = _mapping(extract.get("columns"), "extract.columns")
    areas = _mapping(doc.get("areas"), "areas")
    geometry = _mapping(doc.get("geometry"), "geometry")
    return Territory(
        name=str(name),
        label=str(doc.get("label", name)),
        timezone=str(timezone),
        holidays_country=str(country),
        holidays_subdivision=holidays.get("subdivision"),
        school_zone=_mapping(doc.get("school_holidays"), "school_holidays").get("zone"),
        bounding_box=bounding_box,
        categories=categories,
        frequency=str(doc.get("frequency", "hour")),
        mapping=ExtractMapping(
            columns={str(k): str(v) for k, v in columns.items()},
            categories={
                str(k): str(v)
                for k, v in _mapping(extract.get("categories"), "extract.categories").items()
            },
            time_format=extract.get("time_format"),
            category_pattern=extract.get("category_pattern"),
            station_pattern=extract.get("station_pattern"),
            counts_preset=extract.get("counts_preset"),
            id_from=tuple(str(c) for c in extract.get("id_from") or ()),
            counts_columns=_names(extract, "counts_columns"),
            constants=_names(extract, "constants"),
            territory_codes=tuple(str(c) for c in extract.get("territory_codes") or ()),
            time_zone_suffix=str(extract.get("time_zone_suffix") or "offset"),
            naive_times=str(extract.get("naive_times") or "local"),
            wide_counts=_wide_counts(extract.get("wide_counts")),
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
        presentation=_presentation(doc.get("presentation")),
    )


_PRESENTATION_TEXT = ("total_label", "area_label", "zone_label", "credits")
_PRESENTATION_MAPS = ("category_labels", "category_colours")


def _presentation(section: Any) -> Presentation:
    """The optional `presentation:` block (labels, credits, category colours); absent keys keep
    SDIS 91's French words."""
    entries = _mapping(section, "presentation")
    known = (*_PRESENTATION_TEXT, *_PRESENTATION_MAPS)
    unknown = sorted(str(k) for k in entries if k not in known)
    if unknown:
        raise TerritoryError(f"presentation: unknown key(s) {unknown} (keys: {list(known)})")
    default = Presentation()

    def text(key: str) -> str:
        value = entries.get(key)
        return str(getattr(default, key)) if value is None else str(value)

    def table(key: str) -> dict[str, str]:
        section = _mapping(entries.get(key), f"presentation.{key}")
        return {str(c): str(v) for c, v in section.items()}

    credits = entries.get("credits")
    return Presentation(
        total_label=text("total_label"),
        area_label=text("area_label"),
        zone_label=text("zone_label"),
        credits=None if credits is None else str(credits),
        category_labels=table("category_labels"),
        category_colours=table("category_colours"),
    )


_COVARIATE_KEYS = frozenset(
    {"file", "date_column", "value_column", "frequency", "date_format", "known_ahead"}
)


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
                known_ahead=entry.get("known_ahead", False),  # checked by the Territory
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
        except KeyError as exc:
            raise TerritoryError(f"{path}, line {line}: missing column {exc.args[0]!r}") from exc
        except ValueError as exc:
            raise TerritoryError(f"{path}, line {line}: {_reason(exc)}") from exc
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
    extract: dict[str, Any] = {"columns": dict(m.columns)} if m.columns else {}
    extract["categories"] = dict(m.categories)
    optional = {
        "time_format": m.time_format,
        "category_pattern": m.category_pattern,
        "station_pattern": m.station_pattern,
        "counts_preset": m.counts_preset,
        "time_zone_suffix": m.time_zone_suffix if m.time_zone_suffix != "offset" else None,
        "naive_times": m.naive_times if m.naive_times != "local" else None,
    }
    extract |= {k: v for k, v in optional.items() if v is not None}
    if m.id_from:
        extract["id_from"] = list(m.id_from)
    for key, value in (("counts_columns", m.counts_columns), ("constants", m.constants)):
        if value:
            extract[key] = dict(value)
    if m.territory_codes:
        extract["territory_codes"] = list(m.territory_codes)
    if m.wide_counts is not None:
        wide = m.wide_counts
        extract["wide_counts"] = {"columns": dict(wide.columns)} | {
            k: v for k, v in (("total", wide.total), ("remainder", wide.remainder)) if v
        }
    box = t.bounding_box
    covariates = {
        c.name: {
            "file": c.file,
            "date_column": c.date_column,
            "value_column": c.value_column,
            "frequency": c.frequency,
        }
        | ({"date_format": c.date_format} if c.date_format else {})
        | ({"known_ahead": True} if c.known_ahead else {})
        for c in t.covariates
    }
    return (
        {
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
        }
        | ({"covariates": covariates} if covariates else {})
        | _presentation_document(t)
    )


def _presentation_document(t: Territory) -> dict[str, Any]:
    """The `presentation:` block, only the keys that differ from the defaults."""
    p, default = t.presentation, Presentation()
    out = {
        key: value
        for key in (*_PRESENTATION_TEXT, *_PRESENTATION_MAPS)
        if (value := getattr(p, key)) != getattr(default, key)
    }
    if not out:
        return {}
    return {"presentation": {k: dict(v) if isinstance(v, Mapping) else v for k, v in out.items()}}


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
