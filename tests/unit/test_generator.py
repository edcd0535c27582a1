"""The generator against SDIS 91's real data (issue 2's acceptance) and its own guarantees."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from previsecours.core.generator import calendar, generate_events, places, profiles, rates
from previsecours.core.schema import CANONICAL_COLUMNS
from previsecours.core.territory import Commune, Territory

FIT_START, FIT_END = date(2010, 1, 4), date(2015, 12, 27)  # ISO weeks 201001 .. 201552


@pytest.fixture(scope="module")
def fit_period(essonne: Territory) -> pd.DataFrame:
    return generate_events(essonne, FIT_START, FIT_END, seed=7)


@pytest.fixture(scope="module")
def real_weekly(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "sdis91" / "weekly_totals_by_category_2010_2015.csv")


def weekly_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Generated counts per ISO year-week (YYYYWW, like the real file) and category."""
    iso = events["alert_time"].dt.isocalendar()
    yearweek = iso["year"].astype(int) * 100 + iso["week"].astype(int)
    return pd.crosstab(yearweek, events["category"])


def test_weekly_suap_matches_the_real_weeks(
    fit_period: pd.DataFrame, real_weekly: pd.DataFrame
) -> None:
    real = real_weekly.set_index("yearweek")["SUAP"]
    generated = weekly_counts(fit_period)["SUAP"].reindex(real.index)
    assert generated.notna().all()
    assert generated.mean() == pytest.approx(real.mean(), rel=0.03)
    week = real.index % 100
    profile_corr = np.corrcoef(generated.groupby(week).mean(), real.groupby(week).mean())[0, 1]
    assert profile_corr >= 0.8
    cv_generated, cv_real = generated.std() / generated.mean(), real.std() / real.mean()
    assert cv_generated == pytest.approx(cv_real, rel=0.30)


def test_category_shares_within_two_points(
    fit_period: pd.DataFrame, real_weekly: pd.DataFrame
) -> None:
    real = real_weekly[list(profiles.CATEGORIES)].sum()
    generated = fit_period["category"].value_counts().reindex(list(profiles.CATEGORIES))
    gap = (generated / generated.sum() - real / real.sum()).abs()
    assert (gap < 0.02).all(), gap.to_dict()


def test_commune_shares_follow_the_real_annual_suap(
    fit_period: pd.DataFrame, shared_data: Path
) -> None:
    annual = pd.read_csv(
        shared_data / "sdis91" / "annual_suap_by_commune_2010_2015.csv",
        dtype={"ope_code_insee": str},
    )
    real = annual.groupby("ope_code_insee")["nb_ope"].sum()
    suap = fit_period.loc[fit_period["category"] == "SUAP", "commune_code"]
    both = pd.concat([real / real.sum(), suap.value_counts(normalize=True)], axis=1).fillna(0)
    assert np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1] >= 0.95


def test_published_years_come_out_right(essonne: Territory) -> None:
    events = generate_events(essonne, date(2016, 1, 1), date(2021, 12, 31), seed=7)
    per_year = events["alert_time"].dt.year.value_counts()
    assert per_year[2016] == pytest.approx(89_946, rel=0.02)  # SDIS 91, 2016
    assert per_year[2021] == pytest.approx(94_500, rel=0.02)  # "> 94,000" in 2021
    assert per_year.between(86_000, 97_000).all()
    suap = events[events["category"] == "SUAP"]["alert_time"].dt.year.value_counts()
    growth = (suap[2021] / suap[2016]) ** (1 / 5) - 1
    assert growth == pytest.approx(0.0185, abs=0.006)


def test_the_canonical_extract_contract(fit_period: pd.DataFrame, essonne: Territory) -> None:
    assert tuple(fit_period.columns) == CANONICAL_COLUMNS
    assert str(fit_period["alert_time"].dt.tz) == "Europe/Paris"
    assert fit_period["intervention_id"].is_unique
    assert fit_period["alert_time"].is_monotonic_increasing
    assert fit_period["alert_time"].min() >= pd.Timestamp(FIT_START, tz="Europe/Paris")
    assert fit_period["alert_time"].max() < pd.Timestamp(date(2015, 12, 28), tz="Europe/Paris")
    assert set(fit_period["commune_code"]) <= essonne.commune_codes
    assert set(fit_period["station_code"]) <= {s.code for s in essonne.stations}
    box = essonne.bounding_box
    assert fit_period["latitude"].between(box.lat_min, box.lat_max).all()
    assert fit_period["longitude"].between(box.lon_min, box.lon_max).all()
    assert not fit_period.isna().any().any()


def test_first_stations_come_from_the_coverage_shares(
    fit_period: pd.DataFrame, essonne: Territory
) -> None:
    shares = essonne.shares_by_commune()
    zone_of = {s.code: s.coverage_zone for s in essonne.stations}
    sample = fit_period.iloc[::50]
    zones = sample["station_code"].map(zone_of)
    allowed = [z in shares[c] for c, z in zip(sample["commune_code"], zones, strict=True)]
    assert all(allowed)
    evry = fit_period[fit_period["commune_code"] == "91228"]  # Évry: shares EVRY / CORBE ...
    top_zone = max(shares["91228"], key=shares["91228"].__getitem__)
    observed = (evry["station_code"].map(zone_of) == top_zone).mean()
    assert observed == pytest.approx(shares["91228"][top_zone], abs=0.02)


def test_night_trough_and_day_plateau(fit_period: pd.DataFrame) -> None:
    suap = fit_period[fit_period["category"] == "SUAP"]["alert_time"].dt.hour.value_counts()
    assert suap[[4, 5]].mean() < 0.4 * suap[list(range(10, 20))].mean()
    weekend_night = fit_period["alert_time"].dt.day_of_week.isin([5, 6]) & (
        fit_period["alert_time"].dt.hour < 4
    )
    share_weekend_night = weekend_night.mean()
    assert share_weekend_night > (2 / 7) * fit_period["alert_time"].dt.hour.lt(4).mean()


def test_engagement_durations(fit_period: pd.DataFrame) -> None:
    durations = fit_period.groupby("category")["duration_min"]
    assert 45 <= durations.median()["SUAP"] <= 60
    suap = fit_period.loc[fit_period["category"] == "SUAP", "duration_min"]
    assert suap.quantile(0.99) > 3 * suap.median()  # heavy right tail
    assert durations.median()["INCN"] > durations.median()["SUAP"]
    assert (
        fit_period["duration_min"]
        .between(profiles.DURATION_MIN_FLOOR, profiles.DURATION_MAX_MIN)
        .all()
    )


def test_festive_nights_and_holidays_lift_the_expected_rates(essonne: Territory) -> None:
    start, end = date(2023, 12, 24), date(2024, 1, 8)
    grid = calendar.hourly_grid(start, end, essonne.timezone)
    days = calendar.day_calendar(start, end, essonne)
    rate = rates.expected_counts(grid, days, np.ones((len(days.dates), 5)))
    incu = profiles.CATEGORIES.index("INCU")
    new_year_night = (grid.day == 8) & (grid.local_hour < 3)  # 1 January 2024, 0-3 h
    week_later = (grid.day == 15) & (grid.local_hour < 3)  # 8 January
    assert rate[new_year_night, incu].sum() > 3 * rate[week_later, incu].sum()
    assert days.holiday[days.dates.index(date(2024, 1, 1))]
    assert days.school_holiday[days.dates.index(date(2023, 12, 27))]  # zone C, Christmas
    assert not days.school_holiday[days.dates.index(date(2024, 1, 8))]


def test_bridges(essonne: Territory) -> None:
    days = calendar.day_calendar(date(2022, 10, 29), date(2024, 5, 12), essonne)
    bridges = {d for d, b in zip(days.dates, days.bridge, strict=True) if b}
    assert date(2022, 10, 31) in bridges  # Monday before All Saints' Tuesday
    assert date(2024, 5, 10) in bridges  # Friday after Ascension Thursday
    assert date(2024, 5, 9) not in bridges  # the holiday itself


def test_daylight_saving_days(essonne: Territory) -> None:
    spring = calendar.hourly_grid(date(2024, 3, 31), date(2024, 3, 31), essonne.timezone)
    autumn = calendar.hourly_grid(date(2024, 10, 27), date(2024, 10, 27), essonne.timezone)
    assert spring.utc_seconds.size == 23
    assert autumn.utc_seconds.size == 25
    assert 2 not in spring.local_hour
    events = generate_events(essonne, date(2024, 10, 26), date(2024, 10, 28), seed=3)
    assert events["intervention_id"].is_unique
    assert events["alert_time"].is_monotonic_increasing


def test_same_seed_same_events_and_another_seed_others(essonne: Territory) -> None:
    a = generate_events(essonne, date(2024, 2, 1), date(2024, 2, 10), seed=11)
    b = generate_events(essonne, date(2024, 2, 1), date(2024, 2, 10), seed=11)
    c = generate_events(essonne, date(2024, 2, 1), date(2024, 2, 10), seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_population_fallback_for_another_territory(essonne: Territory) -> None:
    renamed = tuple(
        dataclasses.replace(c, code=f"X{c.code}") for c in essonne.communes if c.population > 0
    )
    other = dataclasses.replace(
        essonne, name="elsewhere", communes=renamed, coverage_shares=(), stations=()
    )
    weights = places.suap_weights(other)
    population = np.array([c.population for c in renamed], dtype=float)
    np.testing.assert_allclose(weights, population / population.sum())
    events = generate_events(other, date(2024, 6, 1), date(2024, 6, 3), seed=1)
    assert events["commune_code"].str.startswith("X").all()


def test_a_commune_missing_from_the_figures_gets_its_population_share(
    essonne: Territory,
) -> None:
    newcomer = Commune("91999", "Nouvelle-Commune", 20_000, 48.5, 2.2)
    territory = dataclasses.replace(essonne, communes=(*essonne.communes, newcomer))
    weights = places.suap_weights(territory)
    population = sum(c.population for c in essonne.communes)
    assert weights[-1] / weights[:-1].sum() == pytest.approx(20_000 / population)
