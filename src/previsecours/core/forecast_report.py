"""Summaries of a forecast for people: next days per station, the periods to watch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from previsecours.core.forecast_schema import ALL_CATEGORIES


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
