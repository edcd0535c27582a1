"""Fit the extract generator on SDIS 91's real counts and write its figures module.

Reads the reference data (../shared/data/sdis91 by default; `--data DIR` for another copy) and
writes `src/previsecours/core/generator/figures.py`, so the generator never reads the reference
data at run time. Run it again to refit:

    .venv/bin/python scripts/fit_generator.py [--data DIR] [--out FILE]

What it fits, per category (SUAP, ACCI, INCU, INCN, AUTR), from the weekly totals 2010-2015
divided by the generator's own calendar (so holidays, bridges, school holidays and festive
nights are not counted twice):
- annual levels: SUAP on a fixed +1.85 %/year trend (SDIS 91's published growth), the other
  categories year by year; after 2015 the other categories follow two published totals
  (89,946 interventions in 2016, > 94,000 in 2021: 94,500 is used) given SUAP's trend, scaled
  until the generator's own expected total of those years (its calendar and the mean of its
  seeded episodes included) equals them; beyond 2021 each category keeps its last growth;
- the week-of-year profile: mean of the six years (median for AUTR, whose storms are drawn
  as episodes), smoothed over three weeks for the small INCN and AUTR, net of flu for SUAP;
  it carries the summer exodus (August ~0.8x) and the December rise;
- the flu effect on SUAP (lift per unit of the Réseau Sentinelles weekly incidence) and the
  peak lifts of the real winters, from which the generator draws its seeded epidemics;
- the over-dispersion left once trend, profile, calendar and Poisson noise are explained;
- AUTR's storm weeks (how often, how big), drawn by the generator as seeded episodes;
- the share of each commune in the annual SUAP (mean of the six years' shares).
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from previsecours.adapters.territory_files import load_territory
from previsecours.core.generator import calendar, figures, profiles, rates
from previsecours.core.generator.episodes import draw_episodes

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sdis91"
DEFAULT_OUT = REPO / "src" / "previsecours" / "core" / "generator" / "figures.py"
CATEGORIES = profiles.CATEGORIES
FIT_YEARS = range(2010, 2016)
SUAP_GROWTH = 0.0185  # SDIS 91: SUAP grows ~1.85 % a year
ANCHOR_TOTALS = {2016: 89_946, 2021: 94_500}  # 89,946 in 2016; "> 94,000" in 2021
WEEKS_PER_YEAR = 365.25 / 7
SMOOTHED = ("INCN", "AUTR")  # few counts or storm-driven: smoothed over three weeks
# A week is a storm week when AUTR exceeds this multiple of its profile (Xynthia, floods).
STORM_THRESHOLD = 2.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    weekly = read_weekly(args.data / "weekly_totals_by_category_2010_2015.csv")
    annual = pd.read_csv(
        args.data / "annual_suap_by_commune_2010_2015.csv", dtype={"ope_code_insee": str}
    )
    fitted = fit(weekly, annual)
    anchor_to_totals(fitted)
    text = render(fitted)
    args.out.write_text(text, encoding="utf-8")
    # The module is committed: keep it in the repository's format (ruff is a dev dependency).
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", str(args.out)], check=True)
    print(f"wrote {args.out}")


def read_weekly(path: Path) -> pd.DataFrame:
    weekly = pd.read_csv(path)
    weekly["year"] = weekly["yearweek"] // 100
    weekly["week"] = weekly["yearweek"] % 100
    return weekly[weekly["year"].isin(FIT_YEARS)].reset_index(drop=True)


def weekly_calendar(weekly: pd.DataFrame) -> pd.DataFrame:
    """The generator's calendar factor of each real ISO week (mean daily rate, ~1)."""
    territory = load_territory(REPO / "territories" / "essonne.yaml")
    start = dt.date.fromisocalendar(FIT_YEARS[0], 1, 1)
    end = dt.date.fromisocalendar(FIT_YEARS[-1], 52, 7)
    grid = calendar.hourly_grid(start, end, territory.timezone)
    days = calendar.day_calendar(start, end, territory)
    hourly = pd.DataFrame(calendar.calendar_rates(grid, days), columns=list(CATEGORIES))
    iso = pd.DatetimeIndex([days.dates[i] for i in grid.day]).isocalendar()
    hourly["year"], hourly["week"] = iso["year"].to_numpy(), iso["week"].to_numpy()
    factors = hourly.groupby(["year", "week"])[list(CATEGORIES)].sum() / 7
    return weekly[["year", "week"]].join(factors, on=["year", "week"])[list(CATEGORIES)]


def fit(weekly: pd.DataFrame, annual: pd.DataFrame) -> dict[str, Any]:
    adjusted = weekly[list(CATEGORIES)] / weekly_calendar(weekly).to_numpy()
    adjusted[["year", "week"]] = weekly[["year", "week"]]
    flu = fit_flu(weekly, adjusted)
    adjusted["SUAP"] /= 1.0 + flu["lift_per_incidence"] * weekly["inc_grippe"]
    per_year = adjusted.groupby("year")[list(CATEGORIES)].agg(["sum", "count"])
    observed = {
        c: per_year[(c, "sum")] * WEEKS_PER_YEAR / per_year[(c, "count")] for c in CATEGORIES
    }
    knots, growth_after = level_knots(observed)
    level_of_year = {
        c: pd.Series(knots[c][: len(FIT_YEARS)], index=list(FIT_YEARS)) for c in CATEGORIES
    }
    ratio = pd.DataFrame({"year": adjusted["year"], "week": adjusted["week"]})
    for c in CATEGORIES:
        ratio[c] = adjusted[c] / (adjusted["year"].map(level_of_year[c]) / WEEKS_PER_YEAR)
    profile = week_of_year(ratio)
    storms = fit_storms(ratio, profile)
    # Storms are drawn as episodes: AUTR's level is the volume without them.
    knots["AUTR"] = [v * (1.0 - storms["excess_share"]) for v in knots["AUTR"]]
    dispersion = fit_dispersion(ratio, profile, observed, storms)
    return {
        "knot_years": [y + 0.5 for y in FIT_YEARS] + [y + 0.5 for y in ANCHOR_TOTALS],
        "knots": knots,
        "growth_after": growth_after,
        "week_of_year": profile,
        "dispersion": dispersion,
        "flu": flu,
        "storms": storms,
        "commune_share": commune_shares(annual),
        "real_annual": {c: {int(y): float(v) for y, v in observed[c].items()} for c in CATEGORIES},
    }


def fit_flu(weekly: pd.DataFrame, adjusted: pd.DataFrame) -> dict[str, Any]:
    """SUAP lift per unit of flu incidence, from weeks compared with the same week of other years.

    Regressing the deviation of each week from its week-of-year mean on the deviation of its flu
    incidence removes the season (which carries both), leaving the epidemic's own effect.
    """
    suap = np.log(adjusted["SUAP"])
    suap_dev = suap - suap.groupby(adjusted["year"]).transform("mean")
    suap_dev -= suap_dev.groupby(adjusted["week"]).transform("mean")
    incidence = weekly["inc_grippe"].astype(float)
    inc_dev = incidence - incidence.groupby(weekly["week"]).transform("mean")
    lift = float((suap_dev * inc_dev).sum() / (inc_dev**2).sum())
    lift = max(lift, 0.0)
    season = np.where(weekly["week"] <= 26, weekly["year"] - 1, weekly["year"])
    peaks = incidence.groupby(season).max()
    peaks = peaks[peaks > 0]
    return {
        "lift_per_incidence": lift,
        "peak_lifts": [round(lift * float(p), 4) for p in peaks],
    }


def level_knots(observed: dict[str, pd.Series]) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Annual levels at mid-year knots: the fit years, then the two published totals."""
    years = np.array(list(FIT_YEARS), dtype=float)
    knot_years = [*years.tolist(), *ANCHOR_TOTALS]
    log_growth = np.log1p(SUAP_GROWTH)
    suap_ref = float(np.exp(np.mean(np.log(observed["SUAP"].to_numpy()) - log_growth * years)))

    def suap(year: float) -> float:
        return suap_ref * float(np.exp(log_growth * year))

    others = [c for c in CATEGORIES if c != "SUAP"]
    last = {c: float(observed[c].iloc[-1]) for c in others}
    split = {c: last[c] / sum(last.values()) for c in others}
    knots: dict[str, list[float]] = {"SUAP": [suap(y) for y in knot_years]}
    for c in others:
        anchored = [(total - suap(y)) * split[c] for y, total in ANCHOR_TOTALS.items()]
        knots[c] = [float(v) for v in observed[c].to_numpy()] + anchored
    (y0, t0), (y1, t1) = ANCHOR_TOTALS.items()
    other_growth = float(((t1 - suap(y1)) / (t0 - suap(y0))) ** (1 / (y1 - y0)) - 1)
    growth_after = {c: (SUAP_GROWTH if c == "SUAP" else other_growth) for c in CATEGORIES}
    return knots, growth_after


def week_of_year(ratio: pd.DataFrame) -> dict[str, list[float]]:
    """Weeks 1-52, mean 1: mean of the years; the median for AUTR, whose storms are episodes."""
    out: dict[str, list[float]] = {}
    for c in CATEGORIES:
        by_week = ratio.groupby("week")[c]
        profile = (by_week.median() if c == "AUTR" else by_week.mean()).reindex(range(1, 53))
        values = profile.interpolate(limit_direction="both").to_numpy()
        if c in SMOOTHED:
            values = 0.25 * np.roll(values, 1) + 0.5 * values + 0.25 * np.roll(values, -1)
        out[c] = [round(float(v), 5) for v in values / values.mean()]
    return out


def fit_storms(ratio: pd.DataFrame, profile: dict[str, list[float]]) -> dict[str, float]:
    """AUTR storm weeks: how often, and the excess they bring (a share of AUTR's volume)."""
    expected = ratio["week"].map(lambda w: profile["AUTR"][w - 1])
    excess = ratio["AUTR"] / expected
    storm = excess > STORM_THRESHOLD
    return {
        "weeks_per_year": float(storm.sum() / len(FIT_YEARS)),
        "mean_week_multiplier": float(excess[storm].mean()) if storm.any() else 1.0,
        "excess_share": float((excess[storm] - 1).sum() / excess.sum()),
    }


def fit_dispersion(
    ratio: pd.DataFrame,
    profile: dict[str, list[float]],
    observed: dict[str, pd.Series],
    storms: dict[str, float],
) -> dict[str, float]:
    """Gamma shape of a day's multiplier: the weekly variance Poisson noise does not explain.

    A week sums seven independent daily multipliers, so their variance is seven times the
    weekly excess; the residual of a six-year profile is shrunk by 5/6, hence the correction.
    """
    out: dict[str, float] = {}
    n_years = len(FIT_YEARS)
    for c in CATEGORIES:
        expected = ratio["week"].map(lambda w, c=c: profile[c][w - 1])
        relative = ratio[c] / expected
        if c == "AUTR":
            relative = relative[relative <= STORM_THRESHOLD]
        mean_week = float(observed[c].mean()) / WEEKS_PER_YEAR
        excess = float(relative.var()) * n_years / (n_years - 1) - 1.0 / mean_week
        out[c] = round(1.0 / max(7.0 * excess, 1e-3), 3)
    return out


def commune_shares(annual: pd.DataFrame) -> dict[str, float]:
    totals = annual.groupby("ope_annee")["nb_ope"].transform("sum")
    shares = (annual["nb_ope"] / totals).groupby(annual["ope_code_insee"]).sum()
    shares /= shares.sum()
    return {str(k): round(float(v), 7) for k, v in shares.sort_index().items()}


def anchor_to_totals(f: dict[str, Any], rounds: int = 4, draws: int = 64) -> None:
    """Scale the non-SUAP levels of each anchor year until the generator's expected total of
    that year (calendar, profile and the mean of its seeded episodes included) is the anchor."""
    territory = load_territory(REPO / "territories" / "essonne.yaml")
    others = [c for c in CATEGORIES if c != "SUAP"]
    for _ in range(rounds):
        for i, (year, target) in enumerate(ANCHOR_TOTALS.items()):
            expected = expected_year(f, territory, year, draws)
            other_total = sum(expected[c] for c in others)
            factor = (target - expected["SUAP"]) / other_total
            for c in others:
                f["knots"][c][len(FIT_YEARS) + i] *= factor
        (y0, _), (y1, _) = ANCHOR_TOTALS.items()
        k0, k1 = len(FIT_YEARS), len(FIT_YEARS) + 1
        for c in others:
            f["growth_after"][c] = (f["knots"][c][k1] / f["knots"][c][k0]) ** (1 / (y1 - y0)) - 1
    for year, target in ANCHOR_TOTALS.items():
        total = sum(expected_year(f, territory, year, draws).values())
        print(f"expected {year}: {total:,.0f} interventions (anchor {target:,})")


def expected_year(f: dict[str, Any], territory: Any, year: int, draws: int) -> dict[str, float]:
    """Expected interventions of a year by category, with candidate figures `f` installed."""
    for name, _, value in constants(f):
        setattr(figures, name, value)
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    grid = calendar.hourly_grid(start, end, territory.timezone)
    days = calendar.day_calendar(start, end, territory)
    day_calendar = np.zeros((len(days.dates), len(CATEGORIES)))
    np.add.at(day_calendar, grid.day, calendar.calendar_rates(grid, days))
    mean_episodes = np.mean(
        [draw_episodes(days, np.random.default_rng(seed)) for seed in range(draws)], axis=0
    )
    totals = (rates.daily_levels(days, mean_episodes) * day_calendar).sum(axis=0)
    return dict(zip(CATEGORIES, (float(v) for v in totals), strict=True))


def render(f: dict[str, Any]) -> str:
    """The figures as a typed Python module (diff-friendly, no file read at run time)."""
    header = (
        '"""SDIS 91 figures of the extract generator.\n\n'
        "Fitted by scripts/fit_generator.py on ../shared/data/sdis91 (2010-2015): do not edit,\n"
        "refit. Levels are calendar-adjusted interventions a year at mid-year knots; week-of-year\n"
        "profiles have mean 1 over weeks 1-52; dispersion is the gamma shape of a day's\n"
        "multiplier; commune shares are of the annual SUAP; REAL_ANNUAL is what was fitted.\n"
        '"""\n\nfrom __future__ import annotations\n\nfrom typing import Final\n\n'
    )
    return header + "".join(f"{n}: Final[{k}] = {v!r}\n" for n, k, v in constants(f))


def constants(f: dict[str, Any]) -> list[tuple[str, str, object]]:
    """(name, type, value) of each constant of the figures module."""
    return [
        ("LEVEL_KNOT_YEARS", "tuple[float, ...]", tuple(f["knot_years"])),
        (
            "LEVEL_KNOTS",
            "dict[str, tuple[float, ...]]",
            {c: tuple(round(v, 1) for v in vs) for c, vs in f["knots"].items()},
        ),
        (
            "GROWTH_BEFORE",
            "dict[str, float]",
            dict.fromkeys(CATEGORIES, 0.0) | {"SUAP": SUAP_GROWTH},
        ),
        (
            "GROWTH_AFTER",
            "dict[str, float]",
            {c: round(v, 5) for c, v in f["growth_after"].items()},
        ),
        (
            "WEEK_OF_YEAR",
            "dict[str, tuple[float, ...]]",
            {c: tuple(v) for c, v in f["week_of_year"].items()},
        ),
        ("DISPERSION", "dict[str, float]", f["dispersion"]),
        ("FLU_LIFT_PER_INCIDENCE", "float", f["flu"]["lift_per_incidence"]),
        ("FLU_PEAK_LIFTS", "tuple[float, ...]", tuple(f["flu"]["peak_lifts"])),
        ("STORMS", "dict[str, float]", {k: round(v, 4) for k, v in f["storms"].items()}),
        ("COMMUNE_SUAP_SHARE", "dict[str, float]", f["commune_share"]),
        (
            "REAL_ANNUAL",
            "dict[str, dict[int, float]]",
            {c: {y: round(v, 1) for y, v in d.items()} for c, d in f["real_annual"].items()},
        ),
    ]


if __name__ == "__main__":
    main()
