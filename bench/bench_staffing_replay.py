"""Replay of the crews recommendation on generated Essonne history.

Over a past year, how often did demand (interventions in progress, rebuilt from each event's
alert_time and duration_min) exceed the crews held at its station?
- forecast staffing: crews per station × shift from `core.staffing.plan_crews`, fed with hourly
  rates forecast by a seasonal profile learnt on the previous years (station × category ×
  hour of week, times a month-of-year factor per category) — no look at the replayed year;
- flat staffing: the same total crew-hours, held constant in time, spread over stations from
  their historical average load (greedy: each crew goes where it cuts the Poisson exceedance
  probability the most).

With `--model`, the rates also come from the real model: CatBoost trained (default settings,
one backtest window) on the years before the replayed one, forecasting each week of it from the
history known at its start.

Usage: .venv/bin/python bench/bench_staffing_replay.py [--train-years 3] [--seed 7] [--model]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from previsecours.adapters.territory_files import load_territory
from previsecours.config import Shift, StaffingPolicy
from previsecours.core.generator import generate_events
from previsecours.core.staffing import (
    exceedance_probability,
    measure_durations,
    non_working_dates,
    plan_crews,
)
from previsecours.core.territory import Territory

ROOT = Path(__file__).resolve().parents[1]
REPLAY_YEAR = 2024


def seasonal_rates(
    train: pd.DataFrame, hours: pd.DatetimeIndex, stations: list[str], categories: tuple[str, ...]
) -> pd.DataFrame:
    """Hourly rates per station × category for `hours`, from the training events only."""
    local = train["alert_time"]
    how = (local.dt.day_of_week * 24 + local.dt.hour).to_numpy()
    span_weeks = (local.max() - local.min()).total_seconds() / (7 * 24 * 3600)
    profile = (
        pd.DataFrame(
            {
                "station_code": train["station_code"].to_numpy(dtype=object),
                "category": train["category"].to_numpy(dtype=object),
                "how": how,
            }
        )
        .value_counts()
        .div(span_weeks)
        .rename("rate")
        .sort_index()
    )
    month = local.dt.month.to_numpy()
    by_month = pd.crosstab(train["category"].to_numpy(dtype=object), month)
    days_in_month = (
        pd.Series(pd.date_range(local.min().normalize(), local.max().normalize(), freq="D").month)
        .value_counts()
        .sort_index()
    )
    per_day = by_month / days_in_month.to_numpy()
    month_factor = per_day.div(per_day.mean(axis=1), axis=0)

    h_how = np.asarray(hours.day_of_week * 24 + hours.hour)
    h_month = np.asarray(hours.month)
    frames = []
    for station in stations:
        for category in categories:
            weekly = np.zeros(168)
            key = (station, category)
            if key in profile.index.droplevel("how").unique():
                part = profile.loc[key]
                weekly[part.index.to_numpy(dtype=int)] = part.to_numpy()
            factor = month_factor.loc[category].reindex(range(1, 13)).fillna(1.0).to_numpy()
            frames.append(
                pd.DataFrame(
                    {
                        "station_code": station,
                        "category": category,
                        "period_start": hours,
                        "period_end": hours + pd.Timedelta(hours=1),
                        "mean": weekly[h_how] * factor[h_month - 1],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def demand_vs_crews(
    events: pd.DataFrame, station: str, hour_starts: np.ndarray, crews: np.ndarray
) -> tuple[int, float]:
    """(hours whose peak demand exceeded the crews, minutes with demand above the crews)."""
    mine = events[events["station_code"] == station]
    start = mine["alert_time"].dt.tz_convert("UTC").dt.as_unit("s").astype("int64").to_numpy()
    end = start + np.round(mine["duration_min"].to_numpy() * 60).astype(np.int64)
    t = np.concatenate([end, hour_starts, start])
    delta = np.concatenate([-np.ones(end.size), np.zeros(hour_starts.size), np.ones(start.size)])
    order = np.lexsort((delta, t))  # at equal times: ends, then boundaries, then starts
    t, delta = t[order], delta[order]
    running = np.cumsum(delta)
    seg_len = np.diff(t, append=t[-1])
    hour = np.searchsorted(hour_starts, t, side="right") - 1
    inside = (hour >= 0) & (hour < hour_starts.size - 1) & (seg_len > 0)
    over = inside.copy()
    over[inside] = running[inside] > crews[hour[inside]]
    exceeded_hours = np.unique(hour[over]).size
    return exceeded_hours, float(seg_len[over].sum() / 60)


def flat_crews(avg_load: pd.Series, budget_crews: float, policy: StaffingPolicy) -> pd.Series:
    """Constant crews per station, Σ ≤ budget, greedy on the Poisson exceedance at avg load."""
    k = pd.Series(policy.min_crews, index=avg_load.index, dtype=np.int64)
    while k.sum() + 1 <= budget_crews:
        gain = exceedance_probability(avg_load, k) - exceedance_probability(avg_load, k + 1)
        k[avg_load.index[int(np.argmax(gain))]] += 1
    return k


VARIANTS = {
    "SDIS shifts (day working / day non-working / night)": StaffingPolicy(),
    "4-hour blocks": StaffingPolicy(
        shifts=tuple(Shift(f"{h:02d}-{h + 4:02d}h", h, (h + 4) % 24) for h in range(0, 24, 4))
    ),
}


def replay(
    events: pd.DataFrame, stations: list[str], hours: pd.DatetimeIndex, crews: pd.DataFrame
) -> dict[str, float]:
    """Exceedances of `crews` (station_code, period_start, crews) over the replayed hours."""
    hour_starts = hours.tz_convert("UTC").as_unit("s").asi8
    boundaries = np.append(hour_starts, hour_starts[-1] + 3600)
    by_station = crews.sort_values(["station_code", "period_start"]).groupby("station_code")
    total_hours, total_minutes, crew_hours = 0, 0.0, 0.0
    for station in stations:
        k = by_station.get_group(station)["crews"].to_numpy()
        crew_hours += k.sum()
        h, m = demand_vs_crews(events, station, boundaries, np.append(k, k[-1]))
        total_hours += h
        total_minutes += m
    station_hours = hours.size * len(stations)
    return {
        "crew-hours": int(crew_hours),
        "station-hours demand > crews": total_hours,
        "per station (h/year)": total_hours / len(stations),
        "time demand > crews (station-h)": total_minutes / 60,
        "share of time": total_minutes / 60 / station_hours,
    }


def model_rates(
    events: pd.DataFrame, territory: Territory, hours: pd.DatetimeIndex, home: Path
) -> pd.DataFrame:
    """Hourly station × category rates of the replayed year from weekly CatBoost forecasts.

    The model is trained (in `home`) on the events before the replayed year only; each week is
    then forecast from the history known at its Monday 00:00, as the forecast flow would.
    """
    import yaml

    from previsecours.adapters import store
    from previsecours.adapters.registry import use_registry
    from previsecours.adapters.tracking import load_forecaster
    from previsecours.core.hierarchy import allocate
    from previsecours.core.history import History
    from previsecours.core.panel import DensePanel
    from previsecours.core.training import history_panel
    from previsecours.paths import Project
    from previsecours.pipelines.train import train
    from previsecours.settings import load_settings

    params = yaml.safe_load(Project.locate().params_file.read_text(encoding="utf-8"))
    params["train"] = {**params.get("train", {}), "n_windows": 1}
    (home / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    settings = load_settings(territory.name, home)
    store.write_events(settings.paths, territory, events[events["alert_time"] < hours[0]])
    trained = train(settings, register=False)
    use_registry(settings.paths)
    forecaster = load_forecaster(trained.model_uri)
    spec, tz = forecaster.spec, territory.timezone
    panel = history_panel(
        forecaster,
        History.of_events(events),
        territory,
        hours[0] - pd.Timedelta(hours=spec.max_lag + 1),
        hours[-1] + pd.Timedelta(days=8),
    )
    stations_only = replace(
        forecaster.hierarchy, levels={"station": forecaster.hierarchy.levels["station"]}
    )
    frames = []
    # Issued every 6 days with a 7-day horizon: every hour is covered (DST weeks have 167 or
    # 169 hours); where two issues overlap the later one is kept, as it would be in use.
    for origin in pd.date_range(hours[0], hours[-1], freq="144h"):
        o = int(panel.starts.get_indexer(pd.DatetimeIndex([origin]))[0])
        known = panel.counts.copy()
        known[:, o:] = np.nan  # the model only sees what happened before the week
        means = forecaster.modelled_means(
            DensePanel(panel.series, panel.starts, known), territory, o, o + spec.horizon
        )
        frames.append(allocate(means, stations_only, tz, spec.frequency)["station"].to_frame())
    rates = pd.concat(frames, ignore_index=True)
    rates = rates[(rates["category"] != "ALL") & rates["period_start"].isin(hours)]
    rates = rates.drop_duplicates(["area_code", "category", "period_start"], keep="last")
    rates = rates.rename(columns={"area_code": "station_code", "count": "mean"})
    rates["period_end"] = rates["period_start"] + pd.Timedelta(hours=1)
    return rates.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--train-years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--model", action="store_true", help="also replay with weekly CatBoost forecasts"
    )
    args = parser.parse_args()
    territory: Territory = load_territory(ROOT / "territories" / "essonne.yaml")
    clock = time.perf_counter()
    first_year = REPLAY_YEAR - (5 if args.model else args.train_years)
    events = generate_events(
        territory, date(first_year, 1, 1), date(REPLAY_YEAR, 12, 31), args.seed
    )
    t_generate = time.perf_counter() - clock

    replay_from = pd.Timestamp(f"{REPLAY_YEAR}-01-01", tz=territory.timezone)
    profile_from = pd.Timestamp(f"{REPLAY_YEAR - args.train_years}-01-01", tz=territory.timezone)
    train = events[(events["alert_time"] >= profile_from) & (events["alert_time"] < replay_from)]
    replayed = events[events["alert_time"] >= replay_from - pd.Timedelta(days=2)]
    stations = sorted(territory.coverage_zones)
    hours = pd.date_range(
        replay_from,
        pd.Timestamp(f"{REPLAY_YEAR + 1}-01-01", tz=territory.timezone),
        freq="h",
        inclusive="left",
    )
    off = non_working_dates(
        hours[0].date(),
        hours[-1].date(),
        territory.holidays_country,
        territory.holidays_subdivision,
    )
    clock = time.perf_counter()
    sources = {"seasonal profile": seasonal_rates(train, hours, stations, territory.categories)}
    durations = measure_durations(train, territory.categories)
    t_profile = time.perf_counter() - clock
    t_model = 0.0
    if args.model:
        clock = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="replay-home-") as home:
            sources["CatBoost, weekly"] = model_rates(events, territory, hours, Path(home))
        t_model = time.perf_counter() - clock

    rows, t_plan, t_replay = [], 0.0, 0.0
    for source, rates in sources.items():
        for variant, policy in VARIANTS.items():
            clock = time.perf_counter()
            plan = plan_crews(rates, durations, policy, off)
            t_plan += time.perf_counter() - clock
            forecast = plan.hourly.rename(columns={"recommended_crews": "crews"})
            # Flat: each station's average load over the year (no time variation), the same
            # average crews on duty in total.
            avg_load = plan.hourly.groupby("station_code")["load"].mean()
            flat_k = flat_crews(avg_load, forecast["crews"].sum() / hours.size, policy)
            flat = forecast.assign(crews=flat_k.reindex(forecast["station_code"]).to_numpy())
            clock = time.perf_counter()
            label = f"{source}, {variant}"
            rows.append({"staffing": label, **replay(replayed, stations, hours, forecast)})
            rows.append(
                {"staffing": "  flat, same crew-hours", **replay(replayed, stations, hours, flat)}
            )
            t_replay += time.perf_counter() - clock
    table = pd.DataFrame(rows).set_index("staffing")
    n_replayed = int((events["alert_time"] >= replay_from).sum())
    target = StaffingPolicy().exceedance_target
    print(
        f"Replay {REPLAY_YEAR} on generated Essonne data (seed {args.seed}; profile learnt on the "
        f"{args.train_years} previous years): {n_replayed:,} interventions, {len(stations)} "
        f"stations, target P(N > k) ≤ {target:.2e} (5 h/year)"
    )
    with pd.option_context("display.width", 220, "display.max_columns", 10):
        print(table.round(5).to_string())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\ngenerate {t_generate:.1f} s · profile + durations {t_profile:.1f} s · model "
        f"(train + 61 forecasts) {t_model:.1f} s · plans {t_plan:.1f} s · replays "
        f"{t_replay:.1f} s · peak RSS {rss:.0f} MiB (machine shared: timings noisy)"
    )


if __name__ == "__main__":
    from benchlib.common import recorded

    with recorded(
        "staffing_replay",
        "Replay of the crews recommendation on generated Essonne history",
        (__doc__ or "").split("\n\n")[0],
    ):
        main()
