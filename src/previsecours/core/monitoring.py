"""Monitoring: how past forecasts fared against the actuals that have since arrived, and drift.

Guarantees:
- accuracy is computed only on periods the actuals fully cover, each forecast row compared with
  the count of its own level, area, category and period (a period with no event counts 0);
- every forecast row was made from data ending at its issue's origin (the first period it
  forecasts), so it is a true forecast whenever it was written; for each period the row kept is
  the one with the latest origin (ties: the latest issue) — what a planner had in hand;
- relative accuracy compares the model with the seasonal-naive forecast (same hour or same day
  one week earlier) on the same periods: above 1 the model did worse than naive;
- drift compares recent events with the training events by the population stability index of
  the hour-of-day and category mixes, and by the ratio of mean daily volumes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from previsecours.config import MonitorThresholds

KEYS = ["frequency", "level", "area_code", "category", "period_start"]
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class DriftReport:
    hour_psi: float
    category_psi: float
    volume_ratio: float
    table: pd.DataFrame


@dataclass(frozen=True)
class MonitorAssessment:
    accuracy: pd.DataFrame  # one row per frequency × level
    drift: DriftReport
    alerts: tuple[str, ...]

    @property
    def degraded(self) -> bool:
        return bool(self.alerts)


def as_issued(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Per period, the forecast from the latest origin (ties: the latest issue).

    `forecasts` carries `origin` (the first period its issue forecast) and `issued_at`.
    """
    usable = forecasts[forecasts["origin"] <= forecasts["period_start"]]
    ordered = usable.sort_values(["origin", "issued_at"], kind="stable")
    return ordered.drop_duplicates(KEYS, keep="last").reset_index(drop=True)


def join_actuals(
    forecasts: pd.DataFrame, actuals: pd.DataFrame, covered_until: pd.Timestamp
) -> pd.DataFrame:
    """Forecast rows whose period ended by `covered_until`, with their actual count (0 if none)."""
    done = forecasts[forecasts["period_end"] <= covered_until]
    joined = done.merge(actuals[[*KEYS, "count"]], on=KEYS, how="left")
    joined["count"] = joined["count"].fillna(0.0).astype("float64")
    return joined


def accuracy_by_level(joined: pd.DataFrame, naive: pd.DataFrame) -> pd.DataFrame:
    """MAE, RMSE, bias %, 80 % coverage and RMSE relative to seasonal naive, per grain.

    `naive` holds the seasonal-naive forecast (`naive` column) for the same keys.
    """
    data = joined.merge(naive[[*KEYS, "naive"]], on=KEYS, how="left")
    rows = []
    for (frequency, level), g in data.groupby(["frequency", "level"], sort=True):
        err = g["mean"] - g["count"]
        naive_err = (g["naive"] - g["count"]).dropna()
        naive_rmse = float(np.sqrt(np.mean(naive_err**2))) if len(naive_err) else float("nan")
        rmse = float(np.sqrt(np.mean(err**2)))
        total = float(g["count"].sum())
        rows.append(
            {
                "frequency": frequency,
                "level": level,
                "periods": int(g["period_start"].nunique()),
                "rows": len(g),
                "mae": float(err.abs().mean()),
                "rmse": rmse,
                "bias_pct": 100.0 * float(err.sum()) / total if total > 0 else float("nan"),
                "coverage80": float(((g["count"] >= g["p10"]) & (g["count"] <= g["p90"])).mean()),
                "relative_rmse": rmse / naive_rmse if naive_rmse > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def seasonal_naive(actuals: pd.DataFrame) -> pd.DataFrame:
    """Same period one week earlier, for hourly and daily rows (weekly rows: one week earlier)."""
    shifted = actuals[[*KEYS, "count"]].copy()
    shifted["period_start"] = shifted["period_start"] + pd.Timedelta(days=7)
    return shifted.rename(columns={"count": "naive"})


def population_stability(expected: pd.Series, observed: pd.Series) -> float:
    """PSI between two distributions given as counts over the same bins."""
    bins = expected.index.union(observed.index)
    e_counts = expected.reindex(bins, fill_value=0).to_numpy(dtype="float64")
    o_counts = observed.reindex(bins, fill_value=0).to_numpy(dtype="float64")
    e = np.maximum(e_counts / max(e_counts.sum(), 1.0), PSI_FLOOR)
    o = np.maximum(o_counts / max(o_counts.sum(), 1.0), PSI_FLOOR)
    return float(np.sum((o - e) * np.log(o / e)))


def drift(training: pd.DataFrame, recent: pd.DataFrame) -> DriftReport:
    """Hour-of-day and category PSI, and the ratio of mean daily volumes (recent / training)."""

    def hours(events: pd.DataFrame) -> pd.Series:
        counts: pd.Series = events["alert_time"].dt.hour.value_counts()
        return counts

    def daily_mean(events: pd.DataFrame) -> float:
        days = events["alert_time"].dt.normalize().nunique()
        return len(events) / days if days else float("nan")

    hour_psi = population_stability(hours(training), hours(recent))
    category_psi = population_stability(
        training["category"].value_counts(), recent["category"].value_counts()
    )
    ratio = daily_mean(recent) / daily_mean(training)
    table = pd.DataFrame(
        {
            "measure": ["hour_of_day_psi", "category_psi", "daily_volume_ratio"],
            "value": [hour_psi, category_psi, ratio],
        }
    )
    return DriftReport(hour_psi, category_psi, ratio, table)


def assess(
    accuracy: pd.DataFrame,
    drift_report: DriftReport,
    thresholds: MonitorThresholds,
    watched: tuple[str, str] = ("day", "departement"),
) -> MonitorAssessment:
    """Alerts when the watched grain degrades or the data drifts past the thresholds."""
    alerts: list[str] = []
    frequency, level = watched
    row = accuracy[(accuracy["frequency"] == frequency) & (accuracy["level"] == level)]
    if not row.empty and int(row["periods"].iloc[0]) * _hours(frequency) >= thresholds.min_periods:
        r = row.iloc[0]
        if r["relative_rmse"] > thresholds.max_relative_rmse:
            alerts.append(
                f"accuracy: {level}×{frequency} RMSE is {r['relative_rmse']:.2f}× the "
                f"seasonal-naive one (limit {thresholds.max_relative_rmse:.2f})"
            )
        if abs(r["bias_pct"]) > thresholds.max_abs_bias_pct:
            alerts.append(
                f"accuracy: {level}×{frequency} bias {r['bias_pct']:+.1f} % "
                f"(limit ±{thresholds.max_abs_bias_pct:.0f} %)"
            )
        low, high = thresholds.coverage80_band
        if not low <= r["coverage80"] <= high:
            band = f"{100 * low:.0f}–{100 * high:.0f} %"
            alerts.append(
                f"intervals: {level}×{frequency} 80 % interval covered "
                f"{100 * r['coverage80']:.0f} % (band {band})"
            )
    for name, value in (
        ("hour-of-day", drift_report.hour_psi),
        ("category", drift_report.category_psi),
    ):
        if value > thresholds.max_psi:
            alerts.append(f"drift: {name} mix PSI {value:.3f} > {thresholds.max_psi}")
    if abs(drift_report.volume_ratio - 1) > thresholds.max_volume_shift:
        alerts.append(f"drift: daily volume is {drift_report.volume_ratio:.2f}× the training mean")
    return MonitorAssessment(accuracy, drift_report, tuple(alerts))


def _hours(frequency: str) -> int:
    return {"hour": 1, "day": 24, "week": 168}.get(frequency, 1)
