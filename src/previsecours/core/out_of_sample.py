"""Which forecasts of a scoring window a model is judged on: never ones it was fitted on.

A registered version's final fit saw the panel up to its `data_end`. On a promotion window
whose origin is at or after it, the version forecasts from the history before the origin, as in
production. On a window before it, that forecast would be scored in sample (a first version
then "beat" seasonal naive by 90 % and more): it is judged instead on its own backtest forecast
of the window — the training refitted the same model at each backtest origin on rows strictly
before it (tests/integration/test_origins.py) — which must cover every modelled series and
period of the window. Otherwise the window cannot be judged for that version, and the decision
says so. A version recording no `data_end` (older ones) is judged on its backtest when it
covers the window, else forecast as in production with a warning that it may be in sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from previsecours.core.panel import DensePanel

Route = Literal["forecast", "backtest", "possibly in sample", "not judged"]
FORECAST: Final = "forecast"
BACKTEST: Final = "backtest"
POSSIBLY_IN_SAMPLE: Final = "possibly in sample"
NOT_JUDGED: Final = "not judged"


@dataclass(frozen=True)
class WindowRoute:
    """How one model's forecast of one scoring window [origin, end) is obtained."""

    route: Route
    origin: pd.Timestamp  # the scoring window's
    end: pd.Timestamp  # exclusive
    backtest_origin: pd.Timestamp | None = None  # the backtest window's origin used
    why: str = ""  # not judged: why

    @property
    def judged(self) -> bool:
        return self.route != NOT_JUDGED

    def describe(self) -> str:
        """A few words for the decision's reason."""
        if not self.judged:
            return f"window {_when(self.origin)}–{_when(self.end)}: {self.why}"
        return describe_routes([self])

    def _phrase(self) -> tuple[str, pd.Timestamp]:
        if self.route == BACKTEST:
            return "backtest forecast at origin", self.backtest_origin or self.origin
        if self.route == POSSIBLY_IN_SAMPLE:
            return (
                "forecast, possibly on data it was trained on (it records no training data end),"
                " from the history before",
                self.origin,
            )
        return "forecast from the history before", self.origin


def describe_routes(routes: Sequence[WindowRoute]) -> str:
    """The judged windows' routes, each said once: "backtest forecast at origin 2024-03-04
    00:00, 2024-03-11 00:00; forecast from the history before 2024-03-18 00:00"."""
    said: dict[str, list[str]] = {}
    for route in routes:
        if route.judged:
            words, when = route._phrase()
            said.setdefault(words, []).append(_when(when))
    return "; ".join(f"{words} {', '.join(times)}" for words, times in said.items())


def choose_route(
    data_end: pd.Timestamp | None,
    origin: pd.Timestamp,
    end: pd.Timestamp,
    backtest_origin: pd.Timestamp | None,
    *,
    has_backtest: bool,
) -> WindowRoute:
    """The route for the window [origin, end): `backtest_origin` is the origin of the model's
    backtest window covering it (None: none covers it); `has_backtest`: the model's run holds
    backtest forecasts at all (for the reason only)."""
    if data_end is not None and origin >= data_end:
        return WindowRoute(FORECAST, origin, end)
    if backtest_origin is not None:
        return WindowRoute(BACKTEST, origin, end, backtest_origin)
    if data_end is None:
        return WindowRoute(POSSIBLY_IN_SAMPLE, origin, end)
    held = (
        "its backtest forecasts do not cover every series and period of it"
        if has_backtest
        else "its run holds no backtest forecasts"
    )
    why = f"trained on data to {_when(data_end)}, and {held}"
    return WindowRoute(NOT_JUDGED, origin, end, why=why)


def backtest_means(
    forecasts: pd.DataFrame, series: pd.DataFrame, starts: pd.DatetimeIndex
) -> tuple[DensePanel, pd.Timestamp] | None:
    """The modelled means of `series` × `starts` from one backtest window of `forecasts`
    (columns window, area_code, category, period_start, mean), and that window's origin; the
    covering window with the latest origin (the shortest lead); None when none covers all."""
    wanted = _utc(starts)
    stamps = _utc(pd.DatetimeIndex(forecasts["period_start"]))
    inside = forecasts[stamps.isin(wanted)]
    keys = pd.MultiIndex.from_frame(series[["area_code", "category"]].astype(str))
    best: tuple[DensePanel, pd.Timestamp] | None = None
    for _, rows in inside.groupby("window", sort=False):
        origin = _first_start(forecasts, rows)
        if best is not None and origin <= best[1]:
            continue
        means = _dense(rows, keys, wanted)
        if means is not None:
            best = (DensePanel(series, starts, means), origin)
    return best


def _dense(rows: pd.DataFrame, keys: pd.MultiIndex, wanted: pd.DatetimeIndex) -> np.ndarray | None:
    """`rows`' means as keys × wanted periods, or None when one of them is missing."""
    index = pd.MultiIndex.from_arrays([rows["area_code"].astype(str), rows["category"].astype(str)])
    i = keys.get_indexer(index)
    t = wanted.get_indexer(_utc(pd.DatetimeIndex(rows["period_start"])))
    kept = (i >= 0) & (t >= 0)
    values = np.full((len(keys), len(wanted)), np.nan)
    values[i[kept], t[kept]] = rows["mean"].to_numpy(np.float64)[kept]
    return None if np.isnan(values).any() else values


def _first_start(forecasts: pd.DataFrame, rows: pd.DataFrame) -> pd.Timestamp:
    """The origin of the backtest window `rows` belong to: its first period."""
    window = forecasts[forecasts["window"] == rows["window"].iloc[0]]
    return pd.Timestamp(pd.DatetimeIndex(window["period_start"]).min())


def _utc(starts: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Comparable instants whatever the time zone and unit each side was stored with."""
    return starts.tz_convert("UTC").as_unit("ns")


def _when(stamp: pd.Timestamp) -> str:
    return f"{stamp:%Y-%m-%d %H:%M}"
