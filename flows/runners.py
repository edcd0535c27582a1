"""Task runners for fan-out: Prefect's `DaskTaskRunner` on a local or existing Dask cluster.

With Dask, a real Prefect server is required (`require_prefect_server`): without
`PREFECT_API_URL`, every worker process would start its own temporary server on the same
sqlite file. Without a cluster, tasks run one at a time in the flow's process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from previsecours.errors import InputError


class PrefectServerRequiredError(InputError, RuntimeError):
    """Dask asked for without a Prefect server to report to."""


@dataclass(frozen=True)
class DaskCluster:
    """Where fanned-out tasks run: an existing scheduler (`address`), else a local cluster of
    `local_workers` single-threaded worker processes started for the run."""

    address: str | None = None
    local_workers: int = 2


def require_prefect_server() -> str:
    """The Prefect API URL, or a clear error saying how to get one."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise PrefectServerRequiredError(
            "Dask needs a real Prefect server: set PREFECT_API_URL "
            "(e.g. http://127.0.0.1:4200/api after `make serve` or `prefect server start`). "
            "Without it every Dask worker starts its own temporary server on the same database."
        )
    return str(url)


def task_runner(cluster: DaskCluster | None) -> TaskRunner[Any]:
    """Dask when a cluster is given (checking the Prefect server), else one task at a time."""
    if cluster is None:
        return ThreadPoolTaskRunner(max_workers=1)
    require_prefect_server()
    from prefect_dask.task_runners import DaskTaskRunner

    if cluster.address:
        return DaskTaskRunner(address=cluster.address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": cluster.local_workers,
            "threads_per_worker": 1,
            "processes": True,
            "host": "127.0.0.1",
            "dashboard_address": None,
        }
    )
