"""Two export shapes the mapping expresses: a preamble before the header (`csv.skip_lines`), and the
date and the time of day in two columns (`columns.event_time`).

Bank exports start with account and period lines; the records after them keep their physical line
numbers, and the independent record count passes over the same lines, so records in = rows kept +
rows quarantined still holds. A date and a time column are joined by one space and parsed with
`timestamp.format` in the feed's time zone; a blank half quarantines its row with what the file held.
"""

import datetime as dt
import gzip
import io

import pandas as pd
import pytest
import yaml

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import LANDING_RULE, RAW_VALUE, SOURCE_LINE, validate_transactions
from fraudshield_pipeline.domain.landing import DictFileReader, LandingError, MappingError, load_mapping, read_day

DAY = dt.date(2026, 9, 3)
START = dt.datetime(2026, 9, 3, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(days=1)
TX = "tx/2026-09-03.csv"
PREAMBLE = "Account;NL91ABNA0417164300\nPeriod;01.09.2026 - 07.09.2026\n\n"
HEADER = "id;card;term;ts;amt\n"
ROWS = ["T1;C1;M1;2026-09-03T10:00:00Z;12.50", "T2;C2;M1;2026-09-03T11:00:00Z;oops", "T3;C3;M2;2026-09-03T12:00:00Z;7.00"]


def mapping(csv: dict | None = None, columns: dict | None = None, **transactions) -> str:
    """A minimal ';'-delimited mapping (columns id, card, term, ts, amt), changed by the arguments."""
    cols = {"transaction_id": "id", "customer_id": "card", "merchant_id": "term", "event_timestamp": "ts", "amount": "amt", **(columns or {})}
    tx = {"path": "tx/{date}*.csv", "csv": {"delimiter": ";", **(csv or {})}, "columns": cols, **transactions}
    labels = {"path": "lb/{date}.csv", "required": False, "columns": {"transaction_id": "id", "is_fraud": "fraud", "reported_at": "at"}}
    return yaml.safe_dump({"transactions": tx, "labels": labels})


def land(text: str | bytes, mapping_text: str):
    data = text.encode() if isinstance(text, str) else text
    return read_day(DictFileReader({TX: data}), load_mapping(mapping_text), DAY)


# ---------------------------------------------------------------------------------------------
# csv.skip_lines: a preamble before the header
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("multiline", [False, True])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_preamble_is_skipped_and_line_numbers_stay_physical(multiline, compressed):
    text = PREAMBLE + HEADER + "\n".join(ROWS) + "\n"
    data = gzip.compress(text.encode(), mtime=0) if compressed else text.encode()
    landed = land(data, mapping(csv={"skip_lines": 3, "multiline": multiline}))
    assert landed.records == {TX: 3}  # the preamble's lines are no records, not even malformed ones
    tx = landed.transactions
    assert tx[s.TRANSACTION_ID].tolist() == ["T1", "T2", "T3"]
    assert tx[SOURCE_LINE].tolist() == [5, 6, 7]  # the header is line 4, the first record line 5
    assert tx[LANDING_RULE].tolist() == [None, "amount:unparseable", None] and tx[RAW_VALUE].iloc[1] == "oops"
    outcome = validate_transactions(tx, START, END, TX)
    assert outcome.rows_accounted and len(outcome.valid) + len(outcome.quarantine) == landed.records[TX]
    assert outcome.quarantine[SOURCE_LINE].tolist() == [6]


def test_a_malformed_record_after_a_preamble_names_its_physical_line():
    text = PREAMBLE + HEADER + "\n".join([*ROWS[:1], "T9;C9;M9", *ROWS[2:]] + [f"T{i};C1;M1;2026-09-03T10:00:00Z;1" for i in range(10, 200)]) + "\n"
    landed = land(text, mapping(csv={"skip_lines": 3}))
    malformed = landed.transactions[landed.transactions[LANDING_RULE].eq("malformed_record")]
    assert malformed[SOURCE_LINE].tolist() == [6] and malformed[RAW_VALUE].tolist() == ["T9;C9;M9"]
    assert landed.records[TX] == len(landed.transactions) == 193


def test_without_skip_lines_the_error_names_the_line_that_looks_like_the_header():
    text = PREAMBLE + HEADER + "\n".join(ROWS) + "\n"
    with pytest.raises(LandingError) as failure:
        land(text, mapping())
    assert failure.value.rule == "missing_column" and failure.value.column == "id"
    assert "'id' is not in the header (line 1)" in str(failure.value)
    assert "the header looks like line 4: set transactions.csv.skip_lines: 3" in str(failure.value)


def test_a_skip_lines_past_the_header_names_the_header_too():
    text = "Account;NL91ABNA0417164300\n" + HEADER + "\n".join(ROWS) + "\n"
    with pytest.raises(LandingError, match=r"\[missing_column\].*the header looks like line 2: set transactions.csv.skip_lines: 1"):
        land(text, mapping(csv={"skip_lines": 2}))
    assert land(text, mapping(csv={"skip_lines": 1})).records == {TX: 3}


def test_a_skip_lines_past_the_end_of_the_file_says_so():
    with pytest.raises(LandingError, match=r"\[unreadable_file\] the file is empty after the 9 lines of transactions.csv.skip_lines"):
        land(PREAMBLE, mapping(csv={"skip_lines": 9}))


def test_a_missing_column_without_a_header_further_down_keeps_the_plain_error():
    with pytest.raises(LandingError) as failure:
        land(HEADER.replace("amt", "amount") + ROWS[0] + "\n", mapping())
    assert failure.value.rule == "missing_column" and "'amt' is not in the file" in str(failure.value)
    assert "skip_lines" not in str(failure.value)


# ---------------------------------------------------------------------------------------------
# columns.event_time: the date and the time of day in two columns
# ---------------------------------------------------------------------------------------------
SPLIT = {"columns": {"event_timestamp": "Date", "event_time": "Time"}, "timestamp": {"format": "%d.%m.%Y %H:%M:%S"}, "timezone": "Europe/Amsterdam"}


def split_file(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"T{i};C{i};M1;{date};{time};10.00\n" for i, (date, time) in enumerate(rows))
    return "id;card;term;Date;Time;amt\n" + body


def test_a_date_and_a_time_column_are_one_instant_in_the_feeds_time_zone():
    landed = land(split_file([("03.09.2026", "14:05:33"), ("03.09.2026", "01:30:00"), ("04.09.2026", "00:15:00")]), mapping(**SPLIT))
    assert landed.transactions[s.EVENT_TIMESTAMP].tolist() == [
        pd.Timestamp("2026-09-03 12:05:33", tz="UTC"),  # CEST is UTC+2
        pd.Timestamp("2026-09-02 23:30:00", tz="UTC"),
        pd.Timestamp("2026-09-03 22:15:00", tz="UTC"),
    ]
    assert landed.unknown_columns == {}  # the time column is mapped, not unknown
    assert landed.transactions[LANDING_RULE].isna().all()


def test_a_blank_time_or_date_is_quarantined_with_what_the_file_held():
    rows = [("03.09.2026", "14:05:33")] * 200 + [("03.09.2026", ""), ("", "09:00:00"), ("", "")]
    landed = land(split_file(rows), mapping(**SPLIT))
    tx = landed.transactions
    assert tx[LANDING_RULE].iloc[200:202].tolist() == ["event_timestamp:unparseable"] * 2
    assert tx[RAW_VALUE].iloc[200:202].tolist() == ["03.09.2026 ", " 09:00:00"]
    assert pd.isna(tx[LANDING_RULE].iloc[202]) and pd.isna(tx[s.EVENT_TIMESTAMP].iloc[202])  # both blank: a blank timestamp
    outcome = validate_transactions(tx, START, END, TX)
    assert outcome.rows_accounted and len(outcome.valid) == 200
    assert outcome.rule_counts["event_timestamp:unparseable"] == 2 and len(outcome.quarantine) == 3


def test_a_time_column_of_blanks_fails_naming_both_columns():
    with pytest.raises(LandingError) as failure:
        land(split_file([("03.09.2026", "")] * 20), mapping(**SPLIT))
    assert failure.value.rule == "retyped" and failure.value.column == "Date + Time" and failure.value.canonical == "event_timestamp"
    assert "joined by one space" in str(failure.value)


def test_a_mapped_time_column_missing_from_the_file_is_named():
    with pytest.raises(LandingError) as failure:
        land(split_file([("03.09.2026", "14:05:33")]).replace("Time", "Hour", 1), mapping(**SPLIT))
    assert failure.value.rule == "missing_column" and failure.value.column == "Time" and failure.value.canonical == "event_time"


def test_parquet_date_and_time_columns_are_joined_too():
    frame = pd.DataFrame({
        "id": ["T1", "T2"], "card": ["C1", "C2"], "term": ["M1", "M1"],
        "Date": [dt.date(2026, 9, 3), dt.date(2026, 9, 3)], "Time": [dt.time(14, 5, 33), dt.time(8, 0)], "amt": [1.0, 2.0],
    })  # fmt: skip
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    text = mapping(**{**SPLIT, "path": "tx/{date}.parquet", "timestamp": {"format": "iso"}})
    landed = read_day(DictFileReader({"tx/2026-09-03.parquet": buffer.getvalue()}), load_mapping(text), DAY)
    assert landed.transactions[s.EVENT_TIMESTAMP].tolist() == [pd.Timestamp("2026-09-03 12:05:33", tz="UTC"), pd.Timestamp("2026-09-03 06:00", tz="UTC")]


# ---------------------------------------------------------------------------------------------
# mapping.yaml validation
# ---------------------------------------------------------------------------------------------
def test_skip_lines_and_event_time_load():
    loaded = load_mapping(mapping(csv={"skip_lines": 3}, **SPLIT))
    assert loaded.transactions.csv.skip_lines == 3 and loaded.transactions.columns["event_time"] == "Time"
    assert load_mapping(mapping()).transactions.csv.skip_lines == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (mapping(csv={"skip_lines": -1}), "transactions.csv.skip_lines input should be greater than or equal to 0"),
        (mapping(csv={"skip_lines": 5000}), "transactions.csv.skip_lines input should be less than or equal to 1000"),
        (mapping(csv={"skip_lines": "3"}), "transactions.csv.skip_lines input should be a valid integer"),
        (mapping(**{**SPLIT, "timestamp": {"format": "%d.%m.%Y"}}), "transactions.timestamp.format '%d.%m.%Y' has no time of day"),
        (mapping(**{**SPLIT, "timestamp": {"format": "epoch_seconds"}}), "'epoch_seconds' cannot take a separate columns.event_time"),
        (mapping(timestamp={"format": "%d.%m.%Y"}), "or the time of day as columns.event_time"),
    ],
    ids=["negative_skip", "huge_skip", "text_skip", "event_time_date_only_format", "event_time_epoch", "date_only_suggests_event_time"],
)
def test_mapping_errors(text, expected):
    with pytest.raises(MappingError) as failure:
        load_mapping(text)
    assert expected in str(failure.value)


def test_a_date_only_format_with_event_time_names_the_joined_format():
    with pytest.raises(MappingError) as failure:
        load_mapping(mapping(**{**SPLIT, "timestamp": {"format": "%d.%m.%Y"}}))
    assert "'Date' and 'Time' joined by one space, e.g. '%d.%m.%Y %H:%M:%S'" in str(failure.value)
