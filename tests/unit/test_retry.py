"""Only transient failures are retried."""

from __future__ import annotations

import sqlite3

from flows.retry import is_transient


def _raised_from(cause: BaseException) -> RuntimeError:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        return outer


def test_io_failures_are_transient_even_when_wrapped() -> None:
    assert is_transient(FileNotFoundError("inbox/x.csv"))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(_raised_from(sqlite3.OperationalError("database is locked")))


def test_deterministic_failures_are_not() -> None:
    assert not is_transient(ValueError("unknown category"))
    assert not is_transient(_raised_from(KeyError("champion")))
    assert not is_transient(None)
