"""Recent actuals and historical references from the curated events, for the detail panels.

A `History` holds the events (canonical columns) in the territory's time zone. Areas follow the
forecast's levels: a commune's events are those in the commune, a coverage zone's those whose
first engaged station is the zone's station, the département's all of them. Every function
returns `None` (not zero) when the history does not cover what is asked, so the page can say
"non disponible" rather than show a false zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from previsecours.core.forecast_schema import ALL_CATEGORIES

REFERENCE_YEARS = 3
REFERENCE_WEEKS = 2  # same weeks ± this many
WEEK = pd.Timedelta(days=7)


@dataclass(frozen=True)
class SameWeeksReference:
    """Mean count per period over the same weeks (±2) of earlier years, and the years used."""

    mean: float
    years: tuple[int, ...]


class History:
    """The curated events of one territory, ready for per-area counts."""

    def __init__(self, events: pd.DataFrame, timezone: str) -> None:
        times = pd.to_datetime(events["alert_time"])
        times = times.dt.tz_localize(timezone) if times.dt.tz is None else times
        frame = pd.DataFrame(
            {
                "time": times.dt.tz_convert(timezone),
                "commune": events["commune_code"].astype("string"),
                "station": (
                    events["station_code"].astype("string")
                    if "station_code" in events
                    else pd.Series(pd.NA, index=events.index, dtype="string")
                ),
                "category": events["category"].astype("string"),
            }
        )
        self.events = frame.dropna(subset=["time"]).sort_values("time", ignore_index=True)

    @property
    def first(self) -> pd.Timestamp | None:
        return self.events["time"].iloc[0] if len(self.events) else None

    @property
    def last(self) -> pd.Timestamp | None:
        return self.events["time"].iloc[-1] if len(self.events) else None

    def area_times(self, level: str, code: str, category: str) -> pd.Series:
        """Alert times of one area and category (`ALL` = every category)."""
        events = self.events
        mask = np.ones(len(events), dtype=bool)
        if level == "commune":
            mask &= (events["commune"] == code).fillna(False).to_numpy()
        elif level == "station":
            mask &= (events["station"] == code).fillna(False).to_numpy()
        if category != ALL_CATEGORIES:
            mask &= (events["category"] == category).fillna(False).to_numpy()
        return events.loc[mask, "time"]

    def recent_hourly(
        self, level: str, code: str, category: str, end: pd.Timestamp, hours: int = 168
    ) -> pd.Series | None:
        """Hourly counts over the `hours` before `end`; None when the history stops earlier."""
        start = end - pd.Timedelta(hours=hours)
        if self.last is None or self.first is None or self.last < start or self.first > start:
            return None
        times = self.area_times(level, code, category)
        times = times[(times >= start) & (times < end)]
        index = pd.date_range(start, end, freq="h", inclusive="left")
        counts: pd.Series = times.dt.floor("h").value_counts().reindex(index, fill_value=0)
        return counts.astype(int)

    def same_weeks(
        self, level: str, code: str, category: str, start: pd.Timestamp, frequency: str
    ) -> SameWeeksReference | None:
        """Mean count per period of `frequency` in weeks w-2..w+2 of each of the 3 past years.

        Hourly periods compare with the same hour of day, so a 3 am forecast is set beside
        earlier 3 am counts; only years the history covers entirely are used.
        """
        if self.first is None or self.last is None:
            return None
        times = self.area_times(level, code, category)
        total, periods, years = 0, 0, []
        for k in range(1, REFERENCE_YEARS + 1):
            centre = start.floor("D") - years_back(start, k)
            begin = centre - REFERENCE_WEEKS * WEEK
            end = begin + (2 * REFERENCE_WEEKS + 1) * WEEK
            if begin < self.first or end > self.last:
                continue
            window = times[(times >= begin) & (times < end)]
            if frequency == "hour":
                window = window[window.dt.hour == start.hour]
                periods += (2 * REFERENCE_WEEKS + 1) * 7
            elif frequency == "day":
                periods += (2 * REFERENCE_WEEKS + 1) * 7
            else:
                periods += 2 * REFERENCE_WEEKS + 1
            total += len(window)
            years.append(centre.year)
        if not years:
            return None
        return SameWeeksReference(mean=total / periods, years=tuple(years))


def years_back(start: pd.Timestamp, years: int) -> pd.Timedelta:
    """Whole weeks closest to `years` calendar years: the same weekday, the nearest date."""
    days = (start - (start - pd.DateOffset(years=years))).days
    return round(days / 7) * WEEK
