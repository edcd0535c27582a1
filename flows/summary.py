"""A parent run's story: one line per step, in the run's logs and in one markdown artifact.

`weekly-retrain`, `daily-forecast` and `ingest-inbox` run each step as a subflow; on its own the
parent run would show two log lines and no artifact. `Story` runs each subflow, logs one line
for it with the parent's run logger as soon as it ends, and publishes a markdown artifact
(`<flow>-<territory>`, e.g. `weekly-retrain-essonne`) with one row per step: its outcome, a
link to the subflow run and links to the artifacts that run published. A step that fails still
gets its row (FAILED and the message) and the summary is published before the error goes on.

Links are absolute when Prefect knows its UI's address (`PREFECT_UI_URL`, else derived from
`PREFECT_API_URL`); otherwise — a run on the temporary API, the demo's for instance — they are
relative (`/runs/flow-run/<id>`), which resolves when the artifact is read in the Prefect UI
that later serves the same database (`make serve`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State

from flows.artifacts import key


def ui_base() -> str | None:
    """The Prefect UI's address when one is configured or derivable from the API's."""
    from prefect.settings import PREFECT_UI_URL

    base = PREFECT_UI_URL.value()
    return str(base).rstrip("/") if base else None


def ui_link(path: str) -> str:
    """`<UI>/<path>`, or `/<path>` (relative to the UI) when no UI address is known."""
    base = ui_base()
    return f"{base}/{path}" if base else f"/{path}"


def flow_run_link(run_id: UUID | str) -> str:
    return ui_link(f"runs/flow-run/{run_id}")


def task_run_link(run_id: UUID | str) -> str:
    return ui_link(f"runs/task-run/{run_id}")


def artifact_link(artifact_id: UUID | str) -> str:
    return ui_link(f"artifacts/artifact/{artifact_id}")


@dataclass(frozen=True)
class Published:
    """An artifact a run published: its key and id."""

    key: str
    id: UUID


def published_by(flow_run_id: UUID) -> tuple[Published, ...]:
    """The keyed artifacts of one flow run (its tasks' included), oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])),
            sort=ArtifactSort.CREATED_DESC,
        )
    return tuple(Published(a.key, a.id) for a in reversed(found) if a.key)


@dataclass(frozen=True)
class Step:
    """One row of the story: a step's outcome, and where to read more."""

    name: str
    outcome: str
    run_id: UUID | None = None
    run_kind: str = "flow-run"  # or task-run
    artifacts: tuple[Published, ...] = ()

    def run_cell(self) -> str:
        if self.run_id is None:
            return "—"
        link = flow_run_link if self.run_kind == "flow-run" else task_run_link
        return f"[{self.name} run]({link(self.run_id)})"

    def artifacts_cell(self) -> str:
        return " · ".join(f"[{a.key}]({artifact_link(a.id)})" for a in self.artifacts) or "—"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class Story:
    """What a parent flow run did, step by step: logged as it goes, published at the end."""

    def __init__(self, flow: str, territory: str, title: str) -> None:
        self.key = key(flow, territory)
        self.title = title
        self.steps: list[Step] = []

    def add(self, step: Step, level: int = logging.INFO) -> None:
        self.steps.append(step)
        where = f" (run {flow_run_link(step.run_id)})" if step.run_id else ""
        get_run_logger().log(level, "%s: %s%s", step.name, step.outcome, where)

    def note(self, name: str, outcome: str, level: int = logging.INFO) -> None:
        """A step that ran no subflow (skipped, or done in the parent itself)."""
        self.add(Step(name, outcome), level)

    def run(
        self,
        name: str,
        subflow: Callable[..., Any],
        params: Mapping[str, Any],
        describe: Callable[[Any], str],
        *,
        tolerate_failure: bool = False,
    ) -> Any:
        """Run `subflow(**params)`, add its row (`describe(result)`), return its result.

        With `tolerate_failure` the subflow's final state is what is described and returned
        (the monitor ends Failed by design when accuracy degraded); otherwise a failure adds a
        FAILED row, publishes the story so far and raises."""
        state: State = subflow(**params, return_state=True)
        run_id = state.state_details.flow_run_id
        artifacts = published_by(run_id) if run_id else ()
        if tolerate_failure:
            self.add(Step(name, describe(state), run_id, artifacts=artifacts))
            return state
        try:
            value = state.result()
        except BaseException:
            failed = f"FAILED — {state.message or state.name}"
            self.add(Step(name, failed, run_id, artifacts=artifacts), logging.ERROR)
            self.publish()
            raise
        self.add(Step(name, describe(value), run_id, artifacts=artifacts))
        return value

    def artifact_keys(self) -> dict[str, list[str]]:
        """Each step's artifact keys, for a caller that prints where to look."""
        return {s.name: [a.key for a in s.artifacts] for s in self.steps if s.artifacts}

    def markdown(self) -> str:
        from prefect.runtime import flow_run

        lines = [
            f"# {self.title}",
            "",
            f"Flow run `{flow_run.name}`: one row per step; each step's own run, logs and "
            "artifacts are linked.",
            "",
            "| step | outcome | run | artifacts |",
            "|---|---|---|---|",
            *(
                f"| {s.name} | {_cell(s.outcome)} | {s.run_cell()} | {s.artifacts_cell()} |"
                for s in self.steps
            ),
        ]
        if ui_base() is None:
            lines += [
                "",
                "Links are relative to the Prefect UI (no `PREFECT_UI_URL` or `PREFECT_API_URL` "
                "was set for this run): open them from the UI that serves this database.",
            ]
        return "\n".join(lines)

    def publish(self) -> None:
        create_markdown_artifact(
            self.markdown(), key=self.key, description=f"{self.title}: what each step did"
        )
