"""The platform's own flows under a real Prefect API: weekly retrain end to end, then a drop in
accuracy that the monitor catches and answers with a retrain run of the deployment."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from previsecours.adapters.export_files import write_export
from previsecours.core.generator import generate_events
from previsecours.core.generator.export import dispatch_export
from previsecours.core.territory import Territory
from previsecours.ops.generate import GenerateRequest, generate_extract
from previsecours.testing.small import write_small_params

if TYPE_CHECKING:
    from uuid import UUID

    from prefect.deployments.runner import RunnerDeployment

STEPS = {"ingest", "monitor", "train", "promote", "forecast"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, essonne: Territory) -> Path:
    home = tmp_path_factory.mktemp("operations-home")
    write_small_params(home)
    inbox = home / "data" / "inbox"
    history = generate_events(essonne, date(2024, 1, 1), date(2024, 4, 7), seed=21)
    write_export(dispatch_export(history, essonne, 21), inbox / "history.csv")
    dirty = GenerateRequest(
        date(2024, 4, 8), date(2024, 4, 14), 22, inbox / "dirty.csv", dirty=True
    )
    generate_extract(essonne, dirty)
    return home


def _children(client: Any, parent_id: Any) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    return list(
        client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])
            )
        )
    )


@pytest.mark.slow
def test_weekly_retrain_runs_every_step_and_publishes_their_artifacts(
    prefect_api: None, home: Path
) -> None:
    from flows.operations import weekly_retrain
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
    )

    state = weekly_retrain(territory="essonne", home=str(home), return_state=True)
    assert state.is_completed(), state.message
    outcome = state.result()
    assert outcome["trained_version"] == 1
    assert outcome["promotion"]["promoted"], outcome["promotion"]["reason"]
    assert [r["status"] for r in outcome["ingest"]] == ["accepted", "accepted"]
    assert outcome["ingest"][0]["rows_quarantined"] > 0  # the dirty extract's defects

    with get_client(sync_client=True) as client:
        children = _children(client, state.state_details.flow_run_id)
        names = {client.read_flow(run.flow_id).name: run for run in children}
        assert set(names) == STEPS
        assert all(run.state.is_completed() for run in children), [
            (n, r.state.name) for n, r in names.items()
        ]
        ids = [run.id for run in children]
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
        assert len(tasks) >= 8
        assert all(t.state is not None and t.state.is_completed() for t in tasks), [
            (t.name, t.state and t.state.name) for t in tasks
        ]
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
        )
    keys = {a.key for a in artifacts}
    assert {
        "ingest-summary",
        "ingest-quarantined",
        "monitor-summary",
        "train-summary",
        "promotion-decision",
        "forecast-summary",
        "forecast-stations",
    } <= keys
    stations = next(a for a in artifacts if a.key == "forecast-stations").data
    table = json.loads(stations) if isinstance(stations, str) else stations
    assert table, "the forecast table of the next days per station is empty"


@pytest.mark.slow
def test_monitor_catches_a_drop_in_accuracy_and_starts_a_retrain(
    prefect_api: None, home: Path, essonne: Territory
) -> None:
    """Actuals at half the usual volume arrive: the monitor fails loudly, a retrain starts."""
    from flows.operations import ingest_inbox, weekly_retrain
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    if not (home / "forecasts" / "essonne").is_dir():
        pytest.skip("needs the forecast of the weekly-retrain test")
    # sync_compatible: called from sync code, to_deployment and apply return their values
    deployment = cast(
        "RunnerDeployment",
        weekly_retrain.to_deployment(
            name="essonne", parameters={"territory": "essonne", "home": str(home)}
        ),
    )
    deployment_id = cast("UUID", deployment.apply())
    arrived = generate_events(essonne, date(2024, 4, 15), date(2024, 4, 24), seed=23)
    halved = arrived.sample(frac=0.5, random_state=0).sort_values("alert_time")
    write_export(dispatch_export(halved, essonne, 23), home / "data" / "inbox" / "next.csv")

    state = ingest_inbox(territory="essonne", home=str(home), return_state=True)
    outcome = state.result()
    assert outcome["rows_added"] == len(halved)
    assert "DEGRADED" in outcome["monitor"] and "bias" in outcome["monitor"]
    with get_client(sync_client=True) as client:
        children = _children(client, state.state_details.flow_run_id)
        monitor_run = next(r for r in children if client.read_flow(r.flow_id).name == "monitor")
        assert monitor_run.state.is_failed()
        retrains = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    assert len(retrains) == 1
    assert retrains[0].parameters["home"] == str(home)
