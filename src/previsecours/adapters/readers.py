"""Read an extract file (CSV, a `.zip` holding one CSV, or Parquet) into a raw frame.

Guarantees:
- CSV values come back as text (nothing guessed by pandas); the encoding (UTF-8, UTF-8 with
  BOM, CP1252, Latin-1) and the separator (`,` `;` tab) are detected, never assumed, and
  returned for the report;
- a last line cut short (a truncated file) is flagged in `row_complete`, not silently padded;
- anything unreadable raises `ExtractError` with a message naming the file and, where it
  applies, the line: empty file, binary content, no separator, malformed lines, bad Parquet.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from previsecours.core.ingest import ExtractError

SEPARATORS = (";", ",", "\t")
ENCODINGS = ("utf-8", "cp1252", "latin-1")
_SAMPLE = 1 << 16


@dataclass(frozen=True)
class RawExtract:
    frame: pd.DataFrame
    file_format: str  # csv | zip/csv | parquet
    encoding: str | None
    separator: str | None
    row_complete: pd.Series
    text_source: bool
    truncated_column: str | None = None  # the column a cut last line stops in


def read_extract(path: Path) -> RawExtract:
    """Read `path`; `ExtractError` names the file and what is wrong with it."""
    if not path.is_file():
        raise ExtractError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    data = _zip_member(path) if suffix == ".zip" else path.read_bytes()
    return _read_csv(path, data, "zip/csv" if suffix == ".zip" else "csv")


def _read_parquet(path: Path) -> RawExtract:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise ExtractError(f"{path}: not a readable Parquet file: {exc}") from exc
    complete = pd.Series(True, index=pd.RangeIndex(len(frame)))
    return RawExtract(frame.reset_index(drop=True), "parquet", None, None, complete, False)


def _zip_member(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [
                m for m in archive.namelist() if m.lower().endswith(".csv") and "__MACOSX" not in m
            ]
            if len(members) != 1:
                raise ExtractError(f"{path}: a .zip must hold exactly one CSV, found {members}")
            return archive.read(members[0])
    except zipfile.BadZipFile as exc:
        raise ExtractError(f"{path}: not a readable zip archive: {exc}") from exc


def _read_csv(path: Path, data: bytes, file_format: str) -> RawExtract:
    if not data.strip():
        raise ExtractError(f"{path}: the file is empty")
    _refuse_binary(path, data)
    encoding, text = _decode(data)
    header = text.split("\n", 1)[0].rstrip("\r")
    separator = _separator(path, header)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=separator,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise ExtractError(
            f"{path}: malformed CSV ({encoding}, separator {separator!r}): {exc}"
        ) from exc
    complete = pd.Series(True, index=pd.RangeIndex(len(frame)))
    fields = _last_line_fields(text, separator)
    cut = None
    if len(frame) and fields < len(frame.columns):
        complete.iloc[-1] = False
        cut = str(frame.columns[max(fields, 1) - 1])
    return RawExtract(frame, file_format, encoding, separator, complete, True, cut)


def _refuse_binary(path: Path, data: bytes) -> None:
    sample = data[:_SAMPLE]
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise ExtractError(f"{path}: binary content, not a text extract (NUL byte at offset {nul})")
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if controls > len(sample) // 100:
        raise ExtractError(
            f"{path}: binary content, not a text extract ({controls} control bytes in the first "
            f"{len(sample)})"
        )


def _decode(data: bytes) -> tuple[str, str]:
    """The first encoding that decodes the whole file; a BOM is reported as such."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", data[3:].decode("utf-8", errors="strict")
    for encoding in ENCODINGS:
        try:
            return encoding, data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any byte string")  # pragma: no cover


def _separator(path: Path, header: str) -> str:
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    if counts[best] == 0:
        raise ExtractError(
            f"{path}: no column separator found in the header {header[:80]!r} "
            "(expected ',' ';' or tab)"
        )
    return best


def _last_line_fields(text: str, separator: str) -> int:
    """Fields on the last line: fewer than the header's when a truncated file cut it."""
    last = text.rstrip("\r\n").rsplit("\n", 1)[-1]
    return len(next(csv.reader([last], delimiter=separator), []))
