"""Write dispatch exports to disk: `;`-separated CSV (UTF-8 or Latin-1) or Parquet.

Guarantees: the header is the frame's columns in order; decimal point `.`; lines end with
`\\n`; the same frame gives the same bytes. A dirty export's last line is cut inside the
column its `truncated_row` defect names, with no trailing newline, and a manifest
`<file>.manifest.json` lists the file, its encoding, separator, data rows (header excluded,
the cut line included), personal-data columns and every injected defect.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Final, Literal, TextIO

import pandas as pd

from previsecours.core.generator.export import TRUNCATED_ROW, DirtyExport

SEPARATOR: Final = ";"
FileFormat = Literal["csv", "parquet"]
FILE_FORMATS: Final[tuple[FileFormat, ...]] = ("csv", "parquet")
ENCODINGS: Final = ("utf-8", "latin-1")


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".manifest.json")


def write_export(
    frame: pd.DataFrame, path: Path, file_format: FileFormat = "csv", encoding: str = "utf-8"
) -> int:
    """Write `frame`; returns the number of data rows. Unencodable text raises, never mangles."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "parquet":
        frame.to_parquet(path, index=False)
    elif file_format == "csv":
        _check_encoding(encoding)
        with path.open("w", encoding=encoding, newline="") as handle:
            _write_csv(frame, handle, header=True)
    else:
        raise ValueError(f"unknown export format {file_format!r} (known: {FILE_FORMATS})")
    return len(frame)


def write_dirty_export(dirty: DirtyExport, path: Path, encoding: str = "latin-1") -> Path:
    """Write a dirty CSV (last line cut) and its manifest; returns the manifest's path."""
    _check_encoding(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = dirty.frame
    cut = next(d for d in dirty.defects if d.defect == TRUNCATED_ROW)
    if cut.row != len(frame):
        raise ValueError(f"the truncated row must be the last one ({len(frame)}), not {cut.row}")
    with path.open("w", encoding=encoding, newline="") as handle:
        _write_csv(frame.iloc[:-1], handle, header=True)
        handle.write(_cut_line(frame.iloc[[-1]], cut.column))
    manifest = {
        "file": path.name,
        "encoding": encoding,
        "separator": SEPARATOR,
        "rows": len(frame),
        "personal_data_columns": list(dirty.personal_data_columns),
        "truncated_last_line": True,
        "defects": [
            {
                "row": d.row,
                "intervention_id": d.intervention_id,
                "defect": d.defect,
                "column": d.column,
            }
            for d in dirty.defects
        ],
    }
    target = manifest_path(path)
    target.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return target


def _write_csv(frame: pd.DataFrame, handle: TextIO, header: bool) -> None:
    """Streamed in chunks: the whole text never sits in memory."""
    frame.to_csv(handle, sep=SEPARATOR, index=False, header=header, lineterminator="\n")


def _cut_line(last: pd.DataFrame, column: str) -> str:
    """The last row written up to the middle of `column`'s value (at least one character)."""
    buffer = io.StringIO()
    _write_csv(last, buffer, header=False)
    fields = next(csv.reader([buffer.getvalue().rstrip("\n")], delimiter=SEPARATOR))
    k = list(last.columns).index(column)
    kept = [*fields[:k], fields[k][: max(1, len(fields[k]) // 2)]]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=SEPARATOR, lineterminator="").writerow(kept)
    return buffer.getvalue()


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r} (known: {ENCODINGS})")
