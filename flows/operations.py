"""The flows that make the steps one platform: weekly retrain, daily forecast, inbox watch.

Each step is a subflow of its own (so its artifacts and logs sit under their own run, linked to
the parent in the UI); their tasks retry failures that a second try can fix (files, sockets, a
locked sqlite database: `flows/retry.py`), never deterministic ones. Steps run one after the
other: each needs the previous one's output, and DVC wants a single writer.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.forecast import forecast
from flows.ingest import ingest
from flows.monitor import monitor
from flows.promote import promote
from flows.train import train


def _accepted_rows(reports: list[dict[str, Any]]) -> int:
    return sum(int(r.get("rows_added", 0)) + int(r.get("rows_replaced", 0)) for r in reports)


@flow(name="weekly-retrain", log_prints=True)
def weekly_retrain(territory: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Ingest the inbox, check past forecasts, retrain, promote if better, forecast."""
    reports = ingest(territory=territory, home=home)
    # The retrain is already under way: the monitor reports, it does not trigger another one.
    health = monitor(territory=territory, home=home, retrain=False, return_state=True)
    trained = train(territory=territory, home=home)
    decision = promote(territory=territory, home=home)
    if decision["champion"] is None:
        # No version has ever beaten seasonal naive: there is nothing trustworthy to forecast with.
        get_run_logger().warning("no champion yet (%s): forecast skipped", decision["reason"])
        issued: dict[str, Any] = {"skipped": "no champion: " + decision["reason"]}
    else:
        issued = forecast(territory=territory, home=home)
    return {
        "run": flow_run.name,
        "ingest": reports,
        "ingested_rows": _accepted_rows(reports),
        "monitor": health.message,
        "trained_version": trained.get("version"),
        "promotion": decision,
        "forecast": issued,
    }


@flow(name="daily-forecast", log_prints=True)
def daily_forecast(territory: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Forecast the coming days with the current champion."""
    result: dict[str, Any] = forecast(territory=territory, home=home)
    return result


@flow(name="ingest-inbox", log_prints=True)
def ingest_inbox(territory: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Pick up new extracts from the inbox; when data arrived, monitor past forecasts."""
    reports = ingest(territory=territory, home=home)
    added = _accepted_rows(reports)
    if not added:
        get_run_logger().info("inbox: nothing new")
        return {"extracts": len(reports), "rows_added": 0}
    state = monitor(territory=territory, home=home, retrain=True, return_state=True)
    return {"extracts": len(reports), "rows_added": added, "monitor": state.message}
