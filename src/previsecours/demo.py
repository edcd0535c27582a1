"""`make demo`: the whole job end to end on the embedded default territory (Essonne), as a
week of operations would run it.

1. generate years of seeded history ending two weeks before `--end` (default: yesterday) into
   `<home>/data/inbox/` as a clean CSV;
2. run the `weekly-retrain` Prefect flow for real (recorded in `<home>/.prefect/`, so that
   `make serve` shows it afterwards): ingest the inbox, monitor (nothing to score yet on a first
   install), train and log to MLflow, promote to `champion`, forecast the 7 days after the
   history;
3. the last two weeks then arrive as a dirty extract (Latin-1, personal data, defects, a
   manifest), the kind of file ingestion must survive; the `ingest-inbox` flow ingests it (the
   quarantine shows) and, since data arrived, monitors: the forecast of step 2 is scored against
   these actuals and drift is checked (the `monitor-accuracy-essonne` and `monitor-drift-essonne`
   artifacts);
4. the `daily-forecast` flow forecasts the coming week with the champion, crews per station;
5. print what each run did (each parent run publishes the same lines as its summary artifact,
   `weekly-retrain-essonne`, `ingest-inbox-essonne`, `daily-forecast-essonne`) and where to look.

Idempotent: a second run regenerates the same files, whose interventions are already stored
(nothing is counted twice); its weekly retrain trains a new version on everything stored, which
must beat the champion to replace it, and its monitor step scores the first run's forecasts.
`--years` shrinks the history (CI runs the demo with 1 year).
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


RECENT_DAYS = 14  # the dirty extract that arrives after the weekly retrain


@dataclass(frozen=True)
class DemoPeriods:
    history_start: date
    history_end: date
    recent_start: date
    recent_end: date


def demo_periods(end: date, years: int = HISTORY_YEARS) -> DemoPeriods:
    """`years` calendar years ending at `end`: all but the last `RECENT_DAYS` days as history,
    those days as the recent extract (the history keeps at least a quarter)."""
    recent_start = end - timedelta(days=RECENT_DAYS - 1)
    history_end = recent_start - timedelta(days=1)
    history_start = date(end.year - years + 1, 1, 1)
    if history_start > history_end - timedelta(days=90):  # `end` early in January
        history_start = history_start.replace(year=history_start.year - 1)
    return DemoPeriods(history_start, history_end, recent_start, end)


def _requests(
    settings: Settings, years: int, end: date | None
) -> tuple[GenerateRequest, GenerateRequest]:
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
    return history, recent


def generate_history(
    settings: Settings, years: int = HISTORY_YEARS, end: date | None = None
) -> GenerateResult:
    """The history before the last `RECENT_DAYS` days to `end` (default: params.yaml
    `generate.end`), a clean extract in the inbox."""
    return generate_extract(settings.territory, _requests(settings, years, end)[0])


def generate_recent(
    settings: Settings, years: int = HISTORY_YEARS, end: date | None = None
) -> GenerateResult:
    """The last `RECENT_DAYS` days to `end`, a dirty extract in the inbox."""
    return generate_extract(settings.territory, _requests(settings, years, end)[1])


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
    # temporary API needs more than its default 20 s to start on 2 busy cores.
    settings.paths.prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(settings.paths.prefect_home))
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from flows.operations import daily_forecast, ingest_inbox, weekly_retrain

    print(f"Prévisecours demo — {settings.territory.label}, home {home}")
    print(f"1. generating {args.years} years of history, up to {RECENT_DAYS} days ago ...")
    print_generated(generate_history(settings, args.years, args.end))
    print(
        "2. weekly-retrain flow: ingest → monitor → train → promote → forecast the week after "
        "the history (a real Prefect run; the first start of its API takes ~15 s) ..."
    )
    weekly = weekly_retrain(territory=TERRITORY, home=str(home))
    print_weekly(weekly)
    print(f"3. the last {RECENT_DAYS} days arrive as a dirty extract; ingest-inbox flow ...")
    print_generated(generate_recent(settings, args.years, args.end))
    print_inbox(ingest_inbox(territory=TERRITORY, home=str(home)))
    if weekly["promotion"]["champion"] is None:
        # No version has beaten seasonal naive yet: nothing trustworthy to forecast with.
        print(f"4. daily-forecast skipped: no champion — {weekly['promotion']['reason']}")
    else:
        print("4. daily-forecast flow: the coming week with the champion ...")
        print_daily(settings, daily_forecast(territory=TERRITORY, home=str(home)))
    print_where(settings)


def print_generated(result: GenerateResult) -> None:
    print(f"  {result.rows:>8} interventions → {result.path}")
    if result.manifest is not None:
        print(f"  {result.defects:>8} defective rows, manifest {result.manifest}")


def print_run(flow: str, outcome: dict[str, Any]) -> None:
    print(f"\nPrefect flow run: {flow} / {outcome['run']} (summary artifact {outcome['summary']})")


def print_ingest(reports: list[dict[str, Any]]) -> None:
    if not reports:
        print("  ingest: nothing to ingest")
    for report in reports:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(report["reason_counts"].items()))
        print(
            f"  ingest {Path(report['extract']).name}: {report['status']} — "
            f"{report['rows_read']} read, {report['rows_added']} added, "
            f"{report['rows_unchanged']} already stored, {report['rows_quarantined']} "
            f"quarantined{' (' + reasons + ')' if reasons else ''}"
        )
        if report["quarantine_file"]:
            print(f"    quarantine: {report['quarantine_file']}")


def print_weekly(outcome: dict[str, Any]) -> None:
    print_run("weekly-retrain", outcome)
    print_ingest(outcome["ingest"])
    print(f"  monitor: {outcome['monitor']}")
    promotion = outcome["promotion"]
    print(
        f"  trained version {outcome['trained_version']} ({outcome['rmsse']}); promotion: "
        f"{'promoted' if promotion['promoted'] else 'refused'} — {promotion['reason']}"
    )
    issued = outcome["forecast"]
    if "skipped" in issued:
        print(f"  forecast skipped — {issued['skipped']}")
    else:
        print(f"  forecast from {issued['first_period']}: {issued['file']}")
    print_artifacts(outcome)


def print_inbox(outcome: dict[str, Any]) -> None:
    print_run("ingest-inbox", outcome)
    print_ingest(outcome["ingest"])
    print(f"  monitor: {outcome.get('monitor', 'not run: no new rows')}")
    print_artifacts(outcome)


def print_daily(settings: Settings, outcome: dict[str, Any]) -> None:
    from previsecours.adapters.forecast_files import latest_forecast

    print_run("daily-forecast", outcome)
    print(
        f"  forecast from {outcome['first_period']} with model version "
        f"{outcome['model_version']}: {outcome['file']} (+ .csv, .staffing.parquet, .json)"
    )
    stored = latest_forecast(settings.paths, settings.territory.name)
    if stored is not None:
        print_crews(stored.staffing)
    print_artifacts(outcome)


def print_artifacts(outcome: dict[str, Any]) -> None:
    keys = [key for step in outcome.get("artifacts", {}).values() for key in step]
    print(f"  Prefect artifacts: {', '.join([outcome['summary'], *keys])}")


def print_where(settings: Settings) -> None:
    paths = settings.paths
    print(f"""
Where to look
  MLflow experiment  previsecours-{settings.territory.name}  (DB {paths.mlruns / "mlflow.db"})
  forecasts          {paths.forecasts / settings.territory.name}/
  quarantine         {paths.quarantine}/
  the UIs            make serve   → Prefect http://127.0.0.1:4200 (Runs: weekly-retrain,
                                    ingest-inbox, daily-forecast and their subflows),
                                    MLflow http://127.0.0.1:5000, dashboard http://127.0.0.1:8050""")


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
