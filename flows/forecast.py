"""Prefect flow `forecast`: the CLI's `previsecours forecast`, with its results in the UI.

Thin by design: one task calls `previsecours.pipelines.forecast.run_forecast` (champion from
the registry → every level × area × category × hour, rollups, crews per station and shift,
drivers, files); the flow publishes a table of the next days per station (expected
interventions, 80 % interval, peak hour: `forecast-stations-<territory>`) and a markdown naming
the riskiest periods (`forecast-summary-<territory>`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import key
from flows.retry import IO_RETRIES
from previsecours.pipelines import forecast as pipeline
from previsecours.settings import Settings, load_settings


@task(name="forecast-all-levels", cache_policy=NO_CACHE, **IO_RETRIES)
def run(settings: Settings, horizon: str | None, start: str | None) -> pipeline.ForecastResult:
    return pipeline.run_forecast(
        settings,
        now=pd.Timestamp.now(tz="UTC"),
        horizon=horizon,
        start=pd.Timestamp(start) if start else None,
    )


@task(name="publish-forecast", cache_policy=NO_CACHE)
def publish(territory: str, result: pipeline.ForecastResult) -> None:
    days = pipeline.station_days(result.forecast)
    create_table_artifact(
        {str(column): days[column].tolist() for column in days.columns},
        key=key("forecast-stations", territory),
        description="Next days per station: expected interventions, 80 % interval, peak hour",
    )
    timings = "\n".join(f"| {k} | {v:.1f} |" for k, v in result.seconds.items())
    create_markdown_artifact(
        f"{pipeline.riskiest_markdown(result)}\n\n| step | seconds |\n|---|---|\n{timings}\n\n"
        f"Files: `{result.files.forecast}` (+ `.csv`, `.staffing.parquet`, "
        "`.drivers.parquet`, `.json`).",
        key=key("forecast-summary", territory),
        description="Periods to watch",
    )


@flow(name="forecast", log_prints=True)
def forecast(
    territory: str | None = None,
    home: str | None = None,
    horizon: str | None = None,
    start: str | None = None,
) -> dict[str, Any]:
    """Forecast the territory with its champion model and publish what to watch."""
    settings = load_settings(territory, Path(home) if home else None)
    result = run(settings, horizon, start)
    publish(settings.territory.name, result)
    first = pd.Timestamp(result.forecast["period_start"].min())
    get_run_logger().info("forecast from %s written to %s", first, result.files.forecast)
    return {
        "issued_at": result.issued_at.isoformat(),
        "first_period": first.isoformat(),
        "file": str(result.files.forecast),
        "model_version": result.metadata["model_version"],
        "seconds": result.seconds,
    }


def outcome_line(issued: dict[str, Any]) -> str:
    """One line for a parent run: the first period forecast, the model, the file."""
    return (
        f"from {issued['first_period']} with model version {issued['model_version']}: "
        f"{issued['file']}"
    )
