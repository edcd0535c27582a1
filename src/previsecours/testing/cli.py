"""The `previsecours` command run as a user runs it: a fresh process, the real `main()`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = "from previsecours.cli import main; main()"


def run_cli(
    home: Path, *args: str, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`previsecours --home HOME ARGS…` in a subprocess, without the caller's
    PREVISECOURS_* environment; its exit code, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREVISECOURS_")}
    return subprocess.run(
        [sys.executable, "-c", CLI, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=env,
    )
