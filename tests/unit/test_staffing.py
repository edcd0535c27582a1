"""Staffing math checked against obvious slow computations."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from previsecours.config import DEFAULT_SHIFTS, Shift, StaffingPolicy
from previsecours.core.forecast_schema import STAFFING_COLUMNS
from previsecours.core.staffing import (
    DurationTable,
    assign_shifts,
    crews_for,
    exceedance_probability,
    lag_kernel,
    load_in_progress,
    measure_durations,
    non_working_dates,
    plan_crews,
)

TZ = "Europe/Paris"


def _hours(start: str, periods: int) -> pd.Series:
    starts = pd.date_range(pd.Timestamp(start, tz=TZ), periods=periods, freq="h")
    return pd.Series(starts)


def _slow_tail(m: float, k: int) -> float:
    return 1.0 - sum(math.exp(-m) * m**i / math.factorial(i) for i in range(k + 1))


def test_poisson_tail_and_crews_match_a_plain_loop() -> None:
    target = 5 / 8766
    for m in (0.0, 0.01, 0.05, 0.36, 1.0, 2.7, 6.0):
        for k in range(12):
            assert exceedance_probability(m, k) == pytest.approx(_slow_tail(m, k), abs=1e-12)
        slow = next(k for k in range(100) if _slow_tail(m, k) <= target)
        assert crews_for([m], target)[0] == slow
        assert crews_for([m], target, min_crews=1)[0] == max(slow, 1)


def test_kernel_spreads_exactly_the_mean_duration() -> None:
    durations = np.array([0.2, 0.5, 1.25, 3.0, 30.0])  # the 30 h one is capped at 24 h
    kernel = lag_kernel(durations)
    assert kernel.sum() == pytest.approx(np.minimum(durations, 24).mean())
    assert np.all(kernel >= 0)


def test_load_matches_a_brute_force_time_integral() -> None:
    """m(t) = ∫ λ(t − u) P(D > u) du, averaged over each hour, on a fine grid."""
    rng = np.random.default_rng(3)
    durations_h = rng.gamma(2.0, 0.6, size=400)
    rates = np.array([0.5, 0.5, 2.0, 0.1, 0.0, 1.5, 3.0, 0.7])
    starts = _hours("2025-03-03 00:00", rates.size)
    frame = pd.DataFrame(
        {
            "station_code": "S1",
            "category": "SUAP",
            "period_start": starts,
            "period_end": starts + pd.Timedelta(hours=1),
            "mean": rates,
        }
    )
    table = DurationTable(by_station={("S1", "SUAP"): lag_kernel(durations_h)})
    fast = load_in_progress(frame, table)["load"].to_numpy()

    # m(t) = E_D[Λ(t) − Λ(t − D)] with Λ the cumulative rate, averaged over the hour.
    capped = np.minimum(durations_h, 24)
    padded = np.concatenate([np.full(25, rates[0]), rates])  # the same warm start
    cumulative = np.concatenate([[0.0], np.cumsum(padded)])

    def arrivals_before(t: np.ndarray) -> np.ndarray:
        before: np.ndarray = np.interp(t, np.arange(cumulative.size), cumulative)
        return before

    slow = []
    for h in range(rates.size):
        times = 25 + h + (np.arange(600) + 0.5) / 600  # observation instants within hour h
        in_progress = arrivals_before(times[:, None]) - arrivals_before(times[:, None] - capped)
        slow.append(in_progress.mean())
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-5)


def test_each_hour_gets_exactly_one_shift_across_dst_and_holidays() -> None:
    starts = _hours("2025-10-24 00:00", 24 * 5)  # Fri → Tue, autumn DST change on Sunday 26
    off = non_working_dates(date(2025, 10, 20), date(2025, 11, 5), "FR")
    shifts = assign_shifts(starts, DEFAULT_SHIFTS, off)
    assert (shifts["shift"] != "").all()
    by_hour = pd.concat([starts.rename("t"), shifts], axis=1)
    sat_noon = by_hour[by_hour["t"] == pd.Timestamp("2025-10-25 12:00", tz=TZ)].iloc[0]
    assert sat_noon["shift"] == "jour non ouvré"
    fri_noon = by_hour[by_hour["t"] == pd.Timestamp("2025-10-24 12:00", tz=TZ)].iloc[0]
    assert fri_noon["shift"] == "jour ouvré"
    # The Saturday→Sunday night (with the repeated hour) is one occurrence of 13 hours.
    night = by_hour[(by_hour["shift"] == "nuit") & (by_hour["shift_date"] == date(2025, 10, 25))]
    assert len(night) == 13
    assert date(2025, 11, 1) in off  # All Saints' Day
    assert date(2025, 10, 28) not in off


def test_overlapping_or_missing_shifts_are_refused() -> None:
    starts = _hours("2025-06-02 00:00", 24)
    with pytest.raises(ValueError, match="belongs to 2 shifts"):
        assign_shifts(starts, (Shift("a", 0, 12), Shift("b", 6, 0)), frozenset())
    with pytest.raises(ValueError, match="belongs to 0 shifts"):
        assign_shifts(starts, (Shift("a", 0, 12),), frozenset())


def test_plan_per_station_and_shift() -> None:
    starts = _hours("2025-07-11 07:00", 48)  # Fri day, Fri night, Sat day, Sat night
    hour = starts.dt.hour.to_numpy()
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "station_code": station,
                    "category": category,
                    "period_start": starts,
                    "period_end": starts + pd.Timedelta(hours=1),
                    "mean": scale * np.where((hour >= 9) & (hour < 21), 1.0, 0.3),
                }
            )
            for station, scale in (("BIG", 2.0), ("SMALL", 0.05))
            for category in ("SUAP", "INCU")
        ],
        ignore_index=True,
    )
    events = pd.DataFrame(
        {"station_code": "BIG", "category": "SUAP", "duration_min": np.full(40, 90.0)}
    )
    durations = measure_durations(events, ["SUAP", "INCU"])
    plan = plan_crews(
        frame,
        durations,
        StaffingPolicy(),
        non_working_dates(date(2025, 7, 1), date(2025, 7, 31), "FR"),
        station_names={"BIG": "CSP BIG"},
        current_crews={"BIG": 3},
    )
    shifts = plan.shifts
    assert tuple(shifts.columns) == STAFFING_COLUMNS
    assert len(shifts) == 8
    assert shifts["expected_interventions"].sum() == pytest.approx(frame["mean"].sum())
    big = shifts[shifts["station_code"] == "BIG"]
    assert list(big["shift"]) == ["jour ouvré", "nuit", "jour non ouvré", "nuit"]
    assert (big["station_name"] == "CSP BIG").all()
    assert (
        big["recommended_crews"]
        > shifts.loc[shifts["station_code"] == "SMALL", "recommended_crews"].max()
    ).all()
    small = shifts[shifts["station_code"] == "SMALL"]
    assert small["current_crews"].isna().all() and small["saturation_risk"].isna().all()
    expected_risk = exceedance_probability(big["expected_peak_concurrency"], 3)
    np.testing.assert_allclose(big["saturation_risk"], expected_risk)
    # 14 July holiday is not in this window; Saturday daytime is non-working.
    assert durations.summary.query("station_code == 'BIG'")["mean_min"].iloc[0] == 90.0
    assert set(durations.summary.query("station_code == '*'")["source"]) == {
        "measured (territory)",
        "default",
    }


# ---- forecasts without crews (issue #16) -----------------------------------------------------


def _levels(territory_name: str, level: str, frequency: str, hours: int = 48) -> pd.DataFrame:
    """Forecast rows of one level (ALL and one category) over `hours` hours or their weeks."""
    step = {"hour": "1h", "week": "7D"}[frequency]
    periods = 2 if frequency == "week" else hours
    starts = pd.date_range(pd.Timestamp("2026-01-05", tz=TZ), periods=periods, freq=step)
    frames = [
        pd.DataFrame(
            {
                "level": level,
                "frequency": frequency,
                "category": category,
                "area_code": territory_name if level == "departement" else "A1",
                "period_start": starts,
                "period_end": starts + pd.Timedelta(step),
                "mean": np.linspace(1.0, 3.0, periods),
                "p10": 0.0,
                "p90": 5.0,
                "ref_3y_mean": np.nan,
            }
        )
        for category in ("ALL", "EMS")
    ]
    return pd.concat(frames, ignore_index=True)


def test_a_territory_without_stations_gets_no_crews_and_the_reason() -> None:
    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.history import History
    from previsecours.core.staffing import no_crews_reason, staffing_plan
    from tests.conftest import REPO

    montgomery = load_territory(REPO / "territories" / "montgomery-pa.yaml")
    levels = pd.concat(
        [
            _levels(montgomery.name, "commune", "hour"),
            _levels(montgomery.name, "departement", "hour"),
        ]
    )
    events = pd.DataFrame(
        {
            "intervention_id": ["a", "b"],
            "alert_time": pd.to_datetime(["2026-01-04 10:00", "2026-01-04 11:00"]).tz_localize(
                montgomery.timezone
            ),
            "commune_code": ["ABINGTON", "ABINGTON"],
            "category": ["EMS", "FIRE"],
        }
    )
    history = History.of_events(events)
    # It crashed in assign_shifts (".dt accessor with datetimelike values"): no station to staff.
    plan = staffing_plan(history, montgomery, levels, StaffingPolicy())
    assert plan.shifts.empty
    assert tuple(plan.shifts.columns) == STAFFING_COLUMNS
    reason = no_crews_reason(history, montgomery, levels)
    assert "declares no stations" in reason
    assert "areas.coverage_shares" in reason


def test_a_counts_forecast_reports_its_busiest_weeks_and_why_no_crews() -> None:
    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.forecast_report import riskiest_markdown
    from previsecours.core.history import History
    from previsecours.core.staffing import staffing_plan
    from tests.conftest import REPO

    essonne = load_territory(REPO / "territories" / "essonne.yaml")
    forecast = _levels("essonne", "departement", "week")
    counts = History.of_counts(pd.DataFrame({"period_start": [], "count": []}), "week")
    shifts = staffing_plan(counts, essonne, forecast, StaffingPolicy()).shifts
    metadata = {
        "model_name": "m",
        "model_version": "1",
        "data_version": "d",
        "staffing": {"note": "No crews: the store holds counts only."},
    }
    start = pd.Timestamp("2026-01-05", tz=TZ)
    # It raised "Column 'expected_peak_concurrency' has dtype object, cannot use method 'nlargest'".
    text = riskiest_markdown(forecast, shifts, metadata, start, start, total_label="département")
    assert "### Busiest weeks for the département" in text
    assert "| week of 12/01/2026 | 3.0 | 0–5 | — |" in text
    assert text.endswith("No crews: the store holds counts only.")
