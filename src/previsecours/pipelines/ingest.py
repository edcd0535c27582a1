"""Ingest: read → map → drop personal data → validate (GX) → quarantine → merge → version → report.

`ingest_file` is the one step the CLI and the Prefect flow both call, per extract. It
guarantees:
- nothing of a rejected extract enters the store (an unreadable file, a missing column, no
  rows, a failed volume check, or a quarantined share above `ingest.quarantine_threshold`);
- the store changes only through one atomic swap (see `adapters.store`), then DVC records the
  new data version; ingests of one home are serialised by a lock file;
- a JSON report (`IngestReport`) is written next to the quarantine Parquet
  (`data/quarantine/<territory>/<extract>-<time>.{parquet,json}`); a file taken from the inbox
  moves to `inbox/processed/` or `inbox/rejected/` with a copy of its report.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from previsecours.adapters import store
from previsecours.adapters.readers import RawExtract, read_extract
from previsecours.adapters.versioning import (
    commit_data_version,
    data_version,
    reconcile_data_version,
    remote_path,
)
from previsecours.core.ingest import (
    ROW,
    ExtractError,
    MappedExtract,
    map_counts,
    map_events,
    missing_columns_message,
    required_export_columns,
)
from previsecours.core.ingest_decide import (
    CONFLICT,
    COUNT_KEY,
    EVENT_KEY,
    TRUNCATED,
    IngestParams,
    StoreMerge,
    daily_volume,
    merge_into_store,
    quarantine_table,
    row_issues,
)
from previsecours.core.ingest_report import ExtractFailure, IngestReport, RowReason
from previsecours.core.schema import CANONICAL_COLUMNS, COUNT_COLUMNS
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
    format: Format = "events"
    preset: str | None = None
    frequency: str | None = None
    replace: bool = False


def ingest_params(settings: Settings) -> IngestParams:
    return IngestParams.from_mapping(settings.section("ingest"))


def pending_files(settings: Settings) -> list[Path]:
    """Every extract waiting in the inbox (processed/ and rejected/ are not looked into)."""
    inbox = settings.paths.inbox
    if not inbox.is_dir():
        return []
    return sorted(
        p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() in EXTRACT_SUFFIXES
    )


def ingest_file(
    settings: Settings, path: Path, options: IngestOptions, now: datetime | None = None
) -> IngestReport:
    """Ingest one extract end to end; always returns a report (rejections included)."""
    now = now or datetime.now(UTC)
    params = ingest_params(settings)
    with _ingest_lock(settings):
        reconcile_data_version(settings.paths, remote_path(settings.paths, params.dvc_remote))
        report = _process(settings, path.resolve(), options, params, now)
        report = _write_report(settings, report, now)
    if _in_inbox(settings, path):
        _move_from_inbox(settings, path, report)
    return report


# ---------------------------------------------------------------- the steps


@dataclass(frozen=True)
class _Outcome:
    mapped: MappedExtract
    issues: pd.DataFrame
    failures: tuple[ExtractFailure, ...]
    merge: StoreMerge | None
    keep: tuple[str, ...]


def _process(
    settings: Settings, path: Path, options: IngestOptions, params: IngestParams, now: datetime
) -> IngestReport:
    base = IngestReport(
        extract=str(path),
        territory=settings.territory.name,
        kind=options.format,
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
    _check_table(raw, source, required_export_columns(territory, options.format, options.preset))
    if options.format == "counts":
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
    skip = () if territory.lists_areas else ("unknown_commune", "unknown_area")
    failures = validate(frame, suite, suite_parameters(territory, params, now), skip)
    issues = _name_cut_column(row_issues(failures, frame), raw, territory)
    valid = np.ones(len(frame), dtype=bool)
    valid[issues["position"].to_numpy()] = False
    if options.format == "counts":
        assert mapped.frequency is not None
        stored = store.read_counts(settings.paths, territory, mapped.frequency)
        incoming = _counts_part(frame[valid])
        merge = merge_into_store(stored, incoming, COUNT_KEY, options.replace)
        extract_failures: tuple[ExtractFailure, ...] = ()
    else:
        stored = store.read_events(settings.paths, territory)
        incoming = frame.loc[valid, list(CANONICAL_COLUMNS)].reset_index(drop=True)
        merge = merge_into_store(stored, incoming, EVENT_KEY, options.replace)
        extract_failures = _volume_failures(incoming, stored, params, source)
    issues = _with_conflicts(issues, frame, valid, merge, options.format)
    return _Outcome(mapped, issues, extract_failures, merge, keep)


def _check_table(raw: RawExtract, source: str, needed: list[str]) -> None:
    """Extract-level expectations (suite `extract_table`): required columns, at least one row."""
    from previsecours.adapters.validation import validate

    for failure in validate(raw.frame, "extract_table", {"required_columns": needed}):
        if failure.reason == "required_columns":
            found = [str(c) for c in raw.frame.columns]
            raise ExtractError(missing_columns_message(found, needed, source), failure.reason)
        raise ExtractError(f"{source}: no data rows (header only?)", failure.reason)


def _name_cut_column(issues: pd.DataFrame, raw: RawExtract, territory: Territory) -> pd.DataFrame:
    """A truncated row is reported at the column its line was cut in (canonical name if any)."""
    if raw.truncated_column is None:
        return issues
    canonical = {v: k for k, v in territory.mapping.columns.items()}
    name = canonical.get(raw.truncated_column, raw.truncated_column)
    issues = issues.copy()
    issues.loc[issues["reason"] == TRUNCATED, "column"] = name
    return issues


def suite_parameters(territory: Territory, params: IngestParams, now: datetime) -> dict[str, Any]:
    """Values the suites' `$PARAMETER`s take for this territory, these params and this time."""
    now_s = pd.Timestamp(now).timestamp()
    box = territory.bounding_box
    return {
        "now_epoch_s": now_s,
        "oldest_epoch_s": now_s - params.oldest_plausible_years * 365.25 * 86400,
        "areas": sorted(territory.commune_codes),
        "categories": list(territory.categories),
        "lat_min": box.lat_min,
        "lat_max": box.lat_max,
        "lon_min": box.lon_min,
        "lon_max": box.lon_max,
        "duration_min": params.duration_min_range[0],
        "duration_max": params.duration_min_range[1],
    }


def _counts_part(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.loc[:, list(COUNT_COLUMNS)].reset_index(drop=True)
    return out.astype({"count": "int64"})


def _volume_failures(
    incoming: pd.DataFrame, stored: pd.DataFrame, params: IngestParams, source: str
) -> tuple[ExtractFailure, ...]:
    """Extract-level volume expectations (suite `events_volume`) on whole days."""
    from previsecours.adapters.validation import validate

    days = daily_volume(incoming["alert_time"], stored["alert_time"], params)
    if days.empty:
        return ()
    out = []
    for failure in validate(days, "events_volume", {}):
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


def _with_conflicts(
    issues: pd.DataFrame, frame: pd.DataFrame, valid: np.ndarray, merge: StoreMerge, fmt: str
) -> pd.DataFrame:
    if not merge.conflicts:
        return issues
    positions = np.flatnonzero(valid)[list(merge.conflicts)]
    column = "intervention_id" if fmt == "events" else "count"
    extra = pd.DataFrame(
        {
            "position": positions.astype("int64"),
            "row": frame[ROW].to_numpy()[positions],
            "reason": pd.Series([CONFLICT] * len(positions), dtype="string"),
            "column": pd.Series([column] * len(positions), dtype="string"),
        }
    )
    return pd.concat([issues, extra], ignore_index=True).sort_values(["row", "reason"])


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
                f"first: {_first_reasons(issues)}",
            )
        )
    qfile = _write_quarantine(
        settings, path=path, frame=frame, issues=issues, keep=outcome.keep, now=now
    )
    merge = outcome.merge
    report = replace(
        base,
        frequency=outcome.mapped.frequency,
        rows_accepted=len(frame) - quarantined,
        rows_quarantined=quarantined,
        dst_ambiguous=outcome.mapped.dst_ambiguous,
        dst_nonexistent=outcome.mapped.dst_nonexistent,
        dropped_columns=outcome.mapped.dropped_columns,
        reason_counts={str(k): int(v) for k, v in issues["reason"].value_counts().items()},
        row_reasons=_row_reasons(issues, frame, base.kind),
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
        report = replace(report, data_version=version)
    return report


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


def _first_reasons(issues: pd.DataFrame, limit: int = 3) -> str:
    head = issues.head(limit)
    return "; ".join(f"row {r.row} {r.reason} ({r.column})" for r in head.itertuples())


def _row_reasons(issues: pd.DataFrame, frame: pd.DataFrame, kind: str) -> tuple[RowReason, ...]:
    key_column = "intervention_id" if kind == "events" else "key"
    keys = frame[key_column].astype("string").fillna("").to_numpy()
    return tuple(
        RowReason(int(row), str(keys[pos]), str(reason), str(column))
        for pos, row, reason, column in zip(
            issues["position"], issues["row"], issues["reason"], issues["column"], strict=True
        )
    )


# ---------------------------------------------------------------- files


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _quarantine_base(settings: Settings, path: Path, now: datetime) -> Path:
    folder = settings.paths.quarantine / settings.territory.name
    folder.mkdir(parents=True, exist_ok=True)
    stem = path.name.split(".")[0]
    base = folder / f"{stem}-{_stamp(now)}"
    n = 1
    while base.with_suffix(".json").exists():
        n += 1
        base = folder / f"{stem}-{_stamp(now)}-{n}"
    return base


def _write_quarantine(
    settings: Settings,
    *,
    path: Path,
    frame: pd.DataFrame,
    issues: pd.DataFrame,
    keep: tuple[str, ...],
    now: datetime,
) -> Path:
    target = _quarantine_base(settings, path, now).with_suffix(".parquet")
    quarantine_table(frame, issues, keep).to_parquet(target, index=False)
    return target


def _write_report(settings: Settings, report: IngestReport, now: datetime) -> IngestReport:
    if report.quarantine_file:
        target = Path(report.quarantine_file).with_suffix(".json")
    else:
        target = _quarantine_base(settings, Path(report.extract), now).with_suffix(".json")
    report = replace(report, report_file=str(target))
    target.write_text(json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8")
    return report


def _in_inbox(settings: Settings, path: Path) -> bool:
    return path.resolve().parent == settings.paths.inbox.resolve()


def _move_from_inbox(settings: Settings, path: Path, report: IngestReport) -> Path:
    folder = settings.paths.inbox / ("processed" if report.accepted else "rejected")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    shutil.move(str(path), target)
    if report.report_file:
        shutil.copyfile(report.report_file, folder / f"{path.name}.report.json")
    return target


@contextmanager
def _ingest_lock(settings: Settings) -> Iterator[None]:
    """One ingest per home at a time: the store swap and DVC both assume it."""
    settings.paths.data.mkdir(parents=True, exist_ok=True)
    with (settings.paths.data / ".ingest.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- summaries (CLI, Prefect)


def summary_markdown(reports: list[IngestReport]) -> str:
    """A markdown summary of a batch of reports, for people (Prefect artifact, CLI)."""
    lines = [
        "# Ingest",
        "",
        "| extract | status | read | added | stored | replaced | quarantined |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        lines.append(
            f"| {Path(r.extract).name} | {r.status} | {r.rows_read} | {r.rows_added} | "
            f"{r.rows_unchanged} | {r.rows_replaced} | {r.rows_quarantined} |"
        )
    for r in reports:
        lines += ["", f"## {Path(r.extract).name}: {r.status}", ""]
        lines.append(
            f"encoding {r.encoding or '-'}, separator {r.separator!r}, format {r.file_format}, "
            f"DST: {r.dst_ambiguous} ambiguous, {r.dst_nonexistent} non-existent; "
            f"data version `{r.data_version}`"
        )
        if r.dropped_columns:
            lines.append(f"- dropped columns (names only): {', '.join(r.dropped_columns)}")
        for reason, count in sorted(r.reason_counts.items()):
            lines.append(f"- quarantined for {reason}: {count}")
        for failure in r.extract_failures:
            lines.append(f"- **rejected** ({failure.check}): {failure.message}")
    return "\n".join(lines) + "\n"


def summary_tables(reports: list[IngestReport]) -> dict[str, list[dict[str, Any]]]:
    """Tables for the Prefect UI: accepted extracts, quarantined rows, rejected extracts."""
    accepted = [
        {
            "extract": Path(r.extract).name,
            "read": r.rows_read,
            "added": r.rows_added,
            "already_stored": r.rows_unchanged,
            "replaced": r.rows_replaced,
            "quarantined": r.rows_quarantined,
            "data_version": r.data_version,
        }
        for r in reports
        if r.accepted
    ]
    quarantined = [
        {
            "extract": Path(r.extract).name,
            "row": q.row,
            "key": q.key,
            "reason": q.reason,
            "column": q.column,
        }
        for r in reports
        for q in r.row_reasons
    ]
    rejected = [
        {"extract": Path(r.extract).name, "check": f.check, "message": f.message}
        for r in reports
        for f in r.extract_failures
    ]
    return {"accepted": accepted, "quarantined": quarantined, "rejected": rejected}
