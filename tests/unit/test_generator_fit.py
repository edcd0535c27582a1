"""The committed figures are exactly what the fitting script derives from the real data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_refitting_reproduces_the_committed_figures(
    repo_root: Path, shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "figures.py"
    subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts" / "fit_generator.py"),
            "--data",
            str(shared_data / "sdis91"),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    committed = repo_root / "src" / "previsecours" / "core" / "generator" / "figures.py"
    assert out.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8")
