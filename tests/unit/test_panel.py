"""Panel invariants: one row per area × category × period, no gaps, counts ≥ 0, DST-safe."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from previsecours.core.generator import generate_events
from previsecours.core.panel import PanelError, check_panel, count_panel, sum_series, zone_of_events

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

TZ = "Europe/Paris"


@pytest.fixture(scope="module")
def events(essonne: Territory) -> pd.DataFrame:
    return generate_events(essonne, dt.date(2024, 3, 25), dt.date(2024, 4, 7), seed=11)


def test_station_panel_invariants_across_spring_dst(
    essonne: Territory, events: pd.DataFrame
) -> None:
    start, end = pd.Timestamp("2024-03-25", tz=TZ), pd.Timestamp("2024-04-08", tz=TZ)
    panel = count_panel(events, essonne, "station", "hour", start=start, end=end)
    frame = panel.to_frame()
    check_panel(frame, "hour", TZ)
    assert len(panel.starts) == 14 * 24 - 1  # the spring-forward day has 23 hours
    assert len(frame) == len(essonne.coverage_zones) * len(essonne.categories) * len(panel.starts)
    assert panel.counts.sum() == len(events)
    assert (panel.counts >= 0).all()


def test_levels_count_the_same_events(essonne: Territory, events: pd.DataFrame) -> None:
    start, end = pd.Timestamp("2024-03-25", tz=TZ), pd.Timestamp("2024-04-08", tz=TZ)
    totals = {
        level: sum_series(
            count_panel(events, essonne, level, "day", start=start, end=end)
        ).counts.sum(axis=0)
        for level in ("commune", "station", "departement")
    }
    np.testing.assert_array_equal(totals["commune"], totals["departement"])
    np.testing.assert_array_equal(totals["station"], totals["departement"])


def test_autumn_dst_day_has_25_hourly_periods(essonne: Territory) -> None:
    times = pd.date_range(
        "2024-10-26 22:00", "2024-10-27 04:00", freq="30min", tz="UTC"
    ).tz_convert(TZ)
    events = pd.DataFrame(
        {
            "intervention_id": [f"x{i}" for i in range(len(times))],
            "alert_time": times,
            "commune_code": "91228",
            "category": "SUAP",
        }
    )
    panel = count_panel(
        events,
        essonne,
        "departement",
        "hour",
        start=pd.Timestamp("2024-10-27", tz=TZ),
        end=pd.Timestamp("2024-10-28", tz=TZ),
        by_category=False,
    )
    assert panel.counts.shape == (1, 25)
    assert panel.counts[0, :5].tolist() == [2, 2, 2, 2, 2]  # 02:00 summer and winter both counted
    check_panel(panel.to_frame(), "hour", TZ)


def test_zone_from_station_code_else_from_shares_deterministically(essonne: Territory) -> None:
    events = pd.DataFrame(
        {
            "intervention_id": ["a", "b", "c"],
            "commune_code": ["91001", "91001", "91001"],
            "station_code": ["MASSY", None, None],
        }
    )
    zones = zone_of_events(events, essonne)
    assert zones.iloc[0] == "MASSY"
    assert set(zones.iloc[1:]) <= {"SACL", "MAISS"}
    assert zones.equals(zone_of_events(events, essonne))


def test_check_panel_names_broken_invariants() -> None:
    starts = pd.date_range("2024-01-01", periods=3, freq="h", tz=TZ).as_unit("s")
    good = pd.DataFrame(
        {"area_code": "A", "category": "ALL", "period_start": starts, "count": [0.0, 1.0, 2.0]}
    )
    check_panel(good, "hour", TZ)
    with pytest.raises(PanelError, match="integers"):
        check_panel(good.assign(count=[0.0, -1.0, 2.0]), "hour", TZ)
    with pytest.raises(PanelError, match="gaps"):
        check_panel(good.drop(index=1), "hour", TZ)
    with pytest.raises(PanelError, match="duplicate"):
        check_panel(pd.concat([good, good.iloc[:1]]), "hour", TZ)
