"""Ingest end to end on files: generated Essonne extracts, bad inputs, re-ingest, conflicts,
counts, the CLI's inbox, and the real Montgomery County extract."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from previsecours.adapters.export_files import write_export
from previsecours.adapters.store import read_counts, read_events
from previsecours.adapters.versioning import UNVERSIONED, data_version
from previsecours.cli import app
from previsecours.core.generator import generate_events
from previsecours.core.generator.export import dispatch_export
from previsecours.core.ingest_report import IngestReport, summary_markdown
from previsecours.ops.generate import GenerateRequest, generate_extract
from previsecours.pipelines.ingest import IngestOptions, ingest_file
from previsecours.settings import Settings, load_settings

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

SEED = 11


def settings_at(home: Path, territory: str = "essonne") -> Settings:
    return load_settings(territory, home)


def clean_export(territory: Territory, start: date, end: date) -> pd.DataFrame:
    return dispatch_export(generate_events(territory, start, end, SEED), territory, SEED)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    write_export(frame, path, "csv", "utf-8")
    return path


def store_snapshot(home: Path) -> dict[str, str]:
    """Every byte the store is made of, plus the DVC pointer: what must not change."""
    files = sorted(p for p in (home / "data" / "raw").rglob("*") if p.is_file())
    snap = {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    dvc = home / "data.dvc"
    snap["data.dvc"] = dvc.read_text() if dvc.is_file() else ""
    return snap


@pytest.fixture(scope="module")
def january(essonne: Territory) -> pd.DataFrame:
    return clean_export(essonne, date(2024, 1, 1), date(2024, 1, 14))


@pytest.fixture(scope="module")
def seeded_home(tmp_path_factory: pytest.TempPathFactory, january: pd.DataFrame) -> Path:
    """A home whose store already holds two clean weeks (shared by the bad-input tests)."""
    home = tmp_path_factory.mktemp("seeded")
    report = ingest_file(settings_at(home), write_csv(january, home / "jan.csv"), IngestOptions())
    assert report.accepted, report.summary()
    return home


def test_clean_extract_is_merged_versioned_and_reported(
    seeded_home: Path, january: pd.DataFrame
) -> None:
    settings = settings_at(seeded_home)
    stored = read_events(settings.paths, settings.territory)
    assert len(stored) == len(january)
    assert str(stored["alert_time"].dt.tz) == "Europe/Paris"
    version = data_version(settings.paths)
    assert version.endswith(".dir") and version != UNVERSIONED
    assert any((seeded_home / ".dvc-remote").rglob("*.dir")), "pushed to the local remote"
    reports = sorted((seeded_home / "data" / "quarantine" / "essonne").glob("jan-*.json"))
    doc = json.loads(reports[0].read_text())
    assert doc["status"] == "accepted" and doc["data_version"] == version
    assert doc["encoding"] == "utf-8" and doc["separator"] == ";"
    assert doc["rows_read"] == doc["rows_accepted"] + doc["rows_quarantined"]
    assert set(doc["dropped_columns"]) == {"nom_commune", "motif"}


def test_reingesting_the_same_extract_counts_nothing_twice(seeded_home: Path) -> None:
    before = store_snapshot(seeded_home)
    report = ingest_file(settings_at(seeded_home), seeded_home / "jan.csv", IngestOptions())
    assert report.accepted and report.rows_added == 0
    assert report.rows_unchanged == report.rows_read
    assert store_snapshot(seeded_home) == before


def test_a_store_changed_after_its_last_dvc_commit_is_versioned_by_the_next_ingest(
    tmp_path: Path, january: pd.DataFrame
) -> None:
    from previsecours.adapters.store import write_events

    settings = settings_at(tmp_path)
    path = write_csv(january.head(3000), tmp_path / "a.csv")
    first = ingest_file(settings, path, IngestOptions())
    stored = read_events(settings.paths, settings.territory)
    # As if killed after the store's swap and before DVC recorded it:
    write_events(settings.paths, settings.territory, stored.iloc[:-5])
    assert data_version(settings.paths) == first.data_version  # stale pointer
    (tmp_path / "empty.csv").write_bytes(b"")
    before = store_snapshot(tmp_path)
    rejected = ingest_file(settings, tmp_path / "empty.csv", IngestOptions())
    assert rejected.status == "rejected"
    assert rejected.data_version != first.data_version  # the pointer caught up first
    after = store_snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k != "data.dvc"} == {
        k: v for k, v in before.items() if k != "data.dvc"
    }
    again = ingest_file(settings, path, IngestOptions())
    assert again.rows_added == 5
    assert again.data_version == first.data_version  # same content, same version


def test_overlapping_extracts_add_only_the_new_interventions(
    tmp_path: Path, essonne: Territory
) -> None:
    whole = clean_export(essonne, date(2024, 2, 1), date(2024, 2, 10))
    day = pd.to_datetime(whole["date_heure_alerte"], format="%d/%m/%Y %H:%M:%S").dt.day
    first, second = whole[day <= 6], whole[day >= 4]
    settings = settings_at(tmp_path)
    a = ingest_file(settings, write_csv(first, tmp_path / "a.csv"), IngestOptions())
    b = ingest_file(settings, write_csv(second, tmp_path / "b.csv"), IngestOptions())
    assert a.accepted and b.accepted
    assert b.rows_unchanged == int(((day >= 4) & (day <= 6)).sum())
    assert b.rows_added == int((day > 6).sum())
    assert len(read_events(settings.paths, settings.territory)) == len(whole)


def test_a_conflicting_row_is_quarantined_and_replace_lets_the_correction_win(
    tmp_path: Path, january: pd.DataFrame
) -> None:
    settings = settings_at(tmp_path)
    assert ingest_file(settings, write_csv(january, tmp_path / "v1.csv"), IngestOptions()).accepted
    corrected = january.copy()
    target = corrected.index[10]
    new_category = "ACCI" if corrected.at[target, "categorie"] != "ACCI" else "SUAP"
    corrected.at[target, "categorie"] = new_category
    conflict_id = corrected.at[target, "num_intervention"]
    path = write_csv(corrected, tmp_path / "v2.csv")

    kept = ingest_file(settings, path, IngestOptions())
    assert kept.accepted and kept.rows_quarantined == 1 and kept.rows_added == 0
    assert [(r.row, r.key, r.reason) for r in kept.row_reasons] == [(11, conflict_id, "conflict")]
    stored = read_events(settings.paths, settings.territory).set_index("intervention_id")
    assert stored.at[conflict_id, "category"] != new_category

    won = ingest_file(settings, path, IngestOptions(replace=True))
    assert won.accepted and won.rows_replaced == 1 and won.rows_quarantined == 0
    stored = read_events(settings.paths, settings.territory).set_index("intervention_id")
    assert stored.at[conflict_id, "category"] == new_category
    assert len(stored) == len(january)


def test_dirty_generated_extract_quarantine_equals_its_manifest_row_for_row(
    tmp_path: Path,
) -> None:
    settings = settings_at(tmp_path)
    request = GenerateRequest(
        start=date(2024, 3, 1),
        end=date(2024, 3, 21),
        seed=SEED,
        out=tmp_path / "dirty.csv",
        dirty=True,
        dirty_rate=0.01,
    )
    generated = generate_extract(settings.territory, request)
    assert generated.manifest is not None
    manifest = json.loads(generated.manifest.read_text())
    report = ingest_file(settings, generated.path, IngestOptions())

    canonical = {v: k for k, v in settings.territory.mapping.columns.items()}
    expected = sorted(
        (d["row"], d["intervention_id"], d["defect"], canonical.get(d["column"], d["column"]))
        for d in manifest["defects"]
    )
    got = sorted((r.row, r.key, r.reason, r.column) for r in report.row_reasons)
    assert got == expected
    assert report.quarantine_file is not None
    quarantined = pd.read_parquet(report.quarantine_file)
    assert sorted(quarantined["row"]) == sorted({d["row"] for d in manifest["defects"]})
    assert report.accepted, report.summary()
    assert report.rows_read == manifest["rows"] == report.rows_accepted + report.rows_quarantined
    assert report.encoding in ("cp1252", "latin-1")
    assert set(manifest["personal_data_columns"]) <= set(report.dropped_columns)
    text = Path(report.report_file or "").read_text() + quarantined.to_csv()
    for column in manifest["personal_data_columns"]:  # names are listed, values never leave
        sample = pd.read_csv(generated.path, sep=";", encoding="latin-1", nrows=3)[column]
        assert not any(str(v) in text for v in sample)


# ---------------------------------------------------------------- bad inputs


def bad_empty(tmp: Path, good: pd.DataFrame) -> Path:
    (tmp / "empty.csv").write_bytes(b"")
    return tmp / "empty.csv"


def bad_header_only(tmp: Path, good: pd.DataFrame) -> Path:
    return write_csv(good.iloc[0:0], tmp / "header_only.csv")


def bad_missing_column(tmp: Path, good: pd.DataFrame) -> Path:
    return write_csv(good.head(50).drop(columns="date_heure_alerte"), tmp / "no_time.csv")


def bad_separator(tmp: Path, good: pd.DataFrame) -> Path:
    path = tmp / "pipes.csv"
    good.head(50).to_csv(path, sep="|", index=False)
    return path


def bad_binary(tmp: Path, good: pd.DataFrame) -> Path:
    path = tmp / "garbage.csv"
    path.write_bytes(random.Random(3).randbytes(4096))
    return path


def bad_truncated(tmp: Path, good: pd.DataFrame) -> Path:
    path = write_csv(good.head(40), tmp / "truncated.csv")
    text = path.read_text(encoding="utf-8").rstrip("\n")
    path.write_text(text[: text.rfind(";", 0, len(text) - 25)], encoding="utf-8")
    return path


def bad_truncated_parquet(tmp: Path, good: pd.DataFrame) -> Path:
    path = tmp / "cut.parquet"
    good.head(40).to_parquet(path, index=False)
    path.write_bytes(path.read_bytes()[:300])
    return path


def bad_parquet_types(tmp: Path, good: pd.DataFrame) -> Path:
    frame = good.head(40).copy()
    frame["date_heure_alerte"] = range(len(frame))
    frame["latitude"] = frame["latitude"].astype(str)
    path = tmp / "types.parquet"
    frame.to_parquet(path, index=False)
    return path


def bad_utf16(tmp: Path, good: pd.DataFrame) -> Path:
    path = tmp / "utf16.csv"
    path.write_bytes(good.head(50).to_csv(sep=";", index=False).encode("utf-16"))
    return path


def bad_gzip(tmp: Path, good: pd.DataFrame) -> Path:
    """A gzipped CSV cut short (a gzipped one is read: test_a_gzipped_csv_is_read…)."""
    import gzip

    path = tmp / "export.csv.gz"
    path.write_bytes(gzip.compress(good.head(50).to_csv(sep=";", index=False).encode())[:-40])
    return path


def bad_directory(tmp: Path, good: pd.DataFrame) -> Path:
    folder = tmp / "extracts"
    write_csv(good.head(50), folder / "a.csv")
    return folder


def bad_huge_field(tmp: Path, good: pd.DataFrame) -> Path:
    path = write_csv(good.head(40), tmp / "huge.csv")
    path.write_text(path.read_text(encoding="utf-8") + "x" * 140_000 + "\n", encoding="utf-8")
    return path


BAD_INPUTS = {
    "empty file": (bad_empty, ["empty"]),
    "header only": (bad_header_only, ["no data rows"]),
    "missing required column": (bad_missing_column, ["date_heure_alerte"]),
    # No separator of ',' ';' tab anywhere: read as one column, which misses the required ones.
    "wrong separator": (bad_separator, ["single column", "separator"]),
    "binary garbage": (bad_binary, ["binary"]),
    "truncated file": (bad_truncated, ["row 40", "truncated_row", "quarantined"]),
    "truncated parquet": (bad_truncated_parquet, ["Parquet"]),
    "parquet with wrong types": (bad_parquet_types, ["date_heure_alerte", "int64", "latitude"]),
    "UTF-16 text": (bad_utf16, ["UTF-16 text: re-export as UTF-8"]),
    "cut gzip": (bad_gzip, ["not a readable gzip file"]),
    "a directory": (bad_directory, ["is a directory"]),
    "a field over 128 KiB": (bad_huge_field, ["row 41", "num_intervention", "140000 characters"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_clear_message_and_the_store_untouched(
    case: str, seeded_home: Path, january: pd.DataFrame, tmp_path: Path
) -> None:
    make, words = BAD_INPUTS[case]
    path = make(tmp_path, january)
    before = store_snapshot(seeded_home)
    report: IngestReport = ingest_file(settings_at(seeded_home), path, IngestOptions())
    assert report.status == "rejected"
    message = " ".join(f.message for f in report.extract_failures)
    assert path.name in message
    for word in words:
        assert word in message, message
    assert store_snapshot(seeded_home) == before
    assert Path(report.report_file or "").is_file()
    checks = {f.check for f in report.extract_failures}
    assert checks == {EXPECTED_CHECK.get(case, "readable")}


EXPECTED_CHECK = {  # the extract-level expectation (GX suite extract_table) or step that failed
    "header only": "at_least_one_row",
    "missing required column": "required_columns",
    "wrong separator": "required_columns",
    "parquet with wrong types": "column_types",
    "truncated file": "quarantine_share",
}


def test_a_gzipped_csv_is_read_as_the_csv_inside(
    tmp_path: Path, january: pd.DataFrame, seeded_home: Path
) -> None:
    """Open-data portals publish `.csv.gz` (Denver's hourly calls): it used to be refused
    ("gzip-compressed: decompress it")."""
    import gzip

    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress(january.head(50).to_csv(sep=";", index=False).encode()))
    report = ingest_file(settings_at(seeded_home), path, IngestOptions())
    assert report.accepted, report.summary()
    assert report.rows_read == 50 and report.file_format == "gzip/csv"


def test_too_many_defects_reject_the_whole_extract(seeded_home: Path, essonne: Territory) -> None:
    frame = clean_export(essonne, date(2024, 4, 1), date(2024, 4, 3))
    frame.loc[frame.index[:30], "code_insee"] = "99999"
    path = write_csv(frame, seeded_home / "bad_communes.csv")
    before = store_snapshot(seeded_home)
    report = ingest_file(settings_at(seeded_home), path, IngestOptions())
    assert report.status == "rejected" and report.rows_quarantined == 30
    assert report.reason_counts == {"unknown_commune": 30}
    assert any(f.check == "quarantine_share" for f in report.extract_failures)
    assert store_snapshot(seeded_home) == before


def test_a_silent_day_rejects_the_extract(seeded_home: Path, essonne: Territory) -> None:
    frame = clean_export(essonne, date(2024, 5, 1), date(2024, 5, 7))
    day = pd.to_datetime(frame["date_heure_alerte"], format="%d/%m/%Y %H:%M:%S").dt.date
    path = write_csv(frame[day != date(2024, 5, 4)], seeded_home / "silent.csv")
    report = ingest_file(settings_at(seeded_home), path, IngestOptions())
    assert report.status == "rejected"
    assert [f.check for f in report.extract_failures] == ["volume_zero_day"]
    assert "2024-05-04" in report.extract_failures[0].message


# ---------------------------------------------------------------- counts


def weekly_open_data(weeks: range, communes: list[str], categories: list[str]) -> pd.DataFrame:
    rows = [
        ("2016", str(w), c, "91000", "X", k, str((w * 7 + len(c) + len(k)) % 9))
        for w in weeks
        for c in communes
        for k in categories
    ]
    columns = ["ope_annee", "ope_semaine", "ope_code_insee", "ope_code_postal"]
    columns += ["ope_nom_commune", "ope_categorie", "nb_ope"]
    return pd.DataFrame(rows, columns=columns)


def test_sdis91_weekly_counts_ingest_once_at_their_native_frequency(
    tmp_path: Path, essonne: Territory
) -> None:
    communes = sorted(essonne.commune_codes)[:5]
    frame = weekly_open_data(range(1, 9), communes, list(essonne.categories))
    path = tmp_path / "interventions-hebdo.csv"
    frame.to_csv(path, sep=";", index=False)
    settings = settings_at(tmp_path)
    options = IngestOptions(format="counts", preset="sdis91-weekly")
    first = ingest_file(settings, path, options)
    assert first.accepted and first.rows_added == len(frame) == 200
    assert first.frequency == "week"
    again = ingest_file(settings, path, options)
    assert again.rows_added == 0 and again.rows_unchanged == len(frame)
    counts = read_counts(settings.paths, settings.territory, "week")
    assert len(counts) == len(frame)
    assert (counts["period_start"].dt.day_of_week == 0).all()
    assert counts["count"].sum() == frame["nb_ope"].astype(int).sum()
    assert str(counts["period_start"].dt.tz) == "Europe/Paris"


def test_counts_with_bad_rows_are_quarantined_with_reasons(
    tmp_path: Path, essonne: Territory
) -> None:
    frame = weekly_open_data(range(1, 3), ["91001"], ["SUAP"])
    frame.loc[len(frame)] = ["2016", "3", "91001", "91000", "X", "XXX", "-2"]
    path = tmp_path / "w.csv"
    frame.to_csv(path, sep=";", index=False)
    report = ingest_file(
        settings_at(tmp_path), path, IngestOptions(format="counts", preset="sdis91-weekly")
    )
    assert report.status == "rejected"  # 1 of 3 rows is far above the 2 % threshold
    assert {(r.row, r.reason) for r in report.row_reasons} == {
        (3, "unknown_category"),
        (3, "invalid_count"),
    }


def test_hourly_counts_in_canonical_columns_infer_their_frequency_across_dst(
    tmp_path: Path, essonne: Territory
) -> None:
    hours = pd.date_range("2024-10-26 12:00", "2024-10-27 12:00", freq="h", tz="Europe/Paris")
    frame = pd.DataFrame(
        {
            "period_start": hours.tz_localize(None).strftime("%Y-%m-%dT%H:%M:%S"),
            "area_code": "91001",
            "category": "SUAP",
            "count": [str(i % 4) for i in range(len(hours))],
        }
    ).drop_duplicates("period_start")  # the repeated 02:00 reads the same in local time
    path = tmp_path / "hourly.csv"
    frame.to_csv(path, index=False)
    settings = settings_at(tmp_path)
    report = ingest_file(settings, path, IngestOptions(format="counts"))
    assert report.accepted, report.summary()
    assert (report.frequency, report.separator, report.dst_ambiguous) == ("hour", ",", 1)
    stored = read_counts(settings.paths, settings.territory, "hour")
    assert len(stored) == len(frame)


def weekly_counts(first: str, last: str, level: float, area: str, seed: int) -> pd.DataFrame:
    """Weekly counts in canonical columns around `level` a week, with a season and noise."""
    weeks = pd.date_range(first, last, freq="7D")
    season = 1 + 0.1 * np.cos(2 * np.pi * weeks.day_of_year / 365.25)
    counts = np.random.default_rng(seed).poisson(level * season)
    return pd.DataFrame(
        {
            "period_start": weeks.strftime("%Y-%m-%d"),
            "area_code": area,
            "category": "SUAP",
            "count": counts.astype(str),
        }
    )


def test_counts_doubling_from_a_recording_change_are_accepted_with_a_level_shift_notice(
    tmp_path: Path, essonne: Territory
) -> None:
    """Toronto's counts double from 2018 (issue #16, item 16): ingest names the shift."""
    area = sorted(essonne.commune_codes)[0]
    old = weekly_counts("2015-01-05", "2017-12-25", 410, area, 1)
    new = weekly_counts("2018-01-01", "2019-12-30", 820, area, 2)
    before, after = write_csv(old, tmp_path / "a.csv"), write_csv(new, tmp_path / "b.csv")
    settings = settings_at(tmp_path)
    options = IngestOptions(format="counts")
    first = ingest_file(settings, before, options)
    assert first.accepted and first.level_shifts == (), first.summary()
    second = ingest_file(settings, after, options)
    assert second.accepted and second.rows_added == 105, second.summary()  # a notice only
    (shift,) = second.level_shifts
    assert shift.startswith("level shift from the week of 2018-01-01: ")
    assert "interventions a week (×2.0" in shift
    assert shift.endswith("training can start after it: train.start_after_level_shift: true")
    assert f"**{shift}**" in summary_markdown([second])  # the flow's summary artifact
    assert json.loads(Path(str(second.report_file)).read_text())["level_shifts"] == [shift]
    again = ingest_file(settings, after, options)
    assert again.level_shifts == ()  # nothing new stored, nothing to say again

    whole = write_csv(pd.concat([old, new]), tmp_path / "all.csv")
    fresh = tmp_path / "fresh"
    result = CliRunner().invoke(
        app, ["--home", str(fresh), "ingest", "--format", "counts", str(whole)]
    )
    assert result.exit_code == 0, result.output
    assert "ACCEPTED" in result.output
    assert "  notice: level shift from the week of 2018-01-01: " in result.output


# ---------------------------------------------------------------- CLI and inbox


def test_cli_ingests_the_inbox_and_files_each_extract_with_its_report(
    tmp_path: Path, january: pd.DataFrame
) -> None:
    inbox = tmp_path / "data" / "inbox"
    write_csv(january.head(2000), inbox / "good.csv")
    (inbox / "empty.csv").write_bytes(b"")
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "ingest"])
    assert result.exit_code == 1, result.output  # one extract was rejected
    assert "good.csv: ACCEPTED" in result.output and "empty.csv: REJECTED" in result.output
    assert (inbox / "processed" / "good.csv.report.json").is_file()
    assert (inbox / "rejected" / "empty.csv.report.json").is_file()
    assert not list(inbox.rglob("*.csv")), "raw extracts are not kept (keep_raw_extracts)"
    again = CliRunner().invoke(app, ["--home", str(tmp_path), "ingest"])
    assert again.exit_code == 0 and "nothing to ingest" in again.output


def test_a_malformed_extract_in_the_inbox_does_not_stop_the_good_one_beside_it(
    tmp_path: Path, january: pd.DataFrame
) -> None:
    inbox = tmp_path / "data" / "inbox"
    bad_huge_field(inbox, january).rename(inbox / "a-broken.csv")
    write_csv(january.head(2000), inbox / "b-good.csv")
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "ingest"])
    assert result.exit_code == 1, result.output
    assert "a-broken.csv: REJECTED" in result.output and "field of 140000" in result.output
    assert "b-good.csv: ACCEPTED" in result.output
    assert (inbox / "rejected" / "a-broken.csv.report.json").is_file()
    assert not list(inbox.glob("*.csv"))


# ---------------------------------------------------------------- volume gate


@pytest.fixture(scope="module")
def half_year(essonne: Territory) -> pd.DataFrame:
    """January to mid-July 2024 as exported (about 270 interventions a day)."""
    return clean_export(essonne, date(2024, 1, 1), date(2024, 7, 10))


def home_storing(tmp_path: Path, export: pd.DataFrame) -> Settings:
    """A home whose store holds `export` (mapped as ingest would, written directly: fast)."""
    from previsecours.adapters.store import write_events
    from previsecours.core.ingest import canonical_part, map_events

    settings = settings_at(tmp_path)
    frame = canonical_part(map_events(export, settings.territory, "seed").frame)
    write_events(settings.paths, settings.territory, frame.reset_index(drop=True))
    return settings


def alert_days(export: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(export["date_heure_alerte"], format="%d/%m/%Y %H:%M:%S").dt.date


def recategorised(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows.copy()
    out["categorie"] = ["ACCI" if c != "ACCI" else "SUAP" for c in out["categorie"]]
    return out


def test_corrections_spread_over_months_are_judged_on_the_stored_days(
    tmp_path: Path, half_year: pd.DataFrame
) -> None:
    days = alert_days(half_year)
    settings = home_storing(tmp_path, half_year[days < date(2024, 6, 1)])
    picks = half_year[days < date(2024, 6, 1)].iloc[500::4000].head(10)  # Jan → May
    assert alert_days(picks).nunique() == 10
    path = write_csv(recategorised(picks), tmp_path / "corrections.csv")
    report = ingest_file(settings, path, IngestOptions(replace=True))
    assert report.accepted, report.summary()
    assert (report.rows_replaced, report.rows_added, report.rows_quarantined) == (10, 0, 0)


def test_new_days_with_a_few_corrections_of_old_days_are_accepted(
    tmp_path: Path, half_year: pd.DataFrame
) -> None:
    days = alert_days(half_year)
    settings = home_storing(tmp_path, half_year[days < date(2024, 7, 1)])
    july = half_year[days >= date(2024, 7, 1)].head(1275)
    january = recategorised(half_year[days < date(2024, 2, 1)].iloc[100::800].head(10))
    path = write_csv(pd.concat([january, july]), tmp_path / "july.csv")
    report = ingest_file(settings, path, IngestOptions(replace=True))
    assert report.accepted, report.summary()
    assert (report.rows_added, report.rows_replaced, report.rows_quarantined) == (1275, 10, 0)


def test_one_row_dated_years_away_is_quarantined_not_the_extract_rejected(
    tmp_path: Path, half_year: pd.DataFrame
) -> None:
    days = alert_days(half_year)
    settings = home_storing(tmp_path, half_year[days < date(2024, 7, 1)])
    july = half_year[days >= date(2024, 7, 1)].head(1275).copy()
    typo = july.index[600]
    july.loc[typo, "date_heure_alerte"] = "03/07/2004 10:12:00"
    report = ingest_file(settings, write_csv(july, tmp_path / "july.csv"), IngestOptions())
    assert report.accepted, report.summary()
    assert report.reason_counts == {"isolated_date": 1}
    assert [(r.row, r.column) for r in report.row_reasons] == [(601, "alert_time")]
    assert report.rows_added == 1274
    stored = read_events(settings.paths, settings.territory)
    assert stored["alert_time"].dt.year.min() == 2024
    quarantined = pd.read_parquet(Path(report.quarantine_file or ""))
    assert quarantined["alert_time_text"].tolist() == ["<19 chars: digits, spaces, punctuation>"]


# ---------------------------------------------------------------- real data


def test_montgomery_county_extract_ingests_and_names_its_real_defects(
    tmp_path: Path, shared_data: Path
) -> None:
    settings = settings_at(tmp_path, "montgomery-pa")
    report = ingest_file(settings, shared_data / "montco911" / "911.zip", IngestOptions())
    assert report.accepted, report.summary()
    assert report.rows_read == 99_492
    assert report.rows_read == report.rows_accepted + report.rows_quarantined
    assert report.rows_added == report.rows_accepted
    assert report.reason_counts["missing_commune"] == 43  # the 43 calls without a township
    assert report.reason_counts["outside_territory"] >= 3  # geocoded far outside the county
    assert set(report.reason_counts) == {"missing_commune", "outside_territory"}
    assert report.dropped_columns == ("zip", "addr", "e")
    assert (report.encoding, report.separator, report.file_format) == ("utf-8", ",", "zip/csv")
    stored = read_events(settings.paths, settings.territory)
    assert len(stored) == report.rows_added
    assert str(stored["alert_time"].dt.tz) == "America/New_York"
    assert set(stored["category"]) == {"EMS", "FIRE", "TRAFFIC"}
    assert 0.6 < stored["station_code"].notna().mean() < 0.7  # "Station <code>" on 64 % of rows


def test_commands_that_do_not_validate_never_import_great_expectations() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, previsecours.cli, previsecours.pipelines.ingest;"
        "print(sorted(m for m in ('great_expectations', 'dvc') if m in sys.modules))"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=repo
    )
    assert out.stdout.strip() == "[]"
