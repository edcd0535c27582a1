"""Recent actuals and historical references from the curated store, for the detail panels.

`Actuals.of(history, timezone)` turns the stored `History` into what the panels read. It holds
either the events (canonical columns) or, for services that only publish counts (SDIS 91's open
data: weekly counts per commune), those counts — each row a weight at its period start — in the
territory's time zone. Areas follow the forecast's levels: a commune's interventions are those in
the commune, a coverage zone's those whose first engaged station is the zone's station, the
département's all of them. Every function returns `None` (not zero) when the history cannot answer
— it does not cover the dates, or its resolution is coarser than asked (weekly counts say nothing
of an hour) — so the page can say "non disponible" rather than show a false zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from previsecours.core.forecast_schema import ALL_CATEGORIES
from previsecours.core.history import History

REFERENCE_YEARS = 3
REFERENCE_WEEKS = 2  # same weeks ± this many
WEEK = pd.Timedelta(days=7)
# Resolutions from finest to coarsest, and how long one stored row lasts.
RESOLUTIONS = ("event", "hour", "day", "week")
ROW_SPAN = {"event": pd.Timedelta(0), "hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1)}


@dataclass(frozen=True)
class SameWeeksReference:
    """Mean count per period over the same weeks (±2) of earlier years, and the years used."""

    mean: float
    years: tuple[int, ...]


class Actuals:
    """Dated, weighted interventions of one territory (weight 1 per event, or a count)."""

    def __init__(self, frame: pd.DataFrame, resolution: str = "event") -> None:
        """`frame`: columns time (tz-aware), commune, station, category, weight."""
        self.resolution = resolution
        self.events = frame.dropna(subset=["time"]).sort_values("time", ignore_index=True)

    @classmethod
    def of(cls, history: History, timezone: str) -> Actuals:
        """The stored history (events, or counts per commune) as dated weights."""
        if history.frequency is not None:
            return cls.from_counts(history.frame, timezone, history.frequency)
        return cls.from_events(history.frame, timezone)

    @classmethod
    def from_events(cls, events: pd.DataFrame, timezone: str) -> Actuals:
        station = (
            events["station_code"]
            if "station_code" in events
            else pd.Series(pd.NA, index=events.index)
        )
        frame = _frame(
            events,
            times=events["alert_time"],
            commune=events["commune_code"],
            station=station,
            weight=1.0,
            timezone=timezone,
        )
        return cls(frame)

    @classmethod
    def from_counts(cls, counts: pd.DataFrame, timezone: str, frequency: str) -> Actuals:
        """Counts per commune (`area_code`), category and period of `frequency`."""
        station = pd.Series(pd.NA, index=counts.index)
        weight = counts["count"].to_numpy(dtype=float)
        frame = _frame(
            counts,
            times=counts["period_start"],
            commune=counts["area_code"],
            station=station,
            weight=weight,
            timezone=timezone,
        )
        return cls(frame[frame["weight"] > 0], resolution=frequency)

    @property
    def first(self) -> pd.Timestamp | None:
        return self.events["time"].iloc[0] if len(self.events) else None

    @property
    def end(self) -> pd.Timestamp | None:
        """Where the history stops (the end of its last stored period)."""
        if not len(self.events):
            return None
        return pd.Timestamp(self.events["time"].iloc[-1]) + ROW_SPAN.get(self.resolution, WEEK)

    @property
    def last(self) -> pd.Timestamp | None:
        return self.events["time"].iloc[-1] if len(self.events) else None

    def answers(self, frequency: str) -> bool:
        """Whether this history is fine enough for periods of `frequency`."""
        return RESOLUTIONS.index(self.resolution) <= RESOLUTIONS.index(frequency)

    def area_rows(self, level: str, code: str, category: str) -> pd.DataFrame:
        """Times and weights of one area and category (`ALL` = every category)."""
        events = self.events
        mask = np.ones(len(events), dtype=bool)
        if level == "commune":
            mask &= (events["commune"] == code).fillna(False).to_numpy()
        elif level == "station":
            mask &= (events["station"] == code).fillna(False).to_numpy()
        if category != ALL_CATEGORIES:
            mask &= (events["category"] == category).fillna(False).to_numpy()
        return events.loc[mask, ["time", "weight"]]

    def recent_hourly(
        self, level: str, code: str, category: str, end: pd.Timestamp, hours: int = 168
    ) -> pd.Series | None:
        """Hourly counts over the `hours` before `end`; None when the history cannot say.

        Hours after the last stored one are left out (unknown, not zero): when the history
        stops before `end`, the series stops with it.
        """
        if not self.answers("hour") or self.first is None or self.last is None:
            return None
        end = pd.Timestamp(end).tz_convert(self.last.tz)
        start = end - pd.Timedelta(hours=hours)
        if self.last < start or self.first > start:
            return None
        known = min(end, self.last.floor("h") + pd.Timedelta(hours=1))
        rows = self.area_rows(level, code, category)
        rows = rows[(rows["time"] >= start) & (rows["time"] < known)]
        index = pd.date_range(start, known, freq="h", inclusive="left")
        counts: pd.Series = rows.groupby(rows["time"].dt.floor("h"))["weight"].sum()
        return counts.reindex(index, fill_value=0).round().astype(int)

    def same_weeks(
        self, level: str, code: str, category: str, start: pd.Timestamp, frequency: str
    ) -> SameWeeksReference | None:
        """Mean count per period of `frequency` in weeks w-2..w+2 of each of the 3 past years.

        Hourly periods compare with the same hour of day, so a 3 am forecast is set beside
        earlier 3 am counts; only years the history covers entirely are used.
        """
        if self.first is None or self.end is None or not self.answers(frequency):
            return None
        rows = self.area_rows(level, code, category)
        total, periods, years = 0.0, 0, []
        for k in range(1, REFERENCE_YEARS + 1):
            centre = start.floor("D") - years_back(start, k)
            begin = centre - REFERENCE_WEEKS * WEEK
            end = begin + (2 * REFERENCE_WEEKS + 1) * WEEK
            if begin < self.first or end > self.end:
                continue
            window = rows[(rows["time"] >= begin) & (rows["time"] < end)]
            if frequency == "hour":
                window = window[window["time"].dt.hour == start.hour]
                periods += (2 * REFERENCE_WEEKS + 1) * 7
            elif frequency == "day":
                periods += (2 * REFERENCE_WEEKS + 1) * 7
            else:
                periods += 2 * REFERENCE_WEEKS + 1
            total += float(window["weight"].sum())
            years.append(centre.year)
        if not years:
            return None
        return SameWeeksReference(mean=total / periods, years=tuple(years))


def years_back(start: pd.Timestamp, years: int) -> pd.Timedelta:
    """Whole weeks closest to `years` calendar years: the same weekday, the nearest date."""
    days = (start - (start - pd.DateOffset(years=years))).days
    return round(days / 7) * WEEK


def _frame(
    source: pd.DataFrame,
    *,
    times: pd.Series,
    commune: pd.Series,
    station: pd.Series,
    weight: float | np.ndarray,
    timezone: str,
) -> pd.DataFrame:
    stamps = pd.to_datetime(times)
    stamps = stamps.dt.tz_localize(timezone) if stamps.dt.tz is None else stamps
    return pd.DataFrame(
        {
            "time": stamps.dt.tz_convert(timezone),
            "commune": commune.astype("string"),
            "station": station.astype("string"),
            "category": source["category"].astype("string"),
            "weight": weight,
        },
        index=source.index,
    )
