"""Deployments register on a real Prefect server with their cron, time zone and DST."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from previsecours.adapters.services import started
from previsecours.testing.servers import free_port, prefect_server

if TYPE_CHECKING:
    from uuid import UUID

    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

PARIS = ZoneInfo("Europe/Paris")


def _scheduled_runs(
    client: SyncPrefectClient, deployment_id: UUID, minimum: int, timeout_s: float = 90
) -> list[FlowRun]:
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    deadline = time.monotonic() + timeout_s
    while True:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
        )
        if len(runs) >= minimum or time.monotonic() > deadline:
            return runs
        time.sleep(1)


def test_weekly_retrain_is_monday_3am_paris_in_winter_and_summer(tmp_path: Path) -> None:
    from flows.deployments import build_deployments
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.settings import PREFECT_API_URL, temporary_settings

    port = free_port()
    server = prefect_server(
        tmp_path / ".prefect",
        port,
        env={
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
            # Schedule far enough ahead to cross the spring DST change.
            "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "30",
            "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME": "P250D",
            "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME": "P250D",
        },
    )
    with (
        started([server], tmp_path / "logs", announce=lambda _: None),
        temporary_settings(updates={PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}),
    ):
        deployments = build_deployments("essonne")
        for deployment in deployments:
            deployment.apply()
        with get_client(sync_client=True) as client:
            weekly = client.read_deployment_by_name("weekly-retrain/essonne")
            daily = client.read_deployment_by_name("daily-forecast/essonne")
            client.read_deployment_by_name("ingest-inbox/essonne")
            client.read_deployment_by_name("monitor/essonne")
            schedule = weekly.schedules[0].schedule
            assert isinstance(schedule, CronSchedule), schedule
            assert (schedule.cron, schedule.timezone) == ("0 3 * * 1", "Europe/Paris")
            daily_schedule = daily.schedules[0].schedule
            assert isinstance(daily_schedule, CronSchedule), daily_schedule
            assert (daily_schedule.cron, daily_schedule.timezone) == ("0 5 * * *", "Europe/Paris")
            runs = _scheduled_runs(client, weekly.id, minimum=30)

    starts = [r.expected_start_time for r in runs if r.expected_start_time is not None]
    assert len(starts) == len(runs), "a scheduled run has no expected start time"
    assert len(starts) >= 30, f"only {len(starts)} runs scheduled"
    for start in starts:
        local = start.astimezone(PARIS)
        assert (local.weekday(), local.hour, local.minute) == (0, 3, 0), local
        utc_hour = start.astimezone(ZoneInfo("UTC")).hour
        assert utc_hour == (1 if local.dst() else 2), start
    assert {s.astimezone(PARIS).dst() for s in starts} == {timedelta(0), timedelta(hours=1)}
