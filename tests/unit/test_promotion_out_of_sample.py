"""Which forecasts of a promotion window a version is judged on (core.out_of_sample)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from previsecours.core.out_of_sample import (
    BACKTEST,
    FORECAST,
    NOT_JUDGED,
    POSSIBLY_IN_SAMPLE,
    backtest_means,
    choose_route,
    describe_routes,
)
from previsecours.core.promotion import not_judged

TZ = "Europe/Paris"
ORIGIN = pd.Timestamp("2024-03-11", tz=TZ)
END = pd.Timestamp("2024-03-18", tz=TZ)
SERIES = pd.DataFrame({"area_code": ["A", "B"], "category": ["ALL", "ALL"]})


def days(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start, tz=TZ), periods=n, freq="D")


def backtest_rows(window: int, starts: pd.DatetimeIndex, offset: float = 0.0) -> pd.DataFrame:
    """A backtest window's rows, series-major, stored as Parquet keeps them (UTC here)."""
    n = len(starts)
    return pd.DataFrame(
        {
            "window": window,
            "area_code": np.repeat(["A", "B"], n),
            "category": "ALL",
            "period_start": np.tile(starts.tz_convert("UTC"), 2),
            "mean": np.arange(2 * n, dtype=float) + offset,
        }
    )


def test_a_window_after_the_training_data_is_forecast_as_in_production() -> None:
    route = choose_route(ORIGIN, ORIGIN, END, ORIGIN, has_backtest=True)
    assert route.route == FORECAST
    assert route.describe() == "forecast from the history before 2024-03-11 00:00"


def test_a_window_the_version_trained_on_is_judged_on_its_backtest() -> None:
    route = choose_route(END, ORIGIN, END, ORIGIN, has_backtest=True)
    assert route.route == BACKTEST
    assert route.describe() == "backtest forecast at origin 2024-03-11 00:00"


def test_a_window_trained_on_without_backtest_is_not_judged_and_says_why() -> None:
    route = choose_route(END, ORIGIN, END, None, has_backtest=False)
    assert route.route == NOT_JUDGED and not route.judged
    assert route.describe() == (
        "window 2024-03-11 00:00–2024-03-18 00:00: trained on data to 2024-03-18 00:00, "
        "and its run holds no backtest forecasts"
    )
    partial = choose_route(END, ORIGIN, END, None, has_backtest=True)
    assert "do not cover every series and period" in partial.describe()
    decision = not_judged("version 2", "champion version 1", route.describe())
    assert not decision.promoted
    assert decision.reason.startswith("Refused: version 2 cannot be judged out of sample — window")
    assert "\n" not in decision.reason


def test_an_older_version_without_data_end_prefers_its_backtest_then_warns() -> None:
    assert choose_route(None, ORIGIN, END, ORIGIN, has_backtest=True).route == BACKTEST
    fallback = choose_route(None, ORIGIN, END, None, has_backtest=True)
    assert fallback.route == POSSIBLY_IN_SAMPLE
    assert "possibly on data it was trained on" in fallback.describe()


def test_backtest_means_take_the_covering_window_in_series_order() -> None:
    wanted = days("2024-03-11", 7)
    rows = pd.concat([backtest_rows(0, days("2024-03-04", 7)), backtest_rows(1, wanted, 100)])
    found = backtest_means(rows.sample(frac=1.0, random_state=1), SERIES, wanted)
    assert found is not None
    means, origin = found
    assert origin == ORIGIN
    np.testing.assert_array_equal(means.counts, 100 + np.arange(14.0).reshape(2, 7))
    assert means.starts.equals(wanted)


def test_backtest_means_need_every_series_and_period() -> None:
    wanted = days("2024-03-11", 7)
    rows = backtest_rows(1, wanted)
    assert backtest_means(rows.iloc[1:], SERIES, wanted) is None  # one period of A missing
    only_a = rows[rows["area_code"] == "A"]
    assert backtest_means(only_a, SERIES, wanted) is None
    assert backtest_means(rows, SERIES, days("2024-03-12", 7)) is None  # a day past its end


def test_backtest_means_prefer_the_latest_origin_among_covering_windows() -> None:
    wanted = days("2024-03-11", 3)
    early = backtest_rows(0, days("2024-03-09", 7), 50)  # covers it at a longer lead
    late = backtest_rows(1, days("2024-03-11", 7), 100)
    found = backtest_means(pd.concat([late, early]), SERIES, wanted)
    assert found is not None and found[1] == ORIGIN
    assert found[0].counts[0, 0] == 100


def test_the_routes_of_several_windows_are_said_once_each() -> None:
    week = pd.Timedelta(days=7)
    routes = [
        choose_route(END, ORIGIN - week, ORIGIN, ORIGIN - week, has_backtest=True),
        choose_route(END, ORIGIN, END, ORIGIN, has_backtest=True),
        choose_route(END, END, END + week, None, has_backtest=True),
    ]
    assert describe_routes(routes) == (
        "backtest forecast at origin 2024-03-04 00:00, 2024-03-11 00:00; "
        "forecast from the history before 2024-03-18 00:00"
    )


def test_a_weekly_model_is_scored_on_several_weeks() -> None:
    from previsecours.config import PromotionPolicy
    from previsecours.pipelines.promote import scored_windows

    policy = PromotionPolicy(windows=1, weekly_windows=4)
    assert [scored_windows(policy, f) for f in ("hour", "day", "week")] == [1, 1, 4]
    assert scored_windows(PromotionPolicy(windows=8, weekly_windows=4), "week") == 8
