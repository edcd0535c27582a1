"""The ingest flow, reachable through the Prefect API, reads extracts inside the home's inbox
only (issue #17: a run pointed at /etc/passwd must not read it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flows.ingest import inbox_file

from previsecours.errors import InputError
from previsecours.settings import load_settings


def test_paths_outside_the_inbox_are_refused(tmp_path: Path) -> None:
    settings = load_settings("essonne", tmp_path)
    inbox = settings.paths.inbox.resolve()
    assert inbox_file(settings, "extract.csv") == inbox / "extract.csv"
    assert inbox_file(settings, str(inbox / "sub" / "x.csv")) == inbox / "sub" / "x.csv"
    for outside in ("/etc/passwd", "../params.yaml", str(inbox / ".." / "raw" / "x.parquet")):
        with pytest.raises(InputError, match="inside"):
            inbox_file(settings, outside)
