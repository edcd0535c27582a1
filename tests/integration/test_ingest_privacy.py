"""Personal data never outlives ingestion: not in the store, the quarantine, the reports, the
Prefect artifacts, nor the inbox (issue #17). Victims' names and phone numbers are typed into
the columns ingest keeps, a line is written with the wrong separator, and then every file of
the home is searched for them."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from previsecours.adapters.export_files import write_export
from previsecours.adapters.ingest_files import kept_dir
from previsecours.adapters.store import read_events
from previsecours.core.generator import generate_events
from previsecours.core.generator.export import dispatch_export
from previsecours.core.ingest_report import summary_markdown, summary_tables
from previsecours.pipelines.ingest import IngestOptions, ingest_file
from previsecours.settings import load_settings

if TYPE_CHECKING:
    from previsecours.core.territory import Territory

SECRETS = (
    "Jeanne Martin",
    "0612345678",
    "Paul Durand",
    "0698765432",
    "Lucie Bernard",
    "0611223344",
    "Marc Petit",
    "0655443322",
    "rue des Lilas",
    "0677889900",
    "677889900",  # the phone read as a number (an engagement duration)
)


@pytest.fixture(scope="module")
def export(essonne: Territory) -> pd.DataFrame:
    frame = dispatch_export(
        generate_events(essonne, date(2024, 3, 1), date(2024, 3, 3), 5), essonne, 5
    )
    frame["nom_victime"] = "Anonyme"
    frame["telephone"] = "0100000000"
    return frame


def dirty_extract(export: pd.DataFrame, path: Path) -> Path:
    """Names and phones in kept columns (rows 11, 21, 31, 51) and a `,` line (row 42)."""
    frame = export.copy()
    for column in ("cis_premier_engage", "categorie", "code_insee", "duree_engagement_min"):
        frame[column] = frame[column].astype("string")
    frame.loc[frame.index[10], "cis_premier_engage"] = "Jeanne Martin 06 12 34 56 78 0612345678"
    frame.loc[frame.index[20], "categorie"] = "Paul Durand 0698765432"
    frame.loc[frame.index[30], "code_insee"] = "Lucie Bernard 0611223344"
    frame.loc[frame.index[50], "duree_engagement_min"] = "0677889900"
    write_export(frame, path, "csv", "utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(
        42,
        "202403019999,01/03/2024 10:00:00,91001,Evry,SUAP,Chute,ARPAJ,"
        "Marc Petit,0655443322,12 rue des Lilas",
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def readable_text(path: Path) -> str:
    """What a file holds, readable: Parquet decoded (its pages are compressed), else bytes."""
    data = path.read_bytes()
    if data[:4] == b"PAR1":
        return str(pd.read_parquet(path).to_csv())
    return data.decode("latin-1")


def leaks(root: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = readable_text(path)
        found += [(str(path.relative_to(root)), s) for s in SECRETS if s in text]
    return found


def test_names_and_phones_typed_in_kept_columns_are_nowhere_after_ingest(
    tmp_path: Path, export: pd.DataFrame
) -> None:
    settings = load_settings("essonne", tmp_path)
    inbox = settings.paths.inbox
    path = dirty_extract(export, inbox / "mars.csv")
    report = ingest_file(settings, path, IngestOptions())
    assert report.accepted, report.summary()

    reasons = {(r.row, r.reason, r.column) for r in report.row_reasons}
    assert {
        (11, "unknown_station", "station_code"),
        (21, "unknown_category", "category"),
        (31, "unknown_commune", "commune_code"),
        (42, "invalid_id", "intervention_id"),
        (52, "implausible_duration", "duration_min"),
    } <= reasons
    assert report.rows_quarantined == 5
    # The id of the `,` line is the whole raw line: its key is not kept, the others' are.
    keys = {r.row: r.key for r in report.row_reasons}
    assert keys[42] == "" and keys[11] == export["num_intervention"].iloc[10]

    quarantined = pd.read_parquet(Path(report.quarantine_file or "")).set_index("row")
    assert quarantined.at[11, "station_code"] == "<39 chars: letters, digits, spaces>"
    assert str(quarantined.at[42, "intervention_id"]).startswith("<")
    assert quarantined["duration_min"].isna()[52]
    assert quarantined.at[11, "commune_code"] == export["code_insee"].iloc[10]  # valid: kept
    assert set(quarantined.columns) <= {
        "intervention_id",
        "alert_time_text",
        "alert_time",
        "commune_code",
        "category",
        "station_code",
        "latitude",
        "longitude",
        "duration_min",
        "reasons",
        "columns",
    }

    assert leaks(tmp_path) == []  # store, DVC cache and remote, quarantine, reports, inbox
    shown = str(summary_tables([report])) + summary_markdown([report]) + report.summary()
    assert [s for s in SECRETS if s in shown] == []  # what Prefect's database receives
    stored = read_events(settings.paths, settings.territory)
    assert len(stored) == report.rows_added == len(export) + 1 - 5


def test_the_raw_extract_is_deleted_once_ingested_its_report_kept(
    tmp_path: Path, export: pd.DataFrame
) -> None:
    settings = load_settings("essonne", tmp_path)
    inbox = settings.paths.inbox
    write_export(export, inbox / "a.csv", "csv", "utf-8")
    (inbox / "b.csv").write_bytes(b"")
    for name in ("a.csv", "b.csv"):
        ingest_file(settings, inbox / name, IngestOptions())
    files = sorted(str(p.relative_to(inbox)) for p in inbox.rglob("*") if p.is_file())
    assert files == ["processed/a.csv.report.json", "rejected/b.csv.report.json"]


def test_kept_raw_extracts_are_owner_only_and_purged_after_their_retention(
    tmp_path: Path, export: pd.DataFrame
) -> None:
    (tmp_path / "params.yaml").write_text(
        "ingest:\n  keep_raw_extracts: true\n  raw_retention_days: 7\n", encoding="utf-8"
    )
    settings = load_settings("essonne", tmp_path)
    assert settings.params.ingest.keep_raw_extracts
    kept = kept_dir(settings.paths)
    kept.mkdir(parents=True)
    now = datetime(2024, 3, 10, 12, tzinfo=UTC)
    old, recent = kept / "old.csv", kept / "recent.csv"
    for path, age in ((old, 8), (recent, 6)):
        path.write_text("x", encoding="utf-8")
        stamp = (now - timedelta(days=age)).timestamp()
        os.utime(path, (stamp, stamp))
    inbox = settings.paths.inbox
    write_export(export, inbox / "mars.csv", "csv", "utf-8")
    report = ingest_file(settings, inbox / "mars.csv", IngestOptions(), now=now)
    assert report.accepted, report.summary()
    assert not old.exists() and recent.exists()
    moved = [p for p in kept.iterdir() if p.name.endswith("-mars.csv")]
    assert len(moved) == 1 and moved[0].stat().st_mtime == now.timestamp()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o700
    assert stat.S_IMODE(moved[0].stat().st_mode) == 0o600
    assert not (inbox / "mars.csv").exists()
    assert not (inbox / "processed" / "mars.csv").exists()
    assert (inbox / "processed" / "mars.csv.report.json").is_file()
