"""The store's write is atomic: a process killed (SIGKILL, no clean-up) at any point leaves the
territory's store byte-identical to before or to after — proved with real kills."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import pandas as pd
import pytest

from previsecours.adapters import store
from previsecours.core.schema import conform_extract
from previsecours.paths import Paths

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

REPO = Path(__file__).resolve().parents[2]
YEARS = range(2012, 2024)


def events(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, (2024 - 2012) * 365 * 86400, n))
    times = pd.Timestamp("2012-01-01", tz="Europe/Paris") + pd.to_timedelta(seconds, unit="s")
    frame = pd.DataFrame(
        {
            "intervention_id": [f"{seed}-{i}" for i in range(n)],
            "alert_time": times,
            "commune_code": rng.choice(["91001", "91016", "91021"], n),
            "category": rng.choice(["SUAP", "ACCI"], n),
            "latitude": rng.uniform(48.3, 48.7, n),
        }
    )
    return conform_extract(frame, "Europe/Paris")


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import pandas as pd
    from previsecours.adapters import store
    from previsecours.adapters.territory_files import load_territory
    from previsecours.settings import Paths

    home, new, kill_at = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    territory = load_territory(Path(sys.argv[4]))
    frame = pd.read_parquet(new)

    def checkpoint(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    store.checkpoint = checkpoint
    print("ready", flush=True)
    store.write_events(Paths(home), territory, frame)
    print("done", flush=True)
    """
)


class Versions(TypedDict):
    before_home: Path
    new_file: Path
    before: dict[str, str]
    after: dict[str, str]


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory, essonne: Territory) -> Versions:
    """A store holding version A, and the exact bytes version B gives once written."""
    base = tmp_path_factory.mktemp("atomic")
    before_home, after_home = base / "before", base / "after"
    store.write_events(Paths(before_home), essonne, events(40_000, 1))
    new_file = base / "new.parquet"
    events(60_000, 2).to_parquet(new_file, index=False)
    shutil.copytree(before_home, after_home)
    store.write_events(Paths(after_home), essonne, pd.read_parquet(new_file))
    territory_dir = Path("data/raw/essonne")
    return {
        "before_home": before_home,
        "new_file": new_file,
        "before": tree(before_home / territory_dir),
        "after": tree(after_home / territory_dir),
    }


def run_writer(home: Path, new_file: Path, kill_at: str) -> subprocess.Popen[str]:
    script = [sys.executable, "-c", WRITER, str(home), str(new_file), kill_at]
    script.append(str(REPO / "territories" / "essonne.yaml"))
    return subprocess.Popen(script, stdout=subprocess.PIPE, text=True, cwd=REPO)


KILL_POINTS = ["linked", "wrote year=2012", "wrote year=2018", "staged", "swapped"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_at_a_step_the_store_is_exactly_before_or_after(
    kill_at: str, versions: Versions, tmp_path: Path, essonne: Territory
) -> None:
    home = tmp_path / "home"
    shutil.copytree(versions["before_home"], home)
    proc = run_writer(home, versions["new_file"], kill_at)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    expected = versions["after"] if kill_at == "swapped" else versions["before"]
    assert tree(home / "data" / "raw" / "essonne") == expected
    # The next write clears what the killed one left beside the store, and succeeds.
    store.write_events(Paths(home), essonne, events(10, 3))
    assert len(store.read_events(Paths(home), essonne)) == 10
    assert [p.name for p in (home / "data" / ".staging").iterdir()] == []


@pytest.mark.parametrize("delay", [0.0, 0.2, 0.6])
def test_killed_at_a_random_moment_the_store_is_exactly_before_or_after(
    delay: float, versions: Versions, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(versions["before_home"], home)
    proc = run_writer(home, versions["new_file"], kill_at="never")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert tree(home / "data" / "raw" / "essonne") in (versions["before"], versions["after"])


def test_the_write_spans_many_files_so_the_kills_above_land_inside_it(versions: Versions) -> None:
    assert len(versions["after"]) == len(YEARS)
    assert versions["after"] != versions["before"]
