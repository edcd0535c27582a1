"""From the modelled grain to every level: allocation (bottom-up or pooled), sums, quantiles.

The model forecasts one grain (e.g. coverage zone × hour, all categories together). Every other
figure is derived from it, so levels add up exactly:
0. pooling (`pooled_area`, the "top_down" allocation): the modelled areas' means are first
   summed to the territory, which is then allocated as below. The model still learns from
   every zone's rows (pooling the zones' hours teaches the trees the territory's hours better
   than its one summed series: bench/bench_reconciliation.py), but a zone's level comes from
   its measured shares (thousands of events a year per zone) rather than from trees splitting
   noisy hourly counts (the comparison: bench/README.md, experiment log); the département
   figures are the bottom-up sum, unchanged;
1. categories: when the model forecasts `ALL`, each category gets its measured share of the
   area's interventions for the period's month and part of day (smoothed towards the area's
   overall shares);
2. levels: a level's area mean is a weighted sum of the modelled areas' means, the weights being
   the measured fraction of each modelled area's interventions (per category) that happened in
   that area (commune; coverage zone) — smoothed towards population × coverage shares. The
   département is the plain sum. The sum of a level's areas is therefore the département's mean
   to rounding, for each category and for `ALL` (= the sum of the categories);
3. quantiles: each level and grain has its own negative-binomial dispersion (`Dispersion`),
   fitted on backtest forecasts at that level: quantiles of a sum are not sums of quantiles.

`Hierarchy` is plain data (JSON via `to_dict`/`from_dict`): it travels with the model version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from previsecours.core.calendar import PERIOD_HOURS, period_ends, period_of
from previsecours.core.forecast_schema import ALL_CATEGORIES, QUANTILE_COLUMNS, QUANTILES
from previsecours.core.intervals import nb_quantiles
from previsecours.core.panel import DensePanel, area_of_events, category_totals, zone_of_events
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory

DAYPARTS: Final = 8  # 3-hour blocks: category mixes differ by night, rush hours, evening
SHARE_PRIOR: Final = 20.0  # pseudo-events pulling sparse cells to the area's overall mix
WEIGHT_PRIOR: Final = 5.0  # pseudo-events spread by population × coverage share


@dataclass(frozen=True)
class Hierarchy:
    model_level: str
    model_areas: tuple[str, ...]
    categories: tuple[str, ...]
    levels: Mapping[str, tuple[str, ...]]  # level → its areas, in output order
    # level, area_code, model_area (a source area: see `sources`), category, weight
    weights: pd.DataFrame
    category_shares: pd.DataFrame | None = None  # model_area, month, daypart, category, share
    pooled_area: str | None = None  # set: modelled means are summed into it, then allocated

    @property
    def sources(self) -> tuple[str, ...]:
        """The areas allocated from: the modelled areas, or the one they are pooled into."""
        return (self.pooled_area,) if self.pooled_area else self.model_areas

    def to_dict(self) -> dict[str, Any]:
        shares = self.category_shares
        return {
            "model_level": self.model_level,
            "model_areas": list(self.model_areas),
            "categories": list(self.categories),
            "levels": {k: list(v) for k, v in self.levels.items()},
            "weights": self.weights.to_dict(orient="list"),
            "category_shares": None if shares is None else shares.to_dict(orient="list"),
            "pooled_area": self.pooled_area,
        }

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Hierarchy:
        shares = d.get("category_shares")
        return Hierarchy(
            model_level=str(d["model_level"]),
            model_areas=tuple(d["model_areas"]),
            categories=tuple(d["categories"]),
            levels={k: tuple(v) for k, v in d["levels"].items()},
            weights=pd.DataFrame(d["weights"]),
            category_shares=None if shares is None else pd.DataFrame(shares),
            pooled_area=d.get("pooled_area"),
        )


@dataclass(frozen=True)
class Dispersion:
    """NB dispersion α per "level:grain:kind"; 0 = Poisson. Kinds: `ALL` (each area's total),
    `category` (every category's rows pooled) and `category:<code>` (one category's own: the
    pooled one where it had too few values, `core.backtest.fitted_dispersions`)."""

    alphas: Mapping[str, float] = field(default_factory=dict)

    def alpha(self, level: str, grain: str, category: str) -> float:
        kinds = ["ALL"] if category == ALL_CATEGORIES else [f"category:{category}", "category"]
        for kind in kinds:
            key = f"{level}:{grain}:{kind}"
            if key in self.alphas:
                return float(self.alphas[key])
        # A grain the backtest did not score (e.g. weeks of an hourly model): the level's
        # largest fitted α, since model errors correlate over time and widen sums.
        for kind in kinds:
            same = [
                a
                for k, a in self.alphas.items()
                if k.startswith(f"{level}:") and k.endswith(f":{kind}")
            ]
            if same:
                return float(max(same))
        return 0.0


def fit_hierarchy(
    events: pd.DataFrame,
    territory: Territory,
    model_level: str,
    model_areas: list[str],
    levels: tuple[str, ...],
    *,
    split_categories: bool,
    frequency: Frequency,
    pooled: bool = False,
) -> Hierarchy:
    """Measure allocation weights (and category shares) from a span of events.

    `pooled`: allocate the modelled areas' sum (the territory's total) rather than each
    modelled area's own means (see the module docstring).
    """
    categories = tuple(territory.categories)
    source_level = "departement" if pooled else model_level
    sources = [territory.name] if pooled else model_areas
    frame = pd.DataFrame(
        {
            "model_area": area_of_events(events, territory, source_level).astype(str).to_numpy(),
            "category": events["category"].astype(str).to_numpy(),
            "commune": events["commune_code"].astype(str).to_numpy(),
            "zone": zone_of_events(events, territory).astype(str).to_numpy(),
            "departement": territory.name,
        }
    )
    weights = [_level_weights(frame, territory, level, sources, categories) for level in levels]
    shares = _category_shares(events, frame, territory, sources, frequency)
    level_areas = {
        level: tuple(w["area_code"].drop_duplicates())
        for level, w in zip(levels, weights, strict=True)
    }
    return Hierarchy(
        model_level=model_level,
        model_areas=tuple(model_areas),
        categories=categories,
        levels=level_areas,
        weights=pd.concat(weights, ignore_index=True),
        category_shares=shares if split_categories else None,
        pooled_area=territory.name if pooled else None,
    )


def identity_hierarchy(
    model_level: str, model_areas: list[str], categories: tuple[str, ...]
) -> Hierarchy:
    """Only the modelled level (e.g. counts published for the whole département)."""
    rows = [(model_level, a, a, c, 1.0) for a in model_areas for c in categories]
    weights = pd.DataFrame(rows, columns=["level", "area_code", "model_area", "category", "weight"])
    return Hierarchy(
        model_level, tuple(model_areas), categories, {model_level: tuple(model_areas)}, weights
    )


def _level_weights(
    frame: pd.DataFrame,
    territory: Territory,
    level: str,
    model_areas: list[str],
    categories: tuple[str, ...],
) -> pd.DataFrame:
    column = {"commune": "commune", "station": "zone", "departement": "departement"}[level]
    counts = frame.groupby(["model_area", "category", column]).size().rename("n").reset_index()
    counts = counts.rename(columns={column: "area_code"})
    prior = _prior_weights(territory, level, model_areas, categories)
    table = pd.concat([counts, prior], ignore_index=True)
    table = table[table["model_area"].isin(model_areas) & table["category"].isin(categories)]
    table = table.groupby(["model_area", "category", "area_code"])["n"].sum().reset_index()
    table["weight"] = table["n"] / table.groupby(["model_area", "category"])["n"].transform("sum")
    table["level"] = level
    return table[["level", "area_code", "model_area", "category", "weight"]].reset_index(drop=True)


def _prior_weights(
    territory: Territory, level: str, model_areas: list[str], categories: tuple[str, ...]
) -> pd.DataFrame:
    """Pseudo-counts from population × coverage shares, so no area gets a weight by accident."""
    pop = {c.code: float(c.population) for c in territory.communes}
    atoms = [
        (commune, zone, share * pop.get(commune, 0.0))
        for commune, zones in territory.shares_by_commune().items()
        for zone, share in zones.items()
    ]
    if not atoms:
        return pd.DataFrame(columns=["model_area", "category", "area_code", "n"])
    atoms_frame = pd.DataFrame(atoms, columns=["commune", "zone", "mass"])
    atoms_frame["departement"] = territory.name
    model_column = {"commune": "commune", "station": "zone", "departement": "departement"}
    level_column = model_column[level]
    rows = []
    for model_area, group in atoms_frame.groupby(
        model_column[_model_level_of(model_areas, territory)]
    ):
        if model_area not in model_areas or group["mass"].sum() <= 0:
            continue
        mass = group.groupby(level_column)["mass"].sum()
        mass = WEIGHT_PRIOR * mass / mass.sum()
        for category in categories:
            rows += [(model_area, category, area, n) for area, n in mass.items()]
    return pd.DataFrame(rows, columns=["model_area", "category", "area_code", "n"])


def _model_level_of(model_areas: list[str], territory: Territory) -> str:
    if model_areas == [territory.name]:
        return "departement"
    if set(model_areas) <= set(territory.coverage_zones):
        return "station"
    return "commune"


def _category_shares(
    events: pd.DataFrame,
    frame: pd.DataFrame,
    territory: Territory,
    model_areas: list[str],
    frequency: Frequency,
) -> pd.DataFrame:
    local = pd.DatetimeIndex(events["alert_time"]).tz_convert(territory.timezone)
    frame = frame.assign(
        month=local.month.to_numpy(np.int64),
        daypart=_daypart(local, frequency),
    )
    cats = list(territory.categories)
    overall = pd.crosstab(frame["model_area"], frame["category"]).reindex(
        index=model_areas, columns=cats, fill_value=0
    )
    overall = (overall + 1.0).div(overall.sum(axis=1) + len(cats), axis=0)
    cells = frame.groupby(["model_area", "month", "daypart", "category"]).size()
    full = pd.MultiIndex.from_product(
        [model_areas, range(1, 13), range(_dayparts(frequency)), cats],
        names=["model_area", "month", "daypart", "category"],
    )
    n = cells.reindex(full, fill_value=0).to_frame("n").reset_index()
    prior = overall.rename_axis(index="model_area", columns=None).reset_index()
    prior = prior.melt(id_vars="model_area", var_name="category", value_name="prior")
    n = n.merge(prior, on=["model_area", "category"], how="left")
    totals = n.groupby(["model_area", "month", "daypart"])["n"].transform("sum")
    n["share"] = (n["n"] + SHARE_PRIOR * n["prior"]) / (totals + SHARE_PRIOR)
    return n[["model_area", "month", "daypart", "category", "share"]]


def _dayparts(frequency: str) -> int:
    return DAYPARTS if frequency == "hour" else 1


def _daypart(local: pd.DatetimeIndex, frequency: str) -> np.ndarray:
    if frequency != "hour":
        return np.zeros(len(local), dtype=np.int64)
    return (local.hour.to_numpy(np.int64) * DAYPARTS) // 24


def allocate(
    means: DensePanel, hierarchy: Hierarchy, timezone: str, frequency: Frequency
) -> dict[str, DensePanel]:
    """Per-category means (and `ALL`) of every level, from the modelled means."""
    per_category = split_categories(pooled(means, hierarchy), hierarchy, timezone, frequency)
    return level_means(per_category, hierarchy)


def pooled(means: DensePanel, hierarchy: Hierarchy) -> DensePanel:
    """The modelled means summed per category into `hierarchy.pooled_area` (else unchanged)."""
    if hierarchy.pooled_area is None:
        return means
    _, categories, sums = category_totals(
        means.counts, means.series["category"].astype(str).to_numpy()
    )
    series = pd.DataFrame(
        {
            "area_code": np.full(len(categories), hierarchy.pooled_area, dtype=object),
            "category": np.asarray(categories, dtype=object),
        }
    )
    return DensePanel(series, means.starts, sums)


def split_categories(
    means: DensePanel, hierarchy: Hierarchy, timezone: str, frequency: Frequency
) -> DensePanel:
    """Per-category means from `ALL` means with the hierarchy's shares (identity otherwise)."""
    shares = hierarchy.category_shares
    if shares is None:
        return means
    local = means.starts.tz_convert(timezone)
    month = local.month.to_numpy(np.int64) - 1
    daypart = _daypart(local, frequency)
    areas = {a: i for i, a in enumerate(hierarchy.sources)}
    cats = {c: k for k, c in enumerate(hierarchy.categories)}
    table = np.full((len(areas), 12, int(shares["daypart"].max()) + 1, len(cats)), np.nan)
    table[
        shares["model_area"].map(areas).to_numpy(np.int64),
        shares["month"].to_numpy(np.int64) - 1,
        shares["daypart"].to_numpy(np.int64),
        shares["category"].map(cats).to_numpy(np.int64),
    ] = shares["share"].to_numpy(np.float64)
    area_idx = means.series["area_code"].astype(str).map(areas).to_numpy(np.int64)
    split = table[area_idx][:, month, daypart, :]  # area × period × category
    split = np.nan_to_num(split, nan=1.0 / len(cats))
    counts = (means.counts[:, :, None] * split).transpose(0, 2, 1)
    series = pd.DataFrame(
        {
            "area_code": np.repeat(means.series["area_code"].to_numpy(), len(cats)),
            "category": np.tile(np.asarray(hierarchy.categories, dtype=object), len(area_idx)),
        }
    )
    return DensePanel(series, means.starts, counts.reshape(len(area_idx) * len(cats), -1))


def level_means(means: DensePanel, hierarchy: Hierarchy) -> dict[str, DensePanel]:
    """Per-category means of every level, plus `ALL`, from per-category modelled means."""
    index = {
        (str(a), str(c)): i
        for i, (a, c) in enumerate(
            zip(means.series["area_code"], means.series["category"], strict=True)
        )
    }
    out: dict[str, DensePanel] = {}
    for level, areas in hierarchy.levels.items():
        w = hierarchy.weights[hierarchy.weights["level"] == level]
        area_pos = {a: i for i, a in enumerate(areas)}
        blocks = []
        for category in hierarchy.categories:
            wc = w[w["category"] == category]
            matrix = np.zeros((len(areas), len(hierarchy.sources)))
            model_rows = np.array(
                [index.get((m, category), -1) for m in hierarchy.sources], dtype=np.int64
            )
            model_pos = {m: j for j, m in enumerate(hierarchy.sources)}
            matrix[
                wc["area_code"].map(area_pos).to_numpy(np.int64),
                wc["model_area"].map(model_pos).to_numpy(np.int64),
            ] = wc["weight"].to_numpy(np.float64)
            model = np.where(model_rows[:, None] >= 0, means.counts[np.maximum(model_rows, 0)], 0.0)
            blocks.append(matrix @ model)
        stacked = np.stack(blocks)  # category × area × period
        counts = np.concatenate(
            [stacked.transpose(1, 0, 2), stacked.sum(axis=0)[:, None, :]], axis=1
        )
        cats = (*hierarchy.categories, ALL_CATEGORIES)
        series = pd.DataFrame(
            {
                "area_code": np.repeat(np.asarray(areas, dtype=object), len(cats)),
                "category": np.tile(np.asarray(cats, dtype=object), len(areas)),
            }
        )
        out[level] = DensePanel(series, means.starts, counts.reshape(len(areas) * len(cats), -1))
    return out


def rollup(panel: DensePanel, source: Frequency, target: Frequency, timezone: str) -> DensePanel:
    """Sums over the periods of a coarser frequency; only complete periods are kept."""
    starts = period_of(panel.starts, target, timezone)
    codes, uniques = pd.factorize(starts)
    sums = np.zeros((len(uniques), panel.counts.shape[0]))
    np.add.at(sums, codes, panel.counts.T)
    found = np.bincount(codes, minlength=len(uniques))
    targets = pd.DatetimeIndex(uniques)
    length = period_ends(targets, target, timezone) - targets
    step = pd.Timedelta(hours=PERIOD_HOURS[source])
    complete = found == np.round(np.asarray(length / step, dtype=np.float64))
    return DensePanel(panel.series, targets[complete], sums[complete].T)


def with_quantiles(
    panel: DensePanel, level: str, grain: str, dispersion: Dispersion
) -> pd.DataFrame:
    """Long frame: area_code, category, period_start, mean and the forecast quantiles."""
    frame = panel.to_frame().rename(columns={"count": "mean"})
    q = np.zeros((len(frame), len(QUANTILES)))
    for category, rows in frame.groupby("category").indices.items():
        alpha = dispersion.alpha(level, grain, str(category))
        q[rows] = nb_quantiles(frame["mean"].to_numpy(np.float64)[rows], alpha, QUANTILES)
    for j, column in enumerate(QUANTILE_COLUMNS):
        frame[column] = q[:, j]
    frame.insert(0, "level", level)
    return frame
