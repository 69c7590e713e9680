"""Review of the landing zone's new shapes (skip_lines, event_time, amount_sign, digit dates) with hostile inputs.

Each test pins a problem found by feeding the landing zone what a careless or hostile supplier might send:
a hint that, followed, would lose records; a count in an error that is off by one; a hint that steers a
feed of dates written as digits (yyyymmddHHMM) towards an epoch unit that reads them decades away.
"""

import datetime as dt
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import LANDING_RULE, RAW_VALUE, SOURCE_LINE, validate_transactions
from fraudshield_pipeline.domain.landing import DictFileReader, LandingError, load_mapping, read_day

DAY = dt.date(2026, 9, 3)
START = dt.datetime(2026, 9, 3, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(days=1)
TX = "tx/2026-09-03.csv"
TXP = "tx/2026-09-03.parquet"
HEADER = "id;card;term;ts;amt\n"
ROWS = "".join(f"T{i};C{i};M1;2026-09-03T1{i}:00:00Z;{i}.50\n" for i in range(5))


def mapping(csv: dict | None = None, fmt: str = "csv", **transactions) -> str:
    """A minimal ';'-delimited mapping (columns id, card, term, ts, amt), changed by the arguments."""
    cols = {"transaction_id": "id", "customer_id": "card", "merchant_id": "term", "event_timestamp": "ts", "amount": "amt"}
    tx = {"path": f"tx/{{date}}*.{fmt}", "format": fmt, "columns": cols, **transactions}
    if fmt == "csv":
        tx["csv"] = {"delimiter": ";", **(csv or {})}
    labels = {"path": "lb/{date}.csv", "required": False, "columns": {"transaction_id": "id", "is_fraud": "fraud", "reported_at": "at"}}
    return yaml.safe_dump({"transactions": tx, "labels": labels})


def land(text: str, mapping_text: str):
    return read_day(DictFileReader({TX: text.encode()}), load_mapping(mapping_text), DAY)


def land_parquet(ts: pa.Array, mapping_text: str):
    n = len(ts)
    table = pa.table({"id": [f"T{i}" for i in range(n)], "card": ["C1"] * n, "term": ["M1"] * n, "ts": ts, "amt": [1.0] * n})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return read_day(DictFileReader({TXP: buffer.getvalue()}), load_mapping(mapping_text), DAY)


# ---------------------------------------------------------------------------------------------
# the header hint must never name a skip_lines that passes over records
# ---------------------------------------------------------------------------------------------
def test_the_header_hint_never_suggests_skipping_records():
    """A renamed column (amt -> amount) in today's header, and an older export's header further down
    (a concatenated file): skip_lines: 6 would pass over five records as preamble, uncounted and lost."""
    text = "id;card;term;ts;amount\n" + ROWS + HEADER + ROWS
    with pytest.raises(LandingError) as error:
        land(text, mapping())
    assert error.value.rule == "missing_column" and "'amt'" in str(error.value)
    assert "skip_lines" not in str(error.value)


def test_the_header_hint_never_suggests_skipping_records_of_a_wider_header():
    """Today's header gained a column and renamed one: its records split into six fields, the older header five."""
    wider = "".join(f"T{i};C{i};M1;2026-09-03T1{i}:00:00Z;{i}.50;x\n" for i in range(5))
    with pytest.raises(LandingError) as error:
        land("id;card;term;ts;amount;extra\n" + wider + HEADER + ROWS, mapping())
    assert "skip_lines" not in str(error.value)  # the file fails (its older records are malformed), with no hint


def test_the_header_hint_still_names_a_header_below_a_preamble():
    """A preamble of lines unlike records (other field counts, blank lines): the hint stays."""
    text = "Account;NL91ABNA0417164300\nPeriod;01.09.2026 - 07.09.2026\n\n" + HEADER + ROWS
    with pytest.raises(LandingError, match=r"the header looks like line 4: set transactions.csv.skip_lines: 3"):
        land(text, mapping())
    landed = land(text, mapping(csv={"skip_lines": 3}))
    assert landed.records == {TX: 5} and landed.transactions[SOURCE_LINE].tolist() == [5, 6, 7, 8, 9]


def test_the_header_hint_names_a_header_above_a_too_large_skip_lines():
    """Lowering skip_lines passes over nothing: the lines between are read as records, and counted."""
    with pytest.raises(LandingError, match=r"the header looks like line 2: set transactions.csv.skip_lines: 1"):
        land("Account;x\n" + HEADER + ROWS, mapping(csv={"skip_lines": 3}))


# ---------------------------------------------------------------------------------------------
# a preamble longer than the file: the count of its lines
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["Account;x\nPeriod;y\n", "Account;x\nPeriod;y", "Account;x\r\nPeriod;y\r\n"])
def test_a_preamble_longer_than_the_file_counts_the_files_lines(text):
    with pytest.raises(LandingError, match=r"after the 5 lines of transactions.csv.skip_lines \(2 in the file\)"):
        land(text, mapping(csv={"skip_lines": 5}))


# ---------------------------------------------------------------------------------------------
# dates written as digits to the minute (yyyymmddHHMM)
# ---------------------------------------------------------------------------------------------
MINUTES = [202609031405, 202609031406, 202609031530]


@pytest.mark.parametrize("fmt", ["iso", "epoch_seconds", "epoch_millis"])
def test_minutes_written_as_digits_in_parquet_name_their_pattern_not_an_epoch_unit(fmt):
    """202609031405 as seconds is the year 8390, as milliseconds 1976: no epoch unit and no origin reads it;
    the hint names '%Y%m%d%H%M', as it names '%Y%m%d%H%M%S' for 14 digits."""
    with pytest.raises(LandingError) as error:
        land_parquet(pa.array(MINUTES, pa.int64()), mapping(fmt="parquet", timestamp={"format": fmt}))
    assert error.value.rule == "retyped" and "set timestamp.format: '%Y%m%d%H%M'" in str(error.value)
    assert "timestamp.origin" not in str(error.value) and "epoch_seconds, epoch_millis" not in str(error.value)


def test_minutes_written_as_digits_in_a_csv_under_iso_name_their_pattern():
    text = HEADER + "".join(f"T{i};C1;M1;{v};1.00\n" for i, v in enumerate(MINUTES))
    with pytest.raises(LandingError, match=r"set timestamp.format: '%Y%m%d%H%M'"):
        land(text, mapping())


def test_minutes_written_as_digits_read_under_their_pattern():
    landed = land_parquet(pa.array(MINUTES, pa.int64()), mapping(fmt="parquet", timestamp={"format": "%Y%m%d%H%M"}))
    assert landed.transactions[s.EVENT_TIMESTAMP].dt.strftime("%H:%M").tolist() == ["14:05", "14:06", "15:30"]
    outcome = validate_transactions(landed.transactions, START, END, TXP)
    assert outcome.rows_accounted and len(outcome.valid) == landed.records[TXP] == 3


# ---------------------------------------------------------------------------------------------
# a second of 60 under a strftime pattern: never rolled into the next minute (or day)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "value"),
    [("%Y%m%d%H%M%S", "20260903235960"), ("%d.%m.%Y %H:%M:%S", "03.09.2026 23:59:60"), ("%d.%m.%Y %H:%M:%S", "03.09.2026 10:00:61")],
)
def test_a_second_of_60_is_unparseable_not_the_next_minute(fmt, value):
    """pandas reads 23:59:60 as 00:00:00 of the next day, a partition day away; ISO 8601 and Python's
    strptime refuse it. A leap second or a rounding bug, it leaves its row with its raw text."""
    good = pd.Timestamp("2026-09-03 12:00:00").strftime(fmt)
    text = HEADER + f"T0;C1;M1;{value};1.00\n" + "".join(f"T{i};C1;M1;{good};1.00\n" for i in range(1, 200))
    landed = land(text, mapping(timestamp={"format": fmt}))
    tx = landed.transactions
    assert pd.isna(tx[s.EVENT_TIMESTAMP].iloc[0]) and tx[LANDING_RULE].iloc[0] == "event_timestamp:unparseable"
    assert tx[RAW_VALUE].iloc[0] == value and tx[SOURCE_LINE].iloc[0] == 2
    assert tx[s.EVENT_TIMESTAMP].iloc[1:].notna().all()
    outcome = validate_transactions(tx, START, END, TX)
    assert outcome.rows_accounted and len(outcome.valid) + len(outcome.quarantine) == landed.records[TX] == 200
