"""Ingest speed and memory: rows/s and peak RSS for 100k- and 1M-row Essonne extracts.

Each size runs in a fresh Python process that imports everything it needs (Great
Expectations included: its import is part of the cost a user pays) and ingests one generated
CSV into an empty temporary home: read, map, validate, merge, DVC commit and push, report.
Goal (issue 3): 1M rows in <= 60 s and <= 3 GB on 2 cores.

    .venv/bin/python bench/bench_ingest.py            # both sizes
    .venv/bin/python bench/bench_ingest.py 100000     # one size
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = (100_000, 1_000_000)
DAILY = 250  # Essonne's generated extracts carry ~250 interventions a day


def make_extract(rows: int, folder: Path) -> Path:
    """A clean generated extract of about `rows` interventions, cut to exactly `rows`."""
    from previsecours.adapters.export_files import write_export
    from previsecours.adapters.territory_files import load_territory
    from previsecours.core.generator import generate_events
    from previsecours.core.generator.export import dispatch_export

    territory = load_territory(REPO / "territories" / "essonne.yaml")
    end = date(2025, 12, 31)
    start = end - timedelta(days=int(rows / DAILY * 1.1) + 2)
    events = generate_events(territory, start, end, 7).tail(rows)
    path = folder / f"essonne-{rows}.csv"
    write_export(dispatch_export(events, territory, 7), path)
    return path


def measure(path: Path, home: Path) -> dict[str, float]:
    """Run in the child: ingest `path` and report time and peak memory."""
    started = time.perf_counter()
    import great_expectations  # noqa: F401 - timed apart: the first validation pays it anyway

    from previsecours.pipelines.ingest import IngestOptions, ingest_file
    from previsecours.settings import load_settings

    imported = time.perf_counter()
    report = ingest_file(load_settings("essonne", home), path, IngestOptions())
    done = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if report.status != "accepted":
        raise SystemExit(report.summary())
    return {
        "rows": report.rows_read,
        "imports": imported - started,
        "seconds": done - started,
        "peak_mib": peak_kib / 1024,
    }


def main(sizes: tuple[int, ...]) -> None:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONPATH=str(REPO / "src"))
    print(f"{'rows':>10} {'imports s':>9} {'total s':>8} {'rows/s':>9} {'peak MiB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in sizes:
            folder = Path(tmp) / str(rows)
            folder.mkdir()
            path = make_extract(rows, folder)
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(path), str(folder / "home")],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"{result['rows']:>10,} {result['imports']:>9.1f} {result['seconds']:>8.1f} "
                f"{result['rows'] / result['seconds']:>9,.0f} {result['peak_mib']:>9,.0f}"
            )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(measure(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        from benchlib.common import recorded

        with recorded("ingest", "Ingest speed and memory", (__doc__ or "").split("\n\n")[0]):
            main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
