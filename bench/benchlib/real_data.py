"""The real datasets of ../shared/data as the platform reads them, and the harness's pure parts.

Datasets (bench/bench_real.py): each is a territory (the project's YAML: territories/essonne,
montgomery-pa, denver and berlin.yaml),
a `History` (events for Montgomery, mapped by the ingestion path's reader and mapping; stored
counts for the others, at their own frequency and level, an absent period unknown — never 0),
the covariates the core reads (lagged by the horizon in core.features, so nothing at or after
an origin is read, except a covariate known ahead — a match calendar — read at its period), the
`train:` overrides the data needs (frequency, horizon, level) and the span the origins are
spread over.

Pure parts (tests/unit/test_bench_real.py): `spread_origins` (explicit local Mondays, a window
never crossing a clock change that lengthens it), `per_origin_scales` (in-sample seasonal-naive
scale of every series over all data before an origin), `pooled_metrics` (RMSSE, MASE, bias,
MAPE, coverage pooled over origins) and `earlier_alphas` (each window's NB dispersion from the
windows before it only).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from previsecours.core.history import History
from previsecours.core.intervals import interval_coverage, pit_coverage
from previsecours.core.territory import Territory

ROOT = Path(__file__).resolve().parents[2]  # the repository: its territories/
SHARED = ROOT.parent / "shared" / "data"
DATASETS = ("sdis91", "montco911", "denver", "berlin")


@dataclass(frozen=True)
class RealDataset:
    name: str
    title: str
    territory: Territory
    history: History
    overrides: Mapping[str, Any]  # train: keys the data needs (frequency, horizon, level)
    span: tuple[str, str]  # first and last origin (local dates)
    default_origins: int
    covariates: pd.DataFrame | None = None  # numeric columns indexed by local period start
    known_ahead: tuple[str, ...] = ()  # covariates read at the period (as a territory declares)
    peers: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


# ------------------------------------------------------------------ origins


def spread_origins(
    first: str, last: str, n: int, *, timezone: str | None = None, days: int = 7
) -> tuple[str, ...]:
    """`n` Mondays spread evenly from `first` to `last` (local ISO dates, each rounded down to
    its Monday). With `timezone`, an origin whose window of `days` local days is longer than
    `days` × 24 hours (the autumn clock change) moves one week earlier: the platform's model
    horizon is nominal, so such a window would lose its last hour and its last day's sum;
    one week later when the earlier Monday is taken already."""
    if n < 1:
        raise ValueError("at least one origin")
    a, b = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    a -= dt.timedelta(days=a.weekday())
    b -= dt.timedelta(days=b.weekday())
    weeks = (b - a).days // 7
    if n > weeks + 1:
        raise ValueError(f"{n} origins do not fit in {weeks + 1} Mondays from {a} to {b}")
    picks = np.unique(np.round(np.linspace(0, weeks, n)).astype(int)) if n > 1 else [weeks]
    out: list[dt.date] = []
    for k in picks:
        day = a + dt.timedelta(weeks=int(k))
        if timezone is not None and long_window(day, days, timezone):
            earlier = day
            while long_window(earlier, days, timezone):
                earlier -= dt.timedelta(weeks=1)
            later = day
            while long_window(later, days, timezone):
                later += dt.timedelta(weeks=1)
            day = earlier if earlier not in out else later
        if day in out:
            day += dt.timedelta(weeks=1)
        out.append(day)
    return tuple(d.isoformat() for d in sorted(set(out)))


def long_window(day: dt.date, days: int, timezone: str) -> bool:
    start = pd.Timestamp(day).tz_localize(timezone)
    end = (pd.Timestamp(day) + pd.Timedelta(days=days)).tz_localize(timezone)
    return bool((end - start) > pd.Timedelta(days=days))


# ------------------------------------------------------------------ scales and metrics


def per_origin_scales(
    history: np.ndarray, starts: pd.DatetimeIndex, origins: Sequence[pd.Timestamp], season: int
) -> tuple[np.ndarray, np.ndarray]:
    """(squared, absolute) in-sample seasonal-naive errors of each series over all its periods
    before each origin: arrays origins × series (NaN where fewer than a season is known)."""
    sq = np.full((len(origins), history.shape[0]), np.nan)
    ab = np.full_like(sq, np.nan)
    for k, origin in enumerate(origins):
        before = history[:, np.asarray(starts < origin)]
        if before.shape[1] <= season:
            continue
        diff = before[:, season:] - before[:, :-season]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a series with nothing known
            sq[k] = np.nanmean(diff**2, axis=1)
            ab[k] = np.nanmean(np.abs(diff), axis=1)
    return sq, ab


@dataclass(frozen=True)
class Rows:
    """One model's forecasts at one level × grain, flat: window index, series index, actual,
    mean, the series' scales at the window's origin, and each row's category (`ALL` for
    totals): the platform fits one dispersion per category (core.backtest)."""

    window: np.ndarray
    series: np.ndarray
    y: np.ndarray
    mean: np.ndarray
    scale_sq: np.ndarray
    scale_abs: np.ndarray
    group: np.ndarray


Alphas = dict[int, dict[str, float]]  # window → category (or `ALL`) → α


def earlier_alphas(
    rows: Rows,
    origins_end: Mapping[int, tuple[int, int]],
    target: float,
    last: int | None = None,
) -> Alphas:
    """NB dispersion of each window's categories from the windows that ended by its origin
    (none: absent) — with `last`, the `last` latest of them, as many as a training's backtest
    has, its α resting on as many values (fewer: absent) — fitted by the platform's own rule
    (core.backtest `dispersions_on`: each category's own from CATEGORY_MIN_VALUES values on,
    else the one of every category's rows). `origins_end`: window → (origin, end) comparable
    positions."""
    from previsecours.core.backtest import dispersions_on

    groups = [str(g) for g in np.unique(rows.group)]
    pairs = _as_pairs(rows, groups)
    out: Alphas = {}
    for k, (origin, _) in origins_end.items():
        ended = [j for _, j in sorted((e, j) for j, (_, e) in origins_end.items() if e <= origin)]
        earlier = ended[-last:] if last else ended
        if len(earlier) < (last or 1):  # none, or fewer than a training has
            continue
        fitted = dispersions_on(pairs, earlier, target)
        out[k] = {g: fitted[f"{POOLED}:{g}"] for g in groups}
    return out


POOLED = "level:grain:category"  # the core's key of a level × grain's pooled categories


def _as_pairs(rows: Rows, groups: list[str]) -> dict[str, dict[int, tuple]]:
    """`rows` as the core's backtest pairs: "level:grain:kind" → window → (actual, mean, 1),
    one kind per category and their pool (a single category: its own only)."""
    windows = np.unique(rows.window)
    own = {g: rows.group == g for g in groups}
    pairs: dict[str, dict[int, tuple]] = {
        f"{POOLED}:{g}": {
            int(k): (rows.y[sel], rows.mean[sel], 1.0)
            for k in windows
            if (sel := own[g] & (rows.window == k)).any()
        }
        for g in groups
    }
    if len(groups) > 1:
        pairs[POOLED] = {
            int(k): (rows.y[sel], rows.mean[sel], 1.0)
            for k in windows
            if (sel := rows.window == k).any()
        }
    return pairs


def pooled_metrics(
    rows: Rows, alphas: Mapping[int, Mapping[str, float]], *, mape: bool = False
) -> dict[str, float]:
    """RMSSE and MASE pooled over series, origins and periods (each error scaled by its series'
    in-sample seasonal-naive error before its origin), bias %, MAPE (totals), and 80/95 %
    coverage of NB intervals on the windows that have a dispersion (`alphas`, per category),
    and how often the randomized PIT falls in each interval's band (`pit_80`, `pit_95`: the
    distribution's calibration, which integer intervals over-state on small counts)."""
    ok = np.isfinite(rows.y) & (rows.scale_sq > 0) & np.isfinite(rows.scale_sq)
    if not ok.any():
        return {"n": 0.0}
    e = rows.mean[ok] - rows.y[ok]
    out = {
        "rmsse": float(np.sqrt(np.mean(e**2 / rows.scale_sq[ok]))),
        "mase": float(np.mean(np.abs(e) / rows.scale_abs[ok])),
        "bias_pct": float(100 * (rows.mean[ok].sum() - rows.y[ok].sum()) / rows.y[ok].sum()),
        "n": float(ok.sum()),
    }
    if mape:
        pos = ok & (rows.y > 0)
        out["mape"] = float(100 * np.mean(np.abs(rows.mean[pos] - rows.y[pos]) / rows.y[pos]))
    # Each window × category's rows and α, selected once for the four figures.
    cells = [
        (sel, alpha)
        for k, per_group in alphas.items()
        for group, alpha in per_group.items()
        if (sel := ok & (rows.window == k) & (rows.group == group)).any()
    ]
    count = sum(int(sel.sum()) for sel, _ in cells)
    for level, suffix in ((0.8, "80"), (0.95, "95")):
        for name, share in (("coverage", interval_coverage), ("pit", pit_coverage)):
            inside = sum(
                share(rows.y[sel], rows.mean[sel], alpha, level) * sel.sum() for sel, alpha in cells
            )
            out[f"{name}_{suffix}"] = inside / count if count else float("nan")
    return out


# ------------------------------------------------------------------ the datasets


def load_sdis91(root: Path, shared: Path = SHARED) -> RealDataset:
    from previsecours.adapters.territory_files import load_territory

    territory = load_territory(root / "territories" / "essonne.yaml")
    raw = pd.read_csv(shared / "sdis91" / "weekly_totals_by_category_2010_2015.csv")
    monday = [
        dt.date.fromisocalendar(int(v) // 100, int(v) % 100, 1) for v in raw["yearweek"].to_numpy()
    ]
    starts = pd.DatetimeIndex(pd.to_datetime(monday)).tz_localize(territory.timezone)
    raw["period_start"] = starts.as_unit("s")
    categories = ("SUAP", "ACCI", "INCU", "INCN", "AUTR")
    counts = raw.melt(
        id_vars=["period_start"], value_vars=list(categories), var_name="category"
    ).rename(columns={"value": "count"})
    counts["area_code"] = territory.name
    covariates = raw.set_index("period_start")[
        ["inc_grippe", "temperature_average", "has_vacation"]
    ].astype(float)
    return RealDataset(
        name="sdis91",
        title="SDIS 91 weekly totals by category (Essonne), 1 week ahead",
        territory=territory,
        history=History.of_counts(
            counts[["period_start", "area_code", "category", "count"]], "week"
        ),
        overrides={"frequency": "week", "horizon": "1w"},
        span=("2014-01-06", "2015-12-21"),
        default_origins=103,  # every Monday of 2014–2015 (adjacent windows, as a training's)
        covariates=covariates,
        # The school calendar is published years ahead; observed temperature read ahead would
        # be a perfect weather forecast: an upper bound, measured, not adopted.
        known_ahead=("has_vacation",),
        # statsforecast's SeasonalWindowAverage(52 weeks × 4) needs 4 years of training rows,
        # the fits see 2: the core's seasonal window average is the same rule, scored here.
        peers=("sf_seasonal_naive", "mstl_ets", "lgbm_poisson", "prophet"),
        notes=(
            "Counts built from the shared CSV directly (the `sdis91-weekly-totals` preset would "
            "store the same rows); week 2015-W01 is absent from the source: unknown, not scored.",
            "Covariates: flu incidence and mean temperature, read lagged by the horizon by "
            "core.features (nothing after the origin); school holidays known ahead (a "
            "calendar): read at the forecast week.",
            "statsforecast's SeasonalWindowAverage(4 × 52 weeks) is not run: it needs 4 years "
            "of training rows and the fits see 2; the core's seasonal window average (the same "
            "rule, on all history before the origin) is scored instead.",
        ),
    )


def montco_events(root: Path, shared: Path = SHARED) -> tuple[Territory, pd.DataFrame, int]:
    """Montgomery County's calls read and mapped by the ingestion's own reader and mapping,
    kept when their time, category and township are known (one row per call); the rows read."""
    from previsecours.adapters.readers import read_extract
    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.ingest import map_events
    from previsecours.core.schema import CANONICAL_COLUMNS

    territory = load_territory(root / "territories" / "montgomery-pa.yaml")
    path = shared / "montco911" / "911.zip"
    raw = read_extract(path)
    mapped = map_events(raw.frame, territory, path.name, raw.row_complete, raw.text_source).frame
    events = mapped[list(CANONICAL_COLUMNS)]
    keep = (
        events["alert_time"].notna()
        & events["category"].isin(territory.categories)
        & events["commune_code"].isin(territory.commune_codes)
    )
    kept = events[keep].drop_duplicates("intervention_id").reset_index(drop=True)
    return territory, kept, len(raw.frame)


def load_montco(root: Path, shared: Path = SHARED) -> RealDataset:
    territory, events, _ = montco_events(root, shared)
    return RealDataset(
        name="montco911",
        title="Montgomery County (PA) 911 calls, township × hour, 168 h ahead",
        territory=territory,
        history=History.of_events(events),
        overrides={"model_level": "commune"},
        span=("2016-03-07", "2016-08-15"),
        default_origins=24,  # every Monday of the span
        peers=("sf_seasonal_naive", "sf_window_average", "lgbm_poisson"),
        notes=(
            f"{len(events):,} calls with a known township and category, read and mapped by the "
            "ingestion path's reader and mapping (adapters.readers.read_extract, "
            "core.ingest.map_events, territories/montgomery-pa.yaml), not stored by `ingest`.",
            "8.5 months of data: the origins span its last 5 months (no 1–2 years exist).",
            "Model level commune (township): the territory declares no coverage zones.",
            "MSTL and Prophet not run here: 68 townships × 24 origins = 1,632 fits each, past "
            "this run's time box (bench_montgomery.py's budget rule skipped them too).",
        ),
    )


def load_denver(shared: Path = SHARED, root: Path = ROOT) -> RealDataset:
    from previsecours.adapters.territory_files import load_territory

    territory = load_territory(root / "territories" / "denver.yaml")
    raw = pd.read_csv(shared / "denver" / "hourly_ems_calls_2011_2017.csv.gz")
    utc = pd.to_datetime(raw["hour_start_utc"]).dt.tz_localize("UTC")
    starts = pd.DatetimeIndex(utc.dt.tz_convert(territory.timezone)).as_unit("s")
    counts = pd.DataFrame(
        {
            "period_start": starts,
            "area_code": territory.name,
            "category": "EMS",
            "count": raw["calls"].astype(float).to_numpy(),
        }
    )
    covariates = pd.DataFrame(
        {
            "temperature": raw["Temp"].astype(float).to_numpy(),
            # .to_numpy(): a Series on the CSV's row numbers would align to the hours as NaN.
            "home_game": (raw[["broncos", "rockies", "nuggets"]] == "y")
            .any(axis=1)
            .astype(float)
            .to_numpy(),
        },
        index=starts,
    )
    return RealDataset(
        name="denver",
        title="Denver hourly EMS calls, city total, 168 h ahead",
        territory=territory,
        history=History.of_counts(counts, "hour"),
        overrides={"frequency": "hour"},
        span=("2016-01-04", "2017-12-18"),
        default_origins=103,  # every Monday of 2016–2017
        covariates=covariates,
        # The schedule is known ahead; observed temperature read ahead would be a perfect
        # weather forecast: an upper bound, measured, not adopted.
        known_ahead=("home_game",),
        peers=("sf_seasonal_naive", "sf_window_average", "mstl_ets", "lgbm_poisson", "prophet"),
        notes=(
            "Territory territories/denver.yaml (America/Denver, US-CO holidays, one area, "
            "one category); counts from the shared CSV (the rows `ingest -t denver` stores), "
            "an absent hour unknown (never 0), hours placed by their UTC start.",
            "Covariates: temperature, read lagged by the horizon by core.features (nothing "
            "after the origin), and any home game (Broncos, Rockies, Nuggets) in the hour, "
            "known ahead (a schedule): read at the forecast hour.",
        ),
    )


def load_berlin(shared: Path = SHARED, root: Path = ROOT) -> RealDataset:
    from previsecours.adapters.territory_files import load_territory

    territory = load_territory(root / "territories" / "berlin.yaml")
    raw = pd.read_csv(shared / "berlin" / "daily_missions_2018_2024.csv")
    starts = pd.DatetimeIndex(pd.to_datetime(raw["mission_created_date"])).tz_localize(
        territory.timezone
    )
    values = {
        "EMS": raw["mission_count_ems"],
        "FIRE": raw["mission_count_fire"],
        "TECH": raw["mission_count_technical_rescue"],
        "OTHER": raw["mission_count_all"]
        - raw["mission_count_ems"]
        - raw["mission_count_fire"]
        - raw["mission_count_technical_rescue"],
    }
    counts = pd.concat(
        [
            pd.DataFrame(
                {
                    "period_start": starts.as_unit("s"),
                    "area_code": territory.name,
                    "category": c,
                    "count": v.astype(float).to_numpy(),
                }
            )
            for c, v in values.items()
        ],
        ignore_index=True,
    )
    return RealDataset(
        name="berlin",
        title="Berlin daily missions by type, 14 days ahead",
        territory=territory,
        history=History.of_counts(counts, "day"),
        overrides={"frequency": "day", "horizon": "14d"},
        span=("2023-01-02", "2024-12-16"),
        default_origins=52,  # every other Monday: adjacent 14-day windows
        peers=("sf_seasonal_naive", "sf_window_average", "mstl_ets", "lgbm_poisson", "prophet"),
        notes=(
            "Territory territories/berlin.yaml (Europe/Berlin, DE-BE holidays, one area); "
            "categories EMS, FIRE, TECH (technical rescue) and OTHER = all − the three (they "
            "sum to `mission_count_all`; the rows `ingest -t berlin` stores).",
        ),
    )


def load(name: str, root: Path, shared: Path = SHARED) -> RealDataset:
    if name == "sdis91":
        return load_sdis91(root, shared)
    if name == "montco911":
        return load_montco(root, shared)
    if name == "denver":
        return load_denver(shared, root)
    if name == "berlin":
        return load_berlin(shared, root)
    raise ValueError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})")
