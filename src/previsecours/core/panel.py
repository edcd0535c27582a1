"""The panel: counts of interventions per (area, category, period), zeros filled.

Invariants (`check_panel` asserts them, `count_panel` guarantees them):
- columns `PANEL_COLUMNS`; exactly one row per area × category × period of the grid;
- periods are the territory's local periods from `calendar.period_starts` (DST-safe: 23/25
  hourly periods on the days clocks change), no gap, no duplicate;
- counts are integers ≥ 0, and sorted by area, category, period (so a panel reshapes to a dense
  series × period matrix without a copy of the keys).

Areas of a level: `commune` (the extract's commune code), `station` (the coverage zone of the
first station engaged when the extract names it, otherwise drawn from the commune's coverage
shares by a hash of the intervention id — deterministic, no random state), `departement` (the
whole territory, coded by its name). `category` is each territory category, or `ALL`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from previsecours.core.calendar import period_of, period_starts
from previsecours.core.forecast_schema import ALL_CATEGORIES
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory
from previsecours.errors import InputError

PANEL_COLUMNS: Final = ("area_code", "category", "period_start", "count")


class PanelError(InputError, ValueError):
    """A panel that breaks one of the written invariants."""


@dataclass(frozen=True)
class DensePanel:
    """A panel as a matrix: `counts[i, t]` is series `series[i]` in period `starts[t]`."""

    series: pd.DataFrame  # area_code, category (one row per series)
    starts: pd.DatetimeIndex
    counts: np.ndarray  # float64 (NaN = unknown, e.g. the future)

    def to_frame(self) -> pd.DataFrame:
        n, t = self.counts.shape
        return pd.DataFrame(
            {
                "area_code": np.repeat(self.series["area_code"].to_numpy(), t),
                "category": np.repeat(self.series["category"].to_numpy(), t),
                "period_start": np.tile(self.starts, n),
                "count": self.counts.reshape(-1),
            }
        )


def category_totals(
    counts: np.ndarray, categories: np.ndarray
) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Rows of `counts` summed per category: each row's category code, the categories in order
    of first appearance, and the sums [category, period] (an unknown count keeps its sum NaN)."""
    codes, uniques = pd.factorize(pd.Series(categories))
    totals = np.zeros((len(uniques), counts.shape[1]))
    np.add.at(totals, codes, counts)
    return codes, uniques, totals


def areas_of_level(territory: Territory, level: str, events: pd.DataFrame | None) -> list[str]:
    """The areas of a level: the territory's own list, else those seen in the events."""
    if level == "departement":
        return [territory.name]
    if level == "station":
        if territory.coverage_zones:
            return list(territory.coverage_zones)
        if events is None or "station_code" not in events:
            raise PanelError("station level needs coverage shares or station codes")
        return sorted(events["station_code"].dropna().astype(str).unique())
    if level == "commune":
        if territory.communes:
            return [c.code for c in territory.communes]
        if events is None:
            raise PanelError("commune level needs the territory's communes or events")
        return sorted(events["commune_code"].dropna().astype(str).unique())
    raise PanelError(f"unknown level {level!r}")


def zone_of_events(events: pd.DataFrame, territory: Territory) -> pd.Series:
    """Coverage zone of each event: its station's zone, else drawn from the commune's shares."""
    station_zone = {s.code: s.coverage_zone or s.within_zone for s in territory.stations}
    zones = pd.Series(pd.NA, index=events.index, dtype="string")
    if "station_code" in events:
        zones = events["station_code"].astype("string").map(station_zone).astype("string")
        if not territory.coverage_zones and not territory.stations:
            zones = events["station_code"].astype("string")
    missing = zones.isna().to_numpy()
    if missing.any() and territory.coverage_shares:
        zones[missing] = _draw_zones(events.loc[missing], territory)
    return zones


def _draw_zones(events: pd.DataFrame, territory: Territory) -> np.ndarray:
    """A zone per event with the commune's coverage-share probabilities, keyed by its id."""
    u = pd.util.hash_pandas_object(
        events["intervention_id"].astype(str), index=False
    ).to_numpy() / float(2**64)
    shares = territory.shares_by_commune()
    out = np.full(len(events), None, dtype=object)
    communes = events["commune_code"].astype(str).to_numpy()
    for commune in np.unique(communes):
        zs = shares.get(str(commune))
        if not zs:
            continue
        rows = np.flatnonzero(communes == commune)
        cuts = np.cumsum(list(zs.values()))
        pick = np.minimum(np.searchsorted(cuts, u[rows], side="right"), len(cuts) - 1)
        out[rows] = np.asarray(list(zs.keys()), dtype=object)[pick]
    return out


def area_of_events(events: pd.DataFrame, territory: Territory, level: str) -> pd.Series:
    if level == "commune":
        return events["commune_code"].astype("string")
    if level == "station":
        return zone_of_events(events, territory)
    if level == "departement":
        return pd.Series(territory.name, index=events.index, dtype="string")
    raise PanelError(f"unknown level {level!r}")


def count_panel(
    events: pd.DataFrame,
    territory: Territory,
    level: str,
    frequency: Frequency,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    by_category: bool = True,
    areas: list[str] | None = None,
) -> DensePanel:
    """Counts of the events of [start, end) per area of `level`, category and period."""
    starts = period_starts(start, end, frequency, territory.timezone)
    area_list = areas if areas is not None else areas_of_level(territory, level, events)
    categories = list(territory.categories) if by_category else [ALL_CATEGORIES]
    area_idx = pd.Categorical(area_of_events(events, territory, level), categories=area_list).codes
    if by_category:
        cat_idx = pd.Categorical(events["category"].astype(str), categories=categories).codes
    else:
        cat_idx = np.zeros(len(events), dtype=np.int8)
    times = pd.DatetimeIndex(events["alert_time"])
    t_idx = _period_index(period_of(times, frequency, territory.timezone), starts)
    keep = (area_idx >= 0) & (cat_idx >= 0) & (t_idx >= 0)
    series_idx = area_idx[keep].astype(np.int64) * len(categories) + cat_idx[keep]
    flat = series_idx * len(starts) + t_idx[keep]
    n_series = len(area_list) * len(categories)
    counts = np.bincount(flat, minlength=n_series * len(starts)).astype(np.float64)
    series = pd.DataFrame(
        {
            "area_code": np.repeat(np.asarray(area_list, dtype=object), len(categories)),
            "category": np.tile(np.asarray(categories, dtype=object), len(area_list)),
        }
    )
    return DensePanel(series, starts, counts.reshape(n_series, len(starts)))


def panel_from_counts(
    counts: pd.DataFrame,
    frequency: Frequency,
    timezone: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> DensePanel:
    """A dense panel from the aggregated form (`period_start, area_code, category, count`)."""
    starts = period_starts(start, end, frequency, timezone)
    series = (
        counts[["area_code", "category"]]
        .astype(str)
        .drop_duplicates()
        .sort_values(["area_code", "category"])
        .reset_index(drop=True)
    )
    key = pd.MultiIndex.from_frame(series)
    s_idx = key.get_indexer(pd.MultiIndex.from_frame(counts[["area_code", "category"]].astype(str)))
    times = period_of(pd.DatetimeIndex(counts["period_start"]), frequency, timezone)
    t_idx = _period_index(times, starts)
    keep = (s_idx >= 0) & (t_idx >= 0)
    dense = np.zeros((len(series), len(starts)))
    np.add.at(dense, (s_idx[keep], t_idx[keep]), counts["count"].to_numpy(np.float64)[keep])
    return DensePanel(series, starts, dense)


def _period_index(periods: pd.DatetimeIndex, starts: pd.DatetimeIndex) -> np.ndarray:
    """Position of each period in the grid, -1 when outside."""
    grid = starts.asi8 if starts.unit == periods.unit else starts.as_unit(periods.unit).asi8
    values = periods.asi8
    pos = np.searchsorted(grid, values)
    inside = (pos < len(grid)) & (grid[np.minimum(pos, len(grid) - 1)] == values)
    return np.where(inside, pos, -1).astype(np.int64)


def sum_series(panel: DensePanel, category: str = ALL_CATEGORIES) -> DensePanel:
    """Categories added together per area."""
    codes = panel.series["area_code"].to_numpy()
    areas = list(dict.fromkeys(codes))
    idx = pd.Categorical(codes, categories=areas).codes
    out = np.zeros((len(areas), panel.counts.shape[1]))
    np.add.at(out, idx, panel.counts)
    series = pd.DataFrame({"area_code": areas, "category": category})
    return DensePanel(series, panel.starts, out)


def check_panel(panel: pd.DataFrame, frequency: Frequency, timezone: str) -> None:
    """Raise `PanelError` naming the first broken invariant of a long-form panel."""
    if tuple(panel.columns) != PANEL_COLUMNS:
        raise PanelError(f"columns are {list(panel.columns)}, expected {list(PANEL_COLUMNS)}")
    if panel.duplicated(["area_code", "category", "period_start"]).any():
        raise PanelError("duplicate (area, category, period) rows")
    counts = panel["count"].to_numpy(np.float64)
    if np.isnan(counts).any() or (counts < 0).any() or (counts != np.round(counts)).any():
        raise PanelError("counts must be integers ≥ 0")
    starts = pd.DatetimeIndex(panel["period_start"].drop_duplicates().sort_values())
    if len(starts) == 0:
        return
    grid = period_starts(starts[0], starts[-1] + pd.Timedelta(seconds=1), frequency, timezone)
    if len(grid) != len(starts) or not (grid.asi8 == starts.as_unit(grid.unit).asi8).all():
        raise PanelError("periods have gaps or do not follow the local calendar")
    n_series = panel[["area_code", "category"]].drop_duplicates().shape[0]
    if len(panel) != n_series * len(starts):
        raise PanelError("some series miss periods (zeros must be filled)")
