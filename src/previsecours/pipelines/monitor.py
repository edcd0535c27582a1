"""Monitoring: past forecasts against the actuals that have arrived since, and data drift.

Composes `core.monitoring` with the stores: the forecasts (from `forecasts/<territory>/`) of
the last `recent_days` (28) that the actuals now cover; the actuals from the curated store,
counted per level with the training panel code (so a forecast and its actual are counted
exactly alike); the result logged to MLflow as a monitoring run of the
territory's experiment. The Prefect flow `monitor` publishes it and triggers a retrain.

Drift reference: the same 4 weeks one year earlier (weekday-aligned, 364 days) — seasonal
patterns such as the August exodus then do not pass for drift; the preceding 4 weeks when the
store does not reach back a year.

A recent level shift of the stored history (`core.level_shift.recent_level_shift`: a recording
change, a merger of services) is an alert too, forecasts scored or not, events or counts: the
models learned the level before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from previsecours.adapters import forecast_files, store, tracking
from previsecours.core.history import History
from previsecours.core.level_shift import recent_level_shift
from previsecours.core.monitoring import (
    MonitorAssessment,
    accuracy_by_level,
    as_issued,
    assess,
    drift,
    join_actuals,
    seasonal_naive,
)
from previsecours.core.schema import Frequency
from previsecours.settings import Settings

GRAINS: tuple[Frequency, ...] = ("hour", "day")
LEVELS = ("commune", "station", "departement")


@dataclass(frozen=True)
class MonitorResult:
    territory: str
    covered_until: pd.Timestamp | None
    issues_scored: int
    assessment: MonitorAssessment | None
    run_id: str | None
    why_not: str = "no forecast with actuals"  # when nothing was assessed
    history_alerts: tuple[str, ...] = ()  # of the history itself: a level shift

    @property
    def alerts(self) -> tuple[str, ...]:
        scored = self.assessment.alerts if self.assessment is not None else ()
        return self.history_alerts + scored

    @property
    def degraded(self) -> bool:
        return bool(self.alerts)

    def summary(self) -> str:
        state = "DEGRADED — " + "; ".join(self.alerts) if self.degraded else "healthy"
        if self.assessment is None:
            nothing = f"{self.territory}: nothing to monitor yet ({self.why_not})"
            return f"{nothing}; {state}" if self.degraded else nothing
        return (
            f"{self.territory}: {self.issues_scored} forecast issue(s) scored against actuals"
            f" up to {self.covered_until}: {state}"
        )


def past_forecasts(settings: Settings, since: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Stored forecast rows at the monitored grains for periods from `since`, with their issue
    time and origin; and how many issues had such rows. Only those rows are read: the store of
    past issues grows every day, the monitored window does not."""
    paths, name = settings.paths, settings.territory.name
    frames = []
    for stamp in forecast_files.list_issues(paths, name):
        rows = forecast_files.read_forecast_rows(
            paths, name, stamp, frequencies=GRAINS, since=since
        )
        if rows.empty:
            continue
        metadata = forecast_files.read_metadata(paths, name, stamp)
        # The issue's data ended at its first period (`start`; the rows' earliest otherwise).
        origin = pd.Timestamp(metadata["start"]) if "start" in metadata else None
        frames.append(
            rows.assign(
                issued_at=pd.Timestamp(metadata["issued_at"]),
                origin=origin if origin is not None else rows["period_start"].min(),
            )
        )
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), len(frames)


def actual_counts(
    history: History, settings: Settings, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Counts per grain × level × area × category (and ALL) in [start, end)."""
    frames = []
    for grain in GRAINS:
        panels = history.level_actuals(settings.territory, LEVELS, grain, start=start, end=end)
        for level, panel in panels.items():
            frames.append(panel.to_frame().assign(frequency=grain, level=level))
    return pd.concat(frames, ignore_index=True)


def drift_windows(
    events: pd.DataFrame, end: pd.Timestamp, days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, recent) events: the recent weeks and the same weeks a year earlier."""
    recent_start = end - pd.Timedelta(days=days)
    t = events["alert_time"]
    recent = events[(t >= recent_start) & (t < end)]
    year = pd.Timedelta(days=364)
    reference = events[(t >= recent_start - year) & (t < end - year)]
    if reference.empty:
        reference = events[(t >= recent_start - pd.Timedelta(days=days)) & (t < recent_start)]
    return reference, recent


def run_monitor(settings: Settings) -> MonitorResult:
    params = settings.params.monitor
    name = settings.territory.name
    history = store.read_history(settings.paths, settings.territory)
    shift = recent_level_shift(history, settings.territory)
    shifted = (shift.alert(),) if shift is not None else ()
    if history.empty or history.is_counts:
        why = "no interventions stored"
        if history.is_counts:
            # Drift and the hourly/daily scoring read events; counts-only monitoring is not built.
            why = "the store holds counts only: monitoring needs event-level extracts"
        return MonitorResult(name, None, 0, None, None, why_not=why, history_alerts=shifted)
    events = history.frame
    covered_until = history.end(settings.territory, "hour")
    since = covered_until - pd.Timedelta(days=params.recent_days)
    forecasts, issues = past_forecasts(settings, since)
    if forecasts.empty:
        return MonitorResult(name, covered_until, issues, None, None, history_alerts=shifted)
    kept = as_issued(forecasts)
    kept = kept[kept["period_end"] <= covered_until]
    if kept.empty:
        return MonitorResult(name, covered_until, issues, None, None, history_alerts=shifted)
    week = pd.Timedelta(days=7)
    actuals = actual_counts(history, settings, kept["period_start"].min() - week, covered_until)
    joined = join_actuals(kept, actuals, covered_until)
    accuracy = accuracy_by_level(joined, seasonal_naive(actuals))
    reference, recent = drift_windows(events, covered_until, params.recent_days)
    assessment = assess(
        accuracy,
        drift(reference, recent),
        params.thresholds,
        watched=(params.watched_grain, params.watched_level),
    )
    run_id = log_monitoring(settings, assessment, joined, covered_until, shifted)
    return MonitorResult(name, covered_until, issues, assessment, run_id, history_alerts=shifted)


def daily_errors(joined: pd.DataFrame) -> pd.DataFrame:
    """Département × day absolute error and coverage, one row per day (accuracy over time)."""
    rows = joined[
        (joined["frequency"] == "day")
        & (joined["level"] == "departement")
        & (joined["category"] == "ALL")
    ]
    return pd.DataFrame(
        {
            "period_start": rows["period_start"],
            "abs_error": (rows["mean"] - rows["count"]).abs(),
            "covered80": ((rows["count"] >= rows["p10"]) & (rows["count"] <= rows["p90"])).astype(
                int
            ),
        }
    ).sort_values("period_start")


def log_monitoring(
    settings: Settings,
    assessment: MonitorAssessment,
    joined: pd.DataFrame,
    covered_until: pd.Timestamp,
    history_alerts: tuple[str, ...] = (),
) -> str:
    """A monitoring run in the territory's experiment: metrics per grain, and per day;
    `history_alerts` (a level shift) beside the assessment's alerts."""
    experiment = tracking.use_tracking(settings.paths, settings.territory.name)
    alerts = history_alerts + assessment.alerts
    tags = {
        "kind": "monitoring",
        "territory": settings.territory.name,
        "degraded": str(bool(alerts)).lower(),
        "covered_until": covered_until.isoformat(),
    }
    if history_alerts:
        tags["level_shift"] = "; ".join(history_alerts)
    run_name = f"monitor-{covered_until:%Y-%m-%d}"
    with tracking.training_run(experiment, run_name, tags) as run_id:
        for row in assessment.accuracy.itertuples():
            tracking.log_metrics(
                {
                    f"{row.level}_{row.frequency}_{metric}": float(getattr(row, metric))
                    for metric in ("mae", "rmse", "bias_pct", "coverage80", "relative_rmse")
                }
            )
        drift_table = assessment.drift.table
        tracking.log_metrics(
            {
                f"drift_{m}": float(v)
                for m, v in zip(drift_table["measure"], drift_table["value"], strict=True)
            }
        )
        daily = daily_errors(joined)
        for step, (error, covered) in enumerate(
            zip(daily["abs_error"], daily["covered80"], strict=True)
        ):
            tracking.log_metrics(
                {"departement_day_abs_error": float(error), "departement_day_covered80": covered},
                step=step,
            )
        tracking.log_frame(assessment.accuracy, "monitoring", "accuracy.csv")
        tracking.log_json({"alerts": list(alerts)}, "monitoring/alerts.json")
    return run_id
