"""Hostile variants of the example landing zone, table-driven: the contract every case must keep.

Each case damages the committed example day (data/examples/landing, its mapping.yaml) the way a
hand-edited export, a broken transfer or an attacker would. Whatever the damage, one of two things:

* a `LandingError` (or `MappingError` for the mapping itself) naming the file and a known rule,
  never a bare Python exception, never echoing a file outside the root; or
* every record accounted for: records in the file (counted here, by physical lines, without the
  package's parser) = rows kept + rows quarantined, each quarantined row with its file, line and
  rule (and the raw text where the landing parser failed it); nothing absurd in the kept rows.
"""

import bz2
import datetime as dt
import gzip
import io
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import (
    DEFAULT_MAX_AMOUNT,
    LANDING_RULE,
    QUARANTINE_RULE,
    RAW_VALUE,
    SOURCE_FILE,
    SOURCE_LINE,
    validate_labels,
    validate_transactions,
)
from fraudshield_pipeline.domain.landing import RULES, DictFileReader, LandingError, MappingError, load_mapping, read_day
from fraudshield_pipeline_tests.landing_example import mapping_with

LANDING = Path(__file__).resolve().parents[2] / "data" / "examples" / "landing"
# Every Unicode format character (Cf), the test's own list: ids must not start or end with one.
INVISIBLE = re.escape("".join(c for c in map(chr, range(0x110000)) if unicodedata.category(c) == "Cf"))
DAY = dt.date(2026, 9, 1)
TX, LB = f"transactions/{DAY}.csv", f"labels/{DAY}.csv"
MAPPING = (LANDING / "mapping.yaml").read_text()
HEADER = "tx_ref;card_hash;terminal;tx_time;amount_eur;pos_entry;merchant_country;export_batch"


def tx_lines() -> list[str]:
    return (LANDING / TX).read_text().rstrip("\n").split("\n")


def lb_bytes() -> bytes:
    return (LANDING / LB).read_bytes()


def with_field(row: int, column: int, value: str, lines: list[str] | None = None) -> list[str]:
    """The day's lines with field `column` of data row `row` (1 = first data row) replaced."""
    lines = list(lines or tx_lines())
    fields = lines[row].split(";")
    fields[column] = value
    lines[row] = ";".join(fields)
    return lines


def text(lines: list[str], eol: str = "\n") -> bytes:
    return (eol.join(lines) + eol).encode()


def parquet(frame: pd.DataFrame | pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


def tx_frame() -> pd.DataFrame:
    return pd.read_csv(LANDING / TX, sep=";", dtype=str, keep_default_na=False)


def gzip_bomb(megabytes: int) -> bytes:
    return gzip.compress(b"0" * (megabytes * 2**20), compresslevel=9)


PARQUET_MAPPING = mapping_with(transactions__path="transactions/{date}*.parquet", transactions__format="parquet")


def physical_records(data: bytes, encoding: str = "utf-8") -> int:
    """The test's own count of a CSV file's records: non-blank physical lines after the header,
    a line ending being \\r\\n, \\r or \\n. Shares no code with the package."""
    lines = [line for line in re.split(r"\r\n|\r|\n", data.decode(encoding).lstrip("\ufeff")) if line.strip()]
    return max(len(lines) - 1, 0)


@dataclass
class Case:
    """A damaged zone; `error` is the expected LandingError rule, else the records must be accounted for."""

    files: Callable[[], dict[str, bytes]]
    mapping: str = MAPPING
    error: str | None = None  # expected rule (or "mapping" for a MappingError)
    rules: dict[str, int] = field(default_factory=dict)  # quarantine rules that must appear (file -> at least n)
    day: dt.date = DAY
    column: str | None = None  # the user column the error must name


def zone(tx: bytes | None = None, lb: bytes | None = None, **more: bytes) -> Callable[[], dict[str, bytes]]:
    return lambda: {TX: tx if tx is not None else text(tx_lines()), LB: lb if lb is not None else lb_bytes(), **more}


def tx_zone(build: Callable[[], bytes], name: str = TX) -> Callable[[], dict[str, bytes]]:
    return lambda: {name: build(), LB: lb_bytes()}


def pq_zone(build: Callable[[], bytes]) -> Callable[[], dict[str, bytes]]:
    return tx_zone(build, f"transactions/{DAY}.parquet")


def _lone_cr_inside() -> bytes:
    lines = with_field(12, 2, "M00\r0019")
    return text(lines)


def _duplicate_header() -> bytes:
    lines = tx_lines()
    return text([*lines[:100], HEADER, *lines[100:200], HEADER, *lines[200:]])


def _whitespace_lines() -> bytes:
    lines = tx_lines()
    return text([*lines[:50], "   ", "\t", *lines[50:], " "])


def _dst(day: dt.date, times: list[str]) -> Callable[[], dict[str, bytes]]:
    rows = [f"D{i};C1;M1;{t};10.00;chip;NL;b" for i, t in enumerate(times)]
    return lambda: {f"transactions/{day}.csv": text([HEADER, *rows]), f"labels/{day}.csv": b"tx_ref,fraud_flag,reported_on,reason\n"}


def _amounts(*values: str) -> bytes:
    lines = tx_lines()
    for i, value in enumerate(values, start=1):
        lines = with_field(i * 7, 4, value, lines)
    return text(lines)


def _labels(*rows: str) -> bytes:
    return lb_bytes() + ("\n".join(rows) + "\n").encode()


def _parquet_nested() -> bytes:
    frame = tx_frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    amounts = pa.array([[1.0, 2.0]] * len(frame), type=pa.list_(pa.float64()))
    return parquet(table.set_column(table.schema.get_field_index("amount_eur"), "amount_eur", amounts))


def _parquet_date_times() -> bytes:
    table = pa.Table.from_pandas(tx_frame(), preserve_index=False)
    dates = pa.array([DAY] * table.num_rows, type=pa.date32())
    return parquet(table.set_column(table.schema.get_field_index("tx_time"), "tx_time", dates))


def _parquet_duplicate() -> bytes:
    table = pa.Table.from_pandas(tx_frame(), preserve_index=False)
    return parquet(table.append_column("amount_eur", table.column("amount_eur")))


def _parquet_empty() -> bytes:
    return parquet(pa.Table.from_pandas(tx_frame().iloc[0:0], preserve_index=False))


def _parquet_no_row_group() -> bytes:
    sink = io.BytesIO()
    pq.ParquetWriter(sink, pa.Table.from_pandas(tx_frame(), preserve_index=False).schema).close()  # a footer, no row group
    return sink.getvalue()


def _parquet_footer() -> bytes:
    data = bytearray(parquet(tx_frame()))
    data[-12:-4] = b"\xff" * 8  # the footer length and the end of the metadata
    return bytes(data)


def _parquet_amount_text() -> bytes:
    frame = tx_frame()
    frame.loc[3, "amount_eur"] = "1,234.50"
    return parquet(frame)


def _parquet_column(column: str, values: pa.Array) -> Callable[[], bytes]:
    def build() -> bytes:
        table = pa.Table.from_pandas(tx_frame(), preserve_index=False)
        return parquet(table.set_column(table.schema.get_field_index(column), column, values))

    return build


def _bytes_ids(bad: bytes) -> pa.Array:
    ids = [x.encode() for x in tx_frame()["tx_ref"]]
    ids[3] = bad
    return pa.array(ids, pa.binary())


def _zipped(data: bytes) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        archive.writestr("export.csv", data)
    return sink.getvalue()


def _parquet_inf() -> bytes:
    frame = tx_frame()
    frame["amount_eur"] = frame["amount_eur"].astype(float)
    frame.loc[[3, 4, 5], "amount_eur"] = [np.inf, np.nan, 1e308]
    return parquet(frame)


T = 3  # tx_time, A = 4: amount_eur, I = 0: tx_ref
CASES: dict[str, Case] = {
    # quotes
    "quote_at_field_start": Case(tx_zone(lambda: text(with_field(40, 2, '"M000019'))), rules={"malformed_record": 1}),
    "quote_at_field_start_two_rows": Case(tx_zone(lambda: text(with_field(41, 2, '"x', with_field(40, 2, '"M0')))), rules={"malformed_record": 2}),
    "quote_in_field_middle": Case(tx_zone(lambda: text(with_field(40, 2, 'M0"0019')))),
    "quote_at_field_end": Case(tx_zone(lambda: text(with_field(40, 6, 'NL"')))),
    "quote_last_field_open": Case(tx_zone(lambda: text(with_field(40, 7, '"B2026')))),
    "quoted_field_with_delimiter": Case(tx_zone(lambda: text(with_field(40, 7, '"B;2026"')))),
    "quoted_newline_without_multiline": Case(tx_zone(lambda: text(with_field(40, 7, '"B\n2026"'))), rules={"malformed_record": 2}),
    "quoted_newline_with_multiline": Case(tx_zone(lambda: text(with_field(40, 7, '"B\n2026"'))), mapping_with(transactions__csv__multiline=True)),
    "multiline_literal_quote": Case(tx_zone(lambda: text(with_field(40, 2, 'M0"0019', with_field(60, 7, '"B\n2026"')))), mapping_with(transactions__csv__multiline=True)),
    "multiline_stray_quote": Case(tx_zone(lambda: text(with_field(40, 2, '"M0019', with_field(60, 7, '"B\n2026"')))), mapping_with(transactions__csv__multiline=True), rules={"malformed_record": 1}),
    "multiline_extra_field": Case(tx_zone(lambda: text(with_field(40, 7, "B;surprise"))), mapping_with(transactions__csv__multiline=True), rules={"malformed_record": 1}),
    # line endings and control bytes
    "crlf": Case(tx_zone(lambda: text(tx_lines(), "\r\n"))),
    "lone_cr": Case(tx_zone(lambda: text(tx_lines(), "\r"))),
    "mixed_line_endings": Case(tx_zone(lambda: "".join(line + ("\r\n", "\n", "\r")[i % 3] for i, line in enumerate(tx_lines())).encode())),
    "lone_cr_inside_field": Case(tx_zone(_lone_cr_inside), rules={"malformed_record": 2}),
    "nul_byte_in_field": Case(tx_zone(lambda: text(with_field(20, 1, "C00\x00225"))), rules={"malformed_record": 1}),
    "nul_bytes_everywhere": Case(tx_zone(lambda: text(tx_lines()).replace(b";", b";\x00")), error="encoding"),
    "utf16_without_bom": Case(tx_zone(lambda: text(tx_lines()).decode().encode("utf-16-le")), error="encoding"),
    "invalid_utf8": Case(tx_zone(lambda: text(with_field(20, 1, "C00@0225")).replace(b"@", b"\xff")), error="encoding"),
    "utf16_with_bom_declared_utf8": Case(tx_zone(lambda: text(tx_lines()).decode().encode("utf-16")), error="encoding"),
    "utf16_with_bom_declared": Case(tx_zone(lambda: text(tx_lines()).decode().encode("utf-16")), mapping_with(transactions__csv__encoding="utf-16")),
    "utf8_bom_declared_cp1252": Case(tx_zone(lambda: b"\xef\xbb\xbf" + text(tx_lines())), mapping_with(transactions__csv__encoding="cp1252"), error="encoding"),
    "binary_as_csv": Case(tx_zone(lambda: bytes(range(256)) * 40), error="encoding"),
    "parquet_as_csv": Case(tx_zone(lambda: parquet(tx_frame())), error="unreadable_file"),
    # shape
    "empty_file": Case(tx_zone(lambda: b""), error="unreadable_file"),
    "blank_file": Case(tx_zone(lambda: b"\n \n\r\n"), error="unreadable_file"),
    "header_only": Case(tx_zone(lambda: text([HEADER])), mapping_with(labels__required=False), rules={}),
    "header_missing": Case(tx_zone(lambda: text(tx_lines()[1:])), error="missing_column"),
    "header_repeated_inside": Case(tx_zone(_duplicate_header), rules={"repeated_header": 2}),
    "header_equal_after_trim": Case(tx_zone(lambda: text([HEADER.replace("terminal", " tx_ref "), *tx_lines()[1:]])), error="duplicate_column"),
    "extra_field": Case(tx_zone(lambda: text(with_field(9, 7, "B;x"))), rules={"malformed_record": 1}),
    "missing_field": Case(tx_zone(lambda: text([*tx_lines()[:9], tx_lines()[9].rsplit(";", 1)[0], *tx_lines()[10:]])), rules={"malformed_record": 1}),
    "truncated_last_line": Case(tx_zone(lambda: "\n".join(tx_lines())[:-25].encode()), rules={"malformed_record": 1}),
    "trailing_delimiter_everywhere": Case(tx_zone(lambda: text([line + ";" for line in tx_lines()]))),
    "trailing_delimiter_rows_only": Case(tx_zone(lambda: text([tx_lines()[0], *(line + ";" for line in tx_lines()[1:])])), error="malformed_record"),
    "trailing_delimiter_header_only": Case(tx_zone(lambda: text([tx_lines()[0] + ";", *tx_lines()[1:]])), error="malformed_record"),
    "whitespace_only_lines": Case(tx_zone(_whitespace_lines)),
    "very_long_field": Case(tx_zone(lambda: text(with_field(30, 6, "N" * 300_000))), rules={"country:length_between(2, 3)": 1}),
    "very_long_quoted_field": Case(tx_zone(lambda: text(with_field(30, 6, '"' + "N" * 300_000 + '"'))), rules={"malformed_record": 1}),
    "very_long_line_of_delimiters": Case(tx_zone(lambda: text([*tx_lines(), ";" * 100_000])), rules={"malformed_record": 1}),
    "very_long_id": Case(tx_zone(lambda: text(with_field(30, 0, "T" * 5000))), rules={"transaction_id:length_at_most(256)": 1}),
    "very_long_merchant_id": Case(tx_zone(lambda: text(with_field(30, 2, " " + "M" * 300))), rules={"merchant_id:length_at_most(256)": 1}),
    # compression and foreign formats
    "gzip_truncated": Case(tx_zone(lambda: gzip.compress(text(tx_lines()))[:-30]), error="unreadable_file"),
    "gzip_bomb": Case(tx_zone(lambda: gzip_bomb(3)), mapping_with(max_decompressed_mb=1), error="too_large"),
    "gzip_of_garbage": Case(tx_zone(lambda: b"\x1f\x8b" + zlib.compress(b"x") * 3), error="unreadable_file"),
    "parquet_nested_amount": Case(pq_zone(_parquet_nested), PARQUET_MAPPING, error="retyped", column="amount_eur"),
    "parquet_date_only_times": Case(pq_zone(_parquet_date_times), PARQUET_MAPPING, error="retyped", column="tx_time"),
    "parquet_duplicate_column": Case(pq_zone(_parquet_duplicate), PARQUET_MAPPING, error="duplicate_column", column="amount_eur"),
    "parquet_zero_rows": Case(pq_zone(_parquet_empty), mapping_with(transactions__path="transactions/{date}*.parquet", transactions__format="parquet", labels__required=False)),
    "parquet_zero_row_groups": Case(pq_zone(_parquet_no_row_group), mapping_with(transactions__path="transactions/{date}*.parquet", transactions__format="parquet", labels__required=False)),
    "parquet_corrupt_footer": Case(pq_zone(_parquet_footer), PARQUET_MAPPING, error="unreadable_file"),
    "parquet_truncated": Case(pq_zone(lambda: parquet(tx_frame())[:-100]), PARQUET_MAPPING, error="unreadable_file"),
    "parquet_amount_text": Case(pq_zone(_parquet_amount_text), PARQUET_MAPPING, rules={"amount:unparseable": 1}),
    "parquet_non_finite_amounts": Case(pq_zone(_parquet_inf), PARQUET_MAPPING, rules={"amount:finite": 1, "amount:not_nullable": 1, "amount:at_most_max_amount": 1}),
    "parquet_bytes_ids": Case(pq_zone(_parquet_column("tx_ref", _bytes_ids(b"T-1"))), PARQUET_MAPPING),
    "parquet_bytes_ids_not_utf8": Case(pq_zone(_parquet_column("tx_ref", _bytes_ids(b"\xff\xfe"))), PARQUET_MAPPING, error="encoding", column="tx_ref"),
    "parquet_uint64_amount": Case(pq_zone(_parquet_column("amount_eur", pa.array([2**64 - 1] + [1] * 294, pa.uint64()))), PARQUET_MAPPING, rules={"amount:at_most_max_amount": 1}),
    "parquet_bool_amount": Case(pq_zone(_parquet_column("amount_eur", pa.array([True] * 295))), PARQUET_MAPPING, error="retyped", column="amount_eur"),
    "parquet_struct_amount": Case(pq_zone(_parquet_column("amount_eur", pa.array([{"a": 1.0}] * 295))), PARQUET_MAPPING, error="retyped", column="amount_eur"),
    "parquet_all_null_amount": Case(pq_zone(_parquet_column("amount_eur", pa.nulls(295, pa.float64()))), PARQUET_MAPPING, rules={"amount:not_nullable": 295}),
    "parquet_year_9999": Case(pq_zone(_parquet_column("tx_time", pa.array([pd.Timestamp("9999-01-01")] * 295, pa.timestamp("ms")))), PARQUET_MAPPING, rules={"event_timestamp:inside_partition_day": 295}),
    "parquet_bomb": Case(pq_zone(_parquet_column("amount_eur", pa.array([0.0] * 295))), mapping_with(
        transactions__path="transactions/{date}*.parquet", transactions__format="parquet", max_decompressed_mb=0.001), error="too_large"),
    "zip_as_csv": Case(tx_zone(lambda: _zipped(text(tx_lines()))), error="unreadable_file"),
    "bzip2_as_csv": Case(tx_zone(lambda: bz2.compress(text(tx_lines()))), error="unreadable_file"),
    "header_of_many_columns": Case(tx_zone(lambda: text([";".join(f"c{i}" for i in range(50_000)), *(line + ";" * 49_992 for line in tx_lines()[1:4])])), error="missing_column"),
    "csv_as_parquet": Case(pq_zone(lambda: text(tx_lines())), PARQUET_MAPPING, error="unreadable_file"),
    # timestamps
    "year_9999": Case(tx_zone(lambda: text(with_field(10, T, "01/09/9999 10:00:00"))), rules={"event_timestamp:unparseable": 1}),
    "year_0001": Case(tx_zone(lambda: text(with_field(10, T, "01/09/0001 10:00:00"))), rules={"event_timestamp:unparseable": 1}),
    "year_five_digits": Case(tx_zone(lambda: text(with_field(10, T, "01/09/20260 10:00:00"))), rules={"event_timestamp:unparseable": 1}),
    "month_13": Case(tx_zone(lambda: text(with_field(10, T, "01/13/2026 10:00:00"))), rules={"event_timestamp:unparseable": 1}),
    "date_outside_day": Case(tx_zone(lambda: text(with_field(10, T, "02/09/2026 10:00:00", with_field(11, T, "31/08/2026 10:00:00")))), rules={"event_timestamp:inside_partition_day": 2}),
    "epoch_millis_as_seconds": Case(
        tx_zone(lambda: text([HEADER, *(f"E{i};C1;M1;{1788220800000 + i * 1000};5.0;chip;NL;b" for i in range(20))])),
        mapping_with(transactions__timestamp__format="epoch_seconds", labels__required=False), error="retyped", column="tx_time",
    ),
    "epoch_seconds_one_absurd": Case(
        tx_zone(lambda: text([HEADER, *(f"E{i};C1;M1;{1788220800 + i};5.0;chip;NL;b" for i in range(200)), "E9;C1;M1;1e300;5.0;chip;NL;b"])),
        mapping_with(transactions__timestamp__format="epoch_seconds", labels__required=False), rules={"event_timestamp:unparseable": 1},
    ),
    "dst_ambiguous": Case(
        _dst(dt.date(2026, 10, 25), ["25/10/2026 02:30:00", "25/10/2026 02:10:00", "25/10/2026 02:40:00"]), day=dt.date(2026, 10, 25),
        rules={"event_timestamp:ambiguous_local_time": 3},
    ),
    "dst_nonexistent": Case(_dst(dt.date(2026, 3, 29), ["29/03/2026 02:30:00", "29/03/2026 03:30:00"]), day=dt.date(2026, 3, 29)),
    "mixed_offsets_iso": Case(
        _dst(DAY, ["2026-09-01T10:00:00+05:00", "2026-09-01T10:00:00Z", "2026-09-01T10:00:00-03:00", "2026-09-01 10:00:00", "2026-09-01T23:30:00-03:00"]),
        mapping_with(transactions__timestamp__format="iso"), rules={"event_timestamp:inside_partition_day": 1},
    ),
    # amounts
    "amount_nan_inf_negative_zero": Case(tx_zone(lambda: _amounts("NaN", "inf", "-0", "-5.00")), rules={"amount:finite": 1, "amount:unparseable": 1, "amount:greater_than_or_equal_to(0)": 1}),
    "amount_1e308": Case(tx_zone(lambda: _amounts("1e308", "1E308", "-1e308")), rules={"amount:at_most_max_amount": 2}),
    "amount_thousands_separator": Case(tx_zone(lambda: _amounts("1,234.50")), rules={"amount:unparseable": 1}),
    "amount_comma_decimal_with_dots": Case(tx_zone(lambda: _amounts("1.234,50")), rules={"amount:unparseable": 1}),
    "amount_currency_symbol": Case(tx_zone(lambda: _amounts("€12.50")), rules={"amount:unparseable": 1}),
    "amount_exponent": Case(tx_zone(lambda: _amounts("1.25e2", "5E-1"))),
    "amount_underscore_hex": Case(tx_zone(lambda: _amounts("1_000")), rules={"amount:unparseable": 1}),
    # ids
    "id_blank": Case(tx_zone(lambda: text(with_field(5, 0, ""))), rules={"transaction_id:not_nullable": 1}),
    "id_whitespace_only": Case(tx_zone(lambda: text(with_field(5, 0, "   "))), rules={"transaction_id:not_nullable": 1}),
    "id_padded_duplicate": Case(tx_zone(lambda: text([*tx_lines(), " " + tx_lines()[5].replace(";", " ;", 1)])), rules={"transaction_id:unique": 1}),
    "id_nbsp_padded_duplicate": Case(tx_zone(lambda: text([*tx_lines(), "\u00a0" + tx_lines()[5]])), rules={"transaction_id:unique": 1}),
    "id_zero_width_duplicate": Case(tx_zone(lambda: text([*tx_lines(), tx_lines()[5].replace(";", "\u200b;", 1)])), rules={"transaction_id:unique": 1}),
    "id_lookalike": Case(tx_zone(lambda: text([*tx_lines(), tx_lines()[5].replace("T", "\u0422", 1)]))),
    "id_duplicate_in_day": Case(tx_zone(lambda: text([*tx_lines(), tx_lines()[5]])), rules={"transaction_id:unique": 1}),
    "customer_id_blank": Case(tx_zone(lambda: text(with_field(6, 1, " "))), rules={"customer_id:not_nullable": 1}),
    # labels
    "label_unknown_transaction": Case(zone(lb=_labels("NOPE,Y,2026-09-03T10:00:00+02:00,CT")), rules={"transaction_id:references_known_transaction": 1}),
    "label_contradicting_at_one_instant": Case(
        zone(lb=_labels("T20260901-0000001,Y,2026-09-03T10:00:00+02:00,CT", "T20260901-0000001,N,2026-09-03T10:00:00+02:00,")),
        rules={"is_fraud:consistent_duplicates": 2},
    ),
    # a chargeback, then the merchant's won representment: a history, both kept (domain.label_history)
    "label_reversed_later": Case(
        zone(lb=_labels("T20260901-0000001,Y,2026-09-03T10:00:00+02:00,CT", "T20260901-0000001,N,2026-09-04T10:00:00+02:00,")),
    ),
    "label_same_duplicates": Case(
        zone(lb=_labels("T20260901-0000001,Y,2026-09-03T10:00:00+02:00,CT", "T20260901-0000001,Y,2026-09-04T10:00:00+02:00,CT")),
        rules={"transaction_id:unique": 1},
    ),
    "label_before_transaction": Case(zone(lb=_labels("T20260901-0000003,Y,2026-08-01T10:00:00+02:00,CT")), rules={"reported_at:not_before_transaction": 1}),
    "label_value_outside_map": Case(zone(lb=_labels("T20260901-0000003,MAYBE,2026-09-03T10:00:00+02:00,CT")), rules={"is_fraud:unparseable": 1}),
    "label_value_two": Case(zone(lb=_labels("T20260901-0000003,2,2026-09-03T10:00:00+02:00,CT")), rules={"is_fraud:isin([0, 1])": 1}),
    "label_blank_flag": Case(zone(lb=_labels("T20260901-0000003,,2026-09-03T10:00:00+02:00,CT")), rules={"is_fraud:isin([0, 1])": 1}),
    "label_stray_quote": Case(zone(lb=_labels('T20260901-0000003,"Y,2026-09-03T10:00:00+02:00,CT')), rules={"malformed_record": 1}),
}


def run(case: Case):
    """(transactions outcome, labels outcome, landed day), or the error raised."""
    mapping = load_mapping(case.mapping)
    landed = read_day(DictFileReader(case.files()), mapping, case.day)
    start = dt.datetime.combine(case.day, dt.time(), tzinfo=dt.timezone.utc)
    tx = validate_transactions(landed.transactions, start, start + dt.timedelta(days=1), "tx", max_amount=mapping.transactions.max_amount)
    lb = validate_labels(landed.labels, tx.valid[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], "labels")
    return tx, lb, landed


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_fails_clearly_or_every_record_is_accounted_for(name):
    assert_handled(name, CASES[name])


def assert_handled(name: str, case: Case) -> None:
    """A clear `LandingError` / `MappingError` as the case expects, or every record accounted for."""
    if case.error is not None:
        expected = MappingError if case.error == "mapping" else LandingError
        with pytest.raises((LandingError, MappingError)) as caught:
            run(case)
        error = caught.value
        assert isinstance(error, expected), f"{type(error).__name__}: {error}"
        if isinstance(error, LandingError):
            assert error.rule == case.error and error.rule in RULES, str(error)
            assert error.file and str(error).startswith(f"{error.file}: [{error.rule}]"), str(error)
            assert len(str(error)) < 2000, f"an error message of {len(str(error))} characters"
            if case.column is not None:
                assert error.column == case.column, str(error)
            if name == "invalid_utf8":  # the first bad line, for the analyst
                assert "line 21" in str(error), str(error)
            if name == "parquet_date_only_times":  # the cause, not a generic format mismatch
                assert "without a time of day" in str(error) and "2026-09-01" in str(error), str(error)
        return
    files = case.files()
    tx, lb, landed = run(case)
    # records in = kept + quarantined, by the test's own count of each CSV file's lines
    multiline = load_mapping(case.mapping).transactions.csv.multiline
    for name_, data in files.items():
        if name_.endswith(".csv") and name_ in landed.records and not multiline:
            encoding = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
            assert landed.records[name_] == physical_records(data, encoding), name_
    tx_files = [f for f in landed.files if f.startswith("transactions/")]
    assert tx.rows_in == sum(landed.records[f] for f in tx_files) == len(tx.valid) + len(tx.quarantine)
    lb_files = [f for f in landed.files if f.startswith("labels/")]
    assert lb.rows_in == sum(landed.records[f] for f in lb_files) == len(lb.valid) + len(lb.quarantine)
    # quarantine keeps the evidence
    for outcome in (tx, lb):
        q = outcome.quarantine
        first = np.where(q[SOURCE_FILE].str.endswith(".parquet"), 1, 2)  # a Parquet row, or a CSV line after the header
        assert q[SOURCE_FILE].notna().all() and (q[SOURCE_LINE] >= first).all()
        landed_rules = q[LANDING_RULE].notna()
        assert (q.loc[landed_rules, QUARANTINE_RULE] == q.loc[landed_rules, LANDING_RULE]).all()
        assert q.loc[landed_rules, RAW_VALUE].notna().all()
    seen = {**tx.rule_counts, **{k: v + tx.rule_counts.get(k, 0) for k, v in lb.rule_counts.items()}}
    for rule, at_least in case.rules.items():
        assert seen.get(rule, 0) >= at_least, (rule, seen)
    # nothing absurd kept
    valid = tx.valid
    assert np.isfinite(valid[s.AMOUNT]).all() and valid[s.AMOUNT].between(0, DEFAULT_MAX_AMOUNT).all()
    assert valid[s.EVENT_TIMESTAMP].dt.date.eq(case.day).all()
    for column in (s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID):
        ids = valid[column]
        assert ids.notna().all() and (ids == ids.str.strip()).all() and ids.str.len().between(1, 256).all()
        assert not ids.str.contains(f"^[{INVISIBLE}]|[{INVISIBLE}]$", regex=True).any(), "an id with invisible characters at an end"
        assert not ids.str.contains("\x00").any()
    # one row per transaction; a label history holds one report per instant (domain.label_history)
    assert valid[s.TRANSACTION_ID].is_unique and not lb.valid.duplicated([s.TRANSACTION_ID, s.REPORTED_AT]).any()
    assert lb.valid[s.IS_FRAUD].isin([0, 1]).all()

