"""`make demo`: the whole job end to end on the embedded default territory (Essonne).

1. generate six years of seeded history ending yesterday (so the forecast is for the coming
   week; `--end` to choose), all but its last month into `<home>/data/inbox/` as a clean CSV;
2. generate that last month as a dirty extract (Latin-1, personal data, defects, a manifest),
   the kind of file ingestion must survive;
3. run the `weekly-retrain` Prefect flow for real (recorded in `<home>/.prefect/`, so that
   `make serve` shows it afterwards): ingest the inbox (the dirty extract shows its
   quarantine), monitor, train and log to MLflow, promote to `champion`, forecast the next
   7 days with crews per station;
4. print where to look.

Idempotent: a second run regenerates the same files, whose interventions are already stored
(nothing is counted twice), trains a new version that must beat the champion to replace it.
`--years` shrinks the history (CI runs the demo with 2 years).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from previsecours.ops.generate import GenerateRequest, GenerateResult, generate_extract
from previsecours.settings import Settings, load_settings

TERRITORY = "essonne"
HISTORY_YEARS = 6


@dataclass(frozen=True)
class DemoPeriods:
    history_start: date
    history_end: date
    recent_start: date
    recent_end: date


def demo_periods(end: date, years: int = HISTORY_YEARS) -> DemoPeriods:
    """`years` years ending at `end`: all but the last month as history, the last month recent."""
    recent_start = end.replace(day=1)
    return DemoPeriods(
        history_start=date(end.year - years + 1, 1, 1),
        history_end=recent_start - timedelta(days=1),
        recent_start=recent_start,
        recent_end=end,
    )


def generate_demo_data(
    settings: Settings, years: int = HISTORY_YEARS, end: date | None = None
) -> tuple[GenerateResult, GenerateResult]:
    """History and a dirty last month ending at `end` (default: params.yaml `generate.end`)."""
    section = settings.params.generate
    params = GenerateRequest.from_params(section, out=settings.paths.inbox)
    periods = demo_periods(end or params.end, years)
    inbox, name = settings.paths.inbox, settings.territory.name
    history = GenerateRequest.from_params(
        section,
        out=inbox / f"{name}_{periods.history_start}_{periods.history_end}.csv",
        start=periods.history_start,
        end=periods.history_end,
    )
    recent = GenerateRequest.from_params(
        section,
        out=inbox / f"{name}_{periods.recent_start}_{periods.recent_end}_dirty.csv",
        start=periods.recent_start,
        end=periods.recent_end,
        seed=params.seed + 1,
        dirty=True,
    )
    territory = settings.territory
    return generate_extract(territory, history), generate_extract(territory, recent)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Prévisecours end to end on Essonne.")
    parser.add_argument("--years", type=int, default=HISTORY_YEARS, help="history to generate")
    parser.add_argument("--home", type=Path, default=None, help="working root (default: repo)")
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=date.today() - timedelta(days=1),
        help="last day of generated data (default: yesterday, so the forecast is for the "
        "coming week)",
    )
    args = parser.parse_args(argv)
    settings = load_settings(TERRITORY, args.home)
    home = settings.paths.home
    # Flow runs go to this home's Prefect database, where `make serve` finds them; the
    # temporary API needs more than its default 20 s to start on 2 busy cores (STACK_NOTES).
    os.environ.setdefault("PREFECT_HOME", str(settings.paths.prefect_home))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    print(f"Prévisecours demo — {settings.territory.label}, home {home}")
    print(f"1-2. generating {args.years} years of history and a dirty recent extract ...")
    for result in generate_demo_data(settings, args.years, args.end):
        print(f"  {result.rows:>8} interventions → {result.path}")
        if result.manifest is not None:
            print(f"  {result.defects:>8} defective rows, manifest {result.manifest}")
    print(
        "3. weekly-retrain flow: ingest → monitor → train → promote → forecast "
        "(a real Prefect run; the first start of its API takes ~15 s) ..."
    )
    from flows.operations import weekly_retrain

    outcome = weekly_retrain(territory=TERRITORY, home=str(home))
    print_outcome(settings, outcome)


def print_outcome(settings: Settings, outcome: dict[str, Any]) -> None:
    from previsecours.adapters.forecast_files import latest_forecast

    print(f"\nPrefect flow run: weekly-retrain / {outcome['run']}")
    for report in outcome["ingest"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(report["reason_counts"].items()))
        print(
            f"  ingest {Path(report['extract']).name}: {report['status']} — "
            f"{report['rows_read']} read, {report['rows_added']} added, "
            f"{report['rows_unchanged']} already stored, {report['rows_quarantined']} "
            f"quarantined{' (' + reasons + ')' if reasons else ''}"
        )
        if report["quarantine_file"]:
            print(f"    quarantine: {report['quarantine_file']}")
    print(f"  monitor: {outcome['monitor']}")
    promotion = outcome["promotion"]
    print(
        f"  trained version {outcome['trained_version']}; promotion: "
        f"{'promoted' if promotion['promoted'] else 'refused'} — {promotion['reason']}"
    )
    if "skipped" in outcome["forecast"]:
        print(f"  forecast skipped — {outcome['forecast']['skipped']}")
    stored = latest_forecast(settings.paths, settings.territory.name)
    if stored is not None:
        print(f"  forecast: {stored.files.forecast} (+ .csv, .staffing.parquet, .json)")
        print_crews(stored.staffing)
    paths = settings.paths
    print(f"""
Where to look
  MLflow experiment  previsecours-{settings.territory.name}  (DB {paths.mlruns / "mlflow.db"})
  forecasts          {paths.forecasts / settings.territory.name}/
  quarantine         {paths.quarantine}/
  the UIs            make serve   → Prefect http://127.0.0.1:4200, MLflow http://127.0.0.1:5000,
                                    dashboard http://127.0.0.1:8050""")


def print_crews(staffing: Any) -> None:
    """The five busiest stations' recommended crews for the next occurrence of each shift."""
    busiest = (
        staffing.groupby("station_code")["expected_interventions"]
        .sum()
        .sort_values(ascending=False)
        .head(5)
        .index
    )
    table = staffing[staffing["station_code"].isin(busiest)].sort_values("shift_start")
    first = table.drop_duplicates(["station_code", "shift"]).sort_values(
        ["station_code", "shift_start"]
    )
    print("  crews per station and shift (5 busiest stations, next occurrence of each shift):")
    for row in first.itertuples():
        print(
            f"    {row.station_code:<6} {row.shift:<15} {row.shift_start:%a %d %b %H:%M}  "
            f"{row.expected_interventions:5.1f} expected, peak "
            f"{row.expected_peak_concurrency:4.1f} in progress → {row.recommended_crews} crews"
        )


if __name__ == "__main__":
    main()
