"""Training from stored counts only: the panel, levels and hierarchy a counts store allows.

Some services publish counts, not interventions (SDIS 91's open data: weekly counts per commune
and category; or département-wide weekly totals). Such a store can still be modelled, at the
counts' own frequency and level:
- the level is read from the area codes: all communes of the territory → `commune`; all
  coverage zones (one zone included) → `station`; the territory's name, or a single code that
  is neither (a département code such as "91" stored before ingest recoded it) →
  `departement`, recoded as the territory's name like every département row;
  several codes of a territory that lists no areas → `commune` (its areas are the data's);
- the panel keeps what is unknown unknown: a period with no row at all (a week missing from the
  source) is NaN for every series, never zero; in a period that has rows, a series without a row
  counted zero (files omit zero rows);
- categories are modelled directly (no split by shares: there are no events to measure them);
- the only levels are the counts' level and, above it, the département (a plain sum). A commune
  or station split of département counts, or a station split of commune counts, needs events
  (which station answered): it is not made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from previsecours.core.calendar import period_ends, period_of, period_starts
from previsecours.core.forecast_schema import ALL_CATEGORIES
from previsecours.core.hierarchy import Hierarchy
from previsecours.core.panel import DensePanel, PanelError
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory


def period_frequency(starts: pd.DatetimeIndex) -> Frequency:
    """The frequency of sorted period starts, from their smallest gap (a DST day: 23–25 h)."""
    gap = (starts[1:].tz_convert("UTC") - starts[:-1].tz_convert("UTC")).min()
    if gap <= pd.Timedelta(hours=1):
        return "hour"
    return "day" if gap <= pd.Timedelta(hours=25) else "week"


def counts_level(territory: Territory, areas: list[str]) -> str:
    """The level of the stored counts' area codes (see the module docstring)."""
    codes = set(areas)
    known = territory.commune_codes | set(territory.coverage_zones)
    if codes == {territory.name} or (len(codes) == 1 and not codes & known):
        return "departement"
    if territory.communes and codes <= territory.commune_codes:
        return "commune"
    if territory.coverage_zones and codes <= set(territory.coverage_zones):
        return "station"
    if not territory.communes and not territory.coverage_zones:
        return "commune"  # a territory that lists no areas takes the data's (as for events)
    unknown = sorted(codes - territory.commune_codes - set(territory.coverage_zones))[:5]
    raise PanelError(
        f"stored counts: area codes {unknown} are neither communes nor coverage zones of "
        f"{territory.name}, and there is more than one area: cannot tell their level"
    )


def with_level_codes(counts: pd.DataFrame, territory: Territory) -> tuple[pd.DataFrame, str]:
    """The counts with département rows coded by the territory's name, and their level."""
    areas = sorted(counts["area_code"].astype(str).unique())
    level = counts_level(territory, areas)
    if level == "departement":
        counts = counts.assign(area_code=territory.name)
    return counts, level


def known_counts_panel(
    counts: pd.DataFrame,
    territory: Territory,
    frequency: Frequency,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    areas: list[str] | None = None,
) -> DensePanel:
    """Area × category × period counts of [start, end); periods without any row are NaN."""
    counts, _ = with_level_codes(counts, territory)
    tz = territory.timezone
    starts = period_starts(start, end, frequency, tz)
    area_list = areas if areas is not None else sorted(counts["area_code"].astype(str).unique())
    categories = list(territory.categories)
    a_idx = pd.Categorical(counts["area_code"].astype(str), categories=area_list).codes
    c_idx = pd.Categorical(counts["category"].astype(str), categories=categories).codes
    periods = period_of(pd.DatetimeIndex(counts["period_start"]), frequency, tz)
    t_idx = starts.as_unit("s").get_indexer(periods.as_unit("s"))
    keep = (a_idx >= 0) & (c_idx >= 0) & (t_idx >= 0)
    dense = np.zeros((len(area_list) * len(categories), len(starts)))
    rows = a_idx[keep].astype(np.int64) * len(categories) + c_idx[keep]
    np.add.at(dense, (rows, t_idx[keep]), counts["count"].to_numpy(np.float64)[keep])
    present = np.zeros(len(starts), dtype=bool)
    present[t_idx[t_idx >= 0]] = True
    dense[:, ~present] = np.nan
    series = pd.DataFrame(
        {
            "area_code": np.repeat(np.asarray(area_list, dtype=object), len(categories)),
            "category": np.tile(np.asarray(categories, dtype=object), len(area_list)),
        }
    )
    return DensePanel(series, starts, dense)


def counts_end(counts: pd.DataFrame, frequency: Frequency, timezone: str) -> pd.Timestamp:
    """End (exclusive) of the last stored period: stored counts are of complete periods."""
    last = pd.DatetimeIndex([pd.Timestamp(counts["period_start"].max())])
    return pd.Timestamp(period_ends(period_of(last, frequency, timezone), frequency, timezone)[0])


def counts_levels(level: str) -> tuple[str, ...]:
    """The levels a counts store can forecast: its own and the département above it."""
    return (level,) if level == "departement" else (level, "departement")


def counts_hierarchy(
    level: str, areas: list[str], categories: tuple[str, ...], territory_name: str
) -> Hierarchy:
    """Identity at the counts' level; the département as the plain sum of its areas."""
    rows = [(level, a, a, c, 1.0) for a in areas for c in categories]
    if level != "departement":
        rows += [("departement", territory_name, a, c, 1.0) for a in areas for c in categories]
    weights = pd.DataFrame(rows, columns=["level", "area_code", "model_area", "category", "weight"])
    levels = {level: tuple(areas)}
    if level != "departement":
        levels["departement"] = (territory_name,)
    return Hierarchy(level, tuple(areas), categories, levels, weights)


def counts_level_actuals(
    counts: pd.DataFrame,
    territory: Territory,
    levels: tuple[str, ...],
    frequency: Frequency,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> dict[str, DensePanel]:
    """Counts per level × area × category, plus ALL per area (NaN where unknown)."""
    base = known_counts_panel(counts, territory, frequency, start=start, end=end)
    out = {}
    for level in levels:
        panel = base if level == base_level(base, territory) else _to_departement(base, territory)
        out[level] = _with_total(panel)
    return out


def base_level(panel: DensePanel, territory: Territory) -> str:
    return counts_level(territory, list(dict.fromkeys(panel.series["area_code"].astype(str))))


def _to_departement(panel: DensePanel, territory: Territory) -> DensePanel:
    cats = panel.series["category"].astype(str).to_numpy()
    categories = list(dict.fromkeys(cats))
    idx = pd.Categorical(cats, categories=categories).codes
    out = np.zeros((len(categories), panel.counts.shape[1]))
    np.add.at(out, idx, panel.counts)  # an unknown period stays NaN
    series = pd.DataFrame({"area_code": territory.name, "category": categories})
    return DensePanel(series, panel.starts, out)


def _with_total(panel: DensePanel) -> DensePanel:
    codes = panel.series["area_code"].astype(str).to_numpy()
    areas = list(dict.fromkeys(codes))
    idx = pd.Categorical(codes, categories=areas).codes
    total = np.zeros((len(areas), panel.counts.shape[1]))
    np.add.at(total, idx, panel.counts)
    series = pd.DataFrame({"area_code": areas, "category": ALL_CATEGORIES})
    return DensePanel(
        pd.concat([panel.series, series], ignore_index=True),
        panel.starts,
        np.vstack([panel.counts, total]),
    )
