"""Prefect flow `ingest`: the CLI's `previsecours ingest`, with its results shown in the UI.

Thin by design: each task calls `previsecours.pipelines.ingest`; the flow only publishes a
markdown summary (`ingest-summary-<territory>`) and the tables that have rows among accepted
extracts, quarantined rows and rejected extracts (`ingest-accepted-<territory>`, …) as
artifacts of the run. A run with no extract to read publishes nothing: one log line says so
(`ingest-inbox` polls every 15 minutes; empty artifacts would bury the real ones). Extracts
are ingested one after the other: the store swap and DVC assume a single writer, so there is
nothing to gain from running them concurrently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import key
from flows.retry import IO_RETRIES
from previsecours.adapters.ingest_files import pending_files
from previsecours.core.ingest_report import IngestReport, summary_markdown, summary_tables
from previsecours.errors import InputError
from previsecours.pipelines import ingest as pipeline
from previsecours.settings import Settings, load_settings


@task(name="ingest-extract", cache_policy=NO_CACHE, **IO_RETRIES)
def ingest_extract(settings: Settings, path: Path, options: pipeline.IngestOptions) -> IngestReport:
    report = pipeline.ingest_file(settings, path, options)
    logger = get_run_logger()
    logger.info(report.summary())
    for shift in report.level_shifts:  # a notice: the rows were accepted
        logger.warning(shift)
    return report


@task(name="publish-ingest-report", cache_policy=NO_CACHE)
def publish(territory: str, reports: list[IngestReport]) -> None:
    create_markdown_artifact(
        summary_markdown(reports),
        key=key("ingest-summary", territory),
        description="What was accepted, quarantined and rejected, and why",
    )
    for name, rows in summary_tables(reports).items():
        if rows:  # an empty table says less than the summary's count of 0
            create_table_artifact(
                rows, key=key(f"ingest-{name}", territory), description=f"Ingest: {name}"
            )


def outcome_line(reports: list[dict[str, Any]]) -> str:
    """One line for a parent run: extracts accepted / rejected, rows added, quarantined."""
    if not reports:
        return "nothing to ingest"
    accepted = [r for r in reports if r["status"] == "accepted"]

    def total(field: str) -> int:
        return sum(int(r.get(field, 0)) for r in reports)

    return (
        f"{len(reports)} extract(s): {len(accepted)} accepted, "
        f"{len(reports) - len(accepted)} rejected; {total('rows_read')} rows read, "
        f"{total('rows_added')} added, {total('rows_unchanged')} already stored, "
        f"{total('rows_replaced')} replaced, {total('rows_quarantined')} quarantined"
    ) + "".join(f"; {shift}" for r in reports for shift in r.get("level_shifts", ()))


def inbox_file(settings: Settings, path: str) -> Path:
    """A path a flow run was given, accepted only inside the home's inbox: the flow is
    reachable through the Prefect API, so it must not read whatever file it is pointed at."""
    inbox = settings.paths.inbox.resolve()
    candidate = Path(path)
    resolved = (candidate if candidate.is_absolute() else inbox / candidate).resolve()
    if not resolved.is_relative_to(inbox):
        raise InputError(f"{path}: the ingest flow reads extracts inside {inbox} only")
    return resolved


@flow(name="ingest", log_prints=True)
def ingest(  # noqa: PLR0917 - flow parameters are what the UI shows
    paths: list[str] | None = None,
    territory: str | None = None,
    fmt: str | None = None,  # None: the territory's (pipelines.ingest.extract_format)
    preset: str | None = None,
    frequency: str | None = None,
    replace: bool = False,
    home: str | None = None,
) -> list[dict[str, Any]]:
    """Ingest extracts (default: every new file of the inbox) into the curated store."""
    kind = pipeline.named_format(fmt)  # before anything is read: a wrong name fails at once
    settings = load_settings(territory, Path(home) if home else None)
    options = pipeline.IngestOptions(
        format=kind,
        preset=preset,
        frequency=frequency,
        replace=replace,
    )
    files = [inbox_file(settings, p) for p in paths] if paths else pending_files(settings.paths)
    if not files:
        get_run_logger().info("nothing to ingest: %s holds no new extract", settings.paths.inbox)
        return []
    reports = [ingest_extract(settings, path, options) for path in files]
    publish(settings.territory.name, reports)
    return [r.to_dict() for r in reports]


if __name__ == "__main__":
    ingest()
