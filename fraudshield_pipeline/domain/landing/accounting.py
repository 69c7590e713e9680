"""Bytes to a table of the user's columns, with every record in the file accounted for.

The records of a file are counted by a reader that does not share the parser's rules:

* CSV, one record per line (the default): the records are the physical lines after the header
  (a line ends at \\r\\n, \\n or a lone \\r, as for every CSV parser; lines of spaces only are
  skipped like empty ones). A line without quotes is split at the delimiter (its field count is
  exact); a line with quotes is split by Python's ``csv`` module in strict mode, *that line
  alone*, so an unbalanced quote can never swallow the lines after it. A line that does not
  split into the header's fields, or holds a NUL byte, is a `malformed_record`: its row stays,
  empty, with its raw line, for the contract to quarantine. Past ``max_malformed_share`` of the
  records the file fails, naming the first bad line. A copy of the header inside the file
  (concatenated exports) is quarantined as ``repeated_header``, outside that share.
* CSV with ``csv.multiline: true``: a record is a line, or the lines up to where its quotes
  balance (at most `MAX_RECORD_LINES`), split strictly; a record that does not give the
  header's fields, or whose later lines would each split alone into the header's fields (a
  stray quote that swallowed whole records, not a field with line breaks), is quarantined *by
  its first line alone* and reading resumes on the next, so a stray quote costs one record, as
  above.
* Parquet: the row count in the file's metadata must equal the rows read.

`RawTable.rows` = records in the file, always; `read_day` asserts it again on the output.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.landing.errors import (
    RULE_DUPLICATE_COLUMN,
    RULE_ENCODING,
    RULE_MALFORMED,
    RULE_REPEATED_HEADER,
    RULE_RETYPED,
    RULE_TOO_LARGE,
    RULE_UNREADABLE,
    LandingError,
)
from fraudshield_pipeline.domain.landing.header import check_header_line, parse_header
from fraudshield_pipeline.domain.landing.mapping import CsvOptions

_ARCHIVES = {b"PK\x03\x04": "a ZIP archive", b"BZh": "bzip2-compressed", b"\xfd7zXZ\x00": "xz-compressed", b"\x28\xb5\x2f\xfd": "zstd-compressed", b"7z\xbc\xaf": "a 7-Zip archive"}
_LINE_END = re.compile(r"\r\n|\r|\n")
MAX_RECORD_LINES = 1000  # csv.multiline: a quoted field spans at most this many lines
_ID_COLUMNS = frozenset({s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID})
_PHYSICAL_WIDTH = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8}
_CALENDAR_SECONDS = (-62_135_596_800, 253_402_300_799)  # 0001-01-01 .. 9999-12-31 23:59:59 UTC: calendar dates


@dataclass
class RawTable:
    """A file's records as the user's columns (strings for CSV, native types for Parquet)."""

    frame: pd.DataFrame  # one row per record, in file order; malformed records are empty rows
    lines: np.ndarray  # int64: CSV physical line (header = its line), Parquet row number from 1
    rules: np.ndarray  # object: malformed_record / repeated_header where the record is not a row of data, else None
    raw: np.ndarray  # object: the raw text of such a record, else None
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


def _within(data: bytes, name: str, cap: int) -> None:
    """The file as stored is no larger than the cap (the reader reads at most one byte more)."""
    if len(data) > cap:
        raise LandingError(name, RULE_TOO_LARGE, f"is larger than {cap / 2**20:.0f} MiB (max_decompressed_mb)")


def _decode(data: bytes, name: str, options: CsvOptions, section: str) -> str:
    utf8 = codecs.lookup(options.encoding).name == "utf-8"
    hint = f"set {section}.csv.encoding to the file's encoding (e.g. 'cp1252' or 'latin-1')"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and not codecs.lookup(options.encoding).name.startswith("utf-16"):
        raise LandingError(name, RULE_ENCODING, f"starts with a UTF-16 byte-order mark but {section}.csv.encoding is {options.encoding!r}: set it to 'utf-16'")
    if data[:3] == codecs.BOM_UTF8 and not utf8:
        raise LandingError(name, RULE_ENCODING, f"starts with a UTF-8 byte-order mark but {section}.csv.encoding is {options.encoding!r}: set it to 'utf-8'")
    try:
        text = data.decode("utf-8-sig" if utf8 else options.encoding).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        byte = data[error.start : error.start + 1]
        line = data.count(b"\n", 0, error.start) + 1
        raise LandingError(name, RULE_ENCODING, f"not valid {options.encoding} (byte {byte!r} at offset {error.start}, line {line}); {hint}") from error
    if "\x00" in text[:4096] and text[:4096].count("\x00") > len(text[:4096]) // 8:
        raise LandingError(name, RULE_ENCODING, f"is mostly NUL bytes: binary, or UTF-16 without a byte-order mark? {hint}")
    return text


def read_csv(data: bytes, name: str, options: CsvOptions, section: str, wanted: Mapping[str, str], max_share: float, cap: int) -> RawTable:
    """The file's records; `wanted` (canonical -> the user's column) tells a header further down the file."""
    if data[:4] == b"PAR1":
        raise LandingError(name, RULE_UNREADABLE, f"the file is Parquet but {section}.format is csv")
    for magic, kind in _ARCHIVES.items():
        if data.startswith(magic):
            raise LandingError(name, RULE_UNREADABLE, f"the file is {kind}, not CSV text (only gzip is decompressed): unpack it first")
    _within(data, name, cap)
    if data[:2] == b"\x1f\x8b":
        data = gunzip(data, name, cap)
    text = _decode(data, name, options, section)
    # \r\n, \n or a lone \r: as pyarrow splits, so no parser sees a line joined
    lines = _LINE_END.split(text) if "\r" in text else text.split("\n")
    blank = [not line.strip() and options.delimiter not in line for line in lines]
    # csv.skip_lines: a preamble, neither header nor records; the blank lines after it are skipped as before a header
    first = next((i for i in range(options.skip_lines, len(lines)) if not blank[i]), None)
    if first is None:
        physical = len(lines) - (lines[-1] == "")  # the piece after a final line break is no line
        skipped = f" after the {options.skip_lines} lines of {section}.csv.skip_lines ({physical} in the file)" if options.skip_lines else ""
        raise LandingError(name, RULE_UNREADABLE, f"the file is empty{skipped}: not even a header row")
    if "\x00" in lines[first]:
        raise LandingError(name, RULE_ENCODING, f"the header (line {first + 1}) holds NUL bytes: binary, or the wrong encoding?")
    check_header_line(lines, first, name, options, section, wanted)
    header = parse_header(lines[first], first + 1, name, options, section, len(set(wanted.values())))
    numbers = [i for i in range(first + 1, len(lines)) if not blank[i]]
    body = [lines[i] for i in numbers]
    return _records(body, np.array(numbers, dtype=np.int64) + 1, lines[first].strip(), header, name, options, max_share)


def _records(body: list[str], numbers: np.ndarray, header_line: str, header: list[str], name: str, options: CsvOptions, share: float) -> RawTable:
    """One row per record; a record that does not split into the header's fields is an empty row
    with its raw text (`malformed_record`); a copy of the header (concatenated exports) likewise,
    with `repeated_header`, and outside the malformed share."""
    delimiter, n = options.delimiter, len(header)
    repeated = np.zeros(len(body), dtype=bool)
    if any(header_line in line for line in body):  # rare: look closer
        repeated = np.array([line.strip().lstrip("\ufeff") == header_line for line in body], dtype=bool)  # a BOM: a concatenated export
    if any('"' in line for line in body):
        fields, starts, raw = _split_quoted(body, n, delimiter, MAX_RECORD_LINES if options.multiline else 1)
        numbers, repeated = numbers[starts], repeated[starts]
    else:  # no quotes: a field count is exact, and pyarrow cannot join lines
        fields, raw = None, body
    malformed = np.array([f is None for f in fields], dtype=bool) if fields is not None else np.array([line.count(delimiter) != n - 1 for line in body], dtype=bool)
    if any("\x00" in line for line in raw):
        malformed |= np.array(["\x00" in line for line in raw], dtype=bool)
    malformed |= repeated
    good = ~malformed
    if fields is not None:
        rows = [f for f, ok in zip(fields, good, strict=True) if ok]
        frame = pd.DataFrame({h: [r[j] if r[j] != "" else None for r in rows] for j, h in enumerate(header)}, dtype=object) if rows else None
    else:
        good_text = "\n".join(line for line, ok in zip(raw, good, strict=True) if ok)
        frame = _pyarrow(good_text, header, delimiter) if good_text else None
    if frame is None:
        frame = pd.DataFrame({h: pd.Series(dtype=object) for h in header})
    if len(frame) != int(good.sum()):  # the parser disagrees with the count: never trust it
        raise LandingError(name, RULE_MALFORMED, f"the parser read {len(frame)} rows where {int(good.sum())} well-formed records were counted")
    _limit(malformed & ~repeated, numbers, raw, name, n, delimiter, share)
    frame.index = np.flatnonzero(good)
    frame = frame.reindex(range(len(raw)))
    rules = np.where(repeated, RULE_REPEATED_HEADER, np.where(malformed, RULE_MALFORMED, None)).astype(object)
    raws = np.array([line if bad else None for line, bad in zip(raw, malformed, strict=True)], dtype=object)
    return RawTable(frame, numbers, rules, raws, len(raw))


def _split_quoted(body: list[str], n: int, delimiter: str, span: int) -> tuple[list[list[str] | None], np.ndarray, list[str]]:
    """Python's csv module, strict, one record at a time: a record is one line, or (`span` > 1)
    the lines up to where its quotes balance. A record that does not give `n` fields is None, and
    only its first line is taken, so a stray quote can never swallow the lines after it."""
    fields: list[list[str] | None] = []
    starts, raw, i = [], [], 0
    while i < len(body):
        end, quotes = i + 1, body[i].count('"')
        while quotes % 2 and end < len(body) and end - i < span:
            quotes += body[end].count('"')
            end += 1
        row = _split("\n".join(body[i:end]), delimiter) if end > i + 1 and not quotes % 2 else None
        # The lines between the span's first and last that are records of their own: a stray quote swallowed
        # them, not a field with line breaks. (The last line holds the closing quote and may split alone too:
        # a two-line span is a field's line break, as multiline declares.)
        if row is not None and any(_is_record(line, n, delimiter) for line in body[i + 1 : end - 1]):
            row = None
        if row is None or len(row) != n:  # not a multi-line record: this line alone (a quote inside a field is literal)
            row, end = _split(body[i], delimiter), i + 1
            row = row if row is not None and len(row) == n else None
        fields.append(row)
        starts.append(i)
        raw.append("\n".join(body[i:end]))
        i = end
    return fields, np.array(starts, dtype=np.int64), raw


def _is_record(line: str, n: int, delimiter: str) -> bool:
    """Whether `line` alone splits into the header's `n` fields."""
    row = _split(line, delimiter)
    return row is not None and len(row) == n


def _split(record: str, delimiter: str) -> list[str] | None:
    if '"' not in record:  # no quotes: the delimiter alone splits it, exactly
        return record.split(delimiter) if "\n" not in record else None
    try:
        lines = (record,) if "\n" not in record else io.StringIO(record, newline="")
        rows = list(csv.reader(lines, delimiter=delimiter, strict=True))
    except csv.Error:  # includes a field over csv's size limit
        return None
    return rows[0] if len(rows) == 1 else None


def _limit(malformed: np.ndarray, numbers: np.ndarray, body: list[str], name: str, n: int, delimiter: str, share: float) -> None:
    n_bad = int(malformed.sum())
    allowed = max(1, int(share * len(body)))
    if n_bad and (n_bad > allowed or n_bad == len(body)):
        i = int(np.flatnonzero(malformed)[0])
        line = body[i]
        found = len(line.split(delimiter))
        why = (
            "a NUL byte" if "\x00" in line else "a trailing delimiter?" if line.endswith(delimiter) and found == n + 1
            else "an unbalanced quote?" if line.count('"') % 2 else "a stray delimiter or a truncated line?"
        )  # fmt: skip
        raise LandingError(
            name,
            RULE_MALFORMED,
            f"{n_bad} of {len(body)} records do not split into the header's {n} fields (first at line {numbers[i]}: "
            f"{found} fields; {why}); more than the {allowed} tolerated ({share:.0%}, max_malformed_share)",
        )


def _pyarrow(text: str, header: list[str], delimiter: str) -> pd.DataFrame:
    table = pcsv.read_csv(
        pa.BufferReader(text.encode("utf-8")),
        read_options=pcsv.ReadOptions(column_names=header, use_threads=True),
        parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char=False, newlines_in_values=False),
        convert_options=pcsv.ConvertOptions(
            column_types={h: pa.string() for h in header}, strings_can_be_null=True, null_values=[""], quoted_strings_can_be_null=True
        ),
    )
    return table.to_pandas()


def read_parquet(data: bytes, name: str, section: str, mapped: dict[str, str], cap: int = 2**62) -> RawTable:
    if not data:
        raise LandingError(name, RULE_UNREADABLE, "the file is empty (0 bytes): not Parquet")
    _within(data, name, cap)
    if data[:4] != b"PAR1":
        looks = "CSV/text" if data[:200].isascii() and b"\n" in data[:4096] else "not Parquet"
        raise LandingError(name, RULE_UNREADABLE, f"the file is {looks} (no Parquet header) but {section}.format is parquet")
    if data[-4:] != b"PAR1":
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated Parquet: {len(data)} bytes and no footer")
    try:  # int96 (Spark, Impala) as microseconds: as nanoseconds, a year past 2262 wraps silently
        file = pq.ParquetFile(pa.BufferReader(data), coerce_int96_timestamp_unit="us")
        names = file.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError, EOFError) as error:
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated Parquet: {str(error).strip()}") from error
    if decoded_size(file.metadata) > cap:  # a few kilobytes of run-length encoded zeros can stand for gigabytes
        raise LandingError(name, RULE_TOO_LARGE, f"decompresses to more than {cap / 2**20:.0f} MiB (max_decompressed_mb)")
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
        for canonical, user in mapped.items():  # bytes columns: text, or an error naming the column
            if user in names and (pa.types.is_binary(table.schema.field(user).type) or pa.types.is_large_binary(table.schema.field(user).type)):
                try:
                    text = table.column(user).cast(pa.string())
                    text.validate(full=True)  # the cast does not check the bytes
                except pa.ArrowInvalid as error:
                    raise LandingError(name, RULE_ENCODING, f"holds bytes that are not UTF-8 text ({str(error).strip()[:80]})", user, canonical) from error
                table = table.set_column(names.index(user), user, text)
        table = _int96_as_utc(table, file)
        table, rules, raw = _bounded_times(table, mapped)
        for canonical in _ID_COLUMNS & mapped.keys():  # integer ids as text in Arrow: through pandas, a null makes them floats
            user = mapped[canonical]
            if user in names and pa.types.is_integer(table.schema.field(user).type):
                table = table.set_column(names.index(user), user, table.column(user).cast(pa.string()))
        frame = table.to_pandas()
    except LandingError:
        raise
    except (pa.ArrowException, OSError, ValueError, EOFError) as error:
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated Parquet: {str(error).strip()}") from error
    records = file.metadata.num_rows
    if len(frame) != records:
        raise LandingError(name, RULE_MALFORMED, f"the metadata counts {records} rows but {len(frame)} were read")
    if not isinstance(frame.index, pd.RangeIndex):  # an index stored by pandas is a column of the user's
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    frame.index = pd.RangeIndex(len(frame))
    return RawTable(frame, np.arange(1, len(frame) + 1, dtype=np.int64), rules, raw, records)


def decoded_size(metadata: pq.FileMetaData) -> int:
    """A lower bound of a Parquet file's size once decoded: each column chunk's pages after
    decompression, and at least its values times their width (dictionary and run-length encoding
    let a few kilobytes stand for gigabytes of values; the pages' own size does not show it)."""
    total = 0
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        for j in range(group.num_columns):
            chunk = group.column(j)
            width = _PHYSICAL_WIDTH.get(chunk.physical_type, 4)  # byte arrays: at least an offset each
            total += max(chunk.total_uncompressed_size, chunk.num_values * width)
    return total


def _int96_as_utc(table: pa.Table, file: pq.ParquetFile) -> pa.Table:
    """int96 timestamps (Spark, Impala, Hive) hold UTC instants, though Arrow reads them without a
    zone: marked UTC, so the mapping's time zone for naive local times never shifts them."""
    schema = file.schema
    for i in range(len(schema)):
        column = schema.column(i)
        if column.physical_type == "INT96" and column.path in table.column_names:
            kind = table.schema.field(column.path).type
            if pa.types.is_timestamp(kind) and kind.tz is None:
                table = table.set_column(table.column_names.index(column.path), column.path, table.column(column.path).cast(pa.timestamp(kind.unit, tz="UTC")))
    return table


def _bounded_times(table: pa.Table, mapped: dict[str, str]) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Timestamps outside the calendar (years 1-9999) become nulls with their raw value and the rule
    `<column>:unparseable`: one absurd value quarantines its row, not the whole file (year 9999
    itself is a time, and is quarantined for its day like any other)."""
    import pyarrow.compute as pc

    n = table.num_rows
    rules, raw = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    for canonical, user in mapped.items():
        if user not in table.column_names or not pa.types.is_timestamp(table.schema.field(user).type):
            continue
        kind = table.schema.field(user).type
        column = table.column(user)
        per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[kind.unit]
        ticks = column.cast(pa.int64())
        low, high = max(_CALENDAR_SECONDS[0] * per_second, -(2**63)), min(_CALENDAR_SECONDS[1] * per_second, 2**63 - 1)
        outside = pc.fill_null(pc.or_(pc.less(ticks, low), pc.greater(ticks, high)), False)
        if not pc.any(outside).as_py():
            continue
        mask = outside.to_numpy(zero_copy_only=False)
        fresh = mask & pd.isna(rules)
        rules[fresh] = f"{canonical}:unparseable"
        raw[fresh] = [f"{v} ({kind.unit} since 1970-01-01)" for v in ticks.to_numpy(zero_copy_only=False)[fresh]]
        table = table.set_column(table.column_names.index(user), user, pc.if_else(outside, pa.scalar(None, kind), column))
    return table, rules, raw
