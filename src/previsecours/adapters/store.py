"""The curated store: deduplicated canonical events and counts, per territory, as Parquet.

Layout under `Paths.curated` (= `<home>/data/raw`, the directory the top-level `data.dvc` tracks):

    <territory>/events/year=<YYYY>/part-0.parquet            canonical event columns
    <territory>/counts/<frequency>/year=<YYYY>/part-0.parquet COUNT_COLUMNS

Guarantees:
- Readers return canonical dtypes with times tz-aware in the territory's time zone, and an empty
  canonical frame when nothing was ingested.
- A write is atomic: the new version of the whole territory directory is built in a staging
  directory beside `data/raw` (same file system, outside what DVC tracks), then exchanged with
  the live one in one `renameat2(RENAME_EXCHANGE)` system call (a plain `rename` the first
  time). A process killed at any moment leaves `data/raw/<territory>` byte-identical to before
  or to after; at worst a stale staging directory remains outside the store, removed by the
  next write.
- Unchanged files are hard-linked into the new version, never rewritten in place, so a version
  that was swapped out can be deleted without touching the live one.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from previsecours.core.history import History
from previsecours.core.schema import (
    COUNT_COLUMNS,
    FREQUENCIES,
    conform_extract,
    empty_extract,
    to_local_time,
)
from previsecours.core.territory import Territory
from previsecours.paths import Paths

EVENTS = "events"
COUNTS = "counts"
PART_NAME = "part-0.parquet"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def territory_dir(paths: Paths, territory: Territory) -> Path:
    return paths.curated / territory.name


def staging_root(paths: Paths) -> Path:
    """Beside the tracked store, on the same file system, never inside it."""
    return paths.data / ".staging"


# ---------------------------------------------------------------- readers


def read_events(paths: Paths, territory: Territory) -> pd.DataFrame:
    """Every stored event of `territory`, canonical columns, sorted by alert time then id."""
    frames = _read_parts(territory_dir(paths, territory) / EVENTS)
    if not frames:
        return empty_extract(territory.timezone)
    events = conform_extract(pd.concat(frames, ignore_index=True), territory.timezone)
    return events.sort_values(["alert_time", "intervention_id"], ignore_index=True)


def read_history(paths: Paths, territory: Territory) -> History:
    """The stored history: the events when the store holds any (counts are then ignored:
    events give every level); otherwise the stored counts — of the territory's frequency when
    stored, else the finest frequency stored. Empty events when nothing is stored."""
    events = read_events(paths, territory)
    if len(events):
        return History.of_events(events)
    root = territory_dir(paths, territory) / COUNTS
    stored = [f for f in FREQUENCIES if any((root / f).glob("year=*/*.parquet"))]
    if not stored:
        return History.of_events(events)
    frequency = territory.frequency if territory.frequency in stored else stored[0]
    return History.of_counts(read_counts(paths, territory, frequency), frequency)


def read_counts(paths: Paths, territory: Territory, frequency: str) -> pd.DataFrame:
    """Stored counts of `territory` at its native `frequency` (hour, day or week)."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency {frequency!r} is not one of {', '.join(FREQUENCIES)}")
    frames = _read_parts(territory_dir(paths, territory) / COUNTS / frequency)
    raw = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({c: [] for c in COUNT_COLUMNS})
    )
    return conform_counts(raw, territory.timezone)


def conform_counts(frame: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """COUNT_COLUMNS in order: period_start tz-aware local, codes as strings, count int64."""
    out = pd.DataFrame(
        {
            "period_start": to_local_time(frame["period_start"], timezone),
            "area_code": frame["area_code"].astype("string"),
            "category": frame["category"].astype("string"),
            "count": pd.to_numeric(frame["count"]).astype("int64"),
        }
    )
    return out.sort_values(["period_start", "area_code", "category"], ignore_index=True)


def _read_parts(root: Path) -> list[pd.DataFrame]:
    # A writer may swap versions between our listing and our reads: list again, a few times.
    for _ in range(3):
        try:
            return [pd.read_parquet(p) for p in sorted(root.glob("year=*/*.parquet"))]
        except FileNotFoundError:
            continue
    return [pd.read_parquet(p) for p in sorted(root.glob("year=*/*.parquet"))]


# ---------------------------------------------------------------- writers


def write_events(paths: Paths, territory: Territory, events: pd.DataFrame) -> None:
    """Make `events` (the complete, deduplicated set) the stored events of `territory`."""
    local_years = events["alert_time"].dt.tz_convert(territory.timezone).dt.year
    _replace_subtree(paths, territory, Path(EVENTS), _partitions(events, local_years))


def write_counts(paths: Paths, territory: Territory, frequency: str, counts: pd.DataFrame) -> None:
    """Make `counts` (complete, one row per period × area × category) the stored counts."""
    years = counts["period_start"].dt.tz_convert(territory.timezone).dt.year
    _replace_subtree(paths, territory, Path(COUNTS) / frequency, _partitions(counts, years))


def _partitions(frame: pd.DataFrame, years: pd.Series) -> dict[str, pd.DataFrame]:
    values = years.to_numpy()
    return {
        f"year={year}": frame[values == year].reset_index(drop=True)
        for year in sorted({int(y) for y in values})
    }


# A test hook: called with a step name at each stage of a write, so that a test can kill the
# writing process at a precise point. Does nothing in production.
checkpoint: Callable[[str], None] = lambda step: None  # noqa: E731


def _replace_subtree(
    paths: Paths, territory: Territory, subtree: Path, parts: dict[str, pd.DataFrame]
) -> None:
    live = territory_dir(paths, territory)
    _remove_stale_staging(paths)
    staging = staging_root(paths) / f"{territory.name}-{uuid.uuid4().hex}"
    staged = staging / territory.name
    staged.mkdir(parents=True)
    if live.is_dir():
        _link_tree(live, staged, skip=subtree)
    checkpoint("linked")
    for name, part in parts.items():
        target = staged / subtree / name / PART_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        part.to_parquet(target, index=False)
        checkpoint(f"wrote {name}")
    _fsync_tree(staged)
    checkpoint("staged")
    live.parent.mkdir(parents=True, exist_ok=True)
    if live.is_dir():
        exchange(staged, live)
    else:
        staged.rename(live)
    _fsync_dir(live.parent)
    checkpoint("swapped")
    shutil.rmtree(staging, ignore_errors=True)


def _link_tree(source: Path, target: Path, skip: Path) -> None:
    """Hard-link every file of `source` into `target`, except those under `skip`."""
    for path in source.rglob("*"):
        rel = path.relative_to(source)
        if rel == skip or skip in rel.parents:
            continue
        if path.is_dir():
            (target / rel).mkdir(parents=True, exist_ok=True)
        else:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target / rel)


def exchange(a: Path, b: Path) -> None:
    """Atomically swap two directories of one file system (Linux renameat2 RENAME_EXCHANGE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    rc = libc.renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot swap {a} and {b} atomically: {os.strerror(err)}")


def _remove_stale_staging(paths: Paths) -> None:
    """Left-overs of an interrupted write: they were never part of the store."""
    root = staging_root(paths)
    if root.is_dir():
        for stale in root.iterdir():
            shutil.rmtree(stale, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: the directory entry itself must reach the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
