"""The deployments and their schedules; `python -m flows.deployments` serves them.

Times are the territory's own (Europe/Paris for Essonne): Prefect converts cron schedules with
their time zone, DST included (Monday 03:00 Paris is 02:00 UTC in winter, 01:00 in summer).
Deployments are named after the territory: `weekly-retrain/essonne`, `daily-forecast/essonne`,
`ingest-inbox/essonne` (polling), and on demand `ingest/essonne`, `monitor/essonne`,
`train/essonne`, `promote/essonne`, `forecast/essonne`.

`--work-pool NAME` registers the same deployments on a Prefect work pool instead of serving
them from this process: the pool's process workers (`prefect worker start --pool NAME --type
process`, started by `previsecours serve-team`) run them, importing the flows by module path.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import Flow
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from flows.forecast import forecast
from flows.ingest import ingest
from flows.monitor import monitor
from flows.operations import daily_forecast, ingest_inbox, weekly_retrain
from flows.promote import promote
from flows.train import train
from previsecours.settings import load_settings

WEEKLY_RETRAIN_CRON = "0 3 * * 1"  # Monday 03:00, before the week's first shift change
DAILY_FORECAST_CRON = "0 5 * * *"  # 05:00, for the 07:00 shift change
INBOX_POLL = timedelta(minutes=15)


def build_deployments(
    territory: str | None, home: str | None = None, work_pool: str | None = None
) -> list[Any]:
    """Runner deployments of every flow for one territory, schedules in its time zone; on
    `work_pool` when given (else for `serve`)."""
    settings = load_settings(territory, None if home is None else Path(home))
    pool: dict[str, Any] = (
        {"work_pool_name": work_pool, "entrypoint_type": EntrypointType.MODULE_PATH}
        if work_pool
        else {}
    )
    name, tz = settings.territory.name, settings.territory.timezone
    parameters = {"territory": territory or name, "home": home}
    scheduled: list[tuple[Flow[..., Any], list[Schedule]]] = [
        (weekly_retrain, [Cron(WEEKLY_RETRAIN_CRON, timezone=tz)]),
        (daily_forecast, [Cron(DAILY_FORECAST_CRON, timezone=tz)]),
        (ingest_inbox, [Interval(INBOX_POLL, timezone=tz)]),
    ]
    on_demand: list[Flow[..., Any]] = [ingest, monitor, train, promote, forecast]
    tags = ["previsecours", name]
    return [
        *(
            f.to_deployment(name=name, schedules=s, parameters=parameters, tags=tags, **pool)
            for f, s in scheduled
        ),
        *(f.to_deployment(name=name, parameters=parameters, tags=tags, **pool) for f in on_demand),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve Prévisecours' Prefect deployments.")
    parser.add_argument("--territory", default=None, help="Default: params.yaml's first.")
    parser.add_argument("--home", default=None)
    parser.add_argument("--work-pool", default=None, help="Register on this work pool and exit.")
    args = parser.parse_args()
    if args.work_pool:
        for deployment in build_deployments(args.territory, args.home, args.work_pool):
            deployment.apply()
        print(f"deployments registered on work pool {args.work_pool}")
        return
    from prefect import serve

    serve(*build_deployments(args.territory, args.home), limit=1)


if __name__ == "__main__":
    main()
