"""Ingest: read → map → drop personal data → validate (GX) → quarantine → merge → version → report.

`ingest_file` is the one step the CLI and the Prefect flow both call, per extract. It
guarantees:
- nothing of a rejected extract enters the store (an unreadable file, a missing column, no
  rows, a failed volume check, or a quarantined share above `ingest.quarantine_threshold`);
- the store changes only through one atomic swap (see `adapters.store`), then DVC records the
  new data version; ingests of one home are serialised by a lock file;
- a JSON report (`IngestReport`) is written next to the quarantine Parquet
  (`data/quarantine/<territory>/<extract>-<time>.{parquet,json}`); a file taken from the inbox
  leaves it with a copy of its report in `inbox/processed/` or `inbox/rejected/`, the extract
  itself deleted (or kept in `inbox/kept/`, owner-only, for `ingest.raw_retention_days`, when
  `ingest.keep_raw_extracts`);
- one bad file never stops the others: whatever its reader meets is a rejected report;
- what is kept to fix a quarantined row (quarantine Parquet, reports, Prefect artifacts) shows
  its row, column and reason, never a value that failed validation (masked or omitted), and a
  row's key only when the key passed validation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pandas as pd

from previsecours.adapters import ingest_files, store
from previsecours.adapters.readers import RawExtract, read_extract
from previsecours.adapters.versioning import (
    commit_data_version,
    data_version,
    reconcile_data_version,
    remote_path,
)
from previsecours.config import IngestParams
from previsecours.core.history import History
from previsecours.core.ingest import (
    ExtractError,
    MappedExtract,
    counts_area_codes,
    map_counts,
    map_events,
    missing_columns_message,
    required_export_columns,
)
from previsecours.core.ingest_decide import (
    COUNT_KEY,
    EVENT_KEY,
    StoreMerge,
    counts_level_failures,
    counts_part,
    daily_volume,
    faulty_cells,
    first_reasons,
    isolated_days,
    isolated_issues,
    merge_counts,
    merge_into_store,
    name_cut_column,
    row_issues,
    row_reasons,
    skipped_reasons,
    suite_parameters,
    with_conflicts,
)
from previsecours.core.ingest_report import ExtractFailure, IngestReport
from previsecours.core.level_shift import brought_level_shifts
from previsecours.core.schema import CANONICAL_COLUMNS, COUNT_COLUMNS, Frequency
from previsecours.core.territory import Territory
from previsecours.settings import Settings

Format = Literal["events", "counts"]
EXTRACT_SUFFIXES = (".csv", ".zip", ".parquet", ".txt")
_QUARANTINE_EVENT_COLUMNS: tuple[str, ...] = (
    "intervention_id",
    "alert_time_text",
    *CANONICAL_COLUMNS[1:],
)
_QUARANTINE_COUNT_COLUMNS: tuple[str, ...] = ("period_text", *COUNT_COLUMNS)


@dataclass(frozen=True)
class IngestOptions:
    format: Format | None = None  # None: the territory's (`extract_format`)
    preset: str | None = None
    frequency: str | None = None
    replace: bool = False


def named_format(name: str | None) -> Format | None:
    """An entry point's format name (`--format`, the flow's `fmt`) as `IngestOptions` takes it:
    events, counts, or None (the territory's); ValueError for any other."""
    if name not in (None, "events", "counts"):
        raise ValueError(f"format must be events or counts, not {name!r}")
    return cast("Format | None", name)


def extract_format(options: IngestOptions, territory: Territory) -> Format:
    """The format asked for, else the one the options or the territory imply: counts with a
    counts preset or frequency, or for a territory that maps no event columns (a service that
    publishes counts only: Denver, Berlin); events otherwise."""
    if options.format is not None:
        return options.format
    if options.preset is not None or options.frequency is not None:
        return "counts"
    return "events" if territory.mapping.maps_events else "counts"


def ingest_file(
    settings: Settings, path: Path, options: IngestOptions, now: datetime | None = None
) -> IngestReport:
    """Ingest one extract end to end; always returns a report (rejections included)."""
    now = now or datetime.now(UTC)
    params = settings.params.ingest
    with ingest_files.ingest_lock(settings.paths):
        ingest_files.purge_kept(settings.paths, params.raw_retention_days, now)
        reconcile_data_version(settings.paths, remote_path(settings.paths, params.dvc_remote))
        report = _process(settings, path.resolve(), options, params, now)
        report = ingest_files.write_report(settings.paths, report, now)
    if ingest_files.in_inbox(settings.paths, path):
        ingest_files.move_from_inbox(
            settings.paths, path, report, keep_raw=params.keep_raw_extracts, now=now
        )
    return report


# ---------------------------------------------------------------- the steps


@dataclass(frozen=True)
class _Outcome:
    mapped: MappedExtract
    issues: pd.DataFrame
    failures: tuple[ExtractFailure, ...]
    merge: StoreMerge | None
    keep: tuple[str, ...]
    faulty: pd.DataFrame
    before: History  # the store the extract was merged into


def _process(
    settings: Settings, path: Path, options: IngestOptions, params: IngestParams, now: datetime
) -> IngestReport:
    base = IngestReport(
        extract=str(path),
        territory=settings.territory.name,
        kind=extract_format(options, settings.territory),
        status="rejected",
        ingested_at=now.isoformat(timespec="seconds"),
        data_version=data_version(settings.paths),
    )
    try:
        raw = read_extract(path)
        base = replace(
            base,
            file_format=raw.file_format,
            encoding=raw.encoding,
            separator=raw.separator,
            rows_read=len(raw.frame),
        )
        outcome = _validate_and_merge(
            settings, raw=raw, source=str(path), options=options, params=params, now=now
        )
    except ExtractError as exc:
        return replace(base, extract_failures=(ExtractFailure(exc.check, str(exc)),))
    return _conclude(settings, base=base, outcome=outcome, path=path, params=params, now=now)


def _validate_and_merge(
    settings: Settings,
    *,
    raw: RawExtract,
    source: str,
    options: IngestOptions,
    params: IngestParams,
    now: datetime,
) -> _Outcome:
    from previsecours.adapters.validation import validate

    territory = settings.territory
    kind = extract_format(options, territory)
    needed = required_export_columns(territory, kind, options.preset, source)
    _check_table(raw, source, needed, settings)
    if kind == "counts":
        mapped = map_counts(
            raw.frame,
            territory,
            source,
            preset=options.preset,
            frequency=options.frequency,
            row_complete=raw.row_complete,
        )
        suite, keep = "counts_rows", _QUARANTINE_COUNT_COLUMNS
    else:
        mapped = map_events(raw.frame, territory, source, raw.row_complete, raw.text_source)
        suite, keep = "events_rows", _QUARANTINE_EVENT_COLUMNS
    frame = mapped.frame
    suites = settings.project.expectations
    parameters = suite_parameters(territory, params, now)
    if kind == "counts":  # counts may be at any level the territory knows
        parameters["areas"] = counts_area_codes(territory)
    failures = validate(frame, suites, suite, parameters, skipped_reasons(territory))
    issues = name_cut_column(row_issues(failures, frame), raw.truncated_column, territory)
    valid = np.ones(len(frame), dtype=bool)
    valid[issues["position"].to_numpy()] = False
    if kind == "counts":
        assert mapped.frequency is not None
        stored = store.read_counts(settings.paths, territory, mapped.frequency)
        before = History.of_counts(stored, cast(Frequency, mapped.frequency))
        incoming = counts_part(frame[valid])
        merge = merge_counts(stored, incoming, options.replace)
        extract_failures: tuple[ExtractFailure, ...] = counts_level_failures(
            incoming, stored, territory, source
        )
    else:
        stored = store.read_events(settings.paths, territory)
        before = History.of_events(stored)
        incoming = frame.loc[valid, list(CANONICAL_COLUMNS)].reset_index(drop=True)
        merge = merge_into_store(stored, incoming, EVENT_KEY, options.replace)
        far = isolated_days(
            incoming["alert_time"], merge.merged["alert_time"], stored["alert_time"], params
        )
        if len(far):  # a row-level problem: quarantined, then the rest merged again
            issues = _sorted(pd.concat([issues, isolated_issues(frame, valid, far)]))
            valid[issues["position"].to_numpy()] = False
            incoming = frame.loc[valid, list(CANONICAL_COLUMNS)].reset_index(drop=True)
            merge = merge_into_store(stored, incoming, EVENT_KEY, options.replace)
        extract_failures = _volume_failures(
            incoming, merge=merge, stored=stored, params=params, source=source, settings=settings
        )
    faulty = faulty_cells(failures, issues)
    issues = with_conflicts(issues, frame, valid, merge, kind)
    return _Outcome(mapped, issues, extract_failures, merge, keep, faulty, before)


def _sorted(issues: pd.DataFrame) -> pd.DataFrame:
    return issues.sort_values(["row", "reason"], ignore_index=True)


def _check_table(raw: RawExtract, source: str, needed: list[str], settings: Settings) -> None:
    """Extract-level expectations (suite `extract_table`): required columns, at least one row."""
    from previsecours.adapters.validation import validate

    for failure in validate(
        raw.frame, settings.project.expectations, "extract_table", {"required_columns": needed}
    ):
        if failure.reason == "required_columns":
            found = [str(c) for c in raw.frame.columns]
            raise ExtractError(missing_columns_message(found, needed, source), failure.reason)
        raise ExtractError(f"{source}: no data rows (header only?)", failure.reason)


def _volume_failures(
    incoming: pd.DataFrame,
    *,
    merge: StoreMerge,
    stored: pd.DataFrame,
    params: IngestParams,
    source: str,
    settings: Settings,
) -> tuple[ExtractFailure, ...]:
    """Extract-level volume expectations (suite `events_volume`) on the days the extract brings
    rows to (and the silent days between them), counted in the store after the merge."""
    from previsecours.adapters.validation import validate

    days = daily_volume(
        incoming["alert_time"], merge.merged["alert_time"], stored["alert_time"], params
    )
    if days.empty:
        return ()
    out = []
    for failure in validate(days, settings.project.expectations, "events_volume", {}):
        listed = ", ".join(
            f"{days['day'].iloc[p]} ({int(days['count'].iloc[p])})" for p in failure.positions[:5]
        )
        more = f" and {len(failure.positions) - 5} more" if len(failure.positions) > 5 else ""
        what = (
            "whole days without any intervention"
            if failure.reason == "volume_zero_day"
            else f"days above {params.volume_factor:g}× the historical median of their weekday"
        )
        out.append(ExtractFailure(failure.reason, f"{source}: {what}: {listed}{more}"))
    return tuple(out)


def _conclude(
    settings: Settings,
    *,
    base: IngestReport,
    outcome: _Outcome,
    path: Path,
    params: IngestParams,
    now: datetime,
) -> IngestReport:
    frame, issues = outcome.mapped.frame, outcome.issues
    quarantined = int(issues["position"].nunique())
    failures = list(outcome.failures)
    if frame.shape[0] and quarantined / frame.shape[0] > params.quarantine_threshold:
        failures.append(
            ExtractFailure(
                "quarantine_share",
                f"{path}: {quarantined} of {frame.shape[0]} rows quarantined "
                f"({quarantined / frame.shape[0]:.1%} > {params.quarantine_threshold:.0%}); "
                f"first: {first_reasons(issues)}",
            )
        )
    qfile = ingest_files.write_quarantine(
        settings.paths,
        settings.territory.name,
        path=path,
        frame=frame,
        issues=issues,
        keep=outcome.keep,
        now=now,
        faulty=outcome.faulty,
    )
    merge = outcome.merge
    report = replace(
        base,
        frequency=outcome.mapped.frequency,
        rows_read=len(frame),  # a wide preset's rows: one per period × category
        rows_accepted=len(frame) - quarantined,
        rows_quarantined=quarantined,
        dst_ambiguous=outcome.mapped.dst_ambiguous,
        dst_nonexistent=outcome.mapped.dst_nonexistent,
        dropped_columns=outcome.mapped.dropped_columns,
        reason_counts={str(k): int(v) for k, v in issues["reason"].value_counts().items()},
        row_reasons=row_reasons(issues, frame, base.kind, outcome.faulty),
        extract_failures=tuple(failures),
        quarantine_file=str(qfile),
    )
    if failures or merge is None:
        return report
    report = replace(
        report,
        status="accepted",
        rows_added=merge.added,
        rows_unchanged=merge.unchanged,
        rows_replaced=merge.replaced,
    )
    if merge.added or merge.replaced:
        _write_store(settings, merge.merged, base.kind, outcome.mapped.frequency)
        version = commit_data_version(
            settings.paths, remote_path(settings.paths, params.dvc_remote)
        )
        report = replace(
            report, data_version=version, level_shifts=_level_shifts(settings, outcome)
        )
    return report


def _level_shifts(settings: Settings, outcome: _Outcome) -> tuple[str, ...]:
    """The level shifts the merged extract brought into the history (a notice, the rows are
    kept: after a recording change they are what the service records), in words."""
    assert outcome.merge is not None
    before = outcome.before
    after = replace(before, frame=outcome.merge.merged)
    brought = History(outcome.mapped.frame, before.frequency).times
    shifts = brought_level_shifts(before, after, settings.territory, brought)
    return tuple(s.notice(settings.params.train.start_after_level_shift) for s in shifts)


def _write_store(
    settings: Settings, merged: pd.DataFrame, kind: str, frequency: str | None
) -> None:
    if kind == "counts":
        assert frequency is not None
        ordered = merged.sort_values(list(COUNT_KEY), ignore_index=True)
        store.write_counts(settings.paths, settings.territory, frequency, ordered)
    else:
        ordered = merged.sort_values(["alert_time", "intervention_id"], ignore_index=True)
        store.write_events(settings.paths, settings.territory, ordered)
