"""Every section of `params.yaml`, typed: parsed once, frozen, unknown keys rejected.

`Params.parse(mapping)` turns the merged YAML (the project's `params.yaml`, overridden key by key
by a home's own) into one frozen object; a wrong key or value is a `ConfigError` naming the
section and the key. Each section is a validated dataclass, so `dataclasses.replace` still works
(and validates again). Defaults here are the code's; `params.yaml` states the project's choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import yaml
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs

from previsecours.errors import ConfigError

STRICT: Final = ConfigDict(extra="forbid")

Allocation = Literal["bottom_up", "top_down"]
ModelLevel = Literal["auto", "commune", "station", "departement"]
DayKind = Literal["working", "non_working", "all"]
HOURS_PER_YEAR: Final = 365.25 * 24

DEFAULT_MODELS: Final = (
    "catboost",
    "seasonal_naive",
    "seasonal_average_4",
    "reference_3y",
    "reference_3y_pm2",
    "reference_3y_pm2_trend",
    "poisson_glm",
)
# Models whose own settings sit under their name in the `train:` section.
TUNABLE_MODELS: Final = ("catboost", "poisson_glm")
CANDIDATE_PREFIX: Final = "catboost:"  # a CatBoost candidate's model name in the backtest


def candidate_model(candidate: str) -> str:
    return CANDIDATE_PREFIX + candidate


def is_candidate(model: str) -> bool:
    """A CatBoost candidate's or combination's backtest name (`catboost:<name>`): not a
    baseline."""
    return model.startswith(CANDIDATE_PREFIX)


class HasFrequency(Protocol):
    @property
    def frequency(self) -> str: ...


@dataclass(frozen=True, config=STRICT)
class GenerateParams:
    """`generate:` — the seeded synthetic extract."""

    seed: int = 7
    start: date = date(2019, 1, 1)
    end: date = date(2025, 12, 31)
    dirty_rate: float = 0.005  # --dirty: share of defective rows


@dataclass(frozen=True, config=STRICT)
class IngestParams:
    """`ingest:` — the gates an extract passes before it enters the curated store."""

    quarantine_threshold: float = 0.02
    oldest_plausible_years: float = 30.0
    duration_min_range: tuple[float, float] = (0.0, 2880.0)
    volume_factor: float = 5.0
    volume_min_daily_mean: float = 20.0
    volume_min_history_days: int = 4
    volume_run_gap_days: int = 3
    isolated_day_max_rows: int = 3
    keep_raw_extracts: bool = False
    raw_retention_days: int = 30
    dvc_remote: str = ".dvc-remote"


# Rolling backtest windows by frequency: 4 weeks of hours or days; a weekly model's window is one
# value per series, so 13 (a quarter) — 4 values were too few to choose a candidate or to fit a
# category's dispersion on.
DEFAULT_WINDOWS: Final[dict[str, int]] = {"hour": 4, "day": 4, "week": 13}


@dataclass(frozen=True, config=STRICT)
class TrainParams:
    """`train:` — the modelled grain, the backtest and the models."""

    # auto: station (coverage zone) when the territory declares coverage zones, else commune
    model_level: ModelLevel = "auto"
    split_categories: bool = True
    frequency: Literal["hour", "day", "week"] | None = None  # default: the territory's
    horizon: str = "7d"
    # Backtest origins: local dates or times of the territory ("2017-01-02", "2017-02-06T06:00"),
    # each the first period starting at or after it; empty: `n_windows` rolling windows.
    origins: tuple[str, ...] = ()
    n_windows: int | None = None  # rolling windows; None: `DEFAULT_WINDOWS` of the frequency
    step: int | None = None
    refit: bool = True
    train_years: float = 2.0
    history_years: float = 5.2  # read from the store: training span + 3 years of references
    # Start the history after the last level shift (a recording change, a merger: see
    # core/level_shift.py); shifts are detected and reported either way.
    start_after_level_shift: bool = False
    allocation_years: float = 2.0
    allocation: Allocation = "bottom_up"  # or top_down: the modelled total split by shares
    coverage_target: float = 0.82
    register: bool = True
    models: tuple[str, ...] = DEFAULT_MODELS
    catboost: Mapping[str, Any] | None = None
    # CatBoost settings for one frequency's data, under `catboost:`'s and the candidates' (a home
    # setting `catboost: {iterations: …}` sets it for every frequency): `for_frequency`.
    catboost_by_frequency: Mapping[Literal["hour", "day", "week"], Mapping[str, Any]] | None = None
    # CatBoost variants (each a few settings over `catboost:`) the backtest compares; the best
    # is the one trained and registered (core/training.py `choose_candidate`). None: `catboost:`.
    candidates: Mapping[str, Mapping[str, Any]] | None = None
    # Equal-weight means of backtested forecasts, judged beside the candidates: name → members,
    # a candidate first, then candidates or other models of `models` (core/models/combination.py).
    # Unused without candidates; one whose members are not all backtested is not judged.
    combinations: Mapping[str, tuple[str, ...]] | None = None
    # The candidates and combinations the backtest may choose from, the first preferred on a
    # tie (None, or none of them judged: every candidate and judged combination).
    choose_from: tuple[str, ...] | None = None
    # Backtest windows the choice reads: this training's and the latest ones earlier trainings
    # of the same models scored (core/choice.py); 0: this training's only.
    choice_windows: int = Field(default=52, ge=0)
    poisson_glm: Mapping[str, Any] | None = None

    @field_validator("origins", mode="before")
    @classmethod
    def _origins_as_iso(cls, value: Any) -> Any:
        """YAML reads an unquoted 2017-01-02 as a date: every origin becomes its ISO text, and
        one that is not a date or time is refused here, before any training."""
        from datetime import datetime

        if value is None:
            return ()
        if isinstance(value, (str, date)):
            value = [value]
        out = []
        for item in value:
            text = item.isoformat() if isinstance(item, date) else str(item).strip()
            try:
                datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    f"origin {text!r}: expected a local date or time, e.g. 2017-01-02"
                ) from None
            out.append(text)
        return tuple(out)

    @field_validator("candidates")
    @classmethod
    def _candidate_names(cls, value: Any) -> Any:
        for name in value or {}:
            if not str(name).isidentifier():
                raise ValueError(f"candidate {name!r}: a name of letters, digits and _")
        if value is not None and not value:
            raise ValueError("no candidate: leave candidates out (null) to train `catboost:`")
        return value

    @model_validator(mode="after")
    def _combinations_of_known_members(self) -> TrainParams:
        candidates = self.candidates or {}
        for name, members in (self.combinations or {}).items():
            where = f"combinations: {name!r}"
            if not str(name).isidentifier() or name in candidates:
                raise ValueError(f"{where}: a name of letters, digits and _, not a candidate's")
            if len(members) < 2:
                raise ValueError(f"{where}: at least two members")
            if self.candidates is None:
                continue
            if members[0] not in candidates:
                raise ValueError(
                    f"{where}: the first member is a candidate ({', '.join(candidates)})"
                )
            for member in members[1:]:
                if member == "catboost" or is_candidate(member):
                    raise ValueError(f"{where}: {member!r} — name a candidate or another model")
        known = {*candidates, *(self.combinations or {})}
        unknown = [
            n for n in self.choose_from or () if self.candidates is not None and n not in known
        ]
        if unknown:
            raise ValueError(f"choose_from: {unknown[0]!r} is no candidate or combination")
        return self

    @property
    def model_params(self) -> dict[str, Mapping[str, Any]]:
        """Each tunable model's own settings, as given; each CatBoost candidate's merged."""
        own = {
            name: dict(getattr(self, name))
            for name in TUNABLE_MODELS
            if getattr(self, name) is not None
        }
        return own | {candidate_model(c): self.catboost_params(c) for c in self.candidates or {}}

    @property
    def backtest_models(self) -> tuple[str, ...]:
        """`models` with `catboost` replaced by its candidates, when there are some."""
        out: list[str] = []
        for name in self.models:
            if name == "catboost" and self.candidates:
                out.extend(candidate_model(c) for c in self.candidates)
            else:
                out.append(name)
        return tuple(out)

    def catboost_params(self, candidate: str | None = None) -> dict[str, Any]:
        """CatBoost's settings: `catboost:` with a candidate's over them (a combination's:
        its first member's)."""
        members = (self.combinations or {}).get(candidate or "")
        chosen = (self.candidates or {}).get(members[0] if members else candidate or "", {})
        return {**(self.catboost or {}), **chosen}

    def members(self, combination: str) -> tuple[str, ...]:
        """A combination's members as the backtest names them (`catboost:<candidate>`)."""
        candidates = self.candidates or {}
        return tuple(
            candidate_model(m) if m in candidates else m
            for m in (self.combinations or {})[combination]
        )

    @property
    def choosable(self) -> tuple[str, ...]:
        """The backtest names the backtest chooses among, preferred first (see `choose_from`)."""
        judged = (*(candidate_model(c) for c in self.candidates or {}), *self.judged_combinations)
        wanted = tuple(candidate_model(n) for n in self.choose_from or ())
        return tuple(n for n in wanted if n in judged) or judged

    @property
    def judged_combinations(self) -> dict[str, tuple[str, ...]]:
        """Backtest name (`catboost:<name>`) → members of each combination the backtest scores:
        their forecasts are the means of backtested models' — nothing more is fitted. None
        without candidates or when a member is not backtested."""
        if not self.candidates:
            return {}
        backtested = set(self.backtest_models)
        return {
            candidate_model(name): self.members(name)
            for name in self.combinations or {}
            if set(self.members(name)) <= backtested
        }

    def for_frequency(self, frequency: Literal["hour", "day", "week"]) -> TrainParams:
        """These params for `frequency`'s data: `catboost:` over its `catboost_by_frequency`
        settings (idempotent: the mapping stays, and merging it again changes nothing)."""
        own = (self.catboost_by_frequency or {}).get(frequency)
        if not own:
            return self
        return replace(self, catboost={**own, **(self.catboost or {})})

    def frequency_of(self, territory: HasFrequency) -> Literal["hour", "day", "week"]:
        return self.frequency or territory.frequency  # type: ignore[return-value]

    def windows_for(self, frequency: str) -> int:
        """The rolling backtest windows: `n_windows`, else the frequency's default."""
        return self.n_windows or DEFAULT_WINDOWS[frequency]


@dataclass(frozen=True, config=STRICT)
class PromotionPolicy:
    """`promote:` — when a challenger replaces the champion."""

    primary_metric: str = "rmsse"
    primary_level: str = "station×hour"
    lower_is_better: bool = True
    min_improvement: float = 0.002  # relative gain required on the primary metric
    level_margin: float = 0.02  # relative loss tolerated at any other level
    # relative loss tolerated for any one category at the primary and coverage levels (a rare
    # category's error is noisy: a sound model can lose ~10 % on it to seasonal naive)
    category_margin: float = 0.25
    coverage_metric: str = "coverage_80"
    coverage_band: tuple[float, float] = (0.70, 0.95)
    # A département has only 7 days in a one-week window: too few to measure a coverage.
    coverage_levels: tuple[str, ...] = ("station×day",)
    windows: int = 1  # latest backtest windows both models are scored on
    # A weekly model's window is one week, one value at the département: it is scored on at
    # least this many (each must be one of its backtest's windows: ≤ train.n_windows).
    weekly_windows: int = 4
    # A level (or level × category) with fewer paired values than this on the scoring window is
    # not judged by the guards, and the decision says so: a 7-day coverage is k/7, a week's
    # error of a rare category one number.
    min_points: int = 28


@dataclass(frozen=True, config=STRICT)
class ForecastParams:
    """`forecast:` — what the forecast step writes."""

    horizon: str = "7d"
    grains: tuple[str, ...] = ("day", "week")
    drivers_top_k: int = 3


@dataclass(frozen=True, config=STRICT)
class Shift:
    """A planning period: hours [start_hour, end_hour) of the days of one kind.

    A shift whose end is not after its start runs past midnight (a night): its occurrence
    belongs to the day it starts on.
    """

    name: str
    start_hour: int
    end_hour: int
    days: DayKind = "all"

    @property
    def wraps(self) -> bool:
        return self.end_hour <= self.start_hour

    def covers_hour(self, hour: int) -> bool:
        if self.wraps:
            return hour >= self.start_hour or hour < self.end_hour
        return self.start_hour <= hour < self.end_hour


DEFAULT_SHIFTS: Final = (
    Shift("jour ouvré", 7, 19, "working"),
    Shift("jour non ouvré", 7, 19, "non_working"),
    Shift("nuit", 19, 7, "all"),
)


@dataclass(frozen=True, config=STRICT)
class StaffingPolicy:
    """`staffing:` — from expected load to crews per station and shift."""

    shifts: tuple[Shift, ...] = DEFAULT_SHIFTS
    tolerance_hours_per_year: float = 5.0
    min_crews: int = 1
    categories: tuple[str, ...] | None = None  # None: every category engages a crew
    duration_min_events: int = 30  # below this, a station×category falls back to the territory
    duration_history_years: float = 3.0
    current_crews_file: str | None = None  # CSV station_code,crews, relative to the home

    @field_validator("shifts", mode="before")
    @classmethod
    def _shifts_as_written(cls, value: Any) -> Any:
        """params.yaml writes `{name, start, end, days}`; empty means the defaults."""
        if not value:
            return DEFAULT_SHIFTS
        return tuple(
            Shift(
                name=str(s["name"]),
                start_hour=s["start"],
                end_hour=s["end"],
                days=s.get("days", "all"),
            )
            if isinstance(s, Mapping)
            else s
            for s in value
        )

    @field_validator("categories", mode="before")
    @classmethod
    def _no_categories_means_all(cls, value: Any) -> Any:
        return value or None

    @property
    def exceedance_target(self) -> float:
        """Largest acceptable probability that demand exceeds the crews at a given instant."""
        return self.tolerance_hours_per_year / HOURS_PER_YEAR


@dataclass(frozen=True, config=STRICT)
class MonitorThresholds:
    max_relative_rmse: float = 1.0  # model RMSE / seasonal-naive RMSE at the watched grain
    max_abs_bias_pct: float = 15.0
    coverage80_band: tuple[float, float] = (0.60, 0.97)
    max_psi: float = 0.20
    max_volume_shift: float = 0.25  # |recent / training mean daily volume − 1|
    min_periods: int = 24


THRESHOLD_KEYS: Final = frozenset(MonitorThresholds.__dataclass_fields__)


@dataclass(frozen=True, config=STRICT)
class MonitorParams:
    """`monitor:` — what is watched and when accuracy or drift raise an alert.

    The thresholds are written flat in the section, beside the other keys."""

    recent_days: int = 28
    watched_level: str = "departement"
    watched_grain: str = "day"
    thresholds: MonitorThresholds = Field(default_factory=MonitorThresholds)

    @model_validator(mode="before")
    @classmethod
    def _flat_thresholds(cls, values: Any) -> Any:
        # A validated dataclass hands its init arguments over as ArgsKwargs.
        given = values.kwargs if isinstance(values, ArgsKwargs) else values
        if not isinstance(given, Mapping):
            return values
        flat = {k: v for k, v in given.items() if k in THRESHOLD_KEYS}
        if not flat:
            return values
        rest = {k: v for k, v in given.items() if k not in THRESHOLD_KEYS}
        args = values.args if isinstance(values, ArgsKwargs) else ()
        return ArgsKwargs(args, {**rest, "thresholds": MonitorThresholds(**flat)})


SECTIONS: Final[Mapping[str, type]] = {
    "generate": GenerateParams,
    "ingest": IngestParams,
    "train": TrainParams,
    "promote": PromotionPolicy,
    "forecast": ForecastParams,
    "staffing": StaffingPolicy,
    "monitor": MonitorParams,
}


@dataclass(frozen=True, config=STRICT)
class Params:
    """The whole `params.yaml`."""

    territories: tuple[str, ...] = ("essonne",)  # dvc.yaml's stages; the first is the default
    generate: GenerateParams = Field(default_factory=GenerateParams)
    ingest: IngestParams = Field(default_factory=IngestParams)
    train: TrainParams = Field(default_factory=TrainParams)
    promote: PromotionPolicy = Field(default_factory=PromotionPolicy)
    forecast: ForecastParams = Field(default_factory=ForecastParams)
    staffing: StaffingPolicy = Field(default_factory=StaffingPolicy)
    monitor: MonitorParams = Field(default_factory=MonitorParams)

    @property
    def default_territory(self) -> str:
        return self.territories[0]

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> Params:
        """Each section validated on its own, so an error names its section and key."""
        unknown = sorted(set(values) - set(SECTIONS) - {"territories"})
        if unknown:
            raise ConfigError(f"params.yaml: unknown section(s) {unknown}")
        sections: dict[str, Any] = {}
        for name, kind in SECTIONS.items():
            section = values.get(name) or {}
            if not isinstance(section, Mapping):
                raise ConfigError(f"params.yaml: section {name!r} must be a mapping")
            sections[name] = _validated(kind, name, section)
        territories = values.get("territories") or ("essonne",)
        if isinstance(territories, str) or not all(isinstance(t, str) for t in territories):
            raise ConfigError("params.yaml territories: expected a list of territory names")
        return cls(territories=tuple(territories), **sections)


def _validated(kind: type, name: str, section: Mapping[str, Any]) -> Any:
    try:
        return kind(**section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p != "__init__")
        key = f"{name}.{where}" if where else name
        raise ConfigError(f"params.yaml {key}: {first['msg']}") from None
    except TypeError as exc:
        raise ConfigError(f"params.yaml {name}: {exc}") from None


def load_params(*files: Path) -> Params:
    """The files in order, each overriding the previous key by key (missing files skipped)."""
    merged: dict[str, Any] = {}
    for path in dict.fromkeys(files):
        if not path.is_file():
            continue
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: params must be a YAML mapping")
        merged = _merged(merged, loaded)
    return Params.parse(merged)


def _merged(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out
