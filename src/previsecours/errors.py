"""The root of every error Prévisecours raises on purpose.

An entry point catches `PrevisecoursError` once: its message is one line meant for the user, and
`exit_code` says what happened — 2 for bad usage or input the user can fix, 1 for a step that
could not complete. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class PrevisecoursError(Exception):
    """An error the user should read: one line, no traceback."""

    exit_code: int = 1


class InputError(PrevisecoursError):
    """Bad usage or input: a parameter, a file, a territory the user can correct."""

    exit_code = 2


class StepError(PrevisecoursError):
    """A step that could not complete (no champion, a server that did not start, ...)."""

    exit_code = 1


class ConfigError(InputError, ValueError):
    """`params.yaml` (or a home's override of it) says something the code cannot take."""


class NoDataError(InputError, ValueError):
    """The curated store holds nothing (yet) for the step asked."""


class ModelFitError(StepError):
    """A model that could not be fitted on this data: the backtest drops it, with the reason."""
