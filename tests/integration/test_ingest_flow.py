"""One real run of the Prefect flow `ingest`: its artifacts, read back through the Prefect API."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from previsecours.adapters.export_files import write_export
from previsecours.core.generator import generate_events
from previsecours.core.generator.export import dispatch_export

if TYPE_CHECKING:
    from previsecours.core.territory import Territory


@pytest.mark.slow
def test_flow_run_publishes_summary_and_tables_of_what_happened(
    prefect_api: None, tmp_path: Path, essonne: Territory
) -> None:
    from flows.ingest import ingest
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    inbox = tmp_path / "data" / "inbox"
    events = generate_events(essonne, date(2024, 6, 1), date(2024, 6, 3), 5)
    export = dispatch_export(events, essonne, 5)
    export.loc[export.index[3], "categorie"] = "FEU"  # one row to quarantine (< 2 %)
    write_export(export, inbox / "june.csv")
    (inbox / "broken.csv").write_bytes(b"\x00\x01garbage")

    state = ingest(home=str(tmp_path), return_state=True)
    reports = state.result()
    assert [(Path(r["extract"]).name, r["status"]) for r in reports] == [
        ("broken.csv", "rejected"),
        ("june.csv", "accepted"),
    ]

    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {  # keys carry the territory: two territories never mix
        "ingest-summary-essonne",
        "ingest-accepted-essonne",
        "ingest-quarantined-essonne",
        "ingest-rejected-essonne",
    }
    summary = str(by_key["ingest-summary-essonne"].data)
    assert "june.csv" in summary and "unknown_category" in summary and "binary" in summary

    def table(key: str) -> list[dict[str, object]]:
        data = by_key[key].data
        rows = json.loads(data) if isinstance(data, str) else data
        assert isinstance(rows, list), rows
        return rows

    assert [(r["extract"], r["read"]) for r in table("ingest-accepted-essonne")] == [
        ("june.csv", len(export))
    ]
    assert [(r["row"], r["reason"]) for r in table("ingest-quarantined-essonne")] == [
        (4, "unknown_category")
    ]
    assert [(r["extract"], r["check"]) for r in table("ingest-rejected-essonne")] == [
        ("broken.csv", "readable")
    ]
    assert not (inbox / "june.csv").exists()  # taken from the inbox, its report filed
    assert (inbox / "processed" / "june.csv.report.json").is_file()
    assert (inbox / "rejected" / "broken.csv.report.json").is_file()


@pytest.mark.slow
def test_the_flow_takes_a_counts_only_territorys_inbox_without_options(
    prefect_api: None, tmp_path: Path
) -> None:
    """The scheduled ingestion passes no format: a service publishing counts only (no event
    columns mapped) has its extracts read as counts."""
    import pandas as pd
    from flows.ingest import ingest

    from previsecours.adapters.store import read_counts
    from previsecours.settings import load_settings
    from tests.integration.test_any_extract import counts_only_territory

    path = counts_only_territory(tmp_path)
    settings = load_settings(str(path), tmp_path)
    days = pd.date_range("2024-03-01", periods=5, freq="D").strftime("%Y-%m-%d")
    counts = pd.DataFrame(
        [(d, "A", "Medical", "3") for d in days], columns=["day", "district", "kind", "calls"]
    )
    settings.paths.inbox.mkdir(parents=True, exist_ok=True)
    counts.to_csv(settings.paths.inbox / "daily.csv", index=False)

    reports = ingest(territory=str(path), home=str(tmp_path))
    assert [(r["status"], r["kind"]) for r in reports] == [("accepted", "counts")]
    assert int(read_counts(settings.paths, settings.territory, "day")["count"].sum()) == 15
