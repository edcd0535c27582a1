"""Great Expectations: run a suite kept as JSON under `expectations/` on a pandas frame.

Guarantees:
- `great_expectations` is imported on the first validation only (its import costs seconds);
- the context is ephemeral: validating writes nothing to disk;
- every expectation carries `meta.reason` and `meta.column`; a failed row-level expectation
  comes back as a `RowFailure` with the 0-based positions of the failing rows
  (`result_format=COMPLETE` on a frame with a fresh RangeIndex); an expectation that could not
  even run raises `ValidationError` (a suite/frame mismatch is a bug, never a silent pass).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from previsecours.core.ingest_decide import RowFailure
from previsecours.errors import StepError


class ValidationError(StepError, RuntimeError):
    """A suite that could not be evaluated on a frame."""


def load_suite_document(suites: Path, name: str) -> dict[str, Any]:
    """A suite of `suites` (the project's expectations/ directory), as JSON."""
    path = suites / f"{name}.json"
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def validate(
    frame: pd.DataFrame,
    suites: Path,
    suite_name: str,
    parameters: Mapping[str, Any],
    skip_reasons: Collection[str] = (),
) -> list[RowFailure]:
    """Failed expectations of `suite_name` on `frame`, one `RowFailure` each."""
    import great_expectations as gx

    doc = load_suite_document(suites, suite_name)
    doc["expectations"] = [
        e for e in doc["expectations"] if e["meta"]["reason"] not in set(skip_reasons)
    ]
    suite = gx.ExpectationSuite(**doc)
    if len(suite.expectations) != len(doc["expectations"]):  # GX logs and drops bad configs
        raise ValidationError(f"suite {suite_name}: some expectations are not valid")
    batch = _batch_definition().get_batch(
        batch_parameters={"dataframe": frame.reset_index(drop=True)}
    )
    result = batch.validate(
        suite,
        result_format={"result_format": "COMPLETE"},
        expectation_parameters=dict(parameters),
    )
    failures = []
    for outcome in result.results:
        config = outcome.expectation_config
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise ValidationError(
                f"suite {suite_name}: {config.type} could not run: "
                f"{outcome.exception_info.get('exception_message')}"
            )
        if outcome.success:
            continue
        positions = tuple(int(i) for i in outcome.result.get("unexpected_index_list") or ())
        failures.append(RowFailure(config.meta["reason"], config.meta["column"], positions))
    return failures


@functools.cache
def _batch_definition() -> Any:
    """One ephemeral context and dataframe asset per process (get-or-create, writes nothing)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("previsecours")
    asset = source.add_dataframe_asset("extract")
    return asset.add_batch_definition_whole_dataframe("whole")
