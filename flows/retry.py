"""Retries for failures that a second try can fix, and only those.

A task that fails on a file, a socket or a locked sqlite database (MLflow's, Prefect's) is
retried; one that fails on bad data or a missing champion fails at once — retrying a
deterministic error only delays the message a user needs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypedDict

TRANSIENT = (OSError, sqlite3.OperationalError)


def is_transient(error: BaseException | None) -> bool:
    """True when `error`, or an error it was raised from, is an I/O failure."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, TRANSIENT):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def on_io_error(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry the task only after a transient failure."""
    del task, task_run
    try:
        state.result()
    except Exception as exc:
        return is_transient(exc)
    return False


class RetryOptions(TypedDict):
    retries: int
    retry_delay_seconds: int
    retry_condition_fn: Callable[[Any, Any, Any], bool]


IO_RETRIES: RetryOptions = {
    "retries": 2,
    "retry_delay_seconds": 10,
    "retry_condition_fn": on_io_error,
}
