"""Summaries of a forecast for people: next days per station, the periods to watch, and the
warnings a forecast carries (data that ended long ago, a champion whose backtest is biased)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from previsecours.core.forecast_schema import ALL_CATEGORIES
from previsecours.core.history import History
from previsecours.core.schema import Frequency
from previsecours.core.territory import Territory


def station_days(forecast: pd.DataFrame) -> pd.DataFrame:
    """Next days per station, all categories: expected interventions, 80 % interval, peak hour."""
    station = forecast[(forecast["level"] == "station") & (forecast["category"] == ALL_CATEGORIES)]
    daily = station[station["frequency"] == "day"]
    hourly = station[station["frequency"] == "hour"].copy()
    hourly["day"] = pd.to_datetime(hourly["period_start"]).dt.normalize()
    peak = hourly.loc[hourly.groupby(["area_code", "day"])["mean"].idxmax()]
    peak_hour = {
        (a, d): f"{t.hour:02d}h"
        for a, d, t in zip(peak["area_code"], peak["day"], peak["period_start"], strict=True)
    }
    daily = daily.sort_values(["area_code", "period_start"], kind="stable")
    days = pd.to_datetime(daily["period_start"]).dt.normalize()
    return pd.DataFrame(
        {
            "station": daily["area_code"].to_numpy(),
            "name": daily["area_name"].to_numpy(),
            "day": days.dt.strftime("%a %d/%m").to_numpy(),
            "expected": daily["mean"].round(1).to_numpy(),
            "interval_80": [
                f"{lo:.0f}–{hi:.0f}" for lo, hi in zip(daily["p10"], daily["p90"], strict=True)
            ],
            "peak_hour": [
                peak_hour.get((a, d), "") for a, d in zip(daily["area_code"], days, strict=True)
            ],
        }
    )


NO_CREWS = "No crews in this forecast."
# A champion whose backtest bias at the territory's total level is beyond ±this % is flagged
# (the forecast step's metadata and warnings, the dashboard's banner).
BIAS_WARNING_PCT = 10.0
_GRAIN_FORMAT = {"hour": "%a %d/%m %Hh", "day": "%a %d/%m", "week": "week of %d/%m/%Y"}


def riskiest_markdown(
    forecast: pd.DataFrame,
    shifts: pd.DataFrame,
    metadata: Mapping[str, Any],
    issued_at: pd.Timestamp,
    start: pd.Timestamp,
    *,
    top: int = 5,
    total_label: str = "département",
) -> str:
    """The periods to watch: busiest periods of the whole territory (its finest grain: hours,
    or days or weeks for a store of counts), most loaded station shifts — or, without crews
    (no station level, counts only), one sentence saying why (`metadata["staffing"]["note"]`).
    """
    total = forecast[
        (forecast["level"] == "departement") & (forecast["category"] == ALL_CATEGORIES)
    ]
    grain = next((g for g in _GRAIN_FORMAT if (total["frequency"] == g).any()), "hour")
    busiest = total[total["frequency"] == grain].nlargest(top, "mean")
    lines = [
        f"## Forecast issued {issued_at:%Y-%m-%d %H:%M} UTC — periods to watch",
        "",
        f"Model {metadata['model_name']} version {metadata['model_version']}, "
        f"data {metadata['data_version']}, from {start:%Y-%m-%d %H:%M}.",
        *(f"\n**Warning:** {w}" for w in metadata.get("warnings", ())),
        "",
        f"### Busiest {grain}s for the {total_label}",
        "",
        f"| {grain} | expected | 80 % interval | same {grain}, last 3 years |",
        "|---|---|---|---|",
        *(
            f"| {pd.Timestamp(r['period_start']).strftime(_GRAIN_FORMAT[grain])} | "
            f"{r['mean']:.1f} | {r['p10']:.0f}–{r['p90']:.0f} | {_fmt(r['ref_3y_mean'])} |"
            for r in busiest.to_dict("records")
        ),
        "",
        "### Station shifts with the highest simultaneous demand",
        "",
    ]
    if shifts.empty:
        staffing = metadata.get("staffing")
        note = staffing.get("note") if isinstance(staffing, Mapping) else None
        return "\n".join([*lines, note or NO_CREWS])
    loaded = shifts.astype({"expected_peak_concurrency": float}).nlargest(
        top, "expected_peak_concurrency"
    )
    lines += [
        "| station | shift | expected interventions | peak in progress | crews recommended |",
        "|---|---|---|---|---|",
        *(
            f"| {r['station_name']} | {r['shift']} {pd.Timestamp(r['shift_start']):%a %d/%m %Hh}"
            f" | {r['expected_interventions']:.1f} | {r['expected_peak_concurrency']:.2f} | "
            f"{r['recommended_crews']} |"
            for r in loaded.to_dict("records")
        ),
    ]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return "—" if pd.isna(value) else f"{value:.1f}"


# Data older than this (by the model's frequency) when the forecast is made is flagged: the
# forecast starts right after the data, so it would forecast the past.
STALE_AFTER = {
    "hour": pd.Timedelta(days=7),
    "day": pd.Timedelta(days=7),
    "week": pd.Timedelta(days=21),
}


def stale_data(
    history: History, territory: Territory, frequency: Frequency, now: pd.Timestamp
) -> dict[str, Any] | None:
    """When the data ended long before `now` (more than a week for hourly and daily models,
    three weeks for weekly ones): the forecast starts right after the data, in the past.
    The data's end is the end of their last period (`History.forecast_origin`)."""
    if not len(history):
        return None
    end = history.forecast_origin(territory, frequency)
    age = utc(now) - utc(end)
    limit = STALE_AFTER.get(frequency, pd.Timedelta(days=7))
    if age <= limit:
        return None
    return {
        "data_end": end.isoformat(),
        "age_days": round(age / pd.Timedelta(days=1), 1),
        "limit_days": limit.days,
        "text": (
            f"the data end on {end:%Y-%m-%d %H:%M}, {age.days} days before now (more than "
            f"{limit.days} days for a {frequency}ly model): the forecast starts right after "
            "them, not today — ingest recent data, or give --start"
        ),
    }


def champion_backtest(tags: Mapping[str, str]) -> dict[str, Any]:
    """The champion's headline backtest metrics from its registry tags (`metrics_summary`, and
    the bias at the territory's total level from `decision_table`), with a warning when that
    bias is beyond ±`BIAS_WARNING_PCT` %. Empty when the version carries no decision."""
    out: dict[str, Any] = {}
    if tags.get("metrics_summary"):
        out["metrics_summary"] = tags["metrics_summary"]
    try:
        table = json.loads(tags.get("decision_table") or "{}")
    except ValueError:
        table = {}
    bias: dict[str, float] = {}
    for key, values in table.items() if isinstance(table, dict) else ():
        level, _, metric = str(key).partition("|")
        if metric == "bias_pct" and level.startswith("departement") and values:
            value = values[0]  # [champion, reference, improvement]: it was the challenger
            if isinstance(value, int | float) and math.isfinite(value):
                bias[level] = float(value)
    if bias:
        out["bias_pct"] = bias
        worst_level, worst = max(bias.items(), key=lambda kv: abs(kv[1]))
        if abs(worst) > BIAS_WARNING_PCT:
            out["warning"] = (
                f"the champion's backtest bias at the total level is {worst:+.1f} % "
                f"({worst_level}), beyond ±{BIAS_WARNING_PCT:.0f} %: its forecasts run "
                f"{'high' if worst > 0 else 'low'}"
            )
    return out


def utc(t: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(t)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
