"""The hourly grid of a period and the calendar of its days, in the territory's local time.

`calendar_rates` gives the relative rate of each hour and category that the calendar alone
decides (weekday, hour of day, holidays, bridges, school holidays, New Year's and 14 July
nights): an ordinary day sums to its weekday factor, of mean 1 over a week.

`hourly_grid` covers [start 00:00, end + 1 day 00:00) local time with one bucket per real hour:
23 buckets on the spring DST day, 25 on the autumn one. `day_calendar` flags each local day:
weekday, public holiday, bridge day, school holiday of the territory's zone (none when the
territory has no zone or the school calendar does not cover the year).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from previsecours.core.generator import profiles
from previsecours.core.territory import Territory

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
SUNDAY: Final = 6


@dataclass(frozen=True)
class HourGrid:
    """One row per real hour of the period. `day` indexes `DayCalendar` arrays."""

    utc_seconds: IntArray  # start of each hour, seconds since the epoch (UTC)
    local_hour: IntArray
    day: IntArray


@dataclass(frozen=True)
class DayCalendar:
    """One row per local day of the period."""

    dates: tuple[date, ...]
    weekday: IntArray  # Monday = 0
    iso_week: IntArray  # 1..53
    year: IntArray
    year_fraction: npt.NDArray[np.float64]  # decimal year at the middle of the day
    month: IntArray
    day_of_month: IntArray
    holiday: BoolArray
    bridge: BoolArray
    school_holiday: BoolArray

    @property
    def rest_day(self) -> BoolArray:
        """Days shaped like a Sunday: weekends and public holidays."""
        return (self.weekday >= 5) | self.holiday


def hourly_grid(start: date, end: date, timezone: str) -> HourGrid:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    first = pd.Timestamp(start).tz_localize(timezone)
    stop = pd.Timestamp(end + timedelta(days=1)).tz_localize(timezone)
    hours = pd.date_range(first, stop, freq="h", inclusive="left")
    local_days = (hours.tz_localize(None).normalize() - pd.Timestamp(start)).days
    return HourGrid(
        utc_seconds=hours.as_unit("s").asi8.astype(np.int64),
        local_hour=np.asarray(hours.hour, dtype=np.int64),
        day=np.asarray(local_days, dtype=np.int64),
    )


def day_calendar(start: date, end: date, territory: Territory) -> DayCalendar:
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    dates = tuple(d.date() for d in days)
    weekday = np.asarray(days.day_of_week, dtype=np.int64)
    holiday = _public_holidays(dates, territory)
    day_of_year = np.asarray(days.day_of_year, dtype=np.float64)
    year_length = np.where(np.asarray(days.is_leap_year), 366.0, 365.0)
    return DayCalendar(
        dates=dates,
        weekday=weekday,
        iso_week=np.asarray(days.isocalendar().week, dtype=np.int64),
        year=np.asarray(days.year, dtype=np.int64),
        year_fraction=np.asarray(days.year, dtype=np.float64) + (day_of_year - 0.5) / year_length,
        month=np.asarray(days.month, dtype=np.int64),
        day_of_month=np.asarray(days.day, dtype=np.int64),
        holiday=holiday,
        bridge=_bridges(dates, weekday, holiday, territory),
        school_holiday=_school_holidays(dates, territory.school_zone),
    )


def _public_holidays(dates: tuple[date, ...], t: Territory) -> BoolArray:
    import holidays

    years = sorted({d.year for d in dates} | {dates[0].year - 1, dates[-1].year + 1})
    calendar = holidays.country_holidays(
        t.holidays_country, subdiv=t.holidays_subdivision, years=years
    )
    return np.array([d in calendar for d in dates], dtype=bool)


def _bridges(
    dates: tuple[date, ...], weekday: IntArray, holiday: BoolArray, t: Territory
) -> BoolArray:
    """A Monday before a Tuesday holiday, a Friday after a Thursday holiday."""
    one = timedelta(days=1)
    edges = _public_holidays((dates[0] - one, dates[-1] + one), t)
    before = np.append(holiday[1:], edges[1])  # tomorrow is a holiday
    after = np.insert(holiday[:-1], 0, edges[0])  # yesterday was a holiday
    monday_bridge = (weekday == 0) & before
    friday_bridge = (weekday == 4) & after
    return np.asarray((monday_bridge | friday_bridge) & ~holiday, dtype=bool)


def _school_holidays(dates: tuple[date, ...], zone: str | None) -> BoolArray:
    if zone is None:
        return np.zeros(len(dates), dtype=bool)
    from vacances_scolaires_france import SchoolHolidayDates

    calendar = SchoolHolidayDates()
    covered = range(calendar.min_year, calendar.max_year + 1)
    return np.array(
        [d.year in covered and calendar.is_holiday_for_zone(d, zone) for d in dates], dtype=bool
    )


def calendar_rates(grid: HourGrid, days: DayCalendar) -> FloatArray:
    """Relative rate [hour, category]; an ordinary day sums to its weekday factor."""
    weekday = np.where(days.holiday, SUNDAY, days.weekday)[grid.day]
    rest = days.rest_day.astype(np.int64)[grid.day]
    rates = profiles.weekday_factors()[weekday] * profiles.hour_weights()[rest, grid.local_hour]
    rates *= np.where(days.bridge[grid.day, None], profiles.BRIDGE_FACTOR, 1.0)
    rates *= np.where(days.school_holiday[grid.day, None], profiles.SCHOOL_HOLIDAY_FACTOR, 1.0)
    rates *= _festive_nights(grid, days)
    return rates


def _festive_nights(grid: HourGrid, days: DayCalendar) -> FloatArray:
    """Hourly multipliers of New Year's night and the night of 14 July (1 elsewhere)."""
    out = np.ones((grid.day.size, len(profiles.CATEGORIES)))
    # Hours since local midnight of 31 December / 14 July (negative or large elsewhere).
    month, dom, hour = days.month[grid.day], days.day_of_month[grid.day], grid.local_hour
    since_new_year_eve = np.where(
        (month == 12) & (dom == 31), hour, np.where((month == 1) & (dom == 1), 24 + hour, -1)
    )
    since_bastille_day = np.where(
        (month == 7) & (dom == 14), hour, np.where((month == 7) & (dom == 15), 24 + hour, -1)
    )
    for since, (first, length, factors) in (
        (since_new_year_eve, profiles.NEW_YEAR_NIGHT),
        (since_bastille_day, profiles.BASTILLE_DAY_NIGHT),
    ):
        inside = (since >= first) & (since < first + length)
        out[inside] *= np.asarray(factors)
    return out
