"""A small territory's week, command by command: what a 5-series hourly service pays.

Issue #16 asks that a small territory pay small costs, issue #18 sets the goal: the weekly
retrain of a territory of at most 10 series in ≤ 60 s end to end, on 2 cores. This bench builds
one — a synthetic territory of 7 stations whose 5 coverage zones are the 5 modelled series
(station × hour), 27 communes, ~13,000 interventions a year — writes `--years` of hourly
history ending a week before `--end`, then runs every command as a user does, each in a fresh
process (`python -m previsecours`, start-up and imports included), default params:

    synth-territory · generate · ingest · train · promote · forecast

then, for each of the two weeks after that history, drops the week's extract in the inbox and
runs the `weekly-retrain` Prefect flow in a fresh process, as `make demo` does (temporary
Prefect API: its start-up is counted, apart), which ingests it, monitors the last forecast
against it, trains, promotes and forecasts. The first week's flow is the home's first Prefect
run (its database is created and migrated); the second is any later week's.

Where the time goes:
- the commands' own step timings (`train`: panel, backtest, evaluation, final fit, logging;
  `forecast`: champion load, prediction, crews, files; the flow: each subflow, from Prefect's
  log);
- the import of each command's pipeline in a fresh process;
- with `--profile`, each command again under cProfile (bench/out/small_territory/*.prof), the
  cumulative seconds of named phases (imports, MLflow start-up, CatBoost and GLM fits,
  negative-binomial quantiles, plots, model logging and loading, DVC).

`--code DIR` runs the commands from another checkout (its `src/` and root first on the path),
e.g. a `git worktree` of an older commit, for a before/after on the same machine.

Usage: .venv/bin/python bench/bench_small_territory.py [--years 3] [--end 2025-12-31]
       [--profile] [--skip-flow] [--code DIR] [--keep DIR] [--name small_territory]
"""

from __future__ import annotations

import argparse
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from benchlib.common import WORK, Report

NAME = "small5"
STATIONS = 7  # Essonne's densities: 27 communes, 5 coverage zones (the modelled series)
PROFILES = WORK / "small_territory"
WEEK_SEEDS = (8, 9)  # the two weeks after the history, one weekly-retrain flow each
FLOW = (
    "import sys, time\n"
    "t0 = time.perf_counter()\n"
    "from flows.operations import weekly_retrain\n"
    "print(f'flow import {time.perf_counter() - t0:.2f} s', flush=True)\n"
    "weekly_retrain(territory=sys.argv[1], home=sys.argv[2])\n"
)
# Named phases of a profile: label -> pattern of a profiled function (file:line(name)).
# Each pattern names one function, whose cumulative time counts its outermost calls only.
PHASES = {
    "imports (all modules)": r"importlib\._bootstrap>:\d+\(_find_and_load\)",
    "MLflow store start-up": r"_tracking_service/utils\.py:\d+\(_get_sqlalchemy_store\)",
    "CatBoost fits": r"catboost/core\.py:\d+\(_train\)",
    "GLM fits": r"models/glm\.py:\d+\(fit\)",
    "NB quantiles (scipy)": r"core/intervals\.py:\d+\(nb_quantiles\)",
    "plots (render)": r"adapters/training_plots\.py:\d+\(figures\)",
    "plots (savefig + log)": r"adapters/tracking\.py:\d+\(log_figure\)",
    "metrics logging": r"adapters/tracking\.py:\d+\(log_metric(s|_groups)\)",
    "model logging": r"adapters/tracking\.py:\d+\(log_forecaster\)",
    "model loading": r"adapters/registry\.py:\d+\(load_version\)",
    "DVC": r"adapters/versioning\.py:\d+\((commit|reconcile)_data_version\)",
}


@dataclass(frozen=True)
class Timed:
    command: str
    seconds: float
    code: int
    stdout: str
    stderr: str


def environment(home: Path, code: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREVISECOURS_")}
    env |= {
        "PREFECT_HOME": str(home / ".prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    if code is not None:  # another checkout's package and flows first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(code / "src"), str(code)])
    return env


def run(label: str, argv: list[str], env: dict[str, str], cwd: Path) -> Timed:
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    timed = Timed(label, time.perf_counter() - t0, done.returncode, done.stdout, done.stderr)
    print(f"  {label:<16} {timed.seconds:7.1f} s  exit {timed.code}", flush=True)
    if timed.code not in (0, 3):
        print(done.stdout[-2000:], done.stderr[-4000:], sep="\n")
        raise SystemExit(f"{label} failed")
    return timed


def cli(home: Path, *args: str, profile: Path | None = None) -> list[str]:
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile else []
    return [sys.executable, *prefix, "-m", "previsecours", "--home", str(home), *args]


def step_seconds(stdout: str) -> dict[str, float]:
    """`panel 0.4 s · backtest_fit_predict 54.5 s · …` lines of train and forecast."""
    out: dict[str, float] = {}
    for line in stdout.splitlines():
        if " s · " in line:
            for part in line.split(" · "):
                found = re.fullmatch(r"\s*(.+?) ([\d.]+) s\s*", part)
                if found:
                    out[found.group(1)] = float(found.group(2))
    return out


def flow_steps(log: str) -> dict[str, float]:
    """Seconds of the weekly-retrain flow's parts, from Prefect's log lines (HH:MM:SS.mmm)."""
    stamp = r"(\d\d:\d\d:\d\d\.\d+) \| \w+\s*\| "
    names: dict[str, str] = {}
    begin: dict[str, datetime] = {}
    out: dict[str, float] = {}
    server = None
    for line in log.splitlines():
        m = re.match(
            stamp + r"Flow run '([\w-]+)' - Beginning (?:sub)?flow run .* for flow '([\w-]+)'", line
        )
        if m:
            names[m.group(2)] = m.group(3)
            begin[m.group(2)] = datetime.strptime(m.group(1), "%H:%M:%S.%f")
            if server is not None and "prefect start-up" not in out:
                out["prefect start-up"] = (begin[m.group(2)] - server).total_seconds()
            continue
        m = re.match(stamp + r"prefect - Starting temporary server", line)
        if m:
            server = datetime.strptime(m.group(1), "%H:%M:%S.%f")
            continue
        m = re.match(stamp + r"Flow run '([\w-]+)' - Finished in state", line)
        if m and m.group(2) in begin:
            end = datetime.strptime(m.group(1), "%H:%M:%S.%f")
            out[names[m.group(2)]] = (end - begin[m.group(2)]).total_seconds() % 86400
    return out


def import_seconds(env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Importing each command's pipeline in a fresh process (after the interpreter's start)."""
    out = {}
    for module in ("previsecours.cli", *(f"previsecours.pipelines.{m}" for m in PIPELINES)):
        code = (
            f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            check=True,
        )
        out[module] = float(done.stdout.strip())
    return out


PIPELINES = ("ingest", "train", "promote", "forecast")


def phases(profile: Path) -> dict[str, float]:
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    out = dict.fromkeys(PHASES, 0.0)
    for (file, line, func), (_, _, _, cumtime, _) in stats.items():
        where = f"{file}:{line}({func})"
        for label, pattern in PHASES.items():
            if re.search(pattern, where):
                out[label] += cumtime
    return out


def build(
    home: Path, territories: Path, args: argparse.Namespace, env: dict[str, str], cwd: Path
) -> tuple[Path, list[Timed], list[Path]]:
    """The territory, its history up to two weeks before `--end`, and the extracts of the two
    weeks after it."""
    end = date.fromisoformat(args.end)
    start = date(end.year - args.years + 1, 1, 1)
    cut = end - timedelta(days=7 * len(WEEK_SEEDS))
    timed = [
        run(
            "synth-territory",
            cli(
                home,
                "synth-territory",
                "--stations",
                str(STATIONS),
                "--name",
                NAME,
                "--out",
                str(territories),
            ),
            env,
            cwd,
        )
    ]
    yaml_file = territories / f"{NAME}.yaml"
    t = ["-t", str(yaml_file)]
    timed.append(
        run(
            "generate",
            cli(home, "generate", *t, "--start", str(start), "--end", str(cut)),
            env,
            cwd,
        )
    )
    weeks = []
    for k, seed in enumerate(WEEK_SEEDS):
        week = home / f"week_{k + 1}.csv"
        first = cut + timedelta(days=7 * k + 1)
        args_week = ["--start", str(first), "--end", str(first + timedelta(days=6))]
        command = cli(home, "generate", *t, *args_week, "--seed", str(seed), "--out", str(week))
        run(f"generate (week {k + 1})", command, env, cwd)
        weeks.append(week)
    return yaml_file, timed, weeks


def forecast_digest(home: Path) -> str:
    """A hash of the newest forecast's values: equal digests, identical forecasts."""
    newest = sorted((home / "forecasts" / NAME).glob("*.parquet"))
    newest = [p for p in newest if p.name.count(".") == 1]
    if not newest:
        return "none"
    frame = pd.read_parquet(newest[-1]).drop(columns=["issued_at"], errors="ignore")
    value = int(pd.util.hash_pandas_object(frame, index=False).sum()) & 0xFFFFFFFF
    return f"{value:08x} ({len(frame)} rows)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--years", type=int, default=3, help="calendar years of history")
    parser.add_argument("--end", default="2025-12-31", help="last day of data")
    parser.add_argument(
        "--profile", action="store_true", help="train/promote/forecast under cProfile too"
    )
    parser.add_argument("--skip-flow", action="store_true", help="no weekly-retrain flow")
    parser.add_argument("--code", help="run the commands from this checkout (its src/ first)")
    parser.add_argument("--keep", help="work here and keep it (default: a temporary folder)")
    parser.add_argument("--name", default="small_territory", help="results file name")
    args = parser.parse_args()

    root = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="bench-small-"))
    if root.exists() and args.keep:
        shutil.rmtree(root)
    home, territories = root / "home", root / "territories"
    code = Path(args.code).resolve() if args.code else None
    cwd = code or Path(__file__).resolve().parents[1]
    env = environment(home, code)
    report = Report(
        args.name,
        "A small territory's week: 5 hourly series, command by command",
        f"`bench/bench_small_territory.py`: a synthetic territory of {STATIONS} stations "
        f"(5 coverage zones = 5 modelled station × hour series), {args.years} calendar years of "
        "generated interventions ending a week before "
        f"{args.end}, default params.yaml; each command in a fresh process"
        + (f"; code from `{code}`" if code else "")
        + ". Goal (issue #18): the weekly retrain of a territory of ≤ 10 series ≤ 60 s end to "
        "end on 2 cores.",
    )
    print(f"work folder: {root}")
    try:
        yaml_file, timed, weeks = build(home, territories, args, env, cwd)
        t = ["-t", str(yaml_file)]
        for command in ("ingest", "train", "promote", "forecast"):
            timed.append(run(command, cli(home, command, *t), env, cwd))
        digest = forecast_digest(home)
        flows = []
        for k, week in enumerate([] if args.skip_flow else weeks):
            shutil.copy(week, home / "data" / "inbox" / week.name)
            argv = [sys.executable, "-c", FLOW, str(yaml_file), str(home)]
            flows.append(run(f"weekly-retrain, week {k + 1}", argv, env, cwd))
        imports = import_seconds(env, cwd)
        profiles: dict[str, dict[str, float]] = {}
        if args.profile:
            PROFILES.mkdir(parents=True, exist_ok=True)
            for command in ("train", "promote", "forecast"):
                prof = PROFILES / f"{command}.prof"
                run(f"{command} (cProfile)", cli(home, command, *t, profile=prof), env, cwd)
                profiles[command] = phases(prof)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    tables(report, timed, flows, imports, profiles, digest)
    report.write()


def tables(  # noqa: PLR0917 (one call, every table's input)
    report: Report,
    timed: list[Timed],
    flows: list[Timed],
    imports: dict[str, float],
    profiles: dict[str, dict[str, float]],
    digest: str,
) -> None:
    rows = [{"command": t.command, "seconds": t.seconds, "exit": t.code} for t in timed]
    for k, flow in enumerate(flows):
        name = f"weekly-retrain flow, week {k + 1}" + (" (first Prefect run)" if k == 0 else "")
        rows.append({"command": name, "seconds": flow.seconds, "exit": flow.code})
    report.table(
        "Each command in a fresh process (wall seconds)",
        pd.DataFrame(rows).set_index("command"),
        digits=1,
        note="Forecast digest (the values of `forecast`'s file; equal digests, identical "
        f"forecasts): {digest}.",
    )
    for t in timed:
        steps = step_seconds(t.stdout)
        if steps:
            frame = pd.DataFrame({"seconds": steps}).rename_axis("step")
            report.table(f"`{t.command}`: its own steps", frame, digits=1)
    if flows:
        parts = {
            f"week {k + 1}": {
                "flow import": _flow_import(flow.stdout),
                **flow_steps(flow.stdout + flow.stderr),
            }
            for k, flow in enumerate(flows)
        }
        frame = pd.DataFrame(parts).rename_axis("part")
        report.table(
            "`weekly-retrain` flow (one process a week): its parts",
            frame,
            digits=1,
            note="`weekly-retrain` is the whole flow run; `prefect start-up`: the temporary API's "
            "start (none under `make serve`, whose server is already up), which creates and "
            "migrates the home's Prefect database on its first run.",
        )
    report.table(
        "Imports in a fresh process (seconds, interpreter start-up excluded)",
        pd.DataFrame({"seconds": imports}).rename_axis("module"),
        digits=2,
    )
    if profiles:
        report.table(
            "Where time goes, under cProfile (cumulative seconds of named phases)",
            pd.DataFrame(profiles).rename_axis("phase"),
            digits=1,
            note="cProfile slows Python code (not the fits); phases may nest (imports happen "
            "inside others). Profiles: bench/out/small_territory/*.prof.",
        )


def _flow_import(stdout: str) -> float:
    found = re.search(r"flow import ([\d.]+) s", stdout)
    return float(found.group(1)) if found else float("nan")


if __name__ == "__main__":
    main()
