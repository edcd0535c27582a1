"""Data versions with DVC: the top-level `data.dvc` tracks the curated store (`data/raw`).

Guarantees:
- `data_version(paths)` is the DVC hash recorded in `<home>/data.dvc`, or `UNVERSIONED` when
  the store was never committed; `data_version(paths, territory)` the version of one
  territory's part (what training and forecasts record). It reads files only: no DVC.
- `commit_data_version(paths, remote)` records the store's current content in `data.dvc`,
  caches it and pushes it to the remote `ingest.dvc_remote`: a local directory (created on
  first use), or object storage (`s3://…`, `gs://…`, `azure://…`, with DVC's matching extra
  installed: dvc-s3, dvc-gs, dvc-azure; credentials from the usual environment). In a home that is
  not a DVC repository yet (tests use temporary homes) it runs `dvc init --no-scm` there first.
- DVC holds a repository lock: callers never run two of these at once on one home (the ingest
  pipeline serialises itself with its own lock).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from previsecours.paths import Paths

UNVERSIONED = "unversioned"
TRACKED = "data/raw"
DVC_FILE = "data.dvc"
REMOTE_NAME = "local"


def data_version(paths: Paths, territory: str | None = None) -> str:
    """The DVC hash of the tracked store, from data.dvc (`UNVERSIONED` if never committed).

    With `territory`: the version of that territory's part of the store only, so ingesting
    another service's data leaves it unchanged — the hash of the store manifest's entries under
    `<territory>/` (DVC's `.dir` listing in the cache), in DVC's form `<md5>.dir`."""
    dvc_file = paths.home / DVC_FILE
    if not dvc_file.is_file():
        return UNVERSIONED
    doc = yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}
    outs: list[dict[str, Any]] = doc.get("outs") or []
    md5 = outs[0].get("md5") if outs else None
    if not md5:
        return UNVERSIONED
    if territory is None:
        return str(md5)
    entries = _manifest(paths.home, str(md5))
    if entries is None:  # cache not here (e.g. a clone that has not pulled): the whole store's
        return str(md5)
    mine = sorted(
        (e["relpath"], e["md5"]) for e in entries if e["relpath"].startswith(f"{territory}/")
    )
    if not mine:
        return UNVERSIONED
    digest = hashlib.md5(json.dumps(mine).encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{digest}.dir"


def _manifest(home: Path, md5: str) -> list[dict[str, str]] | None:
    """The `.dir` listing of a tracked directory from the DVC cache (3.x layout, then 2.x)."""
    name = md5.removesuffix(".dir")
    for folder in (home / ".dvc" / "cache" / "files" / "md5", home / ".dvc" / "cache"):
        path = folder / name[:2] / f"{name[2:]}.dir"
        if path.is_file():
            listing: list[dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
            return listing
    return None


def remote_path(paths: Paths, configured: str | None) -> Path | str:
    """The DVC remote: params `ingest.dvc_remote`, a directory relative to the home, or an
    object-storage URL (`s3://bucket/prefix`) kept as it is."""
    if configured and "://" in configured:
        return configured
    path = Path(configured or ".dvc-remote")
    return path if path.is_absolute() else paths.home / path


def commit_data_version(paths: Paths, remote: Path | str) -> str:
    """Commit the store's content to DVC, push it to `remote`, return the new data version."""

    paths.curated.mkdir(parents=True, exist_ok=True)
    repo = _open_or_init(paths.home)
    try:
        _ensure_remote(repo, remote)
        if (paths.home / DVC_FILE).is_file():
            repo.commit(str(paths.home / DVC_FILE), force=True)
        else:
            _track_store(repo, paths.home)
        repo.push(targets=[str(paths.home / DVC_FILE)], remote=REMOTE_NAME)
    finally:
        repo.close()
    return data_version(paths)


def reconcile_data_version(paths: Paths, remote: Path | str) -> str:
    """Commit the store if it changed since `data.dvc` was written (a process killed between
    the store's swap and its DVC commit); otherwise touch nothing. Returns the data version."""
    from dvc.repo import Repo

    dvc_file = paths.home / DVC_FILE
    if not (paths.home / ".dvc").is_dir() or not dvc_file.is_file() or not paths.curated.is_dir():
        return data_version(paths)
    repo = Repo(str(paths.home))
    try:
        stale = bool(repo.status(targets=[str(dvc_file)]))
    finally:
        repo.close()
    return commit_data_version(paths, remote) if stale else data_version(paths)


def _open_or_init(home: Path) -> Any:
    from dvc.repo import Repo

    if (home / ".dvc").is_dir():
        return Repo(str(home))
    # A home that is a git checkout gets a git-aware DVC; any other directory a standalone one.
    return Repo.init(str(home), no_scm=not (home / ".git").exists())


def _ensure_remote(repo: Any, remote: Path | str) -> None:
    """The remote named `local` (a directory or an object-storage URL), default, in the
    git-ignored local config."""
    if isinstance(remote, Path):
        remote.mkdir(parents=True, exist_ok=True)
        url = str(remote.resolve())
    else:
        url = remote
    current = repo.config.get("remote", {}).get(REMOTE_NAME, {}).get("url")
    if current == url and repo.config.get("core", {}).get("remote") == REMOTE_NAME:
        return
    with repo.config.edit("local") as conf:
        conf["remote"][REMOTE_NAME] = {"url": url}
        conf["core"]["remote"] = REMOTE_NAME
        conf["core"]["analytics"] = False


def _track_store(repo: Any, home: Path) -> None:
    """STACK_NOTES' top-level recipe without `dvc add` (its data/raw.dvc would be git-ignored):
    write a `data.dvc` whose only output is `data/raw`, then let `dvc commit` hash it."""
    (home / DVC_FILE).write_text(f"outs:\n- path: {TRACKED}\n", encoding="utf-8")
    repo.commit(str(home / DVC_FILE), force=True)
