"""Hostile input at the contract boundary, fuzzed with hypothesis.

Random frames (column sets, dtypes, nulls, unicode, huge/negative/NaN/inf amounts, bad
timestamps, duplicate ids) and random files for the landing zone (random cells, random bytes,
truncated and bit-flipped real files, damaged text: stray quotes and delimiters, cut lines, as
CSV and Parquet). Whatever comes in, the result is one of: a clear error of the contract's own
type naming the file/column/rule, or an outcome where every row is either kept (and satisfies
the contract, and can be stored as parquet) or quarantined with its rule. Never another
exception, never a lost, merged or duplicated record: the records of a file are counted here
independently (non-empty physical lines after the header; Parquet metadata) and must equal rows
kept + rows quarantined.
"""

import csv
import datetime as dt
import io
import os
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import (
    EXPECTED_LABEL_DTYPES,
    EXPECTED_TRANSACTION_DTYPES,
    PROVENANCE_DTYPES,
    QUARANTINE_COLUMN,
    QUARANTINE_RULE,
    SchemaContractError,
    validate_labels,
    validate_transactions,
)
from fraudshield_pipeline.domain.landing import RULES, DictFileReader, LandingError, load_mapping, read_day
from fraudshield_pipeline_tests.landing_example import example

DAY = dt.date(2026, 9, 3)
START = dt.datetime(2026, 9, 3, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(days=1)
SOURCE = "fuzz/2026-09-03.csv"
TX, LB, TX_PQ = "transactions/2026-09-03.csv", "labels/2026-09-03.csv", "transactions/2026-09-03.parquet"
# FRAUDSHIELD_FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the file under ~30 s.
FUZZ = settings(max_examples=int(os.environ.get("FRAUDSHIELD_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
US_PER_DAY = 86_400_000_000

# --- values ---------------------------------------------------------------------------------
hostile_text = st.text(max_size=12)  # any unicode, incl. control characters and newlines
ids = st.one_of(st.text(alphabet="ab1", min_size=0, max_size=2), hostile_text, st.none())  # collisions likely
amounts = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.01, max_value=5000),
    st.sampled_from([0.0, -0.0, -1.0, 1e308, -1e308, 5e-324, np.nan, np.inf, -np.inf]),
)
timestamps_us = st.one_of(
    st.integers(0, US_PER_DAY - 1),  # inside the day
    st.integers(-3 * US_PER_DAY, 4 * US_PER_DAY),  # around it
    st.integers(-(2**62), 2**62),  # far away
    st.none(),
)
categories = st.one_of(st.sampled_from(s.MERCHANT_CATEGORIES), hostile_text, st.none())
channels = st.one_of(st.sampled_from(s.CHANNELS), hostile_text, st.none())
countries = st.one_of(st.sampled_from(s.COUNTRIES), hostile_text, st.none())
VALUES = {
    s.TRANSACTION_ID: ids,
    s.CUSTOMER_ID: ids,
    s.MERCHANT_ID: ids,
    s.EVENT_TIMESTAMP: timestamps_us,
    s.AMOUNT: amounts,
    s.MERCHANT_CATEGORY: categories,
    s.CHANNEL: channels,
    s.COUNTRY: countries,
}


def typed(column: str, values: list, dtype: str) -> pd.Series:
    if column in (s.EVENT_TIMESTAMP, s.REPORTED_AT):
        micros = pd.array([pd.NA if v is None else v for v in values], dtype="Int64")
        start = pd.Timestamp(START).as_unit("us")
        out = []
        for v in micros:
            try:
                out.append(pd.NaT if v is pd.NA else start + pd.Timedelta(int(v), unit="us"))
            except (OverflowError, pd.errors.OutOfBoundsTimedelta, pd.errors.OutOfBoundsDatetime):
                out.append(pd.NaT)
        return pd.Series(out, dtype=dtype)
    if dtype == "object":
        return pd.Series(values, dtype=object)
    return pd.Series(values, dtype=dtype)


# A wrong dtype for a column: what a broken upstream sends.
wrong_columns = st.sampled_from(["int64", "float64", "bool", "mixed", "naive_time", "ns_time", "other_tz", "category", "string"])


def wrong(kind: str, n: int) -> pd.Series:
    base = np.arange(n)
    return {
        "int64": lambda: pd.Series(base, dtype="int64"),
        "float64": lambda: pd.Series(base * 1.5, dtype="float64"),
        "bool": lambda: pd.Series(base % 2 == 0),
        "mixed": lambda: pd.Series([1, "a", None, 2.5, b"x", ("t",)][: max(n, 1)][:n] + [None] * max(0, n - 6), dtype=object),
        "naive_time": lambda: pd.Series(pd.date_range("2026-09-03", periods=n, freq="h")),
        "ns_time": lambda: pd.Series(pd.date_range("2026-09-03", periods=n, freq="h", tz="UTC")),
        "other_tz": lambda: pd.Series(pd.date_range("2026-09-03", periods=n, freq="h", tz="Europe/Paris").as_unit("us")),
        "category": lambda: pd.Series(["x"] * n, dtype="category"),
        "string": lambda: pd.Series(["x"] * n, dtype="string"),
    }[kind]()


GOOD = {
    s.TRANSACTION_ID: st.text(alphabet="abcdef0123", min_size=1, max_size=6),
    s.CUSTOMER_ID: st.text(alphabet="abc", min_size=1, max_size=3),
    s.MERCHANT_ID: st.text(alphabet="xyz", min_size=1, max_size=3),
    s.EVENT_TIMESTAMP: st.integers(0, US_PER_DAY - 1),
    s.AMOUNT: st.floats(min_value=0.01, max_value=5000),
    s.MERCHANT_CATEGORY: st.sampled_from(s.MERCHANT_CATEGORIES),
    s.CHANNEL: st.sampled_from(s.CHANNELS),
    s.COUNTRY: st.sampled_from(s.COUNTRIES),
    s.IS_FRAUD: st.sampled_from([0, 1]),
    s.REPORTED_AT: st.integers(0, 30 * US_PER_DAY),
    s.FRAUD_SCENARIO: st.sampled_from(s.FRAUD_SCENARIOS),
}


@st.composite
def hostile_frames(draw, expected: dict[str, str], values: dict) -> pd.DataFrame:
    """Plausible rows with hostile cells, columns dropped or retyped, extra columns, any index."""
    n = draw(st.integers(0, 25))
    cells = {c: draw(st.lists(GOOD[c], min_size=n, max_size=n)) for c in expected}
    for _ in range(draw(st.integers(0, 6)) if n else 0):
        column = draw(st.sampled_from(list(expected)))
        cells[column][draw(st.integers(0, n - 1))] = draw(values[column])
    data = {}
    for column, dtype in expected.items():
        fate = draw(st.sampled_from(["typed"] * 18 + ["wrong", "absent"]))
        if fate == "wrong":
            data[column] = wrong(draw(wrong_columns), n)
        elif fate == "typed":
            data[column] = typed(column, cells[column], dtype)
    for extra in draw(st.lists(st.text(min_size=1, max_size=6), max_size=2, unique=True)):
        if extra not in data:
            data[extra] = pd.Series(draw(st.lists(st.one_of(hostile_text, st.none()), min_size=n, max_size=n)), dtype=object)
    frame = pd.DataFrame(data, index=pd.RangeIndex(n)) if data else pd.DataFrame(index=pd.RangeIndex(n))
    if draw(st.booleans()) and n:  # a non-default index, as a filtered or concatenated frame has
        frame.index = draw(st.permutations(range(n)))
    return frame


# --- properties -----------------------------------------------------------------------------
def storable(frame: pd.DataFrame) -> None:
    """What the parquet IO manager does with a snapshot must work."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    assert pq.read_table(io.BytesIO(buffer.getvalue())).num_rows == len(frame)


def same_rows(frame: pd.DataFrame, outcome, key: str) -> None:
    """Every input row is kept or quarantined, exactly once (compared by its id, None included)."""
    assert outcome.rows_in == len(frame) == len(outcome.valid) + len(outcome.quarantine)

    def ids(series: pd.Series) -> list[str]:
        return sorted(repr(v) if isinstance(v, str) else "<missing>" for v in series)

    kept_and_quarantined = pd.concat([outcome.valid[key], outcome.quarantine[key]], ignore_index=True)
    assert ids(kept_and_quarantined) == ids(frame[key])


def assert_clear_error(error: SchemaContractError, columns) -> None:
    text = str(error)
    assert text.startswith(SOURCE) or "column '" in text, text
    assert any(f"'{c}'" in text for c in columns) or "missing required" in text, text


def check_transactions(frame: pd.DataFrame) -> None:
    try:
        outcome = validate_transactions(frame, START, END, SOURCE)
    except SchemaContractError as error:
        assert_clear_error(error, frame.columns)
        return
    same_rows(frame, outcome, s.TRANSACTION_ID)
    valid = outcome.valid
    for column in (s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID):
        assert valid[column].map(lambda v: isinstance(v, str) and v.strip() != "").all(), column
    assert valid[s.TRANSACTION_ID].is_unique
    assert (valid[s.AMOUNT] >= 0).all() and (valid[s.AMOUNT] <= 10_000_000).all()
    assert ((valid[s.EVENT_TIMESTAMP] >= START) & (valid[s.EVENT_TIMESTAMP] < END)).all()
    if s.MERCHANT_CATEGORY in valid:
        assert valid[s.MERCHANT_CATEGORY].isin(s.MERCHANT_CATEGORIES).all()
    if s.CHANNEL in valid:
        assert valid[s.CHANNEL].isin(s.CHANNELS).all()
    quarantine = outcome.quarantine
    assert quarantine[QUARANTINE_RULE].map(lambda r: isinstance(r, str) and ":" in r).all()
    assert quarantine[QUARANTINE_COLUMN].map(lambda c: isinstance(c, str) and c != "").all()
    assert sum(outcome.rule_counts.values()) == len(quarantine)
    storable(valid)
    storable(quarantine)


@FUZZ
@given(hostile_frames(EXPECTED_TRANSACTION_DTYPES, VALUES))
def test_any_transaction_frame_is_validated_quarantined_or_refused_clearly(frame):
    check_transactions(frame)


LABEL_VALUES = {
    s.TRANSACTION_ID: ids,
    s.IS_FRAUD: st.integers(-128, 127),
    s.REPORTED_AT: timestamps_us,
    s.FRAUD_SCENARIO: st.one_of(st.sampled_from(s.FRAUD_SCENARIOS), hostile_text, st.none()),
}


@FUZZ
@given(hostile_frames(EXPECTED_LABEL_DTYPES, LABEL_VALUES), st.lists(ids, max_size=10))
def test_any_label_frame_is_validated_quarantined_or_refused_clearly(frame, known):
    try:
        outcome = validate_labels(frame, pd.Series(known, dtype=object), SOURCE)
    except SchemaContractError as error:
        assert_clear_error(error, frame.columns)
        return
    same_rows(frame, outcome, s.TRANSACTION_ID)
    valid = outcome.valid
    assert valid[s.TRANSACTION_ID].isin([k for k in known if k is not None]).all()
    assert not valid.duplicated([s.TRANSACTION_ID, s.REPORTED_AT]).any()  # a label history: one report per instant
    history = valid.sort_values([s.TRANSACTION_ID, s.REPORTED_AT])
    assert (history.groupby(s.TRANSACTION_ID)[s.IS_FRAUD].diff().dropna() != 0).all()  # each kept report changes the label
    assert valid[s.IS_FRAUD].isin([0, 1]).all() and valid[s.REPORTED_AT].notna().all()
    storable(valid)
    storable(outcome.quarantine)


# --- the landing zone -----------------------------------------------------------------------
MAPPING = load_mapping(example.MAPPING)
PARQUET_MAPPING_TEXT = yaml.safe_dump(
    {**yaml.safe_load(example.MAPPING),
     "transactions": {**yaml.safe_load(example.MAPPING)["transactions"], "path": "transactions/{date}*.parquet", "format": "parquet"}},
    sort_keys=False,
)
MULTILINE_MAPPING = load_mapping(example.MAPPING.replace("multiline: false", "multiline: true"))
USER_DAY = example.user_frames(DAY)
USER_TX, USER_LB = USER_DAY[0].head(30).reset_index(drop=True), USER_DAY[1]
EMPTY_LABELS = USER_LB.head(0).to_csv(index=False).encode()

# A cell of the user's export: mostly plausible, sometimes hostile.
hostile_cells = st.one_of(
    hostile_text,
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "1e309", "-5", "0", "1,5", "12.3.4", "NULL", "None",
                     "31/02/2026 25:61:00", "00/00/0000 00:00:00", "2026-09-03T10:00:00Z", "1788000000",
                     "03/09/2026 02:30:00", '"', ";", "\n", "\r\n", "\x00", "é", "𝔘𝔫𝔦", "\ufeff"]),
    st.floats().map(repr),
    st.integers().map(str),
)


@st.composite
def user_exports(draw) -> pd.DataFrame:
    """The example user export with some cells replaced, rows duplicated, dropped or shuffled."""
    frame = USER_TX.copy()
    n = draw(st.integers(0, len(frame)))
    frame = frame.iloc[draw(st.lists(st.integers(0, len(USER_TX) - 1), min_size=n, max_size=n))].reset_index(drop=True)
    for _ in range(draw(st.integers(0, 6))):
        if len(frame):
            row = draw(st.integers(0, len(frame) - 1))
            column = draw(st.sampled_from(list(frame.columns)))
            frame.loc[row, column] = draw(hostile_cells)
    if draw(st.booleans()) and len(frame.columns) > 1:  # a column renamed, dropped or added
        column = draw(st.sampled_from(list(frame.columns)))
        frame = draw(st.sampled_from([frame.rename(columns={column: column.upper()}), frame.drop(columns=[column]),
                                      frame.assign(**{draw(st.text(min_size=1, max_size=5)): "x"})]))
    return frame


def to_csv(frame: pd.DataFrame) -> bytes:
    # CRLF line ends, as RFC 4180 has them: the writer then quotes every field holding a CR or LF.
    # (With LF line ends it leaves a bare CR unquoted, which any reader takes as a line break:
    # the file then really has more lines than the frame had rows.)
    return frame.to_csv(sep=";", index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).encode("utf-8", "surrogatepass")


def physical_records(data: bytes) -> int | None:
    """The records of a one-record-per-line CSV, counted without any CSV parser: lines (ended by
    \\r\\n, \\n or a lone \\r) after the header, but for lines of spaces only (None when the bytes
    are not text, or gzip)."""
    try:
        lines = re.split(r"\r\n|\r|\n", data.decode("utf-8-sig").lstrip("\ufeff"))
    except UnicodeDecodeError:
        return None
    nonblank = [i for i, line in enumerate(lines) if line.strip() or ";" in line]
    return len(nonblank) - 1 if nonblank else None


def check_landing(files: dict[str, bytes], mapping, n_rows: int | None) -> None:
    """read_day refuses with a LandingError naming file and rule, or every record reaches the contract."""
    try:
        day = read_day(DictFileReader(files), mapping, DAY)
    except LandingError as error:
        assert error.rule in RULES and (error.file in files or "{" not in error.file), error
        assert str(error).startswith(error.file), error
        return
    assert {str(t) for t in day.transactions.dtypes} <= set(EXPECTED_TRANSACTION_DTYPES.values()) | set(PROVENANCE_DTYPES.values())
    (name,) = [n for n in files if n.startswith("transactions/")]
    counted = n_rows if n_rows is not None else physical_records(files[name]) if name.endswith(".csv") else pq.ParquetFile(io.BytesIO(files[name])).metadata.num_rows
    if counted is not None:
        assert len(day.transactions) == day.records[name] == counted  # nothing dropped, merged or invented
    malformed = day.transactions[day.transactions["landing_rule"] == "malformed_record"]
    if name.endswith(".csv") and len(malformed):
        lines = re.split(r"\r\n|\r|\n", files[name].decode("utf-8-sig"))
        assert [lines[i - 1] for i in malformed["source_line"]] == malformed["raw_value"].tolist()
    outcome = validate_transactions(day.transactions, START, END, TX)  # canonical: no schema error possible
    same_rows(day.transactions, outcome, s.TRANSACTION_ID)
    storable(outcome.valid)
    storable(outcome.quarantine)
    labels = validate_labels(day.labels, outcome.valid[s.TRANSACTION_ID], LB)
    assert labels.rows_accounted


@FUZZ
@given(user_exports())
def test_any_user_csv_export_is_read_quarantined_or_refused_clearly(frame):
    """One record per line (the default): a cell with a line break makes more physical records
    than frame rows, each accounted for; declared multi-line, each frame row is one record."""
    data = to_csv(frame)
    physical = physical_records(data) if len(frame) else 0
    check_landing({TX: data, LB: EMPTY_LABELS}, MAPPING, physical)
    if physical != len(frame):  # a cell held a line break
        check_landing({TX: data, LB: EMPTY_LABELS}, MULTILINE_MAPPING, len(frame))


@FUZZ
@given(user_exports(), st.sampled_from(["text", "mixed", "numbers"]))
def test_any_user_parquet_export_is_read_quarantined_or_refused_clearly(frame, typing):
    if typing == "numbers":  # numeric columns where they parse: a typed export
        frame = frame.apply(lambda c: pd.to_numeric(c, errors="ignore") if c.name != "tx_time" else c)
    elif typing == "mixed" and len(frame):
        frame = frame.astype(object)
        frame.iloc[0, 0] = 12345  # an int among the strings of one column
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (pa.ArrowException, ValueError, TypeError):
        return  # not writable as Parquet at all: nothing a user could land
    check_landing({TX_PQ: buffer.getvalue(), LB: EMPTY_LABELS}, load_mapping(PARQUET_MAPPING_TEXT), len(frame))


def _real_file(kind: str) -> bytes:
    if kind == "csv":
        return to_csv(USER_TX)
    buffer = io.BytesIO()
    USER_TX.to_parquet(buffer, index=False)
    return buffer.getvalue()


@st.composite
def damaged_files(draw, kind: str) -> bytes:
    data = bytearray(_real_file(kind))
    how = draw(st.sampled_from(["random", "truncated", "flipped", "spliced"]))
    if how == "random":
        return draw(st.binary(max_size=2000))
    if how == "truncated":
        return bytes(data[: draw(st.integers(0, len(data)))])
    if how == "flipped":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        return bytes(data)
    i = draw(st.integers(0, len(data)))
    return bytes(data[:i]) + draw(st.binary(max_size=200)) + bytes(data[i:])


@FUZZ
@given(damaged_files("csv"))
def test_random_or_damaged_bytes_as_a_csv_file(data):
    check_landing({TX: data, LB: EMPTY_LABELS}, MAPPING, None)


@FUZZ
@given(damaged_files("parquet"))
def test_random_or_damaged_bytes_as_a_parquet_file(data):
    check_landing({TX_PQ: data, LB: EMPTY_LABELS}, load_mapping(PARQUET_MAPPING_TEXT), None)


@st.composite
def damaged_text(draw) -> bytes:
    """The real export with hand-editing accidents: a stray quote at the start, middle or end of a
    field, a stray delimiter, a line cut short or joined to the next, a blank line."""
    lines = to_csv(USER_TX).decode().split("\r\n")
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(1, len(lines) - 2))
        line = lines[i]
        at = draw(st.integers(0, len(line)))
        how = draw(st.sampled_from(["quote", "quote_field", "delimiter", "cut", "join", "blank"]))
        if how == "quote":
            lines[i] = line[:at] + '"' + line[at:]
        elif how == "quote_field":
            fields = line.split(";")
            j = draw(st.integers(0, len(fields) - 1))
            fields[j] = '"' + fields[j]
            lines[i] = ";".join(fields)
        elif how == "delimiter":
            lines[i] = line[:at] + ";" + line[at:]
        elif how == "cut":
            lines[i] = line[:at]
        elif how == "join":
            lines[i : i + 2] = [line + lines[i + 1]]
        else:
            lines.insert(i, "")
    return "\r\n".join(lines).encode()


@FUZZ
@given(damaged_text())
def test_damaged_text_keeps_records_in_equal_to_kept_plus_quarantined(data):
    check_landing({TX: data, LB: EMPTY_LABELS}, MAPPING, None)


@FUZZ
@given(damaged_files("csv"))
def test_random_or_damaged_bytes_as_a_label_file(data):
    check_landing({TX: to_csv(USER_TX), LB: data}, MAPPING, len(USER_TX))


def test_the_fuzzed_example_is_clean_without_damage():
    """The undamaged base of every fuzz case passes entirely: damage is what the fuzz adds."""
    day = read_day(DictFileReader({TX: to_csv(USER_TX), LB: EMPTY_LABELS}), MAPPING, DAY)
    outcome = validate_transactions(day.transactions, START, END, TX)
    assert len(outcome.valid) == len(USER_TX) and outcome.quarantine.empty


@pytest.mark.parametrize("column", list(EXPECTED_TRANSACTION_DTYPES))
def test_each_wrong_dtype_is_refused_naming_the_column(column):
    frame = typed(s.AMOUNT, [10.0, 20.0], "float64").to_frame(s.AMOUNT)
    for c, dtype in EXPECTED_TRANSACTION_DTYPES.items():
        if c != s.AMOUNT:
            frame[c] = typed(c, {s.EVENT_TIMESTAMP: [1, 2]}.get(c, ["a", "b"] if dtype == "object" else [1, 2]), dtype)
    frame[column] = wrong("mixed" if EXPECTED_TRANSACTION_DTYPES[column] == "object" else "int64", 2)
    with pytest.raises(SchemaContractError, match=f"{SOURCE}: column '{column}'"):
        validate_transactions(frame, START, END, SOURCE)
