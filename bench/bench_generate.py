"""Benchmark: generate 7 years of Essonne (2019-2025, ~650k interventions) to CSV and Parquet.

Each case runs in a fresh child process, so its peak memory (resource.getrusage, max RSS) is
its own. Prints a table: stage times (events, export rows, file), total, peak RSS, file size.
Goal (issue 2): <= 30 s and <= 1 GB on 2 cores. Timings are noisy when the machine is shared.

    .venv/bin/python bench/bench_generate.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START, END, SEED = date(2019, 1, 1), date(2025, 12, 31), 7
CASES = (("csv", False), ("parquet", False), ("csv", True))


def run_case(file_format: str, dirty: bool, out_dir: Path) -> dict[str, float]:
    """One generation, timed stage by stage (called in the child process)."""
    from previsecours.adapters.export_files import write_dirty_export, write_export
    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.generator import generate_events
    from previsecours.core.generator.export import dirty_export, dispatch_export

    territory = load_territory(REPO / "territories" / "essonne.yaml")
    out = out_dir / f"bench.{file_format}"
    t0 = time.perf_counter()
    events = generate_events(territory, START, END, SEED)
    t1 = time.perf_counter()
    export = dispatch_export(events, territory, SEED)
    t2 = time.perf_counter()
    if dirty:
        write_dirty_export(dirty_export(export, territory, SEED, 0.005), out)
    else:
        write_export(export, out, file_format)  # type: ignore[arg-type]
    t3 = time.perf_counter()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {
        "rows": float(len(events)),
        "events_s": t1 - t0,
        "export_s": t2 - t1,
        "write_s": t3 - t2,
        "total_s": t3 - t0,
        "peak_mib": peak_mib,
        "size_mib": out.stat().st_size / 2**20,
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--case":
        file_format, dirty = sys.argv[2], sys.argv[3] == "dirty"
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_case(file_format, dirty, Path(tmp))))
        return
    print(f"generate {START}..{END} (seed {SEED}), one child process per case")
    print(
        f"{'case':<12}{'rows':>9}{'events s':>10}{'export s':>10}{'write s':>9}"
        f"{'total s':>9}{'peak MiB':>10}{'file MiB':>10}"
    )
    for file_format, dirty in CASES:
        child = subprocess.run(
            [sys.executable, __file__, "--case", file_format, "dirty" if dirty else "clean"],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(child.stdout.strip().splitlines()[-1])
        name = f"{file_format}{' dirty' if dirty else ''}"
        print(
            f"{name:<12}{r['rows']:>9.0f}{r['events_s']:>10.2f}{r['export_s']:>10.2f}"
            f"{r['write_s']:>9.2f}{r['total_s']:>9.2f}{r['peak_mib']:>10.0f}{r['size_mib']:>10.1f}"
        )
    print("goal: total <= 30 s, peak <= 1024 MiB (machine shared: timings are noisy)")


if __name__ == "__main__":
    if "--case" in sys.argv:
        main()
    else:
        from benchlib.common import recorded

        with recorded(
            "generate", "Generating 7 years of Essonne", (__doc__ or "").split("\n\n")[0]
        ):
            main()
