"""The territory a fire and rescue service covers: its areas, calendars and export mapping.

A `Territory` is immutable and checked once, when built: codes are unique, coverage shares of
each commune sum to 100 ± 0.5, every position lies inside the bounding box, the time zone and
the holiday calendar exist. Errors name the offending entry; the loader adds the file.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from previsecours.errors import InputError

SHARE_TOLERANCE_PCT = 0.5
STATION_TYPES = frozenset({"CSP", "CS", "CPI", "STATION"})


class TerritoryError(InputError, ValueError):
    """A territory definition that cannot be used, with the entry at fault."""


@dataclass(frozen=True)
class BoundingBox:
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.lat_min <= lat <= self.lat_max and self.lon_min <= lon <= self.lon_max


@dataclass(frozen=True)
class Commune:
    """An area of the territory (a commune in France, a township elsewhere)."""

    code: str
    name: str
    population: int
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Station:
    """A fire station (CIS). `coverage_zone` is the first-call zone it owns, if any."""

    code: str
    name: str
    type: str
    groupement: str
    latitude: float
    longitude: float
    coverage_zone: str | None = None
    within_zone: str | None = None


@dataclass(frozen=True)
class CoverageShare:
    """Percentage of a commune's interventions first handled by a coverage zone's station."""

    commune_code: str
    coverage_zone: str
    share_pct: float


# What `extract.constants` may fix for every row: the areas and the kind, never a time or an id.
EVENT_CONSTANTS = frozenset({"commune_code", "category", "station_code"})
COUNTS_CONSTANTS = frozenset({"area_code"})  # `category` serves both forms
TIME_ZONE_SUFFIXES = ("offset", "local")
NAIVE_TIMES = ("local", "utc")


@dataclass(frozen=True)
class WideCounts:
    """A wide counts export: one row a period (and area), one count column per category.

    `columns` maps each category to the export column counting it; `total`, with `remainder`,
    names the column counting every intervention, whose excess over the mapped columns is
    category `remainder` (Berlin's `mission_count_all` − ems − fire − technical rescue = OTHER).
    """

    columns: Mapping[str, str]
    total: str | None = None
    remainder: str | None = None

    @property
    def categories(self) -> tuple[str, ...]:
        """The long rows' categories, in the order each wide row is unpivoted."""
        return (*self.columns, *((self.remainder,) if self.remainder else ()))


@dataclass(frozen=True)
class ExtractMapping:
    """How a service's export turns into the canonical extract.

    `columns` maps canonical names to the export's names. `category_pattern`, when given, is a
    regex whose first group extracts the category code from the category column (e.g.
    ``^(\\w+):`` on "EMS: BACK PAINS"); `station_pattern` does the same for the station column.
    `categories` maps export codes to canonical categories. `id_from`, for an export without
    an intervention id, names the export columns whose values together identify a row: the id
    is then derived from them (a stable hash), so re-ingesting the same rows never duplicates.

    `columns` may be empty: the territory then takes counts only (its service publishes no
    events), and an events ingest says so. `counts_columns` maps the aggregated form's names
    (period_start, area_code, category, count) to a counts export's (unmapped: the canonical
    name). `constants` gives a canonical column one value for every row when the export has no
    such column (an alarm-times-only extract: `{commune_code: toronto, category: FIRE}`).
    `territory_codes` are the codes that name the whole territory in a counts export, besides
    its name (a French département's code such as "91" is recognised from its communes).
    `time_zone_suffix` says what an offset suffix on a time means: "offset" (default: a UTC
    offset, `Z` = UTC, converted to the territory's zone) or "local" (the export writes local
    wall-clock time with a `Z` or an offset it does not mean). `naive_times` says what a time
    without an offset is: "local" wall-clock time (default) or "utc" (an export of UTC hours
    that does not say so). `wide_counts` reads a counts export with a column per category.
    """

    columns: Mapping[str, str]
    categories: Mapping[str, str]
    time_format: str | None = None
    category_pattern: str | None = None
    station_pattern: str | None = None
    counts_preset: str | None = None
    id_from: tuple[str, ...] = ()
    counts_columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    territory_codes: tuple[str, ...] = ()
    time_zone_suffix: str = "offset"
    naive_times: str = "local"
    wide_counts: WideCounts | None = None

    @property
    def maps_events(self) -> bool:
        """False for a counts-only territory (no event column mapped)."""
        return bool(self.columns) or bool(self.id_from)


@dataclass(frozen=True)
class Geometry:
    """Optional GeoJSON files (relative to the territory file) and the property naming each
    feature's code."""

    communes: str | None = None
    coverage_zones: str | None = None
    commune_property: str = "code"
    coverage_zone_property: str = "code"


COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@dataclass(frozen=True)
class Presentation:
    """How the dashboard and the reports name and colour this territory's things.

    The optional `presentation:` block of the territory file; every key defaults to SDIS 91's
    French words, so a French SDIS needs none. `total_label` names the whole territory's level
    ("Département", "County"), `area_label` its areas ("commune", "township"), `zone_label` the
    stations' first-call zones; `category_labels` and `category_colours` (``#rrggbb``) are keyed
    by the territory's categories (a category without a colour gets one from a fixed palette,
    by its rank); `credits` is the map's source line (None: the default of the dashboard).
    """

    total_label: str = "Département"
    area_label: str = "commune"
    zone_label: str = "zone de couverture"
    credits: str | None = None
    category_labels: Mapping[str, str] = field(default_factory=dict)
    category_colours: Mapping[str, str] = field(default_factory=dict)


COVARIATE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
COVARIATE_FREQUENCIES = ("hour", "day", "week")


@dataclass(frozen=True)
class CovariateSource:
    """An external series the model reads (e.g. weekly flu incidence), declared by the territory.

    `file` is a CSV path (the loader resolves it against the territory file's directory);
    `date_column` holds the period (a date, a date-time for hourly values, or any text that
    `date_format` parses, e.g. ``%G%V`` for ISO year-week 201001), `value_column` the number.
    A weekly value applies to every period of its week, a daily one to its day's hours.
    `known_ahead`: the value of a period is known before the period (a match calendar, a
    weather forecast), so the model reads it at the forecast period, not a horizon late.
    """

    name: str
    file: str
    date_column: str
    value_column: str
    frequency: str
    date_format: str | None = None
    known_ahead: bool = False


@dataclass(frozen=True)
class Territory:
    name: str
    label: str
    timezone: str
    holidays_country: str
    holidays_subdivision: str | None
    school_zone: str | None
    bounding_box: BoundingBox
    categories: tuple[str, ...]
    frequency: str
    mapping: ExtractMapping
    communes: tuple[Commune, ...] = ()
    stations: tuple[Station, ...] = ()
    coverage_shares: tuple[CoverageShare, ...] = ()
    geometry: Geometry = field(default_factory=Geometry)
    covariates: tuple[CovariateSource, ...] = ()
    presentation: Presentation = field(default_factory=Presentation)

    def __post_init__(self) -> None:
        check_territory(self)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def lists_areas(self) -> bool:
        """False when areas are to be inferred from the data (the service named none)."""
        return bool(self.communes)

    @property
    def commune_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.communes)

    @property
    def coverage_zones(self) -> tuple[str, ...]:
        """Coverage-zone codes in first-seen order of the share table."""
        return tuple(dict.fromkeys(s.coverage_zone for s in self.coverage_shares))

    def zone_station(self, zone: str) -> Station | None:
        """The station that owns a coverage zone."""
        return next((s for s in self.stations if s.coverage_zone == zone), None)

    def shares_by_commune(self) -> dict[str, dict[str, float]]:
        """commune → {zone: fraction in [0, 1]}, each commune's fractions summing to 1."""
        out: dict[str, dict[str, float]] = defaultdict(dict)
        for s in self.coverage_shares:
            out[s.commune_code][s.coverage_zone] = s.share_pct
        return {c: {z: p / sum(zs.values()) for z, p in zs.items()} for c, zs in out.items()}


def check_territory(t: Territory) -> None:
    """Raise `TerritoryError` naming the first entry that makes `t` unusable."""
    _check_timezone(t.timezone)
    _check_holidays(t.holidays_country, t.holidays_subdivision)
    if t.frequency not in ("hour", "day", "week"):
        raise TerritoryError(f"frequency: {t.frequency!r} is not one of hour, day, week")
    if not t.categories:
        raise TerritoryError("categories: at least one category is needed")
    _check_unique("communes", (c.code for c in t.communes))
    _check_unique("stations", (s.code for s in t.stations))
    _check_unique("categories", t.categories)
    _check_mapping(t.mapping, t.categories)
    for c in t.communes:
        if c.population < 0:
            raise TerritoryError(f"communes: {c.code} has a negative population")
        if c.latitude is not None and c.longitude is not None:
            _check_inside(t.bounding_box, f"communes: {c.code} ({c.name})", c.latitude, c.longitude)
    for s in t.stations:
        if s.type not in STATION_TYPES:
            raise TerritoryError(
                f"stations: {s.code} has type {s.type!r}, not one of {sorted(STATION_TYPES)}"
            )
        _check_inside(t.bounding_box, f"stations: {s.code} ({s.name})", s.latitude, s.longitude)
    _check_shares(t)
    _check_covariates(t.covariates)
    _check_presentation(t.presentation, t.categories)


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TerritoryError(
            f"timezone: unknown time zone {name!r} (an IANA name such as Europe/Paris)"
        ) from exc


def _check_holidays(country: str, subdivision: str | None) -> None:
    import holidays

    try:
        holidays.country_holidays(country, subdiv=subdivision, years=2020)
    except NotImplementedError as exc:
        raise TerritoryError(f"holidays: unknown holiday country {country!r}") from exc
    except ValueError as exc:
        raise TerritoryError(f"holidays: {exc}") from exc


def _check_unique(section: str, codes: Iterable[str]) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise TerritoryError(f"{section}: duplicate code {code!r}")
        seen.add(code)


def _check_inside(box: BoundingBox, what: str, lat: float, lon: float) -> None:
    if not box.contains(lat, lon):
        raise TerritoryError(
            f"{what}: position ({lat}, {lon}) is outside the bounding box "
            f"lat {box.lat_min}..{box.lat_max}, lon {box.lon_min}..{box.lon_max}"
        )


def _check_mapping(m: ExtractMapping, categories: tuple[str, ...]) -> None:
    from previsecours.core.schema import COUNT_COLUMNS, REQUIRED_COLUMNS

    misplaced = sorted(set(m.columns) & (set(COUNT_COLUMNS) - set(REQUIRED_COLUMNS)))
    if misplaced:
        raise TerritoryError(
            f"extract.columns: {misplaced} are columns of counts: map them under "
            "extract.counts_columns (extract.columns maps an events export)"
        )
    unknown_counts = sorted(set(m.counts_columns) - set(COUNT_COLUMNS))
    if unknown_counts:
        raise TerritoryError(
            f"extract.counts_columns: unknown canonical count column(s) {unknown_counts} "
            f"(known: {list(COUNT_COLUMNS)})"
        )
    _check_constants(m)
    if m.time_zone_suffix not in TIME_ZONE_SUFFIXES:
        raise TerritoryError(
            f"extract.time_zone_suffix: {m.time_zone_suffix!r} is not one of "
            f"{', '.join(TIME_ZONE_SUFFIXES)}"
        )
    if m.naive_times not in NAIVE_TIMES:
        raise TerritoryError(
            f"extract.naive_times: {m.naive_times!r} is not one of {', '.join(NAIVE_TIMES)}"
        )
    if m.wide_counts is not None:
        _check_wide_counts(m, m.wide_counts, categories)
    derived = ({"intervention_id"} if m.id_from else set()) | set(m.constants)
    missing = [c for c in REQUIRED_COLUMNS if c not in m.columns and c not in derived]
    if missing and m.maps_events:  # no event column at all: a counts-only territory
        raise TerritoryError(
            f"extract.columns: required canonical columns not mapped: {missing} (a territory "
            "whose service publishes counts only maps no event columns: leave extract.columns "
            "out)"
        )
    unknown = sorted({v for v in m.categories.values() if v not in categories})
    if unknown:
        raise TerritoryError(f"extract.categories: maps to undeclared categories {unknown}")
    for key, pattern in (
        ("category_pattern", m.category_pattern),
        ("station_pattern", m.station_pattern),
    ):
        if pattern is not None:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise TerritoryError(f"extract.{key}: invalid regex {pattern!r}: {exc}") from exc
            if compiled.groups < 1:
                raise TerritoryError(f"extract.{key}: {pattern!r} needs one capturing group")


def _check_wide_counts(m: ExtractMapping, wide: WideCounts, categories: tuple[str, ...]) -> None:
    """A wide export's categories come from its columns: declared, each once, nothing else
    giving a category or a count."""
    key = "extract.wide_counts"
    if not wide.columns:
        raise TerritoryError(f"{key}.columns: map at least one category to its count column")
    undeclared = sorted(set(wide.categories) - set(categories))
    if undeclared:
        raise TerritoryError(f"{key}: undeclared categories {undeclared} (declared: {categories})")
    if wide.remainder in wide.columns:
        raise TerritoryError(f"{key}.remainder: {wide.remainder!r} also has a column")
    if (wide.total is None) != (wide.remainder is None):
        raise TerritoryError(
            f"{key}: total and remainder go together (the remainder is total − the columns)"
        )
    names = [*wide.columns.values(), *((wide.total,) if wide.total else ())]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise TerritoryError(f"{key}: export column(s) {repeated} used twice")
    clash = sorted({"category", "count"} & (set(m.counts_columns) | set(m.constants)))
    if clash:
        raise TerritoryError(
            f"{key}: {clash} come from the wide columns: leave them out of "
            "extract.counts_columns and extract.constants"
        )


def _check_constants(m: ExtractMapping) -> None:
    allowed = EVENT_CONSTANTS | COUNTS_CONSTANTS
    unknown = sorted(set(m.constants) - allowed)
    if unknown:
        raise TerritoryError(
            f"extract.constants: {unknown} cannot be constant (allowed: {sorted(allowed)})"
        )
    both = sorted(set(m.constants) & (set(m.columns) | set(m.counts_columns)))
    if both:
        raise TerritoryError(f"extract.constants: {both} are also mapped to an export column")
    empty = sorted(k for k, v in m.constants.items() if not str(v).strip())
    if empty:
        raise TerritoryError(f"extract.constants: {empty} have no value")


def _check_shares(t: Territory) -> None:
    codes = t.commune_codes
    totals: dict[str, float] = defaultdict(float)
    for s in t.coverage_shares:
        if codes and s.commune_code not in codes:
            raise TerritoryError(f"coverage_shares: unknown commune {s.commune_code!r}")
        if s.share_pct < 0:
            raise TerritoryError(
                f"coverage_shares: negative share for commune {s.commune_code}"
                f" and zone {s.coverage_zone}"
            )
        totals[s.commune_code] += s.share_pct
    for commune, total in totals.items():
        if abs(total - 100.0) > SHARE_TOLERANCE_PCT:
            raise TerritoryError(
                f"coverage_shares: shares of commune {commune} sum to "
                f"{total:.2f}, not 100 ± {SHARE_TOLERANCE_PCT}"
            )


def _check_covariates(sources: tuple[CovariateSource, ...]) -> None:
    _check_unique("covariates", (c.name for c in sources))
    for c in sources:
        if not COVARIATE_NAME.match(c.name):
            raise TerritoryError(
                f"covariates: {c.name!r} is not a valid name (lower-case letters, digits and _, "
                "starting with a letter): it becomes the feature column cov_<name>"
            )
        if c.frequency not in COVARIATE_FREQUENCIES:
            raise TerritoryError(
                f"covariates.{c.name}: frequency {c.frequency!r} is not one of "
                f"{', '.join(COVARIATE_FREQUENCIES)}"
            )
        for key in ("file", "date_column", "value_column"):
            if not str(getattr(c, key)).strip():
                raise TerritoryError(f"covariates.{c.name}: {key} is empty")
        if not isinstance(c.known_ahead, bool):
            raise TerritoryError(
                f"covariates.{c.name}: known_ahead {c.known_ahead!r} is not true or false"
            )


def _check_presentation(p: Presentation, categories: tuple[str, ...]) -> None:
    for key in ("total_label", "area_label", "zone_label"):
        if not str(getattr(p, key)).strip():
            raise TerritoryError(f"presentation.{key} is empty")
    for section, values in (
        ("category_labels", p.category_labels),
        ("category_colours", p.category_colours),
    ):
        unknown = sorted(k for k in values if k not in categories)
        if unknown:
            raise TerritoryError(f"presentation.{section}: undeclared categories {unknown}")
    for category, colour in p.category_colours.items():
        if not COLOUR.match(colour):
            raise TerritoryError(
                f"presentation.category_colours.{category}: {colour!r} is not a #rrggbb colour"
            )
