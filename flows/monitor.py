"""Prefect flow `monitor`: how past forecasts fared, drift, and a retrain when it degrades.

Artifacts: `monitor-summary-<territory>` (the verdict, the alerts, the MLflow run) and, when
forecasts with actuals were scored, the tables `monitor-accuracy-<territory>` and
`monitor-drift-<territory>`; with nothing to score, the summary alone says why.

A degraded assessment is loud: the run ends Failed with the alerts as its message, publishes
them as a markdown artifact, and triggers a run of the territory's `weekly-retrain`
deployment (when one is registered: `previsecours serve` registers it).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun, State
from prefect.states import Completed, Failed

from flows.artifacts import key, records
from flows.retry import IO_RETRIES
from previsecours.pipelines import monitor as pipeline
from previsecours.settings import Settings, load_settings

RETRAIN_FLOW = "weekly-retrain"


@task(name="score-past-forecasts", cache_policy=NO_CACHE, **IO_RETRIES)
def assess(settings: Settings) -> pipeline.MonitorResult:
    return pipeline.run_monitor(settings)


@task(name="publish-monitoring", cache_policy=NO_CACHE)
def publish(result: pipeline.MonitorResult) -> None:
    territory = result.territory
    lines = [f"# Monitoring — {result.territory}", "", result.summary(), ""]
    # A level shift of the history is an alert whether forecasts were scored or not.
    lines += [f"- **{a}**" for a in result.alerts]
    if result.assessment is not None:
        if not result.alerts:
            lines.append("No alert.")
        accuracy = result.assessment.accuracy.round(4)
        create_table_artifact(
            records(accuracy),
            key=key("monitor-accuracy", territory),
            description="Past forecasts vs actuals, per grain and level",
        )
        drift = result.assessment.drift.table.round(4)
        create_table_artifact(
            records(drift),
            key=key("monitor-drift", territory),
            description="Recent data vs the same weeks a year earlier",
        )
    if result.run_id:
        lines += ["", f"MLflow monitoring run: `{result.run_id}`"]
    create_markdown_artifact(
        "\n".join(lines),
        key=key("monitor-summary", territory),
        description="Forecast accuracy and drift",
    )


@task(name="trigger-retrain", cache_policy=NO_CACHE, **IO_RETRIES)
def trigger_retrain(territory: str, home: str | None) -> str | None:
    """Start a run of the territory's weekly-retrain deployment now; None if none exists."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    name = f"{RETRAIN_FLOW}/{territory}"
    try:
        run = run_deployment(
            name, parameters={"territory": territory, "home": home}, timeout=0, as_subflow=False
        )
    except ObjectNotFound:
        get_run_logger().warning("no deployment %s: run `previsecours train` by hand", name)
        return None
    return str(cast(FlowRun, run).id)


@flow(name="monitor", log_prints=True)
def monitor(territory: str | None = None, home: str | None = None, retrain: bool = True) -> State:
    """Score past forecasts against actuals; on degradation, fail loudly and retrain."""
    settings = load_settings(territory, Path(home) if home else None)
    result = assess(settings)
    publish(result)
    print(result.summary())
    if not result.degraded:
        return Completed(message=result.summary())
    retrain_run = trigger_retrain(settings.territory.name, home) if retrain else None
    note = f"; retrain run {retrain_run} started" if retrain_run else ""
    return Failed(message=result.summary() + note)


if __name__ == "__main__":
    monitor()
