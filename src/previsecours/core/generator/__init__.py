"""A calibrated, seeded generator of SDIS-like intervention extracts.

- `events.generate_events(territory, start, end, seed)`: the canonical extract (the entry point);
- `export`: the French dispatch export of those events, clean or with injected defects;
- `calendar`, `rates`, `episodes`, `places`: the process (calendar, expected counts, seeded
  flu / heat / storm episodes, communes, stations, positions);
- `figures`: fitted on SDIS 91's real data by `scripts/fit_generator.py` (never edited by hand);
  `profiles`: the within-week and within-day shapes the weekly data cannot give (assumptions).
"""

from previsecours.core.generator.events import generate_events

__all__ = ["generate_events"]
