"""Bytes to a table of the user's columns, with every record in the file accounted for.

The records of a file are counted by a reader that does not share the parser's rules:

* CSV, one record per line (the default): the records are the non-empty physical lines after
  the header. A line without quotes is split at the delimiter (its field count is exact); a
  line with quotes is split by Python's ``csv`` module in strict mode, *that line alone*, so an
  unbalanced quote can never swallow the lines after it. A line that does not split into the
  header's fields is a `malformed_record`: its row stays, empty, with its raw line, for the
  contract to quarantine. Past ``max_malformed_share`` of the records the file fails, naming
  the first bad line.
* CSV with ``csv.multiline: true``: quoted fields may span lines. pyarrow parses; Python's
  ``csv`` module in strict mode counts the records and their first lines. Counts that differ, or
  a record the strict reader refuses, fail the file naming the first bad line.
* Parquet: the row count in the file's metadata must equal the rows read.

`RawTable.rows` = records in the file, always; `read_day` asserts it again on the output.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from fraudshield_pipeline.domain.landing.errors import (
    RULE_DELIMITER,
    RULE_DUPLICATE_COLUMN,
    RULE_ENCODING,
    RULE_MALFORMED,
    RULE_RETYPED,
    RULE_TOO_LARGE,
    RULE_UNREADABLE,
    LandingError,
)
from fraudshield_pipeline.domain.landing.mapping import CsvOptions

_DELIMITER_CANDIDATES = (";", "\t", ",", "|")


@dataclass
class RawTable:
    """A file's records as the user's columns (strings for CSV, native types for Parquet)."""

    frame: pd.DataFrame  # one row per record, in file order; malformed records are empty rows
    lines: np.ndarray  # int64: CSV physical line (header = its line), Parquet row number from 1
    malformed: np.ndarray  # bool: the record could not be split into the header's fields
    raw: np.ndarray  # object: the raw line of a malformed record, else None
    records: int  # counted independently of the parser


def gunzip(data: bytes, name: str, cap: int) -> bytes:
    """A gzip file decompressed, refusing more than `cap` bytes (a small file can expand to terabytes)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(cap + 1)
    except (OSError, EOFError) as error:
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated gzip: {error}") from error
    if len(out) > cap:
        raise LandingError(name, RULE_TOO_LARGE, f"decompresses to more than {cap / 2**20:.0f} MiB (max_decompressed_mb)")
    return out


def _header(line: str, name: str, options: CsvOptions, section: str, n_mapped: int) -> list[str]:
    try:
        header = next(csv.reader([line], delimiter=options.delimiter, strict=True), [])
    except csv.Error as error:
        raise LandingError(name, RULE_MALFORMED, f"the header (line 1) is not valid CSV: {error}") from error
    if len(header) <= 1 < n_mapped:
        counts = {d: line.count(d) for d in _DELIMITER_CANDIDATES if d != options.delimiter}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            raise LandingError(
                name,
                RULE_DELIMITER,
                f"the header is a single column {line[:80]!r} with {section}.csv.delimiter {options.delimiter!r}; "
                f"the file looks {best!r}-delimited: set {section}.csv.delimiter: {best!r}",
            )
    names = [h.strip() or f"unnamed_{i + 1}" for i, h in enumerate(header)]
    seen: set[str] = set()
    for raw, stripped in zip(header, names, strict=True):
        if stripped in seen:
            raise LandingError(
                name, RULE_DUPLICATE_COLUMN, f"the header names '{stripped}' twice (as {raw!r}, after trimming spaces)", column=stripped
            )
        seen.add(stripped)
    return names


def read_csv(data: bytes, name: str, options: CsvOptions, section: str, n_mapped: int, max_share: float, cap: int) -> RawTable:
    if data[:4] == b"PAR1":
        raise LandingError(name, RULE_UNREADABLE, f"the file is Parquet but {section}.format is csv")
    if data[:2] == b"\x1f\x8b":
        data = gunzip(data, name, cap)
    elif len(data) > cap:
        raise LandingError(name, RULE_TOO_LARGE, f"is larger than {cap / 2**20:.0f} MiB (max_decompressed_mb)")
    encoding = "utf-8-sig" if codecs.lookup(options.encoding).name == "utf-8" else options.encoding
    try:
        text = data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        raise LandingError(
            name,
            RULE_ENCODING,
            f"not valid {options.encoding} (byte {data[error.start:error.start + 1]!r} at offset {error.start}); "
            f"set {section}.csv.encoding to the file's encoding (e.g. 'cp1252' or 'latin-1')",
        ) from error
    if not text.strip():
        raise LandingError(name, RULE_UNREADABLE, "the file is empty: not even a header row")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    first = next(i for i, line in enumerate(lines) if line.strip())
    header = _header(lines[first], name, options, section, n_mapped)
    if options.multiline:
        return _multiline(lines, first, header, name, options)
    numbers = [i for i in range(first + 1, len(lines)) if lines[i]]
    body = [lines[i] for i in numbers]
    return _one_record_per_line(body, np.array(numbers, dtype=np.int64) + 1, header, name, options, max_share)


def _one_record_per_line(body: list[str], numbers: np.ndarray, header: list[str], name: str, options: CsvOptions, share: float) -> RawTable:
    delimiter, n = options.delimiter, len(header)
    fields: list[list[str] | None] = []
    if any('"' in line for line in body):  # quoted: each line on its own, strictly
        for line in body:
            try:
                row = next(csv.reader([line], delimiter=delimiter, strict=True))
            except csv.Error:
                row = None
            fields.append(row if row is not None and len(row) == n else None)
        malformed = np.array([f is None for f in fields], dtype=bool)
        good = [f for f in fields if f is not None]
        columns = {h: [r[j] if r[j] != "" else None for r in good] for j, h in enumerate(header)}
        frame = pd.DataFrame(columns, dtype=object) if good else pd.DataFrame({h: pd.Series(dtype=object) for h in header})
    else:  # no quotes: a field count is exact, and pyarrow cannot join lines
        malformed = np.array([line.count(delimiter) != n - 1 for line in body], dtype=bool)
        good_text = "\n".join(line for line, bad in zip(body, malformed, strict=True) if not bad)
        frame = _pyarrow(good_text, header, delimiter, quoted=False) if good_text else pd.DataFrame({h: pd.Series(dtype=object) for h in header})
    n_good = int((~malformed).sum())
    if len(frame) != n_good:  # the parser disagrees with the count: never trust it
        raise LandingError(name, RULE_MALFORMED, f"the parser read {len(frame)} rows where {n_good} well-formed records were counted")
    _limit(malformed, numbers, body, name, n, delimiter, share)
    frame.index = np.flatnonzero(~malformed)
    frame = frame.reindex(range(len(body)))
    raw = np.array([line if bad else None for line, bad in zip(body, malformed, strict=True)], dtype=object)
    return RawTable(frame, numbers, malformed, raw, len(body))


def _limit(malformed: np.ndarray, numbers: np.ndarray, body: list[str], name: str, n: int, delimiter: str, share: float) -> None:
    n_bad = int(malformed.sum())
    allowed = max(1, int(share * len(body)))
    if n_bad and (n_bad > allowed or n_bad == len(body)):
        i = int(np.flatnonzero(malformed)[0])
        line = body[i]
        found = len(line.split(delimiter))
        why = "a trailing delimiter?" if line.endswith(delimiter) and found == n + 1 else "an unbalanced quote?" if line.count('"') % 2 else "a stray delimiter or a truncated line?"
        raise LandingError(
            name,
            RULE_MALFORMED,
            f"{n_bad} of {len(body)} records do not split into the header's {n} fields (first at line {numbers[i]}: "
            f"{found} fields; {why}); more than the {allowed} tolerated ({share:.0%}, max_malformed_share)",
        )


def _pyarrow(text: str, header: list[str], delimiter: str, quoted: bool) -> pd.DataFrame:
    table = pcsv.read_csv(
        pa.BufferReader(text.encode("utf-8")),
        read_options=pcsv.ReadOptions(column_names=header, use_threads=True),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char='"' if quoted else False, newlines_in_values=quoted),
        convert_options=pcsv.ConvertOptions(
            column_types={h: pa.string() for h in header}, strings_can_be_null=True, null_values=[""], quoted_strings_can_be_null=True
        ),
    )
    return table.to_pandas()


def _multiline(lines: list[str], first: int, header: list[str], name: str, options: CsvOptions) -> RawTable:
    body_text = "\n".join(lines[first + 1 :])
    reader = csv.reader(io.StringIO(body_text, newline=""), delimiter=options.delimiter, strict=True)
    starts, line = [], first + 2
    try:
        for record in reader:
            if record:
                if len(record) != len(header):
                    raise LandingError(name, RULE_MALFORMED, f"the record at line {line} has {len(record)} fields, the header {len(header)}")
                starts.append(line)
            line = first + 2 + reader.line_num
    except csv.Error as error:
        raise LandingError(name, RULE_MALFORMED, f"not valid CSV from line {line} on (strict reader: {error})") from error
    try:
        frame = _pyarrow(body_text, header, options.delimiter, quoted=True) if starts else pd.DataFrame({h: pd.Series(dtype=object) for h in header})
    except pa.ArrowInvalid as error:
        raise LandingError(name, RULE_MALFORMED, f"malformed CSV: {error}") from error
    if len(frame) != len(starts):
        raise LandingError(name, RULE_MALFORMED, f"the parser read {len(frame)} rows where the strict reader counted {len(starts)} records")
    n = len(starts)
    return RawTable(frame, np.array(starts, dtype=np.int64), np.zeros(n, bool), np.full(n, None, dtype=object), n)


def read_parquet(data: bytes, name: str, section: str, mapped: dict[str, str]) -> RawTable:
    if not data:
        raise LandingError(name, RULE_UNREADABLE, "the file is empty (0 bytes): not Parquet")
    if data[:4] != b"PAR1":
        looks = "CSV/text" if data[:200].isascii() and b"\n" in data[:4096] else "not Parquet"
        raise LandingError(name, RULE_UNREADABLE, f"the file is {looks} (no Parquet header) but {section}.format is parquet")
    if data[-4:] != b"PAR1":
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated Parquet: {len(data)} bytes and no footer")
    try:
        file = pq.ParquetFile(pa.BufferReader(data))
        names = file.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError, EOFError) as error:
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated Parquet: {str(error).strip()}") from error
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise LandingError(name, RULE_DUPLICATE_COLUMN, f"the file has two columns named '{duplicates[0]}'", column=duplicates[0])
    for canonical, user in mapped.items():
        if user in names:
            kind = file.schema_arrow.field(user).type
            if pa.types.is_nested(kind) or pa.types.is_dictionary(kind) and pa.types.is_nested(kind.value_type):
                raise LandingError(name, RULE_RETYPED, f"holds {kind} values, not single values: the column looks retyped", user, canonical)
    try:
        table = file.read()
        frame = table.to_pandas()
    except (pa.ArrowException, OSError, ValueError, EOFError) as error:
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated Parquet: {str(error).strip()}") from error
    records = file.metadata.num_rows
    if len(frame) != records:
        raise LandingError(name, RULE_MALFORMED, f"the metadata counts {records} rows but {len(frame)} were read")
    if not isinstance(frame.index, pd.RangeIndex):  # an index stored by pandas is a column of the user's
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    frame.index = pd.RangeIndex(len(frame))
    n = len(frame)
    return RawTable(frame, np.arange(1, n + 1, dtype=np.int64), np.zeros(n, bool), np.full(n, None, dtype=object), records)
