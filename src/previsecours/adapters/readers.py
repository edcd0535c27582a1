"""Read an extract file (CSV, gzipped CSV, a `.zip` holding one CSV, or Parquet) into a raw frame.

Guarantees:
- CSV values come back as text (nothing guessed by pandas); the encoding (UTF-8, UTF-8 with
  BOM, CP1252, Latin-1) and the separator (`,` `;` tab) are detected, never assumed, and
  returned for the report; a file with no separator in its header nor its first lines is one
  column (separator None), e.g. an extract of alarm times only;
- a last line cut short (a truncated file) is flagged in `row_complete`, not silently padded;
- anything unreadable raises `ExtractError` with a message naming the file and, where it
  applies, the row and column: a directory, an empty file, UTF-16 text, a cut gzip, a gzip
  inside a zip or other binary content, no separator, malformed lines, a field over
  `FIELD_LIMIT` characters (an unclosed quote, most often), bad Parquet. No other exception
  escapes `read_extract` (one bad file must never stop the files after it), and no message
  quotes a value of the file.
- a gzipped CSV (`.csv.gz`, as open-data portals publish them) is read as the CSV inside.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from previsecours.core.ingest import ExtractError

SEPARATORS = (";", ",", "\t")
ENCODINGS = ("utf-8", "cp1252", "latin-1")
_SAMPLE = 1 << 16
FIELD_LIMIT = 131_072  # characters; Python's csv module refuses longer fields
_GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_ONE_COLUMN_SAMPLE_LINES = 1000  # lines after the header a one-column file is checked on


@dataclass(frozen=True)
class RawExtract:
    frame: pd.DataFrame
    file_format: str  # csv | gzip/csv | zip/csv | parquet
    encoding: str | None
    separator: str | None  # None: a one-column CSV (or Parquet)
    row_complete: pd.Series
    text_source: bool
    truncated_column: str | None = None  # the column a cut last line stops in


def read_extract(path: Path) -> RawExtract:
    """Read `path`; `ExtractError` names the file and what is wrong with it."""
    try:
        return _read(path)
    except ExtractError:
        raise
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # a reader's failure is this file's, never the batch's
        raise ExtractError(f"{path}: unreadable extract ({type(exc).__name__})") from exc


def _read(path: Path) -> RawExtract:
    if path.is_dir():
        raise ExtractError(
            f"{path}: is a directory, not an extract file: give the extract files inside it"
        )
    if not path.is_file():
        raise ExtractError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    data = _zip_member(path) if suffix == ".zip" else path.read_bytes()
    if suffix != ".zip" and data.startswith(_GZIP_MAGIC):  # a CSV gzipped as published
        return _read_csv(path, _gunzip(path, data), "gzip/csv")
    return _read_csv(path, data, "zip/csv" if suffix == ".zip" else "csv")


def _gunzip(path: Path, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ExtractError(f"{path}: not a readable gzip file: {exc}") from exc


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
    separator = _separator(path, header, text)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=separator or ",",  # one column: no separator in the sample, "," is harmless
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise ExtractError(
            f"{path}: malformed CSV ({encoding}, separator {separator!r}): {exc}"
        ) from exc
    _refuse_huge_fields(path, frame)
    complete = pd.Series(True, index=pd.RangeIndex(len(frame)))
    fields = _last_line_fields(text, separator) if separator else len(frame.columns)
    cut = None
    if len(frame) and fields < len(frame.columns):
        complete.iloc[-1] = False
        cut = str(frame.columns[max(fields, 1) - 1])
    return RawExtract(frame, file_format, encoding, separator, complete, True, cut)


def _refuse_huge_fields(path: Path, frame: pd.DataFrame) -> None:
    """A field longer than FIELD_LIMIT is no dispatch value: most often a quote left open that
    swallowed the lines after it. Named by data row and column, never quoted."""
    for column in frame.columns:
        lengths = frame[column].str.len()
        over = lengths > FIELD_LIMIT
        if bool(over.any()):
            position = int(over.to_numpy().nonzero()[0][0])
            raise ExtractError(
                f"{path}: row {position + 1}, column {column!r}: a field of "
                f"{int(lengths.iloc[position])} characters (more than {FIELD_LIMIT}); "
                "an unclosed quote?"
            )


def _refuse_binary(path: Path, data: bytes) -> None:
    if data.startswith(_GZIP_MAGIC):
        raise ExtractError(
            f"{path}: gzip-compressed: decompress it or export as .zip (one CSV inside)"
        )
    sample = data[:_SAMPLE]
    if sample.startswith(_UTF16_BOMS) or _looks_utf16(sample):
        raise ExtractError(f"{path}: UTF-16 text: re-export as UTF-8 (or CP1252/Latin-1)")
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise ExtractError(f"{path}: binary content, not a text extract (NUL byte at offset {nul})")
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if controls > len(sample) // 100:
        raise ExtractError(
            f"{path}: binary content, not a text extract ({controls} control bytes in the first "
            f"{len(sample)})"
        )


def _looks_utf16(sample: bytes) -> bool:
    """UTF-16 without a BOM: text whose every other byte is NUL."""
    even, odd = sample[0::2], sample[1::2]
    half = max(len(sample) // 2, 1)
    return len(sample) >= 4 and max(even.count(0), odd.count(0)) > 0.9 * half


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


def _separator(path: Path, header: str, text: str) -> str | None:
    """The header's separator; None for a one-column file (no separator in the header nor in
    the first lines: an alarm-times-only extract). A header without one above lines with one
    is refused."""
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    if counts[best] == 0:
        lines = text[:_SAMPLE].splitlines()[1:_ONE_COLUMN_SAMPLE_LINES]
        if any(sep in line for line in lines for sep in SEPARATORS):
            raise ExtractError(
                f"{path}: no column separator found in the header {header[:80]!r} "
                "(expected ',' ';' or tab)"
            )
        return None
    return best


def _last_line_fields(text: str, separator: str) -> int:
    """Fields on the last line: fewer than the header's when a truncated file cut it."""
    last = text.rstrip("\r\n").rsplit("\n", 1)[-1]
    try:
        return len(next(csv.reader([last], delimiter=separator), []))
    except csv.Error:  # a field over csv's limit, say: count separators instead
        return last.count(separator) + 1
