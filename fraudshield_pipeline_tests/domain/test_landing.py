"""Landing zone: a user's own files read into the canonical schema.

Schema drift (a missing, renamed or retyped column, a wrong delimiter, an undecodable or corrupt
file, no file) fails loudly naming the file, the user's column, the canonical column and the
rule; a few bad values stay in their rows for the contract to quarantine; rows are never lost.
"""

import datetime as dt
import gzip
import io
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import yaml

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import (
    EXPECTED_LABEL_DTYPES,
    EXPECTED_TRANSACTION_DTYPES,
    PROVENANCE_COLUMNS,
    PROVENANCE_DTYPES,
    QUARANTINE_RULE,
    SchemaContractError,
    validate_labels,
    validate_transactions,
)
from fraudshield_pipeline.domain.landing import (
    DictFileReader,
    LandingError,
    LocalDirReader,
    MappingError,
    S3PrefixReader,
    load_mapping,
    read_day,
    read_mapping,
)
from fraudshield_pipeline.domain.simulate import simulate_day
from fraudshield_pipeline_tests.landing_example import EXAMPLES, example

DAY = dt.date(2026, 9, 3)
START = dt.datetime(2026, 9, 3, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(days=1)
TX = "transactions/2026-09-03.csv"
LB = "labels/2026-09-03.csv"
TX_PQ = "transactions/2026-09-03.parquet"


def day_window(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    return start, start + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def user_day() -> tuple[pd.DataFrame, pd.DataFrame]:
    """2026-09-03 in the example's user format: ~300 transactions, a few labels (all text)."""
    return example.user_frames(DAY)


def to_csv(frame: pd.DataFrame, sep: str = ";", encoding: str = "utf-8") -> bytes:
    return frame.to_csv(sep=sep, index=False, lineterminator="\n").encode(encoding)


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def mapping(change: Callable[[dict], None] | None = None) -> str:
    """The example's mapping.yaml, optionally changed (as a dict) first."""
    data = yaml.safe_load(example.MAPPING)
    if change is not None:
        change(data)
    return yaml.safe_dump(data, sort_keys=False)


def zone(tx: pd.DataFrame | bytes | None, labels: pd.DataFrame | bytes | None, more: dict[str, bytes] | None = None) -> DictFileReader:
    """An in-memory landing zone: the day's transaction file (TX), label file (LB) and `more` files."""
    files = {}
    if tx is not None:
        files[TX] = tx if isinstance(tx, bytes) else to_csv(tx)
    if labels is not None:
        files[LB] = labels if isinstance(labels, bytes) else to_csv(labels, sep=",")
    files.update(more or {})
    return DictFileReader(files)


def read(files: DictFileReader, mapping_text: str | None = None):
    return read_day(files, load_mapping(mapping_text or example.MAPPING), DAY)


def set_key(path: str, value) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is _DELETE:
            node.pop(last, None)
        else:
            node[last] = value

    return change


def combine(*changes: Callable[[dict], None]) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        for c in changes:
            c(data)

    return change


_DELETE = object()


def assign_rows(frame: pd.DataFrame, column: str, rows: list[int], values: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[rows, column] = values
    return frame


def assert_canonical(day) -> None:
    """Canonical columns in schema order, then the provenance columns, all with their dtypes."""
    canonical = [c for c in s.TRANSACTION_COLUMNS if c in day.transactions.columns]
    assert list(day.transactions.columns) == canonical + list(PROVENANCE_COLUMNS)
    for column, dtype in day.transactions.dtypes.items():
        assert str(dtype) == {**EXPECTED_TRANSACTION_DTYPES, **PROVENANCE_DTYPES}[column], column
    assert list(day.labels.columns) == list(s.LABEL_COLUMNS) + list(PROVENANCE_COLUMNS)
    for column, dtype in day.labels.dtypes.items():
        assert str(dtype) == {**EXPECTED_LABEL_DTYPES, **PROVENANCE_DTYPES}[column], column


# ---------------------------------------------------------------------------------------------
# The example landing zone
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("day", example.DAYS, ids=str)
def test_committed_example_round_trips_through_the_contracts_with_zero_quarantine(day):
    files = LocalDirReader(EXAMPLES / "landing")
    landed = read_day(files, read_mapping(files), day)
    assert_canonical(landed)
    assert list(landed.transactions.columns) == [
        s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID, s.EVENT_TIMESTAMP, s.AMOUNT, s.CHANNEL, s.COUNTRY, *PROVENANCE_COLUMNS,
    ]  # fmt: skip
    assert landed.files == [f"transactions/{day}.csv", f"labels/{day}.csv"]
    assert landed.unknown_columns == {}
    lines = (EXAMPLES / "landing" / "transactions" / f"{day}.csv").read_text().count("\n") - 1
    assert len(landed.transactions) == lines > 200

    start, end = day_window(day)
    tx = validate_transactions(landed.transactions, start, end, landed.files[0])
    assert len(tx.quarantine) == 0 and len(tx.valid) == lines, tx.rule_counts
    lb = validate_labels(landed.labels, tx.valid[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], landed.files[1])
    assert landed.records == {landed.files[0]: lines, landed.files[1]: len(landed.labels)}
    assert len(lb.quarantine) == 0 and len(lb.valid) == len(landed.labels) > 0, lb.rule_counts


def test_example_generator_is_deterministic_and_round_trips_to_the_simulator(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    written = example.write(first)
    example.write(second)
    assert sum(p.stat().st_size for p in written) < 300_000
    for path in written:
        assert path.read_bytes() == (second / path.relative_to(first)).read_bytes(), path

    files = LocalDirReader(first)
    landed = read_day(files, read_mapping(files), DAY)
    simulated = simulate_day(example.CONFIG, DAY)
    tx, expected = landed.transactions, simulated.transactions
    assert tx[s.TRANSACTION_ID].tolist() == expected[s.TRANSACTION_ID].tolist()
    assert tx[s.CUSTOMER_ID].tolist() == expected[s.CUSTOMER_ID].tolist()
    assert (tx[s.EVENT_TIMESTAMP] == expected[s.EVENT_TIMESTAMP].dt.floor("s")).all()
    assert np.allclose(tx[s.AMOUNT], expected[s.AMOUNT], atol=0.005)
    assert tx[s.CHANNEL].tolist() == expected[s.CHANNEL].tolist()
    assert tx[s.COUNTRY].tolist() == expected[s.COUNTRY].tolist()
    labels = landed.labels
    assert labels[s.TRANSACTION_ID].tolist() == simulated.labels[s.TRANSACTION_ID].tolist()
    assert (labels[s.IS_FRAUD] == 1).all()
    assert (labels[s.REPORTED_AT] == simulated.labels[s.REPORTED_AT].dt.floor("s")).all()
    assert labels[s.FRAUD_SCENARIO].tolist() == simulated.labels[s.FRAUD_SCENARIO].tolist()


# ---------------------------------------------------------------------------------------------
# Bad inputs that must fail loudly: file + user column + canonical column + rule
# ---------------------------------------------------------------------------------------------
def _latin1(tx: pd.DataFrame) -> bytes:
    return to_csv(assign_rows(tx, "terminal", [5], ["Café-7"]), encoding="latin-1")


def _extra_field(tx: pd.DataFrame, rows=(10,), extra=";surprise;again") -> bytes:
    lines = to_csv(tx).decode().splitlines()
    for row in rows:
        lines[row] += extra
    return ("\n".join(lines) + "\n").encode()


def _truncated_parquet(tx: pd.DataFrame) -> bytes:
    data = to_parquet(tx)
    return data[: len(data) // 2]


def _epoch(tx: pd.DataFrame, factor: int) -> pd.DataFrame:
    parsed = pd.to_datetime(tx["tx_time"], format=example.TIME_FORMAT).dt.tz_localize(example.TIMEZONE)
    seconds = parsed.dt.tz_convert("UTC").astype("datetime64[s, UTC]").astype("int64")
    return tx.assign(tx_time=(seconds * factor).astype(str))


PARQUET = set_key("transactions.path", "transactions/{date}*.parquet")
PARQUET_FORMAT = combine(PARQUET, set_key("transactions.format", "parquet"))
FROM_TRANSACTIONS = set_key("labels", {"from_transactions": {"is_fraud": "fraud_flag", "reported_at": "report_date"}})

# (id, files from the user-format day, mapping change, expected substrings of the error)
FAILURES = [
    (
        "renamed_amount_column",
        lambda tx, lb: zone(tx.rename(columns={"amount_eur": "amount_euro"}), lb),
        None,
        [f"{TX}: [missing_column] column 'amount_eur' (canonical 'amount'): 'amount_eur' is not in the file",
         "columns present: ['tx_ref', 'card_hash', 'terminal', 'tx_time', 'amount_euro',", "did you mean 'amount_euro'?"],
    ),
    (
        "missing_timestamp_column",
        lambda tx, lb: zone(tx.drop(columns="tx_time"), lb),
        None,
        [f"{TX}: [missing_column] column 'tx_time' (canonical 'event_timestamp')"],
    ),
    (
        "amount_retyped_to_text",
        lambda tx, lb: zone(tx.assign(amount_eur="EUR " + tx["amount_eur"]), lb),
        None,
        [f"{TX}: [retyped] column 'amount_eur' (canonical 'amount'):", "non-blank values are not numbers", "looks retyped"],
    ),
    (
        "amount_with_undeclared_decimal_comma",
        lambda tx, lb: zone(tx.assign(amount_eur=tx["amount_eur"].str.replace(".", ",")), lb),
        None,
        [f"{TX}: [retyped] column 'amount_eur' (canonical 'amount')", "set csv.decimal: ','"],
    ),
    (
        "timestamp_in_another_format",
        lambda tx, lb: zone(
            tx.assign(tx_time=pd.to_datetime(tx["tx_time"], format=example.TIME_FORMAT).dt.strftime("%Y-%m-%dT%H:%M:%S")), lb
        ),
        None,
        [f"{TX}: [retyped] column 'tx_time' (canonical 'event_timestamp')", "are not timestamps in the format '%d/%m/%Y %H:%M:%S'"],
    ),
    (
        "epoch_millis_declared_as_seconds",
        lambda tx, lb: zone(_epoch(tx, 1000), lb),
        set_key("transactions.timestamp", {"format": "epoch_seconds"}),
        [f"{TX}: [retyped] column 'tx_time' (canonical 'event_timestamp')", "look like epoch milliseconds", "epoch_millis"],
    ),
    (
        "comma_delimited_but_semicolon_declared",
        lambda tx, lb: zone(to_csv(tx, sep=","), lb),
        None,
        [f"{TX}: [delimiter]", "transactions.csv.delimiter ';'", "the file looks ','-delimited: set transactions.csv.delimiter: ','"],
    ),
    (
        "tab_delimited_but_semicolon_declared",
        lambda tx, lb: zone(to_csv(tx, sep="\t"), lb),
        None,
        [f"{TX}: [delimiter]", "looks '\\t'-delimited"],
    ),
    (
        "latin1_bytes_in_a_utf8_file",
        lambda tx, lb: zone(_latin1(tx), lb),
        None,
        [f"{TX}: [encoding] not valid utf-8", "set transactions.csv.encoding"],
    ),
    (
        "truncated_parquet",
        lambda tx, lb: zone(None, lb, {TX_PQ: _truncated_parquet(tx)}),
        PARQUET_FORMAT,
        [f"{TX_PQ}: [unreadable_file] corrupt or truncated Parquet"],
    ),
    (
        "parquet_in_a_csv_feed",
        lambda tx, lb: zone(to_parquet(tx), lb),
        None,
        [f"{TX}: [unreadable_file] the file is Parquet but transactions.format is csv"],
    ),
    (
        "csv_in_a_parquet_feed",
        lambda tx, lb: zone(None, lb, {TX_PQ: to_csv(tx)}),
        PARQUET_FORMAT,
        [f"{TX_PQ}: [unreadable_file] the file is CSV/text (no Parquet header) but transactions.format is parquet"],
    ),
    (
        "no_transaction_file_for_the_day",
        lambda tx, lb: zone(None, lb, {"transactions/2026-09-02.csv": to_csv(tx)}),
        None,
        ["[no_file] no transaction file for 2026-09-03 matching 'transactions/2026-09-03*.csv'", "transactions/2026-09-02.csv"],
    ),
    (
        "no_label_file_for_the_day",
        lambda tx, lb: zone(tx, None),
        None,
        ["[no_file] no label file for 2026-09-03 matching 'labels/2026-09-03*.csv'"],
    ),
    (
        "zero_byte_file",
        lambda tx, lb: zone(b"", lb),
        None,
        [f"{TX}: [unreadable_file] the file is empty: not even a header row"],
    ),
    (
        "trailing_delimiter_on_every_data_row",
        lambda tx, lb: zone(_extra_field(tx, range(1, len(tx) + 1), ";"), lb),
        None,
        [f"{TX}: [malformed_record] {len(example.user_frames(DAY)[0])} of {len(example.user_frames(DAY)[0])} records do not split",
         "first at line 2: 9 fields; a trailing delimiter?"],
    ),
    (
        "headers_equal_after_trimming",
        lambda tx, lb: zone(tx.rename(columns={"export_batch": "terminal "}), lb),
        None,
        [f"{TX}: [duplicate_column] column 'terminal'", "names 'terminal' twice (as 'terminal ', after trimming spaces)"],
    ),
    (
        "second_file_of_the_day_renamed_a_column",
        lambda tx, lb: zone(tx.iloc[:100], lb, {"transactions/2026-09-03_b.csv": to_csv(tx.iloc[100:].rename(columns={"card_hash": "card"}))}),
        None,
        ["transactions/2026-09-03_b.csv: [missing_column] column 'card_hash' (canonical 'customer_id')", "did you mean 'card'?"],
    ),
    (
        "label_feed_lost_its_flag_column",
        lambda tx, lb: zone(tx, lb.rename(columns={"fraud_flag": "flag"})),
        None,
        [f"{LB}: [missing_column] column 'fraud_flag' (canonical 'is_fraud')", "did you mean 'flag'?"],
    ),
    (
        "label_flags_retyped",
        lambda tx, lb: zone(tx, lb.assign(fraud_flag="chargeback")),
        None,
        [f"{LB}: [retyped] column 'fraud_flag' (canonical 'is_fraud')", "are not fraud flags"],
    ),
    (
        "label_report_times_retyped",
        lambda tx, lb: zone(tx, lb.assign(reported_on="next week")),
        None,
        [f"{LB}: [retyped] column 'reported_on' (canonical 'reported_at')", "are not ISO 8601 timestamps"],
    ),
    (
        "inline_labels_flag_column_missing",
        lambda tx, lb: zone(tx.assign(report_date=""), None),
        FROM_TRANSACTIONS,
        [f"{TX}: [missing_column] column 'fraud_flag' (canonical 'is_fraud')"],
    ),
    (
        "parquet_timestamps_as_numbers_but_iso_declared",
        lambda tx, lb: zone(None, lb, {TX_PQ: to_parquet(_epoch(tx, 1).assign(tx_time=lambda f: f["tx_time"].astype("int64")))}),
        combine(PARQUET_FORMAT, set_key("transactions.timestamp", {"format": "iso"})),
        [f"{TX_PQ}: [retyped] column 'tx_time' (canonical 'event_timestamp'): holds numbers but timestamp.format is 'iso'"],
    ),
]


@pytest.mark.parametrize(("build", "change", "expected"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_bad_inputs_fail_naming_file_column_and_rule(user_day, build, change, expected):
    tx, lb = user_day
    files = build(tx, lb)
    with pytest.raises(SchemaContractError) as failure:
        read(files, mapping(change))
    assert isinstance(failure.value, LandingError)
    message = str(failure.value)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert f"[{failure.value.rule}]" in message


# ---------------------------------------------------------------------------------------------
# Inputs handled row by row: every row in the file comes back
# ---------------------------------------------------------------------------------------------
def test_a_few_unparseable_amounts_are_quarantined_with_their_raw_text_file_and_line(user_day):
    tx, lb = user_day
    bad = assign_rows(tx, "amount_eur", [7, 42], ["1,234.50", "12.3.4"])
    landed = read(zone(bad, lb))
    assert len(landed.transactions) == len(tx)
    assert landed.transactions[s.AMOUNT].isna().sum() == 2
    outcome = validate_transactions(landed.transactions, START, END, TX)
    assert outcome.rule_counts == {"amount:unparseable": 2}
    assert outcome.rows_accounted
    quarantine = outcome.quarantine
    assert quarantine["raw_value"].tolist() == ["1,234.50", "12.3.4"]
    assert quarantine["source_file"].tolist() == [TX, TX] and quarantine["source_line"].tolist() == [9, 44]  # header = line 1
    assert list(outcome.valid.columns) == [c for c in s.TRANSACTION_COLUMNS if c != s.MERCHANT_CATEGORY]


def test_a_few_unparseable_timestamps_stay_as_nat_for_the_contract_to_quarantine(user_day):
    tx, lb = user_day
    bad = assign_rows(tx, "tx_time", [3], ["31/02/2026 10:00:00"])
    landed = read(zone(bad, lb))
    assert len(landed.transactions) == len(tx)
    assert landed.transactions[s.EVENT_TIMESTAMP].isna().sum() == 1
    outcome = validate_transactions(landed.transactions, START, END, TX)
    assert outcome.quarantine[QUARANTINE_RULE].tolist() == ["event_timestamp:unparseable"]
    assert outcome.quarantine["raw_value"].tolist() == ["31/02/2026 10:00:00"]


def test_blank_values_are_kept_blank_not_failed(user_day):
    tx, lb = user_day
    bad = assign_rows(assign_rows(tx, "amount_eur", [1], [""]), "card_hash", [2], [""])
    landed = read(zone(bad, lb))
    assert len(landed.transactions) == len(tx)
    assert np.isnan(landed.transactions[s.AMOUNT].iloc[1]) and landed.transactions[s.CUSTOMER_ID].iloc[2] is None
    outcome = validate_transactions(landed.transactions, START, END, TX)
    assert len(outcome.quarantine) == 2 and outcome.rows_accounted


def test_utf8_byte_order_mark_is_handled(user_day):
    tx, lb = user_day
    landed = read(zone(b"\xef\xbb\xbf" + to_csv(tx), b"\xef\xbb\xbf" + to_csv(lb, sep=",")))
    assert len(landed.transactions) == len(tx) and len(landed.labels) == len(lb)
    assert landed.transactions[s.TRANSACTION_ID].iloc[0] == tx["tx_ref"].iloc[0]
    assert landed.unknown_columns == {}


def test_header_only_file_is_a_zero_row_frame_with_canonical_dtypes(user_day):
    tx, lb = user_day
    landed = read(zone(tx.iloc[:0], lb.iloc[:0]))
    assert len(landed.transactions) == 0 and len(landed.labels) == 0
    assert_canonical(landed)
    assert s.CHANNEL in landed.transactions.columns and s.MERCHANT_CATEGORY not in landed.transactions.columns
    assert len(validate_transactions(landed.transactions, START, END, TX).valid) == 0


def test_ids_keep_leading_zeros(user_day):
    tx, lb = user_day
    ids = [f"{i:07d}" for i in range(len(tx))]
    landed = read(zone(tx.assign(tx_ref=ids, terminal="00042"), lb.iloc[:0]))
    assert landed.transactions[s.TRANSACTION_ID].tolist() == ids
    assert (landed.transactions[s.MERCHANT_ID] == "00042").all()


def test_unknown_columns_are_reported_per_file_not_fatal(user_day):
    tx, lb = user_day
    landed = read(zone(tx.assign(terminal_city="Utrecht", risk_score="0.1"), lb.assign(analyst="ak")))
    assert landed.unknown_columns == {TX: ["terminal_city", "risk_score"], LB: ["analyst"]}
    assert list(landed.transactions.columns) == [c for c in s.TRANSACTION_COLUMNS if c != s.MERCHANT_CATEGORY] + list(PROVENANCE_COLUMNS)
    assert len(landed.transactions) == len(tx)


def test_several_files_per_day_are_concatenated_in_name_order(user_day):
    tx, lb = user_day
    files = zone(None, lb, {
        "transactions/2026-09-03_a.csv": to_csv(tx.iloc[:120]),
        "transactions/2026-09-03_b.csv": to_csv(tx.iloc[120:]),
        "transactions/2026-09-04.csv": to_csv(tx.iloc[:5]),
    })  # fmt: skip
    landed = read(files)
    assert landed.files == ["transactions/2026-09-03_a.csv", "transactions/2026-09-03_b.csv", LB]
    assert landed.transactions[s.TRANSACTION_ID].tolist() == tx["tx_ref"].tolist()
    assert landed.transactions.index.equals(pd.RangeIndex(len(tx)))


def test_unmapped_values_pass_through_for_the_contract_to_quarantine(user_day):
    tx, lb = user_day
    landed = read(zone(assign_rows(tx, "pos_entry", [4], ["telepathy"]), lb))
    assert landed.transactions[s.CHANNEL].iloc[4] == "telepathy"
    assert set(landed.transactions[s.CHANNEL].drop(4)) <= set(s.CHANNELS)
    rules = validate_transactions(landed.transactions, START, END, TX).rule_counts
    assert list(rules.values()) == [1] and next(iter(rules)).startswith("channel:isin")


def test_declared_decimal_comma_and_thousands_separator(user_day):
    tx, lb = user_day
    amounts = tx["amount_eur"].str.replace(".", ",")
    amounts.iloc[0] = "1.234,50"
    landed = read(zone(tx.assign(amount_eur=amounts), lb), mapping(set_key("transactions.csv", {"delimiter": ";", "decimal": ",", "thousands": "."})))
    assert landed.transactions[s.AMOUNT].iloc[0] == 1234.5
    assert np.allclose(landed.transactions[s.AMOUNT].iloc[1:], tx["amount_eur"].iloc[1:].astype(float))


@pytest.mark.parametrize(("fmt", "factor"), [("epoch_seconds", 1), ("epoch_millis", 1000)])
def test_epoch_timestamps(user_day, fmt, factor):
    tx, lb = user_day
    expected = read(zone(tx, lb)).transactions[s.EVENT_TIMESTAMP]
    landed = read(zone(_epoch(tx, factor), lb), mapping(set_key("transactions.timestamp", {"format": fmt})))
    assert (landed.transactions[s.EVENT_TIMESTAMP] == expected).all()
    assert str(landed.transactions[s.EVENT_TIMESTAMP].dtype) == "datetime64[us, UTC]"


def test_iso_timestamps_aware_with_mixed_offsets_and_naive_in_the_feed_timezone(user_day):
    tx, lb = user_day
    expected = read(zone(tx, lb)).transactions[s.EVENT_TIMESTAMP]
    local = pd.to_datetime(tx["tx_time"], format=example.TIME_FORMAT)
    iso = local.dt.strftime("%Y-%m-%dT%H:%M:%S").copy()  # naive, Europe/Amsterdam
    utc = expected.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    new_york = expected.dt.tz_convert("America/New_York").map(lambda t: t.isoformat())
    iso[::3], iso[1::3] = utc[::3], new_york[1::3]
    landed = read(zone(tx.assign(tx_time=iso), lb), mapping(set_key("transactions.timestamp", {"format": "iso"})))
    assert (landed.transactions[s.EVENT_TIMESTAMP] == expected).all()


def test_a_report_date_alone_reads_as_the_end_of_that_day(user_day):
    """Chargeback feeds often carry a report date only: midnight would make the label known up to a day
    early, so it is read as the end of the day (the next midnight in the feed's time zone, Amsterdam)."""
    tx, lb = user_day
    landed = read(zone(tx, lb.assign(reported_on="2026-09-10")))
    assert landed.labels[s.REPORTED_AT].eq(pd.Timestamp("2026-09-10 22:00", tz="UTC")).all() and len(landed.labels) == len(lb)


def test_transaction_dates_without_a_time_of_day_are_refused_not_read_as_midnight(user_day):
    tx, lb = user_day
    iso = example.MAPPING.replace('format: "%d/%m/%Y %H:%M:%S"', "format: iso")
    assert iso != example.MAPPING
    with pytest.raises(LandingError, match=r"\[retyped\] column 'tx_time' .*dates without a time of day: the features and the label-delay"):
        read(zone(tx.assign(tx_time="2026-09-01"), lb), iso)


def test_naive_times_in_a_daylight_saving_fold_are_quarantined_not_guessed(user_day):
    tx, lb = user_day
    times = ["25/10/2026 02:10:00", "25/10/2026 02:40:00", "25/10/2026 02:20:00", "29/03/2026 02:30:00"]
    landed = read(zone(tx.iloc[:4].assign(tx_time=times), lb.iloc[:0]))
    stamps = landed.transactions[s.EVENT_TIMESTAMP]
    assert len(stamps) == 4 and stamps.iloc[:3].isna().all()  # 02:10 happened twice that night: neither is guessed
    assert landed.transactions["landing_rule"].iloc[:3].eq("event_timestamp:ambiguous_local_time").all()
    assert landed.transactions["raw_value"].iloc[:3].tolist() == times[:3]
    assert stamps.iloc[3] == pd.Timestamp("2026-03-29 01:30", tz="UTC")  # a skipped wall time: a clock not yet moved


def test_parquet_feed_with_integer_ids_and_native_timestamps(user_day):
    tx, lb = user_day
    expected = read(zone(tx, lb)).transactions
    native = tx.assign(
        tx_ref=np.arange(len(tx)) + 1000,
        tx_time=pd.to_datetime(tx["tx_time"], format=example.TIME_FORMAT),  # naive: the feed's timezone applies
        amount_eur=tx["amount_eur"].astype(float),
    )
    landed = read(zone(None, lb, {TX_PQ: to_parquet(native)}), mapping(PARQUET_FORMAT))
    assert landed.files == [TX_PQ, LB]
    assert_canonical(landed)
    assert landed.transactions[s.TRANSACTION_ID].iloc[0] == "1000"
    assert (landed.transactions[s.EVENT_TIMESTAMP] == expected[s.EVENT_TIMESTAMP]).all()
    assert (landed.transactions[s.AMOUNT] == expected[s.AMOUNT]).all()


def test_gzipped_csv_is_read(user_day):
    tx, lb = user_day
    landed = read(zone(gzip.compress(to_csv(tx), mtime=0), lb))
    assert len(landed.transactions) == len(tx)


def test_labels_from_the_transaction_files_with_a_report_date(user_day):
    tx, _ = user_day
    flags = pd.Series("", index=tx.index)
    flags.iloc[[5, 9]] = ["1", "0"]
    reports = pd.Series("", index=tx.index)
    reports.iloc[[5, 9]] = ["2026-09-10 08:00:00", "2026-09-12 09:30:00"]
    change = combine(FROM_TRANSACTIONS, set_key("labels.timestamp", {"format": "%Y-%m-%d %H:%M:%S"}))
    landed = read(zone(tx.assign(fraud_flag=flags, report_date=reports), None), mapping(change))
    assert len(landed.transactions) == len(tx) and landed.files == [TX]
    assert_canonical(landed)
    labels = landed.labels
    assert labels[s.TRANSACTION_ID].tolist() == tx["tx_ref"].iloc[[5, 9]].tolist()
    assert labels[s.IS_FRAUD].tolist() == [1, 0]
    assert labels[s.REPORTED_AT].tolist() == [pd.Timestamp("2026-09-10 06:00", tz="UTC"), pd.Timestamp("2026-09-12 07:30", tz="UTC")]
    assert labels[s.FRAUD_SCENARIO].isna().all()
    valid = validate_transactions(landed.transactions, START, END, TX).valid
    assert len(validate_labels(labels, valid[s.TRANSACTION_ID], TX).quarantine) == 0


def test_genuine_rows_without_a_report_date_are_no_reports(user_day):
    """Feeds date their chargebacks, not the transactions no one disputed: a genuine flag with a blank report
    date is what an unreported transaction already is (it used to fill the quarantine, reported_at:not_nullable);
    a fraud flag without a date still cannot be placed, and is quarantined."""
    tx, _ = user_day
    flags, reports = pd.Series("0", index=tx.index), pd.Series("", index=tx.index)
    flags.iloc[[5, 9]] = "1"
    reports.iloc[5] = "2026-09-10 08:00:00"
    change = combine(FROM_TRANSACTIONS, set_key("labels.timestamp", {"format": "%Y-%m-%d %H:%M:%S"}))
    landed = read(zone(tx.assign(fraud_flag=flags, report_date=reports), None), mapping(change))
    assert landed.labels[s.TRANSACTION_ID].tolist() == tx["tx_ref"].iloc[[5, 9]].tolist()
    valid = validate_transactions(landed.transactions, START, END, TX).valid
    assert validate_labels(landed.labels, valid[s.TRANSACTION_ID], TX).rule_counts == {"reported_at:not_nullable": 1}


def test_labels_from_the_transaction_files_with_delay_days(user_day):
    tx, _ = user_day
    flags = pd.Series("no", index=tx.index)
    flags.iloc[[0, 17]] = "yes"
    change = set_key("labels", {"from_transactions": {"is_fraud": "is_chargeback"}, "delay_days": 7})
    landed = read(zone(tx.assign(is_chargeback=flags), None), mapping(change))
    labels = landed.labels
    assert len(labels) == len(tx) and labels[s.IS_FRAUD].sum() == 2
    delay = labels[s.REPORTED_AT] - landed.transactions[s.EVENT_TIMESTAMP]
    assert (delay == pd.Timedelta(days=7)).all()
    assert str(labels[s.REPORTED_AT].dtype) == "datetime64[us, UTC]"


def test_a_few_unparseable_label_flags_are_quarantined_with_their_raw_text(user_day):
    tx, lb = user_day
    landed = read(zone(tx, lb.assign(fraud_flag=["maybe"] + ["Y"] * (len(lb) - 1))), mapping(set_key("max_unparseable_share", 0.5)))
    assert len(landed.labels) == len(lb)
    assert landed.labels[s.IS_FRAUD].tolist() == [-1] + [1] * (len(lb) - 1)
    valid = validate_transactions(landed.transactions, START, END, TX).valid
    outcome = validate_labels(landed.labels, valid[s.TRANSACTION_ID], LB)
    assert outcome.rule_counts == {"is_fraud:unparseable": 1} and outcome.quarantine["raw_value"].tolist() == ["maybe"]


def test_optional_label_feed_may_be_absent(user_day):
    tx, _ = user_day
    landed = read(zone(tx, None), mapping(set_key("labels.required", False)))
    assert len(landed.labels) == 0 and landed.files == [TX]
    assert_canonical(landed)


# ---------------------------------------------------------------------------------------------
# mapping.yaml validation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (set_key("transactions.columns.amount", _DELETE), "mapping.yaml: transactions.columns.amount is required"),
        (set_key("transactions.columns.customer_id", None), "mapping.yaml: transactions.columns.customer_id is required"),
        (set_key("transactions.columns.amout", "x"), "transactions.columns.amout is not a known key"),
        (set_key("transactions.timezone", "Europe/Amsterdm"), "transactions.timezone 'Europe/Amsterdm' is not a known time zone"),
        (set_key("transactions.path", "transactions/*.csv"), "transactions.path 'transactions/*.csv' must contain {date}"),
        (set_key("transactions.path", "transactions/{day}.csv"), "transactions.path 'transactions/{day}.csv' has an unknown placeholder"),
        (set_key("transactions.format", "xlsx"), "transactions.format 'xlsx' is not one of csv, parquet"),
        (set_key("transactions.timestamp", {"format": "dd/mm/yyyy"}), "transactions.timestamp.format 'dd/mm/yyyy' is not iso"),
        (set_key("transactions.csv", {"delimiter": ";;"}), "transactions.csv.delimiter must be one character"),
        (set_key("transactions.csv", {"encoding": "utf-9"}), "transactions.csv.encoding 'utf-9' is not a known encoding"),
        (set_key("transactions.values", {"amount": {"a": "b"}}), "transactions.values.amount is not a known key"),
        (set_key("labels.from_transactions", {"is_fraud": "flag"}), "labels.path cannot be combined with labels.from_transactions"),
        (set_key("labels", {"from_transactions": {"is_fraud": "flag"}}), "labels.from_transactions.reported_at is required unless labels.delay_days is given"),
        (set_key("labels.delay_days", 3), "labels.delay_days applies only with labels.from_transactions"),
        (set_key("labels.values.is_fraud", {"Y": "fraud"}), "labels.values.is_fraud.Y must be 0 or 1"),
        (set_key("labels", None), "labels is required"),
        (set_key("version", 2), "version 2 is not supported"),
        (set_key("trasactions", {}), "trasactions is not a known key (known: version, transactions, labels, max_unparseable_share, max_malformed_share, max_decompressed_mb); did you mean 'transactions'?"),
        (set_key("max_unparseable_share", 1.5), "max_unparseable_share must be a number in [0, 1)"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_mapping_errors_name_the_key(change, expected):
    with pytest.raises(MappingError) as failure:
        load_mapping(mapping(change))
    assert expected in str(failure.value)


def test_mapping_invalid_yaml_and_yes_no_values():
    with pytest.raises(MappingError, match="mapping.yaml: invalid YAML"):
        load_mapping("transactions: [unclosed")
    with pytest.raises(MappingError, match="mapping.yaml: no mapping file in the landing zone"):
        read_mapping(DictFileReader({}))
    loaded = load_mapping(example.MAPPING.replace('is_fraud: {"Y": 1, "N": 0}', "is_fraud: {yes: 1, no: 0, on: 1}"))
    assert loaded.labels.values[s.IS_FRAUD] == {"yes": 1, "no": 0, "on": 1}
    assert loaded.transactions.csv.delimiter == ";" and loaded.transactions.timestamp.timezone == "Europe/Amsterdam"
    assert loaded.labels.timestamp.format == "iso" and loaded.labels.timestamp.timezone == "Europe/Amsterdam"


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------
def test_glob_stays_within_a_path_segment(user_day):
    tx, lb = user_day
    files = zone(tx, lb, {"transactions/2026-09-03/late.csv": to_csv(tx.iloc[:3])})
    assert read(files).files == [TX, LB]
    deep = mapping(set_key("transactions.path", "transactions/{date}**.csv"))
    assert read(files, deep).files == ["transactions/2026-09-03.csv", "transactions/2026-09-03/late.csv", LB]


def test_s3_prefix_reader(moto_s3, user_day):
    tx, lb = user_day
    client, bucket = moto_s3.client(), moto_s3.create_bucket()
    client.put_object(Bucket=bucket, Key="acme/landing/mapping.yaml", Body=example.MAPPING.encode())
    client.put_object(Bucket=bucket, Key=f"acme/landing/{TX}", Body=to_csv(tx))
    client.put_object(Bucket=bucket, Key=f"acme/landing/{LB}", Body=to_csv(lb, sep=","))
    client.put_object(Bucket=bucket, Key="acme/landing/transactions/2026-09-04.csv", Body=b"x")
    files = S3PrefixReader(bucket, "acme/landing/", endpoint_url=moto_s3.endpoint_url, region=moto_s3.region, access_key="testing", secret_key="testing")
    landed = read_day(files, read_mapping(files), DAY)
    assert landed.files == [TX, LB] and len(landed.transactions) == len(tx)


def test_an_s3_objects_last_modified_time_tells_a_late_file(moto_s3, user_day):
    """The late-files sensor's evidence on S3: each object's LastModified, against the day's ingestion."""
    import datetime as dt

    from fraudshield_pipeline.domain.landing.arrivals import Ingestion, arrivals, day_files
    from fraudshield_pipeline.domain.landing.readers import file_hash

    tx, lb = user_day
    client, bucket = moto_s3.client(), moto_s3.create_bucket()
    for key, body in (("mapping.yaml", example.MAPPING.encode()), (TX, to_csv(tx)), (LB, to_csv(lb, sep=","))):
        client.put_object(Bucket=bucket, Key=f"acme/landing/{key}", Body=body)
    files = S3PrefixReader(bucket, "acme/landing/", endpoint_url=moto_s3.endpoint_url, region=moto_s3.region, access_key="testing", secret_key="testing")
    written = files.modified(LB)
    assert written is not None and written.tzinfo is not None and abs(written - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    names = day_files(files, read_mapping(files), [DAY])
    assert names == {DAY: [TX, LB]}
    recorded = {TX: file_hash(to_csv(tx)), LB: file_hash(to_csv(lb, sep=","))}
    assert arrivals(files, names, {DAY: Ingestion(written + dt.timedelta(seconds=1), recorded)}).changed == {}
    assert arrivals(files, names, {DAY: Ingestion(written - dt.timedelta(hours=1), recorded)}).changed == {}  # newer, same bytes
    client.put_object(Bucket=bucket, Key=f"acme/landing/{LB}", Body=to_csv(lb.iloc[:-1], sep=","))  # a label withdrawn
    late = arrivals(files, names, {DAY: Ingestion(written - dt.timedelta(hours=1), recorded)}).changed
    assert list(late) == [DAY] and late[DAY].startswith(f"{LB} rewritten at")


def test_a_report_month_or_year_is_not_read_as_a_day(user_day):
    """Only a whole day reads as its end: '2026-09' would make a March chargeback known up to a month early."""
    tx, lb = user_day
    coarse = lb.assign(reported_on=["2026-09"] + ["2026-09-10"] * (len(lb) - 1))
    landed = read(zone(tx, coarse), mapping(set_key("max_unparseable_share", 0.5)))
    assert landed.labels["landing_rule"].iloc[0] == "reported_at:unparseable" and landed.labels["raw_value"].iloc[0] == "2026-09"
    assert landed.labels[s.REPORTED_AT].iloc[1:].eq(pd.Timestamp("2026-09-10 22:00", tz="UTC")).all()
