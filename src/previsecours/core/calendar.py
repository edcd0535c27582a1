"""Calendar of a territory: period grids and the calendar features of each period.

Guarantees:
- `period_starts` returns the periods of a frequency in the territory's local time, DST-safe:
  hourly periods are real hours (a spring-forward day has 23, an autumn one 25), days start at
  local midnight, weeks on Monday at local midnight.
- `period_of` maps tz-aware instants to the start of their period with the same rules.
- `calendar_features` depends only on the period starts and the territory (never on counts):
  hour, weekday, week of year, month, cyclic encodings, public holidays and bridges (`holidays`
  library, the territory's country and subdivision), school holidays (`vacances-scolaires-france`
  for French territories with a zone), and the special days that move volumes (New Year's night,
  13–14 July, 21 June). Day flags of a weekly period are the fraction of its days they cover.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import lru_cache
from typing import Final

import numpy as np
import pandas as pd

from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory
from previsecours.errors import InputError

PERIOD_HOURS: Final[dict[str, int]] = {"hour": 1, "day": 24, "week": 168}
# Number of periods in a week and in a year (52 weeks keep the weekday aligned).
WEEK_PERIODS: Final[dict[str, int]] = {"hour": 168, "day": 7, "week": 1}
YEAR_PERIODS: Final[dict[str, int]] = {"hour": 52 * 168, "day": 52 * 7, "week": 52}
DAY_FLAGS: Final = (
    "is_holiday",
    "is_bridge",
    "is_school_holiday",
    "is_new_year_night",
    "is_national_day",
    "is_music_day",
)
CALENDAR_COLUMNS: Final = (
    "hour",
    "weekday",
    "month",
    "week_of_year",
    "day_of_year",
    "hour_sin",
    "hour_cos",
    "doy_sin",
    "doy_cos",
    "years_since_2000",
    *DAY_FLAGS,
)


def period_starts(
    start: pd.Timestamp, end: pd.Timestamp, frequency: Frequency, timezone: str
) -> pd.DatetimeIndex:
    """Starts of the periods whose start lies in [period_of(start), end), local time."""
    first = period_of(pd.DatetimeIndex([_localised(start, timezone)]), frequency, timezone)[0]
    last = _localised(end, timezone)
    if frequency == "hour":
        utc = pd.date_range(first.tz_convert("UTC"), last.tz_convert("UTC"), freq="h")
        out = utc.tz_convert(timezone)
    else:
        # Calendar offsets on a tz-aware range keep local midnight across DST changes.
        out = pd.date_range(first, last, freq="D" if frequency == "day" else "7D")
    return out[out < last].as_unit("s")


def period_of(times: pd.DatetimeIndex, frequency: Frequency, timezone: str) -> pd.DatetimeIndex:
    """Start of the period each tz-aware instant falls in."""
    local = times.tz_convert(timezone)
    if frequency == "hour":
        # Flooring in UTC: the repeated autumn hour stays two distinct periods.
        return local.tz_convert("UTC").floor("h").tz_convert(timezone).as_unit("s")
    days = local.tz_localize(None).normalize()
    if frequency == "week":
        days = days - pd.to_timedelta(days.day_of_week, unit="D")
    return days.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward").as_unit("s")


def period_ends(starts: pd.DatetimeIndex, frequency: Frequency, timezone: str) -> pd.DatetimeIndex:
    """End (exclusive) of each period: the next period's start."""
    if frequency == "hour":
        return (starts.tz_convert("UTC") + pd.Timedelta(hours=1)).tz_convert(timezone)
    days = 1 if frequency == "day" else 7
    naive = starts.tz_localize(None) + pd.Timedelta(days=days)
    return naive.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward").as_unit("s")


def calendar_features(
    starts: pd.DatetimeIndex, frequency: Frequency, territory: Territory
) -> pd.DataFrame:
    """One row per period start (same order), columns `CALENDAR_COLUMNS`, all float64."""
    local = starts.tz_convert(territory.timezone)
    naive = local.tz_localize(None)
    hour = naive.hour.to_numpy(np.float64)
    doy = naive.day_of_year.to_numpy(np.float64)
    out = pd.DataFrame(
        {
            "hour": hour,
            "weekday": naive.day_of_week.to_numpy(np.float64),
            "month": naive.month.to_numpy(np.float64),
            "week_of_year": naive.isocalendar().week.to_numpy(np.float64),
            "day_of_year": doy,
            "hour_sin": np.sin(2 * np.pi * hour / 24),
            "hour_cos": np.cos(2 * np.pi * hour / 24),
            "doy_sin": np.sin(2 * np.pi * doy / 365.25),
            "doy_cos": np.cos(2 * np.pi * doy / 365.25),
            "years_since_2000": (naive.year.to_numpy(np.float64) - 2000) + doy / 365.25,
        }
    )
    days = _day_flags(naive, frequency, territory)
    for column in days.columns:
        out[column] = days[column].to_numpy()
    out["is_new_year_night"] = _new_year_night(naive, frequency)
    return out[list(CALENDAR_COLUMNS)]


def _localised(t: pd.Timestamp, timezone: str) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        return ts.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
    return ts.tz_convert(timezone)


def _day_flags(naive: pd.DatetimeIndex, frequency: Frequency, t: Territory) -> pd.DataFrame:
    """Holiday, bridge, school-holiday and special-day flags, averaged over a period's days."""
    ndays = 7 if frequency == "week" else 1
    first = naive.normalize()
    columns = ("is_holiday", "is_bridge", "is_school_holiday", "is_national_day", "is_music_day")
    total = np.zeros((len(naive), len(columns)))
    for offset in range(ndays):
        dates = first + pd.Timedelta(days=offset)
        unique, inverse = np.unique(dates.to_numpy(), return_inverse=True)
        table = _flags_for_dates(tuple(pd.DatetimeIndex(unique).date), t)
        total += table[inverse]
    return pd.DataFrame(total / ndays, columns=list(columns))


def _flags_for_dates(dates: tuple[dt.date, ...], t: Territory) -> np.ndarray:
    if not dates:
        return np.zeros((0, 5))
    years = range(min(d.year for d in dates) - 1, max(d.year for d in dates) + 2)
    public = _public_holidays(t.holidays_country, t.holidays_subdivision, tuple(years))
    school = _school_holidays(t.school_zone) if t.holidays_country == "FR" else frozenset()
    rows = []
    for d in dates:
        rows.append(
            (
                d in public,
                _is_bridge(d, public),
                d in school,
                (d.month, d.day) in ((7, 13), (7, 14)),
                (d.month, d.day) == (6, 21),
            )
        )
    return np.asarray(rows, dtype=np.float64)


def _is_bridge(d: dt.date, public: frozenset[dt.date]) -> bool:
    """A working Monday before a holiday Tuesday, or Friday after a holiday Thursday."""
    if d in public:
        return False
    if d.weekday() == 0:
        return d + dt.timedelta(days=1) in public
    if d.weekday() == 4:
        return d - dt.timedelta(days=1) in public
    return False


@lru_cache(maxsize=16)
def _public_holidays(
    country: str, subdivision: str | None, years: tuple[int, ...]
) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=years).keys())


@lru_cache(maxsize=4)
def _school_holidays(zone: str | None) -> frozenset[dt.date]:
    """Every school-holiday date of a French zone known to vacances-scolaires-france."""
    if zone is None:
        return frozenset()
    from vacances_scolaires_france import SchoolHolidayDates

    calendar = SchoolHolidayDates()
    key = calendar.zone_key(zone)
    return frozenset(d for d, row in calendar.data.items() if row[key])


def _new_year_night(naive: pd.DatetimeIndex, frequency: Frequency) -> np.ndarray:
    """31 Dec from 18:00 to 1 Jan 08:00 (whole days for daily data, the week holding 1 Jan)."""
    month, day, hour = naive.month, naive.day, naive.hour
    if frequency == "hour":
        flag = ((month == 12) & (day == 31) & (hour >= 18)) | (
            (month == 1) & (day == 1) & (hour < 8)
        )
    elif frequency == "day":
        flag = ((month == 12) & (day == 31)) | ((month == 1) & (day == 1))
    else:
        end = naive + pd.Timedelta(days=7)
        flag = (end.year > naive.year) | ((month == 1) & (day == 1))
    return np.asarray(flag, dtype=np.float64)


HORIZON_UNITS: Final[dict[str, int]] = {"h": 1, "d": 24, "w": 168}  # hours of one unit
# Clock rules over which a zone's longest local-day span is found (`horizon_periods` without an
# origin): a model trained today forecasts within these years.
SPAN_YEARS: Final = (2020, 2050)


def parse_horizon(text: str) -> tuple[int, str]:
    """'7d' → (7, 'd'); units h (hours), d (local days), w (local weeks)."""
    match = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", str(text))
    if not match or int(match[1]) < 1:
        raise InputError(f"horizon {text!r}: expected a number and h, d or w (e.g. 7d)")
    return int(match[1]), match[2]


def _horizon_step(text: str, frequency: Frequency) -> tuple[int, str]:
    """A horizon as an amount of real hours ('hour') or of local days ('day').

    Hourly data: 'Nh' is N hours, 'Nd'/'Nw' are local days. Daily and weekly data: whole
    periods (local days or weeks), rounded up, as before."""
    n, unit = parse_horizon(text)
    hours = n * HORIZON_UNITS[unit]
    if frequency == "hour":
        return (hours, "hour") if unit == "h" else (hours // 24, "day")
    periods = max(1, math.ceil(hours / PERIOD_HOURS[frequency]))
    return periods * PERIOD_HOURS[frequency] // 24, "day"


def horizon_end(
    origin: pd.Timestamp, text: str, frequency: Frequency, timezone: str
) -> pd.Timestamp:
    """Where a horizon from `origin` ends (exclusive): N hours later for 'Nh' on hourly data,
    else the same local wall-clock time N local days later (DST-safe)."""
    start = _localised(origin, timezone)
    amount, unit = _horizon_step(text, frequency)
    if unit == "hour":
        return (start.tz_convert("UTC") + pd.Timedelta(hours=amount)).tz_convert(timezone)
    return _wall_clock(start.tz_localize(None) + pd.Timedelta(days=amount), timezone)


def horizon_origin(
    end: pd.Timestamp, text: str, frequency: Frequency, timezone: str
) -> pd.Timestamp:
    """The origin whose horizon ends at `end` (`horizon_end`'s inverse): counting back."""
    stop = _localised(end, timezone)
    amount, unit = _horizon_step(text, frequency)
    if unit == "hour":
        return (stop.tz_convert("UTC") - pd.Timedelta(hours=amount)).tz_convert(timezone)
    return _wall_clock(stop.tz_localize(None) - pd.Timedelta(days=amount), timezone)


def horizon_periods(
    text: str,
    frequency: Frequency,
    *,
    origin: pd.Timestamp | None = None,
    timezone: str | None = None,
) -> int:
    """Periods a horizon covers: '7d' → 7 daily periods, 1 weekly; 'Nh' → N hours.

    Hourly data, 'Nd' / 'Nw': N local days from `origin` in `timezone` — 167, 168 or 169 hours
    for 7d, found from the calendar (a week holding the spring or autumn clock change). Without
    an origin, the longest span any origin gives in that zone (169 for 7d in Europe/Paris): the
    horizon a model must be trained for, so that every such forecast is within its lags.
    Without a zone, 24 hours a day (a zone without clock changes)."""
    amount, unit = _horizon_step(text, frequency)
    if unit == "hour":
        return amount
    if frequency != "hour":
        return amount * 24 // PERIOD_HOURS[frequency]
    if timezone is None:
        return 24 * amount
    if origin is None:
        return _longest_span(amount, timezone)
    first = period_of(pd.DatetimeIndex([_localised(origin, timezone)]), "hour", timezone)[0]
    end = horizon_end(first, text, frequency, timezone)
    return len(period_starts(first, end, "hour", timezone))


@lru_cache(maxsize=64)
def _longest_span(days: int, timezone: str) -> int:
    """The most hourly periods `days` local days hold in `timezone`, over `SPAN_YEARS`."""
    first, last = SPAN_YEARS
    midnights = pd.date_range(f"{first}-01-01", f"{last}-12-31", freq="D")
    starts = midnights.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")
    ends = (midnights + pd.Timedelta(days=days)).tz_localize(
        timezone, ambiguous=True, nonexistent="shift_forward"
    )
    hours = (ends - starts) / pd.Timedelta(hours=1)
    return max(24 * days, math.ceil(float(np.max(hours))))


def _wall_clock(naive: pd.Timestamp, timezone: str) -> pd.Timestamp:
    """A local wall-clock time in `timezone`: the repeated autumn hour is its first occurrence,
    the skipped spring hour moves forward (as `period_of` and ingest)."""
    return naive.tz_localize(timezone, ambiguous=True, nonexistent="shift_forward")


def local_time(text: str, timezone: str) -> pd.Timestamp:
    """An ISO date or date-time as a time of `timezone` (local unless it carries an offset)."""
    try:
        parsed = dt.datetime.fromisoformat(str(text).strip())
    except ValueError as exc:
        raise InputError(
            f"{text!r}: expected a local date or time, e.g. 2017-01-02 or 2017-01-02T06:00"
        ) from exc
    return _localised(pd.Timestamp(parsed), timezone)
