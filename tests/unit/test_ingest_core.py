"""The pure side of ingestion: mapping, DST rules, store merge decisions, volume check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from previsecours.config import IngestParams
from previsecours.core.ingest import (
    SDIS91_WEEKLY,
    SDIS91_WEEKLY_TOTALS,
    ExtractError,
    infer_frequency,
    map_counts,
    map_events,
)
from previsecours.core.ingest_decide import (
    EVENT_KEY,
    RowFailure,
    daily_volume,
    faulty_cells,
    isolated_days,
    mask,
    merge_into_store,
    quarantine_table,
    row_issues,
    row_reasons,
)
from previsecours.core.schema import CANONICAL_COLUMNS

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

HEADER = (
    "num_intervention",
    "date_heure_alerte",
    "code_insee",
    "nom_commune",
    "categorie",
    "motif",
    "cis_premier_engage",
    "latitude",
    "longitude",
    "duree_engagement_min",
)


def export(rows: list[tuple[str, ...]], extra: dict[str, list[str]] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(HEADER), dtype=str)
    for name, values in (extra or {}).items():
        frame[name] = values
    return frame


def row(id_: str, when: str, commune: str = "91001", category: str = "SUAP") -> tuple[str, ...]:
    return (id_, when, commune, "X", category, "m", "ARPAJ", "48.5", "2.2", "45")


def test_only_canonical_columns_go_further_and_personal_columns_are_named(
    essonne: Territory,
) -> None:
    raw = export([row("A1", "01/03/2024 10:00:00")], {"nom_victime": ["Dupont"]})
    mapped = map_events(raw, essonne, "x.csv")
    assert set(CANONICAL_COLUMNS) <= set(mapped.frame.columns)
    assert "nom_victime" in mapped.dropped_columns
    assert not mapped.frame.isin(["Dupont"]).any().any()


def test_dst_gap_is_shifted_forward_and_fold_taken_first_and_both_are_counted(
    essonne: Territory,
) -> None:
    raw = export(
        [
            row("A1", "31/03/2024 02:30:00"),  # spring: 02:00-03:00 does not exist in Paris
            row("A2", "27/10/2024 02:30:00"),  # autumn: 02:00-03:00 happens twice
            row("A3", "27/10/2024 12:00:00"),
        ]
    )
    mapped = map_events(raw, essonne, "x.csv")
    times = mapped.frame["alert_time"]
    assert (mapped.dst_nonexistent, mapped.dst_ambiguous) == (1, 1)
    assert times[0] == pd.Timestamp("2024-03-31 03:00", tz="Europe/Paris")
    assert times[1].utcoffset() == pd.Timedelta(hours=2)  # first occurrence: summer time


def test_unparsable_and_missing_times_are_told_apart(essonne: Territory) -> None:
    raw = export([row("A1", "n/a"), row("A2", ""), row("A3", "01/03/2024 10:00:00")])
    frame = map_events(raw, essonne, "x.csv").frame
    assert frame["time_parsable"].tolist() == [False, True, True]
    assert frame["alert_time_text"].isna().tolist() == [False, True, False]


def test_missing_required_column_names_the_file_and_the_column(essonne: Territory) -> None:
    raw = export([row("A1", "01/03/2024 10:00:00")]).drop(columns="code_insee")
    with pytest.raises(ExtractError, match=r"x\.csv.*code_insee"):
        map_events(raw, essonne, "x.csv")


def test_typed_source_with_wrong_types_is_refused(essonne: Territory) -> None:
    raw = export([row("A1", "01/03/2024 10:00:00")])
    raw["date_heure_alerte"] = [1709283600]
    with pytest.raises(ExtractError, match=r"date_heure_alerte.*int64"):
        map_events(raw, essonne, "x.parquet", text_source=False)


def test_derived_ids_are_stable_and_distinct(essonne: Territory) -> None:
    from dataclasses import replace

    mapping = replace(
        essonne.mapping,
        columns={k: v for k, v in essonne.mapping.columns.items() if k != "intervention_id"},
        id_from=("date_heure_alerte", "motif"),
    )
    territory = replace(essonne, mapping=mapping)
    raw = export([row("A1", "01/03/2024 10:00:00"), row("A1", "01/03/2024 10:00:01")])
    first = map_events(raw, territory, "x.csv").frame["intervention_id"]
    again = map_events(raw.copy(), territory, "x.csv").frame["intervention_id"]
    assert first.tolist() == again.tolist()
    assert first.nunique() == 2


def test_sdis91_weekly_preset_starts_periods_on_iso_monday(essonne: Territory) -> None:
    raw = pd.DataFrame(
        {
            "ope_annee": ["2016", "2016"],
            "ope_semaine": ["1", "2"],
            "ope_code_insee": ["91001", "91001"],
            "ope_code_postal": ["91150", "91150"],
            "ope_nom_commune": ["X", "X"],
            "ope_categorie": ["SUAP", "SUAP"],
            "nb_ope": ["3", "4"],
        }
    )
    mapped = map_counts(raw, essonne, "w.csv", preset=SDIS91_WEEKLY)
    assert mapped.frequency == "week"
    assert mapped.frame["period_start"][0] == pd.Timestamp("2016-01-04", tz="Europe/Paris")
    assert mapped.frame["count_valid"].all()
    assert mapped.dropped_columns == ("ope_code_postal", "ope_nom_commune")


def _with_mapping(territory: Territory, **changes: Any) -> Territory:
    from dataclasses import replace

    return replace(territory, mapping=replace(territory.mapping, **changes))


def test_times_with_an_offset_are_instants_in_the_territory_zone(essonne: Territory) -> None:
    """Before: "…Z" and "+02:00" needed a hand-written time_format (and then read as local)."""
    iso = _with_mapping(essonne, time_format=None)
    raw = export(
        [
            row("A1", "2019-05-01T18:03:00Z"),
            row("A2", "2019-05-01T18:03:00+02:00"),
            row("A3", "2019-05-01T18:03:00.250-04:00"),
            row("A4", "2019-05-01T18:03:00"),  # no offset: local wall-clock time
        ]
    )
    times = map_events(raw, iso, "x.csv").frame["alert_time"].dt.strftime("%H:%M").tolist()
    assert times == ["20:03", "18:03", "00:03", "18:03"]
    # The territory's own format is still used for rows without an offset.
    raw = export([row("B1", "01/05/2019 18:03:00"), row("B2", "2019-05-01T18:03:00Z")])
    times = map_events(raw, essonne, "x.csv").frame["alert_time"].dt.strftime("%H:%M").tolist()
    assert times == ["18:03", "20:03"]


def test_an_export_whose_z_is_local_time_says_so_in_its_mapping(essonne: Territory) -> None:
    local = _with_mapping(essonne, time_format=None, time_zone_suffix="local")
    raw = export([row("A1", "2019-05-01T18:03:00Z"), row("A2", "2019-03-31T02:30:00Z")])
    mapped = map_events(raw, local, "x.csv")
    assert mapped.frame["alert_time"].dt.strftime("%H:%M").tolist() == ["18:03", "03:00"]
    assert mapped.dst_nonexistent == 1
    hand_written = _with_mapping(
        essonne, time_format="%Y-%m-%dT%H:%M:%SZ", time_zone_suffix="local"
    )
    frame = map_events(raw, hand_written, "x.csv").frame
    assert frame["alert_time"].dt.strftime("%H:%M").tolist() == ["18:03", "03:00"]


def test_constants_give_area_and_category_to_a_one_column_extract(essonne: Territory) -> None:
    alarms = _with_mapping(
        essonne,
        columns={"alert_time": "tfs_alarm_time"},
        id_from=("tfs_alarm_time",),
        constants={"commune_code": "91228", "category": "INCU"},
        time_format=None,
    )
    raw = pd.DataFrame({"tfs_alarm_time": ["2024-06-03T10:00:00", "2024-06-03T11:00:00"]})
    mapped = map_events(raw, alarms, "alarms.csv")
    frame = mapped.frame
    assert frame["commune_code"].tolist() == ["91228"] * 2
    assert frame["category"].tolist() == ["INCU"] * 2
    assert frame["intervention_id"].nunique() == 2
    assert mapped.dropped_columns == ()


def test_an_events_extract_for_a_counts_only_territory_says_so(essonne: Territory) -> None:
    counts_only = _with_mapping(essonne, columns={}, id_from=())
    raw = export([row("A1", "01/03/2024 10:00:00")])
    with pytest.raises(ExtractError, match=r"x\.csv: territory essonne maps no event columns"):
        map_events(raw, counts_only, "x.csv")


def test_weekly_totals_preset_turns_wide_weeks_into_departement_counts(
    essonne: Territory,
) -> None:
    raw = pd.DataFrame(
        {
            "yearweek": ["201452", "201502"],  # 201501 is missing: it stays missing
            "ACCI": ["81.0", "99.0"],
            "AUTR": ["232.0", "63.0"],
            "INCN": ["0.0", "0.0"],
            "INCU": ["129.0", "87.0"],
            "SUAP": ["1397.0", "1470.0"],
            "ope_total": ["1839.0", "1719.0"],
            "inc_grippe": ["10207", "25870"],
        }
    )
    mapped = map_counts(raw, essonne, "w.csv", preset=SDIS91_WEEKLY_TOTALS)
    frame = mapped.frame
    assert mapped.frequency == "week"
    assert len(frame) == 10
    assert set(frame["area_code"]) == {"essonne"}
    assert frame["row"].tolist() == [1] * 5 + [2] * 5
    assert frame["period_start"].dt.strftime("%Y-%m-%d").unique().tolist() == [
        "2014-12-22",
        "2015-01-05",
    ]
    assert frame.loc[frame["category"] == "SUAP", "count"].tolist() == [1397.0, 1470.0]
    assert mapped.dropped_columns == ("ope_total", "inc_grippe")


def test_a_wide_export_maps_a_column_per_category_and_the_remainder(essonne: Territory) -> None:
    """Berlin's daily missions: one row a day, a column per type, OTHER = all − the others."""
    from previsecours.core.territory import WideCounts

    wide = _with_mapping(
        essonne,
        counts_columns={"period_start": "day"},
        constants={"area_code": "91"},
        wide_counts=WideCounts({"SUAP": "ems", "INCU": "fire"}, total="all", remainder="AUTR"),
    )
    raw = pd.DataFrame(
        {
            "day": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "all": ["10", "5", "7"],
            "ems": ["6", "4", ""],  # day 3: EMS unknown, so is OTHER
            "fire": ["1", "3", "2"],
            "rd1": ["9", "9", "9"],  # another column: dropped
        }
    )
    mapped = map_counts(raw, wide, "berlin.csv")
    frame = mapped.frame
    assert mapped.frequency == "day"
    assert frame["row"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert frame["category"].tolist() == ["SUAP", "INCU", "AUTR"] * 3
    assert set(frame["area_code"]) == {"essonne"}
    counts = frame["count"].tolist()
    assert counts[:6] == [6, 1, 3, 4, 3, -2]
    assert np.isnan(counts[6]) and counts[7] == 2 and np.isnan(counts[8])
    # A negative remainder (the total below its parts) and an unknown count are not valid.
    assert frame["count_valid"].tolist() == [True] * 5 + [False, False, True, False]
    assert mapped.dropped_columns == ("rd1",)
    missing = raw.drop(columns=["all"])
    with pytest.raises(ExtractError, match=r"berlin.csv: required column\(s\) missing: \['all'\]"):
        map_counts(missing, wide, "berlin.csv")


def test_naive_times_declared_utc_are_instants(essonne: Territory) -> None:
    """Denver's `hour_start_utc` is UTC written without an offset: read as local it was 7 h
    off, and the autumn's two 01:00 local hours (07:00 and 08:00 UTC) would collide."""
    utc = _with_mapping(
        essonne,
        columns={},
        id_from=(),
        counts_columns={"period_start": "hour_start_utc", "count": "calls"},
        constants={"area_code": "91", "category": "SUAP"},
        naive_times="utc",
    )
    raw = pd.DataFrame(
        {
            "hour_start_utc": ["2024-10-26 23:00:00", "2024-10-27 00:00:00", "2024-10-27 01:00:00"],
            "calls": ["3", "4", "5"],
        }
    )
    mapped = map_counts(raw, utc, "denver.csv")
    local = mapped.frame["period_start"]
    assert local.dt.strftime("%H:%M%z").tolist() == ["01:00+0200", "02:00+0200", "02:00+0100"]
    assert mapped.frequency == "hour" and local.is_unique
    assert mapped.dst_ambiguous == 0 and mapped.dst_nonexistent == 0


def test_counts_name_the_departement_by_its_code_or_the_territory_name(
    essonne: Territory,
) -> None:
    raw = pd.DataFrame(
        {
            "period_start": ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22"],
            "area_code": ["91", "essonne", "EVRY", "91228"],
            "category": "SUAP",
            "count": "3",
        }
    )
    frame = map_counts(raw, essonne, "c.csv").frame
    assert frame["area_code"].tolist() == ["essonne", "essonne", "EVRY", "91228"]


def test_an_hourly_count_in_the_skipped_hour_is_keyed_apart_from_the_next(
    essonne: Territory,
) -> None:
    """Before: both rows shifted onto 03:00 shared a key and were quarantined (duplicate_key)."""
    raw = pd.DataFrame(
        {
            "period_start": [f"2024-03-31T{h:02d}:00" for h in range(5)],
            "area_code": "91228",
            "category": "SUAP",
            "count": ["1", "2", "3", "4", "5"],
        }
    )
    mapped = map_counts(raw, essonne, "h.csv")
    frame = mapped.frame.iloc[1:4].reset_index(drop=True)
    assert (mapped.frequency, mapped.dst_nonexistent) == ("hour", 1)
    assert frame["period_gap"].tolist() == [False, True, False]
    assert frame["period_start"][1] == frame["period_start"][2]
    assert frame["key"].is_unique


def test_frequency_is_inferred_from_the_smallest_gap() -> None:
    starts = pd.Series(pd.date_range("2024-01-01", periods=5, freq="D", tz="Europe/Paris"))
    assert infer_frequency(starts, "c.csv") == "day"
    with pytest.raises(ExtractError, match=r"c\.csv"):
        infer_frequency(starts.iloc[:1], "c.csv")


@pytest.mark.parametrize(
    ("first", "freq", "expected"),
    [("2015-03-16", "7D", "week"), ("2015-10-19", "7D", "week"), ("2015-03-27", "1D", "day")],
)
def test_frequency_across_a_dst_change_is_read_on_the_wall_clock(
    first: str, freq: str, expected: str
) -> None:
    # Local midnights across the change: a 6 days 23 h (or 25 h) week, a 23 h day.
    naive = pd.date_range(first, periods=4, freq=freq)
    starts = pd.Series(naive.tz_localize("Europe/Paris"))
    assert (starts.diff().dropna() != pd.Timedelta(freq)).any()  # the change is inside
    assert infer_frequency(starts, "c.csv") == expected


def test_hourly_starts_across_the_autumn_change_stay_hourly() -> None:
    utc = pd.date_range("2015-10-25 00:00", periods=4, freq="h", tz="UTC")
    assert infer_frequency(pd.Series(utc.tz_convert("Europe/Paris")), "c.csv") == "hour"


def test_a_truncated_row_keeps_only_that_reason() -> None:
    frame = pd.DataFrame({"row": [1, 2, 3]})
    failures = [
        RowFailure("unknown_category", "category", (1, 2)),
        RowFailure("truncated_row", "latitude", (2,)),
    ]
    issues = row_issues(failures, frame)
    assert list(zip(issues["row"], issues["reason"], strict=True)) == [
        (2, "unknown_category"),
        (3, "truncated_row"),
    ]
    table = quarantine_table(frame.assign(x=[7, 8, 9]), issues, ["x"])
    assert table["row"].tolist() == [2, 3]


def events(ids: list[str], categories: list[str]) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "intervention_id": pd.Series(ids, dtype="string"),
            "alert_time": pd.date_range("2024-01-01", periods=n, freq="h", tz="Europe/Paris"),
            "category": pd.Series(categories, dtype="string"),
            "latitude": np.full(n, np.nan),
        }
    )


def test_merge_never_counts_twice_and_quarantines_conflicts_unless_replace() -> None:
    stored = events(["a", "b"], ["SUAP", "ACCI"])
    incoming = events(["a", "b", "c"], ["SUAP", "INCU", "AUTR"])
    kept = merge_into_store(stored, incoming, EVENT_KEY, replace=False)
    assert (kept.added, kept.unchanged, kept.replaced, kept.conflicts) == (1, 1, 0, (1,))
    assert sorted(kept.merged["intervention_id"]) == ["a", "b", "c"]
    assert kept.merged.set_index("intervention_id").at["b", "category"] == "ACCI"
    won = merge_into_store(stored, incoming, EVENT_KEY, replace=True)
    assert (won.added, won.replaced, won.conflicts) == (1, 1, ())
    assert won.merged.set_index("intervention_id").at["b", "category"] == "INCU"
    assert won.merged["intervention_id"].is_unique


def test_volume_check_flags_a_silent_day_and_a_spike() -> None:
    params = IngestParams()
    history = pd.Series(pd.date_range("2024-01-01", "2024-03-01", freq="30min", tz="UTC"))
    day = pd.date_range("2024-03-04", "2024-03-09", freq="30min", tz="UTC")
    silent = day[day.normalize() != pd.Timestamp("2024-03-06", tz="UTC")]
    spike = day.append(pd.date_range("2024-03-07", periods=48 * 6, freq="50s", tz="UTC"))

    def volume(extract: pd.Index) -> pd.DataFrame:
        merged = pd.concat([history, pd.Series(extract)], ignore_index=True)
        return daily_volume(pd.Series(extract), merged, history, params)

    quiet = volume(silent)
    assert (quiet["count"] < quiet["min_count"]).sum() == 1
    loud = volume(spike)
    assert (loud["count"] > loud["max_count"]).sum() == 1
    normal = volume(day)
    assert (
        (normal["count"] >= normal["min_count"]) & (normal["count"] <= normal["max_count"])
    ).all()


def test_volume_check_counts_the_stored_days_an_extract_corrects() -> None:
    """Corrections on a few days months apart: judged on those days, counted after the merge."""
    params = IngestParams()
    store = pd.Series(pd.date_range("2024-01-01", "2024-06-01", freq="5min", tz="Europe/Paris"))
    corrections = store.iloc[1000::4000].reset_index(drop=True)
    days = daily_volume(corrections, store, store, params)
    assert len(days) == len(corrections) == 11
    assert (days["count"] == 288).all() and (days["count"] >= days["min_count"]).all()
    assert (days["count"] <= days["max_count"]).all()


def test_an_isolated_day_is_a_far_day_with_a_handful_of_rows() -> None:
    params = IngestParams()
    july = pd.date_range("2024-07-01", "2024-07-06", freq="5min", tz="Europe/Paris")
    stored = pd.Series(pd.date_range("2024-01-01", "2024-06-30", freq="5min", tz="Europe/Paris"))
    typo = pd.Timestamp("2004-07-03 10:12", tz="Europe/Paris")
    correction = stored.iloc[500]  # a January day the store holds in full
    extract = pd.Series(july.append(pd.DatetimeIndex([typo, correction])))
    merged = pd.concat([stored, extract], ignore_index=True)
    found = isolated_days(extract, merged, stored, params)
    assert list(found) == [pd.Timestamp("2004-07-03")]
    alone = pd.Series(pd.DatetimeIndex([typo]))  # an extract of one day is its own main span
    assert list(isolated_days(alone, alone, stored.iloc[0:0], params)) == []


def test_values_that_failed_validation_are_masked_and_keys_kept_only_when_valid() -> None:
    assert mask("Jean Dupont, 06 12") == "<18 chars: letters, digits, spaces, punctuation>"
    frame = pd.DataFrame(
        {
            "row": [1, 2, 3],
            "intervention_id": pd.Series(["A1", "A2,Jean Dupont,0612", "A3"], dtype="string"),
            "category": pd.Series(["Jean Dupont", "SUAP", "SUAP"], dtype="string"),
            "duration_min": [612345678.0, 12.0, 30.0],
        }
    )
    failures = [
        RowFailure("unknown_category", "category", (0,)),
        RowFailure("implausible_duration", "duration_min", (0,)),
        RowFailure("invalid_id", "intervention_id", (1,)),
        RowFailure("duplicate_id", "intervention_id", (2,)),
    ]
    issues = row_issues(failures, frame)
    faulty = faulty_cells(failures, issues)
    keep = ["intervention_id", "category", "duration_min"]
    table = quarantine_table(frame, issues, keep, faulty).set_index("row")
    assert table.at[1, "category"] == "<11 chars: letters, spaces>"
    assert table["duration_min"].isna()[1]
    assert table.at[1, "intervention_id"] == "A1"  # valid values of the row stay
    assert table.at[2, "intervention_id"] == "<19 chars: letters, digits, spaces, punctuation>"
    assert table.at[3, "intervention_id"] == "A3"  # a duplicate id passed its own checks
    keys = {(r.row, r.reason): r.key for r in row_reasons(issues, frame, "events", faulty)}
    assert keys == {
        (1, "implausible_duration"): "A1",
        (1, "unknown_category"): "A1",
        (2, "invalid_id"): "",
        (3, "duplicate_id"): "A3",
    }
