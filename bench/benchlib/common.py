"""Shared by the bench scripts: results files with their header, and the exchange with the peers.

Results: every benchmark writes `bench/results/<name>.md` — a header (date, git commit, machine:
cores, RAM, CPU model, load; package versions) then its sections — and prints the sections as
it goes. `Report` is for scripts that build markdown tables; `recorded(name, title)` wraps a
script that prints plain text and keeps its output verbatim (in a code block).

Peers: the MAIN environment prepares one work folder per dataset (`write_inputs`): the modelled
series as a Parquet file (`history.parquet`: unique_id, t, ds, y, plus calendar columns in local
time) and the backtest windows (`windows.json`: origin and end positions, the training span,
the seasons). `run_peers` runs bench/peers/run_peers.py in the PEER environment (its own locked
uv project, pandas < 3), which writes `predictions.parquet` (model, window, unique_id, t, mean
and its own quantiles where the peer has them) and `peers.json` (seconds, skips and why). The
MAIN environment then scores every model with the project's metric code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
WORK = REPO / "bench" / "out"  # git-ignored
PEERS = REPO / "bench" / "peers"
UV = REPO / ".uv" / "bin" / "uv"
MAIN_PACKAGES = ("pandas", "numpy", "catboost", "lightgbm", "prefect", "mlflow", "scikit-learn")
PEER_PACKAGES = ("statsforecast", "mlforecast", "lightgbm", "prophet", "pandas", "numpy")


# ------------------------------------------------------------------ machine and versions


def peak_rss_mib(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024  # kB on Linux


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    ram = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {"cores": str(os.cpu_count()), "RAM": ram, "CPU": cpu, "load (1/5/15 min)": load}


def main_versions(names: Sequence[str] = MAIN_PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    return commit + (
        " (+ uncommitted changes)" if git("status", "--porcelain", "--", "src") else ""
    )


# ------------------------------------------------------------------ results files


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table (index included), numbers rounded; no extra dependency."""
    flat = frame.reset_index() if frame.index.name or frame.index.nlevels > 1 else frame
    header = [str(c) for c in flat.columns]

    def cell(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    rows = [" | ".join(cell(v) for v in row) for row in flat.itertuples(index=False)]
    sep = " | ".join("---" for _ in header)
    return "\n".join([f"| {' | '.join(header)} |", f"| {sep} |", *(f"| {r} |" for r in rows)])


@dataclass
class Report:
    """Sections of one results file, printed as they come, written with the header."""

    name: str
    title: str
    about: str = ""
    versions: dict[str, str] = field(default_factory=main_versions)
    sections: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        print(text, flush=True)
        self.sections.append(text)

    def table(self, heading: str, frame: pd.DataFrame, digits: int = 3, note: str = "") -> None:
        self.add(
            f"\n### {heading}\n\n{markdown_table(frame, digits)}" + (f"\n\n{note}" if note else "")
        )

    def header(self) -> str:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            f"# {self.title}",
            "",
            self.about,
            "",
            f"- date: {now}",
            f"- git commit: {git_commit()}",
        ]
        lines += [f"- {k}: {v}" for k, v in machine().items()]
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in self.versions.items()))
        lines.append(f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`")
        return "\n".join(lines)

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.md"
        path.write_text(self.header() + "\n" + "\n".join(self.sections) + "\n", encoding="utf-8")
        print(f"\nwritten {path.relative_to(REPO)}")
        return path


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


@contextlib.contextmanager
def recorded(name: str, title: str, about: str = "") -> Iterator[Report]:
    """Print as usual and keep everything printed, verbatim, in bench/results/<name>.md."""
    report = Report(name, title, about)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, buffer)):  # type: ignore[type-var]
        yield report
    report.sections.insert(0, "\n```text\n" + buffer.getvalue().rstrip() + "\n```")
    report.write()


# ------------------------------------------------------------------ peers' inputs and outputs


@dataclass(frozen=True)
class PeerTask:
    """What the peer environment needs to forecast the same windows as the main one."""

    folder: Path
    frequency: str  # hour | day | week
    seasons: tuple[int, ...]  # season lengths in periods (e.g. 24, 168)
    horizon: int
    train_periods: int
    windows: tuple[tuple[int, int], ...]  # (origin, end) positions in the panel
    models: tuple[str, ...]


def write_inputs(
    task: PeerTask, series: pd.DataFrame, starts: pd.DatetimeIndex, counts: np.ndarray
) -> None:
    """The panel (series × periods) as long Parquet, with local calendar columns."""
    task.folder.mkdir(parents=True, exist_ok=True)
    n, t = counts.shape
    local = starts
    # Hourly: a regular clock (UTC has no 23/25-hour days); days and weeks: local dates.
    ds = (
        starts.tz_convert("UTC").tz_localize(None)
        if task.frequency == "hour"
        else starts.tz_localize(None)
    )
    ids = [f"{a}|{c}" for a, c in zip(series["area_code"], series["category"], strict=True)]
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, t),
            "t": np.tile(np.arange(t), n),
            "ds": np.tile(ds.to_numpy(), n),
            "y": counts.reshape(-1),
            "hour": np.tile(local.hour.to_numpy(), n),
            "weekday": np.tile(local.day_of_week.to_numpy(), n),
            "month": np.tile(local.month.to_numpy(), n),
        }
    )
    frame.to_parquet(task.folder / "history.parquet", index=False)
    spec = {
        "frequency": task.frequency,
        "seasons": list(task.seasons),
        "horizon": task.horizon,
        "train_periods": task.train_periods,
        "windows": [list(w) for w in task.windows],
        "models": list(task.models),
    }
    (task.folder / "windows.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")


def ensure_peer_env() -> Path:
    """bench/peers/.venv from its lock file (uv sync --frozen), made on first use."""
    python = PEERS / ".venv" / "bin" / "python"
    uv = str(UV) if UV.exists() else "uv"
    subprocess.run(
        [uv, "sync", "--frozen", "--project", str(PEERS), "--python", "python3", "--quiet"],
        check=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    return python


def run_peers(task: PeerTask) -> dict[str, Any]:
    """Run the peers in their own environment; returns their timings and skips."""
    python = ensure_peer_env()
    subprocess.run([str(python), str(PEERS / "run_peers.py"), str(task.folder)], check=True)
    result: dict[str, Any] = json.loads((task.folder / "peers.json").read_text(encoding="utf-8"))
    return result


def peer_predictions(task: PeerTask, starts: pd.DatetimeIndex) -> pd.DataFrame:
    """The peers' forecasts in the backtest's layout: model, window, area_code, category,
    period_start, mean (+ own quantile columns q_<level>)."""
    frame = pd.read_parquet(task.folder / "predictions.parquet")
    area_cat = frame["unique_id"].str.split("|", n=1, expand=True)
    frame.insert(2, "area_code", area_cat[0])
    frame.insert(3, "category", area_cat[1])
    frame.insert(4, "period_start", starts[frame["t"].to_numpy()])
    return frame.drop(columns=["unique_id", "t"])
