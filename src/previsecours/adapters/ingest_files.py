"""The files of an ingest beside the store: the inbox, the quarantine, the reports, the lock.

- `pending_files`: extracts waiting in `data/inbox/` (its processed/ and rejected/ are not
  looked into);
- the quarantine Parquet and the JSON report of one extract go to
  `data/quarantine/<territory>/<extract>-<time>.{parquet,json}`;
- a file taken from the inbox leaves it once ingested: its report is copied to
  `inbox/processed/` or `inbox/rejected/` (`<name>.report.json`), and the extract itself — it
  holds victims' names, addresses and phone numbers — is deleted, unless the home keeps raw
  extracts (`ingest.keep_raw_extracts`): it then moves to `inbox/kept/` (directory mode 0700,
  file mode 0600, named `<time>-<name>`) and `purge_kept` deletes it after
  `ingest.raw_retention_days`;
- the quarantine table masks every value that failed validation (see `quarantine_table`);
- `ingest_lock`: one ingest per home at a time (the store swap and DVC both assume it).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from previsecours.core.ingest_decide import quarantine_table
from previsecours.core.ingest_report import IngestReport
from previsecours.paths import Paths

EXTRACT_SUFFIXES = (".csv", ".zip", ".parquet", ".txt")


def pending_files(paths: Paths) -> list[Path]:
    """Every extract waiting in the inbox (processed/ and rejected/ are not looked into)."""
    inbox = paths.inbox
    if not inbox.is_dir():
        return []
    return sorted(
        p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() in EXTRACT_SUFFIXES
    )


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _quarantine_base(paths: Paths, territory: str, path: Path, now: datetime) -> Path:
    folder = paths.quarantine / territory
    folder.mkdir(parents=True, exist_ok=True)
    stem = path.name.split(".")[0]
    base = folder / f"{stem}-{_stamp(now)}"
    n = 1
    while base.with_suffix(".json").exists():
        n += 1
        base = folder / f"{stem}-{_stamp(now)}-{n}"
    return base


def write_quarantine(
    paths: Paths,
    territory: str,
    *,
    path: Path,
    frame: pd.DataFrame,
    issues: pd.DataFrame,
    keep: tuple[str, ...],
    now: datetime,
    faulty: pd.DataFrame | None = None,
) -> Path:
    target = _quarantine_base(paths, territory, path, now).with_suffix(".parquet")
    quarantine_table(frame, issues, keep, faulty).to_parquet(target, index=False)
    return target


def write_report(paths: Paths, report: IngestReport, now: datetime) -> IngestReport:
    if report.quarantine_file:
        target = Path(report.quarantine_file).with_suffix(".json")
    else:
        target = _quarantine_base(paths, report.territory, Path(report.extract), now).with_suffix(
            ".json"
        )
    report = replace(report, report_file=str(target))
    target.write_text(json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8")
    return report


def in_inbox(paths: Paths, path: Path) -> bool:
    return path.resolve().parent == paths.inbox.resolve()


def kept_dir(paths: Paths) -> Path:
    """Where raw extracts are kept when the home asks for it: readable by its owner only."""
    return paths.inbox / "kept"


def move_from_inbox(
    paths: Paths, path: Path, report: IngestReport, *, keep_raw: bool, now: datetime
) -> Path | None:
    """File the report of an inbox extract beside the inbox, then delete the extract, or move it
    to `kept_dir` (0700 / 0600) when `keep_raw`. Returns where the extract went, if anywhere."""
    folder = paths.inbox / ("processed" if report.accepted else "rejected")
    folder.mkdir(parents=True, exist_ok=True)
    if report.report_file:
        shutil.copyfile(report.report_file, folder / f"{path.name}.report.json")
    if not path.is_file():  # a directory named as an extract is the user's: left alone
        return None
    if not keep_raw:
        path.unlink()
        return None
    kept = kept_dir(paths)
    kept.mkdir(mode=0o700, parents=True, exist_ok=True)
    kept.chmod(0o700)
    target = kept / f"{_stamp(now)}-{path.name}"
    n = 1
    while target.exists():
        n += 1
        target = kept / f"{_stamp(now)}-{n}-{path.name}"
    shutil.move(str(path), target)
    target.chmod(0o600)
    stamp = now.timestamp()
    os.utime(target, (stamp, stamp))  # retention runs from the ingest, not the export
    return target


def purge_kept(paths: Paths, retention_days: float, now: datetime) -> list[Path]:
    """Delete kept raw extracts older than `retention_days` (by the time they were ingested)."""
    kept = kept_dir(paths)
    if not kept.is_dir():
        return []
    limit = (now - timedelta(days=retention_days)).timestamp()
    purged = []
    for path in sorted(kept.iterdir()):
        if path.is_file() and path.stat().st_mtime < limit:
            path.unlink()
            purged.append(path)
    return purged


@contextmanager
def ingest_lock(paths: Paths) -> Iterator[None]:
    """One ingest per home at a time: the store swap and DVC both assume it."""
    paths.data.mkdir(parents=True, exist_ok=True)
    with (paths.data / ".ingest.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
