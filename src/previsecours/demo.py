"""`make demo`: the whole job end to end on the embedded default territory (Essonne).

Steps so far:
1. generate six years of seeded history (params.yaml `generate:`, ending a month before its
   `end`) into `<home>/data/inbox/` as a clean CSV;
2. generate the last month as a dirty extract (Latin-1, personal data, defects, a manifest),
   the kind of file ingestion must survive.
Later steps (ingest, train, promote, forecast) are added here as they land.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from previsecours.pipelines.generate import GenerateRequest, GenerateResult, generate_extract
from previsecours.settings import Settings, load_settings

TERRITORY = "essonne"
HISTORY_YEARS = 6


@dataclass(frozen=True)
class DemoPeriods:
    history_start: date
    history_end: date
    recent_start: date
    recent_end: date


def demo_periods(end: date) -> DemoPeriods:
    """Six years ending at `end`: all but the last month as history, the last month as recent."""
    recent_start = end.replace(day=1)
    return DemoPeriods(
        history_start=date(end.year - HISTORY_YEARS + 1, 1, 1),
        history_end=recent_start - timedelta(days=1),
        recent_start=recent_start,
        recent_end=end,
    )


def generate_demo_data(settings: Settings) -> tuple[GenerateResult, GenerateResult]:
    section = settings.section("generate")
    params = GenerateRequest.from_params(section, out=settings.paths.inbox)
    periods = demo_periods(params.end)
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


def main() -> None:
    settings = load_settings(TERRITORY)
    print(f"Prévisecours demo — {settings.territory.label}, home {settings.paths.home}")
    print("1-2. generating the history and a dirty recent extract (seeded) ...")
    for result in generate_demo_data(settings):
        print(f"  {result.rows:>8} interventions → {result.path}")
        if result.manifest is not None:
            print(f"  {result.defects:>8} defective rows, manifest {result.manifest}")


if __name__ == "__main__":
    main()
