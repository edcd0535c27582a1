"""The canonical extract: the one event-level schema every ingestion turns an export into.

Event form (one row per intervention):

| column | type | required | meaning |
|---|---|---|---|
| intervention_id | string, unique | yes | the service's own id |
| alert_time | datetime, territory's time zone | yes | when the alert was received |
| commune_code | string | yes | area code (INSEE code in France) |
| category | string, one of the territory's | yes | SUAP, ACCI, INCU, INCN, AUTR (91) |
| station_code | string | no | first station engaged |
| latitude | float64 (WGS84) | no | where |
| longitude | float64 (WGS84) | no | where |
| duration_min | float64, minutes | no | engagement duration |

Aggregated form (services that only publish counts): `period_start` (datetime, local time,
start of the period), `area_code`, `category`, `count` (int ≥ 0) and the frequency of the
periods (hour, day or week; weeks start on Monday).

Only these columns go past ingestion: anything else (victim names, addresses, phone numbers) is
dropped there, by name.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import pandas as pd

REQUIRED_COLUMNS: Final = ("intervention_id", "alert_time", "commune_code", "category")
OPTIONAL_COLUMNS: Final = ("station_code", "latitude", "longitude", "duration_min")
CANONICAL_COLUMNS: Final = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

COUNT_COLUMNS: Final = ("period_start", "area_code", "category", "count")

Frequency = Literal["hour", "day", "week"]
FREQUENCIES: Final[tuple[Frequency, ...]] = ("hour", "day", "week")

_STRING_COLUMNS: Final = ("intervention_id", "commune_code", "category", "station_code")
_FLOAT_COLUMNS: Final = ("latitude", "longitude", "duration_min")


def empty_extract(timezone: str) -> pd.DataFrame:
    """A canonical extract with no rows and the right dtypes."""
    return conform_extract(pd.DataFrame({c: [] for c in CANONICAL_COLUMNS}), timezone)


def conform_extract(frame: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Return the canonical columns of `frame`, in order, with canonical dtypes.

    Missing optional columns are added empty; `alert_time` must already be timezone-aware or
    naive local time (localised here, DST-ambiguous times taken as the first occurrence and
    non-existent ones shifted forward: the ingest step reports how many it met).
    Raises `KeyError` naming a missing required column.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"required canonical columns missing: {missing}")
    out = pd.DataFrame(index=frame.index)
    for col in CANONICAL_COLUMNS:
        values = frame[col] if col in frame.columns else pd.Series(pd.NA, index=frame.index)
        if col == "alert_time":
            out[col] = to_local_time(values, timezone)
        elif col in _STRING_COLUMNS:
            out[col] = values.astype("string")
        else:
            out[col] = pd.to_numeric(values, errors="coerce").astype("float64")
    return out.reset_index(drop=True)


def to_local_time(values: pd.Series, timezone: str) -> pd.Series:
    """Datetimes in the territory's time zone, DST-safe.

    Naive times are local wall-clock times: an ambiguous one (the repeated hour in autumn) is
    taken as its first occurrence (summer time), a non-existent one (the skipped hour in spring)
    is shifted forward to the first valid instant.
    """
    times = pd.to_datetime(values)
    if times.dt.tz is None:
        naive = times.dt.as_unit("s")
        summer_time = np.ones(len(naive), dtype=bool)  # ambiguous → first occurrence (DST)
        return naive.dt.tz_localize(timezone, ambiguous=summer_time, nonexistent="shift_forward")
    return times.dt.tz_convert(timezone).dt.as_unit("s")
