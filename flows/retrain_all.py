"""Prefect flow `retrain-all`: every territory retrained, the compute fanned out on Dask.

Thin by design (logic in `previsecours.ops.retrain_all`):
- one `fit-territory` task per territory is submitted to the flow's task runner — a Dask
  cluster (`DaskTaskRunner`: a local one started for the run, or an existing scheduler's
  address), or one thread at a time without Dask. These tasks only compute;
- as each fit completes, `record-territory` runs in the flow's own process (backtest files,
  MLflow run and version, promotion to `champion`): recording overlaps the other fits, and the
  registry and DVC keep a single writer.
A territory that fails does not stop the others; the flow fails at the end, naming it.

The run's markdown artifact `retrain-all` has one row per territory (version, champion,
promotion, where it was fitted, timings, links to its `fit-…` and `record-…` task runs), and the
run's log one line per territory as it is recorded.

With Dask, a real Prefect server is required (`flows.runners.require_prefect_server`).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed

from flows.retry import IO_RETRIES
from flows.runners import DaskCluster, task_runner
from flows.summary import task_run_link
from previsecours.ops import retrain_all as pipeline
from previsecours.paths import Project
from previsecours.settings import Settings, load_settings


@task(name="fit-territory", task_run_name="fit-{settings.territory.name}", cache_policy=NO_CACHE)
def fit_territory(settings: Settings, data_version: str) -> pipeline.TerritoryFit:
    return pipeline.fit_territory(settings, data_version)


@task(
    name="record-territory",
    task_run_name="record-{settings.territory.name}",
    cache_policy=NO_CACHE,
    **IO_RETRIES,
)
def record_territory(settings: Settings, fit: pipeline.TerritoryFit) -> pipeline.Retrained:
    return pipeline.record_territory(settings, fit, now=datetime.now(UTC))


def _links(runs: dict[str, Any]) -> str:
    return " · ".join(f"[{step}]({task_run_link(run_id)})" for step, run_id in runs.items())


def _line(r: pipeline.Retrained) -> str:
    verdict = "promoted" if r.promoted else "not promoted"
    return f"version {r.version} {verdict} (champion: version {r.champion}) — {r.reason}"


def _summary(
    done: list[pipeline.Retrained], failed: dict[str, str], runs: dict[str, dict[str, Any]]
) -> str:
    lines = [
        "# Retrain of every territory",
        "",
        "| territory | version | champion | promoted | fit on | fit s | recorded s | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(done, key=lambda r: r.territory):
        fit_s = sum(v for k, v in r.seconds.items() if k not in ("logging", "promotion"))
        recorded_s = r.seconds.get("logging", 0.0) + r.seconds.get("promotion", 0.0)
        lines.append(
            f"| {r.territory} | {r.version} | {r.champion} | {r.promoted} | "
            f"{r.worker.host}:{r.worker.pid} | {fit_s:.1f} | {recorded_s:.1f} | "
            f"{_links(runs.get(r.territory, {}))} |"
        )
    lines += [
        f"| {name} | failed: {error} | | | | | | {_links(runs.get(name, {}))} |"
        for name, error in failed.items()
    ]
    return "\n".join(lines)


@flow(name="retrain-all", log_prints=True)
def retrain_all(territories: list[str] | None = None, home: str | None = None) -> dict[str, Any]:
    """Retrain and promote every territory (all of `territories/` when none is named)."""
    logger = get_run_logger()
    home_path = Path(home) if home else None
    project = Project.locate()
    names = territories or [str(p) for p in pipeline.territory_files(project.territories)]
    settings = [load_settings(name, home_path, project) for name in names]
    from previsecours.adapters.versioning import data_version

    submitted: list[tuple[PrefectFuture[pipeline.TerritoryFit], Settings]] = [
        (fit_territory.submit(s, data_version(s.paths, s.territory.name)), s) for s in settings
    ]
    by_id = {future.task_run_id: s for future, s in submitted}
    done: list[pipeline.Retrained] = []
    failed: dict[str, str] = {}
    runs: dict[str, dict[str, Any]] = {}
    for future in as_completed([f for f, _ in submitted]):
        s = by_id[future.task_run_id]
        name = s.territory.name
        runs[name] = {"fit": future.task_run_id}
        try:
            state = record_territory(s, future.result(), return_state=True)
            runs[name]["record"] = state.state_details.task_run_id
            retrained: pipeline.Retrained = state.result()
        except Exception as exc:  # one territory's failure must not stop the others
            logger.error("%s: FAILED — %r", name, exc)
            failed[name] = repr(exc)
            continue
        done.append(retrained)
        logger.info("%s: %s", name, _line(retrained))
    create_markdown_artifact(
        _summary(done, failed, runs),
        key="retrain-all",
        description="Retrain of every territory: one row per territory",
    )
    if failed:
        raise RuntimeError(f"retrain-all: {len(failed)} territories failed: {sorted(failed)}")
    return {"territories": {r.territory: asdict(r) for r in done}}


def run(
    territories: list[str] | None, home: str | None, cluster: DaskCluster | None
) -> dict[str, Any]:
    """`retrain_all` on the task runner `cluster` asks for."""
    flow_with_runner: Any = retrain_all.with_options(task_runner=task_runner(cluster))
    result: dict[str, Any] = flow_with_runner(territories=territories, home=home)
    return result
