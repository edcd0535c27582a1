"""The flows that make the steps one platform: weekly retrain, daily forecast, inbox watch.

Each step is a subflow of its own (so its artifacts and logs sit under their own run, linked to
the parent in the UI); their tasks retry failures that a second try can fix (files, sockets, a
locked sqlite database: `flows/retry.py`), never deterministic ones. Steps run one after the
other: each needs the previous one's output, and DVC wants a single writer.

The parent run tells the story (`flows/summary.py`): one log line per step as it ends, and a
markdown artifact `<flow>-<territory>` (`weekly-retrain-essonne`, `daily-forecast-essonne`,
`ingest-inbox-essonne`) with each step's outcome and links to its run and artifacts. An
`ingest-inbox` poll that finds the inbox empty starts no subflow and publishes nothing: one log
line, "nothing to ingest".
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run

from flows import forecast as forecast_flow
from flows import ingest as ingest_flow
from flows import promote as promote_flow
from flows.forecast import forecast
from flows.ingest import ingest
from flows.monitor import monitor
from flows.promote import promote
from flows.summary import Story
from flows.train import train
from previsecours.adapters.ingest_files import pending_files
from previsecours.settings import Settings, load_settings


def _accepted_rows(reports: list[dict[str, Any]]) -> int:
    return sum(int(r.get("rows_added", 0)) + int(r.get("rows_replaced", 0)) for r in reports)


def _settings(territory: str | None, home: str | None) -> Settings:
    return load_settings(territory, Path(home) if home else None)


def _monitor_line(state: State) -> str:
    return state.message or state.name or "no message"


def _train_line(trained: dict[str, Any]) -> str:
    return f"version {trained['version']} registered; {trained['rmsse']}"


@flow(name="weekly-retrain", log_prints=True)
def weekly_retrain(territory: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Ingest the inbox, check past forecasts, retrain, promote if better, forecast."""
    name = _settings(territory, home).territory.name
    story = Story("weekly-retrain", name, f"Weekly retrain — {name}")
    params: dict[str, Any] = {"territory": territory, "home": home}
    reports = story.run("ingest", ingest, params, ingest_flow.outcome_line)
    # The retrain is already under way: the monitor reports, it does not trigger another one.
    health = story.run(
        "monitor", monitor, {**params, "retrain": False}, _monitor_line, tolerate_failure=True
    )
    trained = story.run("train", train, params, _train_line)
    decision = story.run("promote", promote, params, promote_flow.outcome_line)
    if decision["champion"] is None:
        # No version has ever beaten seasonal naive: there is nothing trustworthy to forecast with.
        issued: dict[str, Any] = {"skipped": "no champion: " + decision["reason"]}
        story.note("forecast", f"skipped — {issued['skipped']}", logging.WARNING)
    else:
        issued = story.run("forecast", forecast, params, forecast_flow.outcome_line)
    story.publish()
    return {
        "run": flow_run.name,
        "ingest": reports,
        "ingested_rows": _accepted_rows(reports),
        "monitor": health.message,
        "trained_version": trained.get("version"),
        "rmsse": trained.get("rmsse"),
        "promotion": decision,
        "forecast": issued,
        "summary": story.key,
        "artifacts": story.artifact_keys(),
    }


@flow(name="daily-forecast", log_prints=True)
def daily_forecast(territory: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Forecast the coming days with the current champion."""
    name = _settings(territory, home).territory.name
    story = Story("daily-forecast", name, f"Daily forecast — {name}")
    params = {"territory": territory, "home": home}
    result: dict[str, Any] = story.run("forecast", forecast, params, forecast_flow.outcome_line)
    story.publish()
    return {
        **result,
        "run": flow_run.name,
        "summary": story.key,
        "artifacts": story.artifact_keys(),
    }


@flow(name="ingest-inbox", log_prints=True)
def ingest_inbox(territory: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Pick up new extracts from the inbox; when data arrived, monitor past forecasts."""
    settings = _settings(territory, home)
    if not pending_files(settings.paths):
        get_run_logger().info("nothing to ingest: %s holds no new extract", settings.paths.inbox)
        return {"extracts": 0, "rows_added": 0}
    name = settings.territory.name
    story = Story("ingest-inbox", name, f"Inbox — {name}")
    params: dict[str, Any] = {"territory": territory, "home": home}
    reports = story.run("ingest", ingest, params, ingest_flow.outcome_line)
    added = _accepted_rows(reports)
    outcome: dict[str, Any] = {
        "run": flow_run.name,
        "ingest": reports,
        "extracts": len(reports),
        "rows_added": added,
        "summary": story.key,
    }
    if not added:
        story.note("monitor", "not run: no new rows")
    else:
        state = story.run(
            "monitor", monitor, {**params, "retrain": True}, _monitor_line, tolerate_failure=True
        )
        outcome["monitor"] = state.message
    story.publish()
    outcome["artifacts"] = story.artifact_keys()
    return outcome
