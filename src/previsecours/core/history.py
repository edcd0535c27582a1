"""The stored history of a territory, typed: events, or counts when no event is stored.

Guarantees:
- `History.of_events(frame)`: one row per intervention (the canonical extract schema);
  `History.of_counts(frame, frequency)`: the aggregated form `period_start, area_code, category,
  count` at one frequency, of complete periods. Which one a history is never has to be guessed
  from its columns;
- `end(...)`: where final counts stop — the start of the last (possibly incomplete) local day
  or week of events, or the end of the last stored period of counts (right for training);
- `forecast_origin(...)`: where a forecast starts — the first period after the data: the period
  after the last event's (data to 23:39 → the next day 00:00 by hour), or the period after the
  last stored one of counts;
- `level_actuals(...)`: counts per level × area × category plus ALL per area, for scoring;
  periods the counts do not cover are NaN, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from previsecours.core.calendar import period_ends, period_of
from previsecours.core.panel import DensePanel, count_panel, sum_series
from previsecours.core.schema import Frequency
from previsecours.core.stored_counts import counts_end, counts_level_actuals
from previsecours.core.territory import Territory
from previsecours.errors import NoDataError


@dataclass(frozen=True)
class History:
    frame: pd.DataFrame
    frequency: Frequency | None = None  # counts: their frequency; events: None

    @classmethod
    def of_events(cls, events: pd.DataFrame) -> History:
        return cls(events)

    @classmethod
    def of_counts(cls, counts: pd.DataFrame, frequency: Frequency) -> History:
        return cls(counts, frequency)

    @property
    def is_counts(self) -> bool:
        return self.frequency is not None

    @property
    def empty(self) -> bool:
        return self.frame.empty

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def times(self) -> pd.Series:
        """Each row's instant: an event's alert time, a count's period start."""
        return self.frame["period_start" if self.is_counts else "alert_time"]

    def start(self) -> pd.Timestamp:
        """The first stored instant."""
        return pd.Timestamp(self.times.min())

    def require(self) -> History:
        """This history, or a clear error when the store holds nothing."""
        if self.empty:
            raise NoDataError("no events in the store: run `previsecours ingest` first")
        return self

    def end(self, territory: Territory, frequency: Frequency) -> pd.Timestamp:
        """Where final counts stop (exclusive; see the module docstring)."""
        self.require()
        if self.frequency is not None:
            return counts_end(self.frame, frequency, territory.timezone)
        last = pd.DatetimeIndex([self.frame["alert_time"].max()])
        grain: Frequency = "week" if frequency == "week" else "day"
        return pd.Timestamp(period_of(last, grain, territory.timezone)[0])

    def forecast_origin(self, territory: Territory, frequency: Frequency) -> pd.Timestamp:
        """The first period of `frequency` after the last stored instant: where a forecast
        starts (see the module docstring). Local time of the territory."""
        self.require()
        tz = territory.timezone
        if self.frequency is not None:
            return counts_end(self.frame, frequency, tz)
        last = pd.DatetimeIndex([self.frame["alert_time"].max()])
        if last.tz is None:
            last = last.tz_localize(tz)
        return pd.Timestamp(period_ends(period_of(last, frequency, tz), frequency, tz)[0])

    def level_actuals(
        self,
        territory: Territory,
        levels: tuple[str, ...],
        frequency: Frequency,
        *,
        start: pd.Timestamp,
        end: pd.Timestamp,
    ) -> dict[str, DensePanel]:
        """Counts per level × area × category, plus ALL per area, for scoring."""
        if self.is_counts:
            return counts_level_actuals(
                self.frame, territory, levels, frequency, start=start, end=end
            )
        out = {}
        for level in levels:
            per_category = count_panel(
                self.frame, territory, level, frequency, start=start, end=end
            )
            total = sum_series(per_category)
            out[level] = DensePanel(
                pd.concat([per_category.series, total.series], ignore_index=True),
                per_category.starts,
                np.vstack([per_category.counts, total.counts]),
            )
        return out
