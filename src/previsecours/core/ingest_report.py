"""The report of one ingested extract: what was read, accepted, quarantined, rejected, and why.

It names dropped columns, never their values; every row-level reason with its 1-based data row
and column; every extract-level failure with a message naming the file (and row / column where
it applies). Counts reconcile: `rows_read == rows_accepted + rows_quarantined`, and for an
accepted extract `rows_accepted == rows_added + rows_unchanged + rows_replaced`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any, Literal

Status = Literal["accepted", "rejected"]


@dataclass(frozen=True)
class ExtractFailure:
    check: str
    message: str


@dataclass(frozen=True)
class RowReason:
    row: int
    key: str
    reason: str
    column: str


@dataclass(frozen=True)
class IngestReport:
    extract: str
    territory: str
    kind: str  # events | counts
    status: Status
    ingested_at: str
    file_format: str | None = None
    encoding: str | None = None
    separator: str | None = None
    frequency: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    rows_added: int = 0
    rows_unchanged: int = 0
    rows_replaced: int = 0
    dst_ambiguous: int = 0
    dst_nonexistent: int = 0
    dropped_columns: tuple[str, ...] = ()
    reason_counts: dict[str, int] = field(default_factory=dict)
    row_reasons: tuple[RowReason, ...] = ()
    extract_failures: tuple[ExtractFailure, ...] = ()
    quarantine_file: str | None = None
    report_file: str | None = None
    data_version: str = ""
    # Level shifts the accepted extract brought into the history, in words: a notice, the
    # rows are kept (a recording change is what the service now records; training decides).
    level_shifts: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def summary(self) -> str:
        """One line for people: the verdict, the counts, the first failure."""
        head = (
            f"{self.extract}: {self.status.upper()} — {self.rows_read} rows read, "
            f"{self.rows_added} added, {self.rows_unchanged} already stored, "
            f"{self.rows_replaced} replaced, {self.rows_quarantined} quarantined"
        )
        if self.reason_counts:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.reason_counts.items()))
            head += f" ({reasons})"
        if self.extract_failures:
            head += "; " + "; ".join(f.message for f in self.extract_failures)
        return head

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["dropped_columns"] = list(self.dropped_columns)
        doc["level_shifts"] = list(self.level_shifts)
        return doc


def summary_markdown(reports: list[IngestReport]) -> str:
    """A markdown summary of a batch of reports, for people (Prefect artifact, CLI)."""
    lines = [
        "# Ingest",
        "",
        "| extract | status | read | added | stored | replaced | quarantined |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        lines.append(
            f"| {PurePath(r.extract).name} | {r.status} | {r.rows_read} | {r.rows_added} | "
            f"{r.rows_unchanged} | {r.rows_replaced} | {r.rows_quarantined} |"
        )
    for r in reports:
        lines += ["", f"## {PurePath(r.extract).name}: {r.status}", ""]
        lines.append(
            f"encoding {r.encoding or '-'}, separator {r.separator!r}, format {r.file_format}, "
            f"DST: {r.dst_ambiguous} ambiguous, {r.dst_nonexistent} non-existent; "
            f"data version `{r.data_version}`"
        )
        if r.dropped_columns:
            lines.append(f"- dropped columns (names only): {', '.join(r.dropped_columns)}")
        for reason, count in sorted(r.reason_counts.items()):
            lines.append(f"- quarantined for {reason}: {count}")
        for failure in r.extract_failures:
            lines.append(f"- **rejected** ({failure.check}): {failure.message}")
        for shift in r.level_shifts:
            lines.append(f"- **{shift}**")
    return "\n".join(lines) + "\n"


def summary_tables(reports: list[IngestReport]) -> dict[str, list[dict[str, Any]]]:
    """Tables for the Prefect UI: accepted extracts, quarantined rows, rejected extracts."""
    accepted = [
        {
            "extract": PurePath(r.extract).name,
            "read": r.rows_read,
            "added": r.rows_added,
            "already_stored": r.rows_unchanged,
            "replaced": r.rows_replaced,
            "quarantined": r.rows_quarantined,
            "data_version": r.data_version,
        }
        for r in reports
        if r.accepted
    ]
    quarantined = [
        {
            "extract": PurePath(r.extract).name,
            "row": q.row,
            "key": q.key,
            "reason": q.reason,
            "column": q.column,
        }
        for r in reports
        for q in r.row_reasons
    ]
    rejected = [
        {"extract": PurePath(r.extract).name, "check": f.check, "message": f.message}
        for r in reports
        for f in r.extract_failures
    ]
    return {"accepted": accepted, "quarantined": quarantined, "rejected": rejected}
