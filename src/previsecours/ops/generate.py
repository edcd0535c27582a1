"""`previsecours generate`: a synthetic dispatch export of a territory, clean or dirty.

Composes the core generator (events → export rows → optional defects) with the file writer.
A dirty export is always a CSV (dirty exports are the raw text files ingestion must survive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from previsecours.adapters.export_files import (
    FileFormat,
    manifest_path,
    write_dirty_export,
    write_export,
)
from previsecours.config import GenerateParams
from previsecours.core.generator import generate_events
from previsecours.core.generator.export import dirty_export, dispatch_export
from previsecours.core.territory import Territory

DEFAULT_DIRTY_RATE = 0.005


@dataclass(frozen=True)
class GenerateRequest:
    start: date
    end: date
    seed: int
    out: Path
    file_format: FileFormat = "csv"
    encoding: str | None = None  # None: UTF-8, or Latin-1 for a dirty export
    dirty: bool = False
    dirty_rate: float = DEFAULT_DIRTY_RATE

    @classmethod
    def from_params(cls, params: GenerateParams, out: Path, **overrides: Any) -> GenerateRequest:
        """`params.yaml`'s `generate:` section, each value overridden when given (not None)."""
        values: dict[str, Any] = {
            "start": params.start,
            "end": params.end,
            "seed": params.seed,
            "dirty_rate": params.dirty_rate,
        }
        values |= {k: v for k, v in overrides.items() if v is not None}
        return cls(out=out, **values)


@dataclass(frozen=True)
class GenerateResult:
    path: Path
    rows: int
    file_format: str
    encoding: str | None
    manifest: Path | None = None
    defects: int = 0


def generate_extract(territory: Territory, request: GenerateRequest) -> GenerateResult:
    if request.dirty and request.file_format != "csv":
        raise ValueError("a dirty export is a CSV file: use --format csv with --dirty")
    events = generate_events(territory, request.start, request.end, request.seed)
    export = dispatch_export(events, territory, request.seed)
    if not request.dirty:
        encoding = None if request.file_format == "parquet" else request.encoding or "utf-8"
        rows = write_export(export, request.out, request.file_format, encoding or "utf-8")
        return GenerateResult(request.out, rows, request.file_format, encoding)
    dirty = dirty_export(export, territory, request.seed, request.dirty_rate)
    encoding = request.encoding or "latin-1"
    write_dirty_export(dirty, request.out, encoding)
    return GenerateResult(
        request.out,
        len(dirty.frame),
        "csv",
        encoding,
        manifest=manifest_path(request.out),
        defects=len(dirty.defects),
    )
