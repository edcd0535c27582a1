"""Level shifts (a recording change, a merger) are found where they are, and nowhere in a
seasonal series with a trend (issue #16, item 16)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from previsecours.core.generator import generate_events
from previsecours.core.history import History
from previsecours.core.level_shift import (
    brought_level_shifts,
    level_shifts,
    recent_level_shift,
    weekly_totals,
)
from previsecours.core.territory import Territory

TZ = "Europe/Paris"


def _weeks(values: np.ndarray, start: str = "2015-01-05") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="7D", tz=TZ)
    return pd.Series(values, index=index, dtype=np.float64)


def _seasonal(n: int, level: float, rng: np.random.Generator) -> np.ndarray:
    weeks = np.arange(n)
    season = 1 + 0.15 * np.cos(2 * np.pi * weeks / 52.18) - 0.2 * ((weeks % 52) // 4 == 8)
    trend = 1.03 ** (weeks / 52.18)
    counts: np.ndarray = rng.poisson(level * season * trend).astype(np.float64)
    return counts


def test_a_doubling_is_found_at_its_week() -> None:
    rng = np.random.default_rng(0)
    values = _seasonal(312, 1000, rng)
    values[160:] *= 2
    shifts = level_shifts(_weeks(values))
    assert len(shifts) == 1
    shift = shifts[0]
    assert abs((shift.week - _weeks(values).index[160]).days) <= 14
    assert 1.8 < shift.ratio < 2.2
    assert shift.describe().startswith("level shift from the week of 2018-0")


def test_seasons_trend_a_storm_and_a_short_crisis_are_not_shifts() -> None:
    rng = np.random.default_rng(1)
    values = _seasonal(364, 1700, rng)
    values[100] *= 3  # a storm week
    values[200:206] *= 0.85  # six weeks of lockdown
    values[250:253] = np.nan  # weeks missing from the source
    assert level_shifts(_weeks(values)) == ()


def test_weekly_totals_of_events_count_every_category_and_leave_gaps_unknown(
    essonne: Territory,
) -> None:
    events = generate_events(essonne, date(2024, 1, 1), date(2024, 2, 25), seed=4)
    events = events[(events["alert_time"] < "2024-01-22") | (events["alert_time"] >= "2024-02-05")]
    weekly = weekly_totals(History.of_events(events), essonne)
    assert len(weekly) == 8 and weekly.isna().sum() == 2
    assert weekly.sum() == len(events)


def test_training_can_start_after_the_last_shift() -> None:
    from previsecours.config import TrainParams
    from previsecours.core.synthetic_territory import synthetic_territory
    from previsecours.core.training import modelled_panel

    territory = synthetic_territory("shifted", 3, seed=5)
    events = generate_events(territory, date(2022, 1, 1), date(2024, 12, 31), seed=5)
    later = events[events["alert_time"] >= pd.Timestamp("2024-01-01", tz=territory.timezone)]
    doubled = pd.concat(
        [events, later.assign(intervention_id=later["intervention_id"] + "-bis")],
        ignore_index=True,
    ).sort_values("alert_time", ignore_index=True)
    history = History.of_events(doubled)
    seen = modelled_panel(history, territory, TrainParams(history_years=5))
    assert len(seen.level_shifts) == 1
    assert abs((seen.level_shifts[0].week - pd.Timestamp("2024-01-01", tz=TZ)).days) <= 14
    assert seen.start < pd.Timestamp("2023-01-01", tz=TZ)  # reported, not acted on
    after = modelled_panel(history, territory, TrainParams(start_after_level_shift=True))
    assert after.start == seen.level_shifts[0].week


def _weekly_counts(values: np.ndarray, start: str = "2015-01-05") -> History:
    weeks = _weeks(values, start)
    frame = pd.DataFrame(
        {"period_start": weeks.index, "area_code": "A", "category": "ALL", "count": values}
    )
    return History.of_counts(frame, "week")


def test_a_recent_doubling_is_seen_from_four_weeks_on_and_for_a_quarter_only() -> None:
    from previsecours.core.synthetic_territory import synthetic_territory

    territory = synthetic_territory("shifted", 3, seed=5)
    values = _seasonal(330, 410, np.random.default_rng(2))
    values[300:] *= 2
    week = _weeks(values).index[300]
    assert recent_level_shift(_weekly_counts(values[:303]), territory) is None  # 3 weeks
    for end in (304, 312):  # from 4 weeks of the new level on, for a quarter
        seen = recent_level_shift(_weekly_counts(values[:end]), territory)
        assert seen is not None and seen.week == week and 1.8 < seen.ratio < 2.7, end
        assert all(s.week != week for s in level_shifts(_weeks(values[:end])))  # not training
    assert recent_level_shift(_weekly_counts(values), territory) is None  # 30 weeks on
    assert week in {s.week for s in level_shifts(_weeks(values))}  # training's turn


def test_seasons_are_no_recent_shift_at_any_week_of_the_year() -> None:
    from previsecours.core.synthetic_territory import synthetic_territory

    territory = synthetic_territory("seasonal", 3, seed=5)
    values = _seasonal(200, 1700, np.random.default_rng(1))
    for end in range(60, 200, 3):  # the first year has no year before to tell a season by
        assert recent_level_shift(_weekly_counts(values[:end]), territory) is None, end


def test_an_extract_bringing_a_shift_is_told_once() -> None:
    from previsecours.core.synthetic_territory import synthetic_territory

    territory = synthetic_territory("shifted", 3, seed=5)
    values = _seasonal(260, 1700, np.random.default_rng(1))
    values[156:] *= 2
    old, whole = _weekly_counts(values[:156]), _weekly_counts(values)
    new = whole.frame["period_start"].iloc[156:]
    (shift,) = brought_level_shifts(old, whole, territory, new)
    assert shift.week == _weeks(values).index[156]
    assert brought_level_shifts(whole, whole, territory, new) == (shift,)  # in its rows
    assert brought_level_shifts(whole, whole, territory, new.iloc[-10:]) == ()  # known before
    empty = History.of_counts(whole.frame.iloc[:0], "week")
    assert brought_level_shifts(empty, whole, territory, whole.times) == (shift,)
