"""The generator's own mean, to score forecasts against accuracy rather than realised noise.

Generated counts are Poisson draws around `expected × a daily gamma multiplier`: against actual
counts, a ranking over a few weeks is mostly that noise. The generator's expected counts (seeded
episodes × calendar × levels) are known, so forecasts can also be scored against them — the
noise-free truth. A station's truth is its expected counts per category times the category's
chance that the station answers first (commune weights × coverage shares, `generator.places`).

`scored_stations` gives each model's station × hour means as the evaluation scores them: after
the hierarchy's allocation (with `train.allocation: top_down` these are not the model's own
station outputs).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd


def generator_expected(
    territory: Any, start: dt.date, end: dt.date, seed: int
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """UTC hour starts and the generator's expected interventions [hour, category]."""
    from previsecours.core.generator import calendar, rates
    from previsecours.core.generator.episodes import draw_episodes
    from previsecours.core.generator.events import Streams

    grid = calendar.hourly_grid(start, end, territory.timezone)
    days = calendar.day_calendar(start, end, territory)
    expected = rates.expected_counts(grid, days, draw_episodes(days, Streams(seed)("episodes")))
    hours = pd.to_datetime(grid.utc_seconds, unit="s", utc=True)
    return pd.DatetimeIndex(hours), expected * rates.volume_scale(territory)


def station_truth(territory: Any, start: dt.date, end: dt.date, seed: int) -> pd.DataFrame:
    """period_start (UTC), area_code (zone), truth: expected interventions of every hour."""
    from previsecours.core.generator import places

    hours, expected = generator_expected(territory, start, end, seed)
    where = places.territory_places(territory)
    first = np.diff(where.station_cumulative, axis=1, prepend=0.0)  # [commune, station]
    frame = pd.DataFrame(expected @ (where.weights @ first), columns=list(where.station_codes))
    frame["period_start"] = hours
    return frame.melt("period_start", var_name="area_code", value_name="truth")


def scored_stations(outcome: Any, territory: Any) -> pd.DataFrame:
    """model, window, area_code, period_start, mean, actual: station × hour, all categories."""
    from previsecours.core.backtest import predictions_panel
    from previsecours.core.hierarchy import allocate

    result, hierarchy = outcome.result, outcome.hierarchy
    if hierarchy.model_level != "station":
        raise ValueError("station truth needs a model fitted at the station level")
    frames = []
    for (model, window), frame in result.predictions.groupby(["model", "window"], sort=False):
        series = frame[["area_code", "category"]].drop_duplicates().reset_index(drop=True)
        panel = predictions_panel(frame, series)
        levels = allocate(panel, hierarchy, territory.timezone, outcome.spec.frequency)
        station = levels["station"].to_frame()
        station = station[station["category"] == "ALL"].rename(columns={"count": "mean"})
        actual = frame.groupby(["area_code", "period_start"], as_index=False)["actual"].sum()
        merged = station.drop(columns="category").merge(actual, on=["area_code", "period_start"])
        frames.append(merged.assign(model=model, window=window))
    return pd.concat(frames, ignore_index=True)


def against_truth(
    stations: pd.DataFrame, truth: pd.DataFrame, timezone: str
) -> dict[str, pd.DataFrame]:
    """Per level (station × hour, station × day, département × day; whole local days only) and
    model: RMSE against actuals and against the truth, the truth's own RMSE against actuals,
    and the bias against the truth (%)."""
    frame = stations.assign(period_start=stations["period_start"].dt.tz_convert("UTC"))
    frame = frame.merge(truth, on=["period_start", "area_code"], how="left")
    if frame["truth"].isna().any():
        raise ValueError("forecasts for zones or hours the generator's truth does not cover")
    frame = whole_days(frame, truth, timezone)
    columns = ["mean", "actual", "truth"]
    levels = {
        "station × hour": frame,
        "station × day": frame.groupby(["model", "area_code", "day"])[columns].sum().reset_index(),
        "département × day": frame.groupby(["model", "day"])[columns].sum().reset_index(),
    }
    out = {}
    for name, level in levels.items():
        rows = {}
        for model, g in level.groupby("model"):
            rows[model] = {
                "rmse_vs_actual": _rmse(g["mean"], g["actual"]),
                "rmse_vs_truth": _rmse(g["mean"], g["truth"]),
                "truth_rmse_vs_actual": _rmse(g["truth"], g["actual"]),
                "bias_vs_truth_pct": float(100 * (g["mean"].sum() / g["truth"].sum() - 1)),
            }
        days = frame["day"].nunique()
        out[f"{name} ({days} whole days)"] = pd.DataFrame(rows).T.rename_axis("model")
    return out


def whole_days(frame: pd.DataFrame, truth: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """The rows of the local days a model forecast whole, with their `day`."""
    frame = frame.assign(day=frame["period_start"].dt.tz_convert(timezone).dt.date.to_numpy())
    local_days = truth["period_start"].drop_duplicates().dt.tz_convert(timezone).dt.date
    hours_a_day = local_days.value_counts()  # 23, 24 or 25
    found = frame.groupby(["model", "area_code", "day"])["period_start"].transform("size")
    return frame[found.to_numpy() == hours_a_day.reindex(frame["day"]).to_numpy()]


def day_errors(stations: pd.DataFrame, truth: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Forecast − actual of the département's whole days: one row per day, one column per model."""
    days = whole_days(stations, truth, timezone).groupby(["model", "day"])[["mean", "actual"]]
    return (days.sum()["mean"] - days.sum()["actual"]).unstack("model").dropna()


def paired_days(errors: pd.DataFrame, model: str = "catboost") -> pd.DataFrame:
    """`model` against each other model on the département's days (`day_errors`, possibly of
    several histories end to end): the mean difference of squared errors (negative: `model`
    better), its Diebold–Mariano t (Newey–West variance over a week of lags: errors of
    neighbouring days correlate) and the days `model` was closer."""
    rows = {}
    for other in (c for c in errors.columns if c != model):
        diff = (errors[model] ** 2 - errors[other] ** 2).to_numpy(np.float64)
        rows[other] = {
            "days": len(diff),
            "mean_sq_error_diff": float(diff.mean()),
            "dm_t": _dm_t(diff, lags=6),
            "days_closer": int((errors[model].abs() < errors[other].abs()).sum()),
        }
    return pd.DataFrame(rows).T.rename_axis(f"{model} vs")


def _dm_t(diff: np.ndarray, lags: int) -> float:
    n = len(diff)
    x = diff - diff.mean()
    gamma = [float(np.sum(x[k:] * x[: n - k]) / n) for k in range(lags + 1)]
    variance = gamma[0] + 2 * sum((1 - k / (lags + 1)) * gamma[k] for k in range(1, lags + 1))
    return float(diff.mean() / np.sqrt(variance / n)) if variance > 0 else float("nan")


def weekly_bias(stations: pd.DataFrame, truth: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per window, the département's week: forecast, actual and truth totals, and the gaps (%)."""
    frame = stations[stations["model"] == model]
    frame = frame.assign(period_start=frame["period_start"].dt.tz_convert("UTC"))
    frame = frame.merge(truth, on=["period_start", "area_code"], how="left")
    week = frame.groupby("window")[["mean", "actual", "truth"]].sum()
    week["first_day"] = frame.groupby("window")["period_start"].min().dt.date
    week["forecast_vs_actual_pct"] = 100 * (week["mean"] / week["actual"] - 1)
    week["forecast_vs_truth_pct"] = 100 * (week["mean"] / week["truth"] - 1)
    week["truth_vs_actual_pct"] = 100 * (week["truth"] / week["actual"] - 1)
    return week


def _rmse(a: pd.Series, b: pd.Series) -> float:
    return float(np.sqrt(np.mean((a.to_numpy(np.float64) - b.to_numpy(np.float64)) ** 2)))
