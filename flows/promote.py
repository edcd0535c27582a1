"""Prefect flows `promote` and `rollback`: the CLI's `previsecours promote` / `rollback`.

Thin by design: the tasks call `previsecours.pipelines.promote`; the flows publish the decision
(both models' metrics per level on the same window, the guards, the reason) as a markdown
artifact, `promotion-decision-<territory>` (`rollback-<territory>` for a rollback). The decision
is also kept as tags on the model version in the MLflow registry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import key
from flows.retry import IO_RETRIES
from previsecours.pipelines import promote as pipeline
from previsecours.settings import Settings, load_settings


@task(name="score-and-decide", cache_policy=NO_CACHE, **IO_RETRIES)
def score_and_decide(settings: Settings, version: int | None) -> pipeline.PromoteResult:
    return pipeline.run_promote(settings, now=datetime.now(UTC), version=version)


@task(name="move-champion-back", cache_policy=NO_CACHE, **IO_RETRIES)
def move_back(settings: Settings) -> pipeline.RollbackOutcome:
    return pipeline.run_rollback(settings, now=datetime.now(UTC))


@flow(name="promote", log_prints=True)
def promote(
    territory: str | None = None, home: str | None = None, version: int | None = None
) -> dict[str, Any]:
    """Re-score challenger and champion on the same latest window; promote if better."""
    settings = load_settings(territory, Path(home) if home else None)
    result = score_and_decide(settings, version)
    create_markdown_artifact(
        result.markdown(),
        key=key("promotion-decision", settings.territory.name),
        description=f"Promotion of version {result.challenger}: {result.decision.outcome}",
    )
    get_run_logger().info("%s", result.decision.reason)
    return {
        "challenger": result.challenger,
        "promoted": result.decision.promoted,
        "champion": result.champion_after,
        "reason": result.decision.reason,
    }


def outcome_line(decision: dict[str, Any]) -> str:
    """One line for a parent run: the verdict on the challenger, and why."""
    verdict = "promoted" if decision["promoted"] else "refused"
    champion = decision["champion"]
    now = f"champion: version {champion}" if champion is not None else "no champion"
    return f"version {decision['challenger']} {verdict} ({now}) — {decision['reason']}"


@flow(name="rollback", log_prints=True)
def rollback(territory: str | None = None, home: str | None = None) -> dict[str, Any]:
    """Move `champion` back to `previous-champion`."""
    settings = load_settings(territory, Path(home) if home else None)
    outcome = move_back(settings)
    create_markdown_artifact(
        outcome.markdown(),
        key=key("rollback", settings.territory.name),
        description="Champion rollback",
    )
    return {"champion": outcome.result.restored, "demoted": outcome.result.demoted}
