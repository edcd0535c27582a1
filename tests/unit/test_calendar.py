"""Calendar: DST-safe periods and the features of each period."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest

from previsecours.core.calendar import (
    CALENDAR_COLUMNS,
    calendar_features,
    horizon_end,
    horizon_origin,
    horizon_periods,
    period_ends,
    period_of,
    period_starts,
)
from previsecours.errors import InputError

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

TZ = "Europe/Paris"


def _day(date: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(date, tz=TZ)
    return start, start + pd.Timedelta(days=1) + pd.Timedelta(hours=2)


def test_spring_forward_day_has_23_hours_and_autumn_day_25() -> None:
    spring = period_starts(
        pd.Timestamp("2024-03-31", tz=TZ), pd.Timestamp("2024-04-01", tz=TZ), "hour", TZ
    )
    autumn = period_starts(
        pd.Timestamp("2024-10-27", tz=TZ), pd.Timestamp("2024-10-28", tz=TZ), "hour", TZ
    )
    assert len(spring) == 23
    assert len(autumn) == 25
    assert autumn.is_unique
    assert (autumn[1:] - autumn[:-1] == pd.Timedelta(hours=1)).all()


def test_days_and_weeks_start_at_local_midnight_across_dst() -> None:
    days = period_starts(
        pd.Timestamp("2024-03-29", tz=TZ), pd.Timestamp("2024-04-03", tz=TZ), "day", TZ
    )
    assert list(days.hour) == [0] * 5
    weeks = period_starts(
        pd.Timestamp("2024-03-20", tz=TZ), pd.Timestamp("2024-04-20", tz=TZ), "week", TZ
    )
    assert set(weeks.day_of_week) == {0}
    assert set(weeks.hour) == {0}
    ends = period_ends(days, "day", TZ)
    assert (ends[:-1] == days[1:]).all()


def test_repeated_autumn_hour_gives_two_periods() -> None:
    first = pd.Timestamp("2024-10-27 00:30", tz="UTC")  # 02:30 summer time
    times = pd.DatetimeIndex([first, first + pd.Timedelta(hours=1)]).tz_convert(TZ)
    periods = period_of(times, "hour", TZ)
    assert periods[0] != periods[1]
    assert (periods.hour == 2).all()


def test_holidays_bridges_school_and_special_days(essonne: Territory) -> None:
    starts = pd.DatetimeIndex(
        [
            pd.Timestamp(d, tz=TZ)
            for d in (
                "2024-05-01",
                "2024-05-10",
                "2024-08-01",
                "2024-07-14",
                "2024-06-21",
                "2024-10-01",
            )
        ]
    )
    cal = calendar_features(starts, "day", essonne)
    assert list(cal.columns) == list(CALENDAR_COLUMNS)
    assert cal["is_holiday"].tolist() == [1, 0, 0, 1, 0, 0]
    assert cal["is_bridge"].tolist() == [0, 1, 0, 0, 0, 0]  # Friday after Ascension Thursday
    assert cal["is_school_holiday"].tolist()[2] == 1 and cal["is_school_holiday"].tolist()[5] == 0
    assert cal["is_national_day"].tolist()[3] == 1
    assert cal["is_music_day"].tolist()[4] == 1


def test_new_year_night_by_hour(essonne: Territory) -> None:
    starts = period_starts(
        pd.Timestamp("2024-12-31 12:00", tz=TZ), pd.Timestamp("2025-01-01 12:00", tz=TZ), "hour", TZ
    )
    flags = calendar_features(starts, "hour", essonne)["is_new_year_night"].to_numpy()
    assert flags.sum() == 14  # 18:00 → 08:00
    assert flags[0] == 0 and flags[6] == 1


def test_weekly_flags_are_fractions_of_days(essonne: Territory) -> None:
    week = pd.DatetimeIndex([pd.Timestamp("2024-07-08", tz=TZ)])  # 14 July is that Sunday
    cal = calendar_features(week, "week", essonne)
    assert cal["is_holiday"].iloc[0] == 1 / 7


@pytest.mark.parametrize(
    ("origin", "hours"),
    [
        ("2024-10-21", 169),  # the week holding the autumn change (27 October)
        ("2024-03-25", 167),  # the week holding the spring change (31 March)
        ("2024-06-03", 168),
        ("2024-10-26T05:00", 169),
        ("2024-10-27T04:00", 168),  # after the change
    ],
)
def test_days_of_hourly_data_are_local_days(origin: str, hours: int) -> None:
    start = pd.Timestamp(origin).tz_localize(TZ)
    assert horizon_periods("7d", "hour", origin=start, timezone=TZ) == hours
    assert horizon_periods("1w", "hour", origin=start, timezone=TZ) == hours
    end = horizon_end(start, "7d", "hour", TZ)
    assert end.tz_localize(None) == start.tz_localize(None) + pd.Timedelta(days=7)
    assert (end - start) == pd.Timedelta(hours=hours)
    assert horizon_origin(end, "7d", "hour", TZ) == start


def test_model_horizon_is_the_longest_local_span() -> None:
    assert horizon_periods("7d", "hour", timezone=TZ) == 169
    assert horizon_periods("2w", "hour", timezone=TZ) == 337
    assert horizon_periods("7d", "hour", timezone="UTC") == 168  # no clock change
    assert horizon_periods("7d", "hour") == 168  # no zone: 24-hour days


def test_hours_stay_hours_and_daily_weekly_periods_are_unchanged() -> None:
    autumn = pd.Timestamp("2024-10-26", tz=TZ)
    assert horizon_periods("48h", "hour", origin=autumn, timezone=TZ) == 48
    assert horizon_periods("48h", "hour", timezone=TZ) == 48
    assert horizon_end(autumn, "48h", "hour", TZ) == autumn + pd.Timedelta(hours=48)
    for text, day, week in (("7d", 7, 1), ("2w", 14, 2), ("10d", 10, 2), ("36h", 2, 1)):
        assert horizon_periods(text, "day", origin=autumn, timezone=TZ) == day
        assert horizon_periods(text, "week", timezone=TZ) == week
    assert horizon_end(autumn, "7d", "day", TZ) == pd.Timestamp("2024-11-02", tz=TZ)
    with pytest.raises(InputError, match="expected a number"):
        horizon_periods("7 days", "hour")
    with pytest.raises(InputError, match="expected a number"):
        horizon_periods("0d", "hour")
