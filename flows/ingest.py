"""Prefect flow `ingest`: the CLI's `previsecours ingest`, with its results shown in the UI.

Thin by design: each task calls `previsecours.pipelines.ingest`; the flow only publishes a
markdown summary and three tables (accepted extracts, quarantined rows, rejected extracts) as
artifacts of the run. Extracts are ingested one after the other: the store swap and DVC
assume a single writer, so there is nothing to gain from running them concurrently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.retry import IO_RETRIES
from previsecours.adapters.ingest_files import pending_files
from previsecours.core.ingest_report import IngestReport, summary_markdown, summary_tables
from previsecours.pipelines import ingest as pipeline
from previsecours.settings import Settings, load_settings


@task(name="ingest-extract", cache_policy=NO_CACHE, **IO_RETRIES)
def ingest_extract(settings: Settings, path: Path, options: pipeline.IngestOptions) -> IngestReport:
    report = pipeline.ingest_file(settings, path, options)
    get_run_logger().info(report.summary())
    return report


@task(name="publish-ingest-report", cache_policy=NO_CACHE)
def publish(reports: list[IngestReport]) -> None:
    create_markdown_artifact(
        summary_markdown(reports),
        key="ingest-summary",
        description="What was accepted, quarantined and rejected, and why",
    )
    for name, rows in summary_tables(reports).items():
        create_table_artifact(
            rows or [{"note": f"no {name} entries"}],
            key=f"ingest-{name}",
            description=f"Ingest: {name}",
        )


@flow(name="ingest", log_prints=True)
def ingest(  # noqa: PLR0917 - flow parameters are what the UI shows
    paths: list[str] | None = None,
    territory: str | None = None,
    fmt: str = "events",
    preset: str | None = None,
    frequency: str | None = None,
    replace: bool = False,
    home: str | None = None,
) -> list[dict[str, Any]]:
    """Ingest extracts (default: every new file of the inbox) into the curated store."""
    if fmt not in ("events", "counts"):
        raise ValueError(f"fmt must be events or counts, not {fmt!r}")
    settings = load_settings(territory, Path(home) if home else None)
    options = pipeline.IngestOptions(
        format="counts" if fmt == "counts" else "events",
        preset=preset,
        frequency=frequency,
        replace=replace,
    )
    files = [Path(p) for p in paths] if paths else pending_files(settings.paths)
    reports = [ingest_extract(settings, path, options) for path in files]
    publish(reports)
    return [r.to_dict() for r in reports]


if __name__ == "__main__":
    ingest()
