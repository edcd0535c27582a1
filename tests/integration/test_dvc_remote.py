"""`ingest.dvc_remote` may name object storage: the URL becomes the DVC remote as it is."""

from __future__ import annotations

from pathlib import Path

from previsecours.adapters.versioning import REMOTE_NAME, _ensure_remote, remote_path
from previsecours.paths import Paths


def test_object_storage_url_is_the_remote_and_a_directory_stays_a_path(tmp_path: Path) -> None:
    from dvc.repo import Repo

    paths = Paths(tmp_path)
    assert remote_path(paths, "s3://sdis-data/previsecours") == "s3://sdis-data/previsecours"
    assert remote_path(paths, ".dvc-remote") == tmp_path / ".dvc-remote"
    assert remote_path(paths, None) == tmp_path / ".dvc-remote"

    repo = Repo.init(str(tmp_path), no_scm=True)
    try:
        _ensure_remote(repo, "gs://sdis-data/previsecours")
    finally:
        repo.close()
    config = Repo(str(tmp_path)).config
    assert config["remote"][REMOTE_NAME]["url"] == "gs://sdis-data/previsecours"
    assert config["core"]["remote"] == REMOTE_NAME
    assert not (tmp_path / "gs:").exists()  # no directory made for a URL
