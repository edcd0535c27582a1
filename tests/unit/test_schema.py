"""The canonical extract: dtypes, DST-safe local times."""

from __future__ import annotations

import pandas as pd
import pytest

from previsecours.core.schema import CANONICAL_COLUMNS, conform_extract, empty_extract


def test_empty_extract_has_canonical_columns() -> None:
    frame = empty_extract("Europe/Paris")
    assert tuple(frame.columns) == CANONICAL_COLUMNS
    assert str(frame["alert_time"].dt.tz) == "Europe/Paris"


def test_dst_rules_for_naive_local_times() -> None:
    raw = pd.DataFrame(
        {
            "intervention_id": ["a", "b", "c"],
            # 02:30 on 2024-03-31 does not exist in Paris; 02:30 on 2024-10-27 happens twice.
            "alert_time": ["2024-03-31 02:30:00", "2024-10-27 02:30:00", "2024-07-14 23:00:00"],
            "commune_code": ["91001"] * 3,
            "category": ["SUAP"] * 3,
            "victim_name": ["x", "y", "z"],
        }
    )
    out = conform_extract(raw, "Europe/Paris")
    assert list(out.columns) == list(CANONICAL_COLUMNS)
    utc = out["alert_time"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M").tolist()
    assert utc == ["2024-03-31 01:00", "2024-10-27 00:30", "2024-07-14 21:00"]
    assert out["latitude"].isna().all()


def test_missing_required_column_is_named() -> None:
    with pytest.raises(KeyError, match="commune_code"):
        conform_extract(
            pd.DataFrame({"intervention_id": [], "alert_time": [], "category": []}), "Europe/Paris"
        )
