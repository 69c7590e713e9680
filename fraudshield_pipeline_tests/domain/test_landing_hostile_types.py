"""Hostile input, second round: typed Parquet ids and times, invisible characters, files that are
not files, and links. Same contract as `test_landing_hostile` (a clear error naming file and rule,
or every record accounted for), plus what each case must specifically keep or refuse.
"""

import datetime as dt
import io
import os
import re
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import QUARANTINE_RULE, RAW_VALUE, SOURCE_LINE
from fraudshield_pipeline.domain.landing import DictFileReader, LandingError, LocalDirReader, MappingError, load_mapping, read_day
from fraudshield_pipeline_tests.domain.test_landing_hostile import (
    DAY,
    LB,
    PARQUET_MAPPING,
    TX,
    Case,
    assert_handled,
    lb_bytes,
    mapping_with,
    parquet,
    pq_zone,
    run,
    text,
    tx_frame,
    tx_lines,
    tx_zone,
    with_field,
    zone,
)

PQ = f"transactions/{DAY}.parquet"
MINIMAL = """
transactions:
  path: "tx/{date}*.%s"
  columns: {transaction_id: id, customer_id: card, merchant_id: term, event_timestamp: ts, amount: amt}
labels: {from_transactions: {is_fraud: fraud}, delay_days: 1}
max_decompressed_mb: 1
"""


def _example_table() -> pa.Table:
    return pa.Table.from_pandas(tx_frame(), preserve_index=False)


def _with_column(column: str, values: pa.Array) -> bytes:
    table = _example_table()
    return parquet(table.set_column(table.schema.get_field_index(column), column, values))


def _utc_times() -> pd.Series:
    local = pd.to_datetime(tx_frame()["tx_time"], format="%d/%m/%Y %H:%M:%S").dt.tz_localize("Europe/Amsterdam")
    return local.dt.tz_convert("UTC")


def _one_absurd_time() -> bytes:
    ticks = (_utc_times().astype("int64") // 10**6).to_numpy()  # ms since 1970
    ticks[4] = 2**62  # ~146 million years
    return _with_column("tx_time", pa.array(ticks, pa.int64()).cast(pa.timestamp("ms", tz="UTC")))


def _stray_quotes_twenty_lines_apart() -> bytes:
    lines = with_field(40, 7, '"B20260901')  # export_batch (an ignored column) opens a quote ...
    return text(with_field(60, 7, 'B20260901"', lines))  # ... and a later row's closes one


def _invisible_ids() -> bytes:
    lines = with_field(3, 0, "T20260901-0000001\u200e")  # a replayed id behind a left-to-right mark
    lines = with_field(5, 1, "\u2066", lines)  # a card id of a directional isolate only
    lines = with_field(6, 1, "\u00ad" + lines[6].split(";")[1], lines)  # a soft hyphen in front
    return text(lines)


MAPPING_WITH_NUMBER = mapping_with(transactions__values__channel={"chip": 1})
CASES = {
    "multiline_stray_quotes_swallowing_records": Case(
        tx_zone(_stray_quotes_twenty_lines_apart), mapping_with(transactions__csv__multiline=True), rules={"malformed_record": 1}
    ),
    "parquet_one_timestamp_past_the_calendar": Case(pq_zone(_one_absurd_time), PARQUET_MAPPING, rules={"event_timestamp:unparseable": 1}),
    "parquet_float_ids_past_2_53": Case(
        pq_zone(lambda: _with_column("card_hash", pa.array([2.0**53 + 2 * i for i in range(295)]))), PARQUET_MAPPING, error="retyped", column="card_hash"
    ),
    "invisible_characters_around_ids": Case(tx_zone(_invisible_ids), rules={"transaction_id:unique": 1, "customer_id:not_nullable": 1}),
    "inner_header_behind_a_bom": Case(lambda: {TX: text([*tx_lines(), "\ufeff" + tx_lines()[0], *tx_lines()[1:3]]), LB: lb_bytes()}, rules={"repeated_header": 1}),
    "amount_past_float_range": Case(tx_zone(lambda: text(with_field(2, 4, "1e309"))), rules={"amount:finite": 1}),
    "label_reported_in_2200": Case(zone(lb=lb_bytes().replace(b"2026-09-0", b"2200-09-0", 1)), rules={"reported_at:within_730_days": 1}),
    "value_map_onto_a_number": Case(zone(), MAPPING_WITH_NUMBER, error="mapping"),
    "a_second_part_in_upper_case": Case(zone(**{f"transactions/{DAY}-b.CSV": text(tx_lines()[:1] + [tx_lines()[1].replace("T2026", "U2026")])}),
                                        mapping_with(transactions__path="transactions/{date}*.csv"), error="file_name_case"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_fails_clearly_or_every_record_is_accounted_for(name):
    assert_handled(name, CASES[name])


def test_a_stray_quote_in_a_multiline_feed_costs_one_record_not_twenty():
    tx, _, landed = run(CASES["multiline_stray_quotes_swallowing_records"])
    assert landed.records[TX] == len(tx_lines()) - 1  # every physical line a record
    assert tx.rule_counts == {"malformed_record": 1}
    bad = tx.quarantine.iloc[0]
    assert bad[SOURCE_LINE] == 41 and bad[RAW_VALUE].endswith('"B20260901')
    kept = set(tx.valid[s.TRANSACTION_ID])
    assert {line.split(";")[0] for line in tx_lines()[41:61]} <= kept  # the lines the quote had swallowed


def test_an_absurd_parquet_time_quarantines_its_row_with_the_raw_value():
    tx, _, _ = run(CASES["parquet_one_timestamp_past_the_calendar"])
    bad = tx.quarantine[tx.quarantine[QUARANTINE_RULE] == "event_timestamp:unparseable"].iloc[0]
    assert bad[SOURCE_LINE] == 5 and bad[RAW_VALUE] == f"{2**62} (ms since 1970-01-01)"


def test_integer_parquet_ids_with_a_null_keep_every_digit():
    """Through pandas, an int64 column with a null becomes float64: ids above 2**53 would merge."""
    cards = [9007199254740993, 9007199254740995, 9007199254740997, None, 9007199254740993]
    table = pa.table({
        "id": pa.array([1788220800000123456 + i for i in range(5)], pa.int64()),
        "card": pa.array(cards, pa.int64()),
        "term": pa.array([7, 8, None, 9, 7], pa.uint64()),
        "ts": pa.array([dt.datetime(2026, 9, 1, 10, i) for i in range(5)], pa.timestamp("us", tz="UTC")),
        "amt": [5.0] * 5,
        "fraud": [0] * 5,
    })  # fmt: skip
    from fraudshield_pipeline.domain.landing import DictFileReader

    landed = read_day(DictFileReader({f"tx/{DAY}.parquet": parquet(table)}), load_mapping(MINIMAL % "parquet"), DAY)
    out = landed.transactions
    assert out[s.TRANSACTION_ID].tolist() == [str(1788220800000123456 + i) for i in range(5)]
    assert out[s.CUSTOMER_ID].tolist() == [None if c is None else str(c) for c in cards]
    assert out[s.MERCHANT_ID].tolist() == ["7", "8", None, "9", "7"]


def test_ids_lose_invisible_characters_at_their_ends():
    tx, _, _ = run(CASES["invisible_characters_around_ids"])
    replayed = tx.quarantine[tx.quarantine[QUARANTINE_RULE] == "transaction_id:unique"]
    assert replayed[s.TRANSACTION_ID].tolist() == ["T20260901-0000001"]
    assert tx_lines()[6].split(";")[1] in set(tx.valid[s.CUSTOMER_ID])  # the soft hyphen gone, the card known


def test_int96_times_are_utc_instants_whatever_the_mapping_time_zone():
    """Spark and Impala write int96 as UTC; the example's Amsterdam zone is for naive local times."""
    times = _utc_times()
    frame = tx_frame().assign(tx_time=times.dt.tz_localize(None))
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, use_deprecated_int96_timestamps=True)
    _, _, landed = run(Case(pq_zone(sink.getvalue), PARQUET_MAPPING))
    assert (landed.transactions[s.EVENT_TIMESTAMP].reset_index(drop=True) == times.dt.as_unit("us").reset_index(drop=True)).all()


def test_a_run_length_bomb_is_refused_before_it_is_decoded():
    """170 KiB of Parquet for 20 million rows: the pages' size hides it, the values' count does not."""
    table = pa.table({"id": pa.array(np.zeros(2_000_000, dtype=np.int64)), "card": pa.array(np.zeros(2_000_000, dtype=np.int64))})
    from fraudshield_pipeline.domain.landing import DictFileReader

    with pytest.raises(LandingError, match=r"\[too_large\]"):
        read_day(DictFileReader({f"tx/{DAY}.parquet": parquet(table)}), load_mapping(MINIMAL % "parquet"), DAY)


def test_mapping_values_are_text_and_delays_finite():
    with pytest.raises(MappingError, match=r"transactions.values.channel must map 'chip' onto a canonical value \(text\), got 1"):
        load_mapping(MAPPING_WITH_NUMBER)
    for delay in (".inf", "1000000"):
        with pytest.raises(MappingError, match=r"labels.delay_days"):
            load_mapping(MINIMAL.replace("delay_days: 1", f"delay_days: {delay}") % "csv")


# --- files that are not plain files, links and names ------------------------------------------


def _zone(tmp_path) -> LocalDirReader:
    (tmp_path / "tx").mkdir()
    return LocalDirReader(tmp_path)


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    reader = _zone(tmp_path)
    os.mkfifo(tmp_path / "tx" / f"{DAY}.csv")
    outcome = {}

    def read():
        try:
            read_day(reader, load_mapping(MINIMAL % "csv"), DAY)
        except LandingError as error:
            outcome["error"] = error

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "read_day blocked on a FIFO"
    assert "[unreadable_file] refused: not a regular file" in str(outcome["error"])


def test_a_file_larger_than_the_cap_is_not_read_whole(tmp_path):
    reader = _zone(tmp_path)
    (tmp_path / "tx" / f"{DAY}.csv").write_bytes(b"id,card,term,ts,amt,fraud\n" + b"x" * (3 * 2**20))
    assert len(reader.read_bytes(f"tx/{DAY}.csv", limit=2**20)) == 2**20 + 1
    with pytest.raises(LandingError, match=r"\[too_large\] is larger than 1 MiB"):
        read_day(reader, load_mapping(MINIMAL % "csv"), DAY)


def test_a_folder_linked_out_of_the_root_is_neither_walked_nor_named(tmp_path):
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "secret-name.txt").write_text("x")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "tx")
    with pytest.raises(LandingError, match=r"\[outside_root\]") as caught:
        read_day(LocalDirReader(root), load_mapping(MINIMAL % "csv"), DAY)
    assert "secret-name" not in str(caught.value)


def test_a_file_name_that_is_not_utf8_is_a_landing_error(tmp_path):
    _zone(tmp_path)
    with open(os.path.join(os.fsencode(tmp_path), b"tx", f"{DAY}-\xff.csv".encode("latin-1")), "wb") as handle:
        handle.write(b"id,card,term,ts,amt,fraud\n")
    with pytest.raises(LandingError, match=r"\[unreadable_file\] refused: the file name is not UTF-8 text"):
        read_day(LocalDirReader(tmp_path), load_mapping(MINIMAL % "csv"), DAY)


def test_a_mapping_with_nested_aliases_is_refused_at_once():
    """A "billion laughs": nine lines whose aliases stand for 10^9 values (10 GB and 80 s to validate)."""
    laughs = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    laughs += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "\n".join(laughs) + "\n" + (MINIMAL % "csv").replace("transactions:\n", "transactions:\n  ignore: *a8\n", 1)
    with pytest.raises(MappingError, match=r"aliases \(\*name\) are not allowed"):
        load_mapping(text)


def test_a_huge_mapping_file_is_refused_without_being_read_whole(tmp_path):
    from fraudshield_pipeline.domain.landing import read_mapping

    (tmp_path / "mapping.yaml").write_text("# padding\n" * 300_000)
    with pytest.raises(MappingError, match=r"mapping.yaml: larger than 1,048,576 bytes"):
        read_mapping(LocalDirReader(tmp_path))
    os.mkfifo(tmp_path / "fifo.yaml")
    with pytest.raises(MappingError, match=r"fifo.yaml: refused: not a regular file"):
        read_mapping(LocalDirReader(tmp_path), "fifo.yaml")


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ('path: "tx/{date}*a*a*a*a*a*ab.%s"', "more than 4 '*'"),  # a backtracking bomb against a name of 40 a's
        ('path: "tx/**/**/{date}*.%s"', "more than one '**'"),
        ('path: "tx/{date:%%z}*.%s"', "names the same files every day"),
        ('path: "tx/{date:%%Y/..}/{date}.%s"', "leaves the landing root"),
    ],
)
def test_paths_that_cannot_be_matched_safely_are_refused_at_load(change, refusal):
    text = MINIMAL.replace('path: "tx/{date}*.%s"', change) % "csv"
    with pytest.raises(MappingError, match=re.escape(refusal)):
        load_mapping(text)


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("version: " + "[" * 10_000 + "]" * 10_000, "nested too deeply"),
        ((MINIMAL % "csv").replace("max_decompressed_mb: 1", "max_decompressed_mb: .inf"), "finite number"),
        ((MINIMAL % "csv").replace("max_decompressed_mb: 1", "max_decompressed_mb: 1000000"), "less than or equal to 16384"),
        ((MINIMAL % "csv").replace("amount: amt}", "amount: amt, amount: id}"), "the key 'amount' appears twice"),
        ("version: " + "[" + ",".join(["1"] * 100_000) + "]", "characters)"),  # a long bad value is not quoted whole
    ],
)
def test_hostile_mapping_files_are_mapping_errors(text, refusal):
    with pytest.raises(MappingError, match=re.escape(refusal)) as caught:
        load_mapping(text)
    assert len(str(caught.value)) < 2000


def test_an_s3_bucket_name_cannot_walk_out_of_its_bucket():
    from fraudshield_pipeline.domain.landing import S3PrefixReader

    for bucket in ("..", ".", "a..b", ""):
        with pytest.raises(LandingError, match=r"\[outside_root\] refused: not an S3 bucket name"):
            S3PrefixReader(bucket, "landing")


def test_a_mapping_file_that_cannot_be_read_is_a_mapping_error(tmp_path):
    from fraudshield_pipeline.domain.landing import read_mapping

    os.symlink(tmp_path / "mapping.yaml", tmp_path / "mapping.yaml")  # a link to itself
    with pytest.raises(MappingError, match=r"mapping.yaml: could not be read \(OSError\)"):
        read_mapping(LocalDirReader(tmp_path))


def test_a_missing_column_error_stays_short_whatever_the_header():
    header = ";".join("h" * 100_000 + str(i) for i in range(30))
    with pytest.raises(LandingError, match=r"\[missing_column\]") as caught:
        run(Case(tx_zone(lambda: (header + "\n" + ";".join(["x"] * 30) + "\n").encode())))
    assert len(str(caught.value)) < 2000


def test_a_field_broken_right_after_its_opening_quote_stays_one_record():
    """Found by the fuzz test: in a multi-line feed, `"<CR>0";C1;...` is one record whose first field holds a
    line break; its closing line splits alone into the header's fields too, and the stray-quote rule (lines
    *between* a span's first and last that are records of their own) took it for two records."""
    lines = with_field(3, 0, '"\r' + tx_lines()[3].split(";")[0] + '"')
    landed = read_day(DictFileReader({TX: text(lines), LB: lb_bytes()}), load_mapping(mapping_with(transactions__csv__multiline=True)), DAY)
    assert len(landed.transactions) == landed.records[TX] == len(tx_lines()) - 1
    assert landed.transactions["landing_rule"].isna().all()
