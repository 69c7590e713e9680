"""How users write numbers, ids and times, read without a guess: what one spelling could mean two
ways is refused or quarantined with its raw text, never read the likelier way.

* amounts: `1.234` under a decimal comma, `45,90` under a thousands comma (1000x apart);
* ids written from a float column (`4000123412341234.0`, `4.000123412341234e+18`);
* dates without a time of day, naive times in the hour repeated when summer time ends;
* epoch numbers in hours to nanoseconds, from the Unix epoch or a declared origin.

Same contract as `test_landing_hostile` for the cases on the example day (`assert_handled`).
"""

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import LANDING_RULE, RAW_VALUE, validate_labels, validate_transactions
from fraudshield_pipeline.domain.landing import DictFileReader, LandingError, MappingError, load_mapping, read_day
from fraudshield_pipeline_tests.domain.test_landing_hostile import DAY, LB, Case, assert_handled, lb_bytes, mapping_with, run, text, tx_lines

FOLD_DAY = dt.date(2026, 10, 25)  # Europe: 02:00-03:00 local happens twice (00:00-01:00 UTC in CEST, then 01:00-02:00 in CET)


def mapping(labels: dict | None = None, **transactions) -> str:
    """A minimal mapping (columns id, card, term, ts, amt), with `transactions` keys added."""
    tx = {"path": "tx/{date}*.csv", "columns": {"transaction_id": "id", "customer_id": "card", "merchant_id": "term", "event_timestamp": "ts", "amount": "amt"}}
    return yaml.safe_dump({"transactions": {**tx, **transactions}, "labels": labels or {"path": "lb/{date}.csv", "required": False,
                           "columns": {"transaction_id": "id", "is_fraud": "fraud", "reported_at": "at"}}})  # fmt: skip


def land(rows: list[tuple], mapping_text: str, day: dt.date = DAY, labels: str | None = None):
    """read_day of one CSV file of `rows` (id, card, term, ts, amt), and the contract's outcome."""
    files = {f"tx/{day}.csv": "id,card,term,ts,amt\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)}
    if labels is not None:
        files[f"lb/{day}.csv"] = labels
    landed = read_day(DictFileReader(files), load_mapping(mapping_text), day)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
    return landed, validate_transactions(landed.transactions, start, start + dt.timedelta(days=1), "tx")


def rows(n: int, amount: str = "12.50", **column) -> list[tuple]:
    """n ordinary rows of DAY; `column=[values]` replaces that column's first values."""
    base = {"id": [f"T{i}" for i in range(n)], "card": [f"C{i % 7}" for i in range(n)], "term": ["M1"] * n,
            "ts": [f"{DAY}T10:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(n)], "amt": [amount] * n}  # fmt: skip
    for name, values in column.items():
        base[name] = list(values) + base[name][len(values) :]
    return list(zip(*base.values(), strict=True))


# --- amounts: separators -----------------------------------------------------------------------
def test_a_dot_under_a_decimal_comma_is_unparseable_not_a_decimal_point():
    """`1.234` with csv.decimal ',' and no thousands is 1234 or 1.234: quarantined with its raw text."""
    landed, tx = land(rows(200, '"12,50"', amt=['"1.234"', '"12,50"']), mapping(csv={"decimal": ","}))
    assert landed.transactions[s.AMOUNT].iloc[1] == 12.5 and np.isnan(landed.transactions[s.AMOUNT].iloc[0])
    assert tx.rule_counts == {"amount:unparseable": 1} and tx.quarantine[RAW_VALUE].tolist() == ["1.234"]
    with pytest.raises(LandingError, match=r"\[retyped\] column 'amt'.*set csv.thousands: '\.'"):
        land(rows(200, '"12,50"', amt=['"1.234"', '"2.500"', '"1.000"'] * 10), mapping(csv={"decimal": ","}))


@pytest.mark.parametrize(
    ("amounts", "expected", "not_expected"),
    [
        (["1,234", "2,500", "1,000", "3,750.25"], "set csv.thousands: ','", "csv.decimal: ','"),  # groups of three: thousands
        (["45,90", "1,234", "0,99"], "set csv.decimal: ',' if it is the decimal separator (12,50), or csv.thousands: ','", None),
    ],
)
def test_the_comma_hint_names_thousands_only_when_every_group_has_three_digits(amounts, expected, not_expected):
    """The hint used to say csv.decimal: ',' for `1,234`, which then read 1.234 (1000x too small)."""
    with pytest.raises(LandingError, match=r"\[retyped\] column 'amt'") as caught:
        land(rows(100, amt=[f'"{a}"' for a in amounts] * 10), mapping())
    assert expected in str(caught.value)
    assert not_expected is None or not_expected not in str(caught.value)


def test_a_thousands_separator_outside_groups_of_three_is_unparseable_not_removed():
    """With csv.thousands ',', `45,90` would be read 4590; lakh grouping (12,34,567) is grouping."""
    values = ['"1,234"', '"12,34,567.00"', "12", '"45,90"']
    landed, tx = land(rows(200, amt=values), mapping(csv={"thousands": ","}))
    assert landed.transactions[s.AMOUNT].iloc[:3].tolist() == [1234.0, 1234567.0, 12.0]
    assert tx.rule_counts == {"amount:unparseable": 1} and tx.quarantine[RAW_VALUE].tolist() == ["45,90"]
    landed, tx = land(rows(200, '"12,50"', amt=['"1.234,50"', '"1.5"']), mapping(csv={"decimal": ",", "thousands": "."}))
    assert landed.transactions[s.AMOUNT].iloc[0] == 1234.5 and tx.quarantine[RAW_VALUE].tolist() == ["1.5"]


# --- ids written from a float column ----------------------------------------------------------
def test_csv_ids_written_from_a_float_column_are_the_same_ids():
    """pandas writes an id column with a null as floats: `1000.0` must join `1000`, one card stays one."""
    cards = ["4000123412341234.0", "5100000000000001.0", ""]
    labels = "id,fraud,at\n" + "".join(f"{1000 + i}.0,1,2026-09-09T00:00:00Z\n" for i in range(0, 9, 3))
    landed, tx = land(rows(30, id=range(1000, 1030), card=cards * 10), mapping(), labels=labels)
    assert landed.transactions[s.CUSTOMER_ID].iloc[:3].tolist() == ["4000123412341234", "5100000000000001", None]
    assert landed.labels[s.TRANSACTION_ID].tolist() == ["1000", "1003", "1006"]
    kept = validate_labels(landed.labels, tx.valid[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], "lb")
    assert len(kept.valid) == 3 and kept.rule_counts == {}


@pytest.mark.parametrize(
    ("cards", "shown"),
    [
        (["4.000123412341234e+18", "4.000123412341235e+18"], "scientific notation (e.g. '4.000123412341234e+18')"),
        (["4000123412341234", "1E+5"], "scientific notation (e.g. '1E+5')"),
        (["9007199254740993.0", "12.0"], "at or above 2**53 (e.g. '9007199254740993.0')"),
    ],
)
def test_ids_whose_digits_a_float_may_have_lost_are_refused(cards, shown):
    with pytest.raises(LandingError, match=r"\[retyped\] column 'card' \(canonical 'customer_id'\)") as caught:
        land(rows(20, card=cards * 10), mapping())
    assert shown in str(caught.value) and len(str(caught.value)) < 2000


def test_text_ids_are_never_rewritten():
    cards = ["12.0", "T1", "abc.0x", "C1231006815", "1e5a", "007"]  # a numeric first value, then text: all left as written
    landed, _ = land(rows(60, card=cards * 10), mapping())
    assert landed.transactions[s.CUSTOMER_ID].iloc[:6].tolist() == cards
    landed, _ = land(rows(60, card=["12.50", "13.0"] * 30), mapping())  # a fraction that is no zero: text, as written
    assert landed.transactions[s.CUSTOMER_ID].iloc[:2].tolist() == ["12.50", "13.0"]


def _float_card_lines() -> bytes:
    lines = tx_lines()
    for i in range(1, len(lines)):
        card = f"400012341234{lines[i].split(';')[1][-4:]}"
        fields = lines[i].split(";")
        fields[1] = f"{card}.0" if i % 2 else card
        lines[i] = ";".join(fields)
    return text(lines)


def _comma_amounts(one: str | None = None) -> bytes:
    lines = [tx_lines()[0]] + [line.replace(".", ",") for line in tx_lines()[1:]]
    if one is not None:
        fields = lines[7].split(";")
        fields[4] = one
        lines[7] = ";".join(fields)
    return text(lines)


def _iso_times(dates: int) -> bytes:
    lines = tx_lines()
    for i in range(1, len(lines)):
        fields = lines[i].split(";")
        stamp = dt.datetime.strptime(fields[3], "%d/%m/%Y %H:%M:%S")
        fields[3] = stamp.date().isoformat() if i <= dates else stamp.isoformat()
        lines[i] = ";".join(fields)
    return text(lines)


COMMA = mapping_with(transactions__csv={"delimiter": ";", "decimal": ","})
ISO = mapping_with(transactions__timestamp={"format": "iso"})
CASES = {
    "amounts_with_dots_under_a_decimal_comma": Case(lambda: {"transactions/2026-09-01.csv": text(tx_lines()), LB: lb_bytes()}, COMMA, error="retyped", column="amount_eur"),
    "one_thousands_dot_under_a_decimal_comma": Case(lambda: {"transactions/2026-09-01.csv": _comma_amounts("1.234"), LB: lb_bytes()}, COMMA, rules={"amount:unparseable": 1}),
    "card_ids_written_from_a_float_column": Case(lambda: {"transactions/2026-09-01.csv": _float_card_lines(), LB: lb_bytes()}),
    "one_date_without_a_time_of_day": Case(lambda: {"transactions/2026-09-01.csv": _iso_times(1), LB: lb_bytes()}, ISO, rules={"event_timestamp:unparseable": 1}),
    "dates_without_a_time_of_day": Case(lambda: {"transactions/2026-09-01.csv": _iso_times(300), LB: lb_bytes()}, ISO, error="retyped", column="tx_time"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_ambiguous_spellings_fail_clearly_or_every_record_is_accounted_for(name):
    assert_handled(name, CASES[name])


def test_float_written_card_ids_on_the_example_day_stay_one_card_each():
    _, _, landed = run(CASES["card_ids_written_from_a_float_column"])
    cards = landed.transactions[s.CUSTOMER_ID]
    assert not cards.str.endswith(".0").any() and cards.nunique() == len({line.split(";")[1] for line in tx_lines()[1:]})


# --- a time of day is required ----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["%d.%m.%Y", "%Y-%m-%d", "%Y%m%d", "%d/%m/%Y %%H"])
def test_a_strftime_format_without_an_hour_is_refused_at_load(fmt):
    with pytest.raises(MappingError, match=r"timestamp.format '.*' has no time of day \(%H or %I\): the features and the label-delay rules need it"):
        load_mapping(mapping(timestamp={"format": fmt}))
    # a report date alone is no guess: known by the end of that day (test_landing: read as the next local midnight)
    labels = {"path": "lb/{date}.csv", "columns": {"transaction_id": "id", "is_fraud": "f", "reported_at": "at"}, "timestamp": {"format": fmt}}
    assert load_mapping(mapping(labels)).labels.timestamp.format == fmt


@pytest.mark.parametrize("fmt", ["%d.%m.%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y-%m-%dT%X", "%c"])
def test_a_strftime_format_with_the_time_of_day_loads(fmt):
    assert load_mapping(mapping(timestamp={"format": fmt})).transactions.timestamp.format == fmt


def test_a_few_iso_dates_alone_are_quarantined_with_their_raw_text():
    landed, tx = land(rows(200, ts=[str(DAY)]), mapping())
    assert tx.rule_counts == {"event_timestamp:unparseable": 1} and tx.quarantine[RAW_VALUE].tolist() == [str(DAY)]
    with pytest.raises(LandingError, match=r"\[retyped\] column 'ts'.*dates without a time of day: the features and the label-delay rules need the time of day"):
        land(rows(20, ts=[str(DAY)] * 20), mapping())


# --- the hour repeated when summer time ends --------------------------------------------------
def test_naive_times_in_the_repeated_hour_are_quarantined_whatever_the_row_order():
    """Sorted by card, not time: row order used to shift rows by an hour, silently."""
    fold = [("a1", "cardA", "02:50:00"), ("a2", "cardA", "02:10:00"), ("b1", "cardB", "02:20:00"), ("b2", "cardB", "02:40:00")]
    plain = [(f"p{i}", "cardC", f"12:{i:02d}:00") for i in range(10)] + [("s1", "cardD", "03:00:00"), ("s2", "cardD", "01:59:59")]
    body = [(i, card, "M1", f"{FOLD_DAY} {t}", "1.0") for i, card, t in fold + plain]
    landed, tx = land(body, mapping(timestamp="%Y-%m-%d %H:%M:%S", timezone="Europe/Amsterdam"), FOLD_DAY)
    assert tx.rows_accounted and tx.rule_counts == {"event_timestamp:ambiguous_local_time": 4, "event_timestamp:inside_partition_day": 1}
    ambiguous = tx.quarantine[tx.quarantine[LANDING_RULE].notna()]  # 4 of 16 rows, yet not "retyped": they are not unparseable
    assert sorted(ambiguous[RAW_VALUE]) == sorted(f"{FOLD_DAY} {t}" for _, _, t in fold)
    stamps = landed.transactions.set_index(s.TRANSACTION_ID)[s.EVENT_TIMESTAMP]
    assert stamps["s1"] == pd.Timestamp("2026-10-25 02:00", tz="UTC") and stamps["s2"] == pd.Timestamp("2026-10-24 23:59:59", tz="UTC")


def test_times_with_an_offset_are_never_ambiguous():
    stamps = ["2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25 02:30:00"]
    landed, tx = land([(f"T{i}", "C", "M", t, "1.0") for i, t in enumerate(stamps)], mapping(timezone="Europe/Amsterdam"), FOLD_DAY)
    assert landed.transactions[s.EVENT_TIMESTAMP].iloc[:2].tolist() == [pd.Timestamp("2026-10-25 00:30", tz="UTC"), pd.Timestamp("2026-10-25 01:30", tz="UTC")]
    assert landed.transactions[LANDING_RULE].tolist() == [None, None, "event_timestamp:ambiguous_local_time"]


def test_parquet_naive_times_and_report_times_in_the_repeated_hour_are_quarantined_too():
    times = [dt.datetime(2026, 10, 25, 2, 30), dt.datetime(2026, 10, 25, 12, 0)]
    table = pa.table({"id": ["T1", "T2"], "card": ["C", "C"], "term": ["M", "M"], "ts": pa.array(times, pa.timestamp("us")), "amt": [1.0, 2.0]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    text_ = mapping(timezone="Europe/Amsterdam").replace("tx/{date}*.csv", "tx/{date}*.parquet")
    landed = read_day(DictFileReader({f"tx/{FOLD_DAY}.parquet": sink.getvalue()}), load_mapping(text_), FOLD_DAY)
    assert landed.transactions[LANDING_RULE].tolist() == ["event_timestamp:ambiguous_local_time", None]
    assert landed.transactions[RAW_VALUE].iloc[0] == "2026-10-25 02:30:00"
    labels = "id,fraud,at\nT1,1,2026-10-25 02:45:00\n"
    landed, _ = land([("T1", "C", "M", "2026-10-24T10:00:00Z", "1")], mapping(timezone="Europe/Amsterdam"), FOLD_DAY, labels=labels)
    assert landed.labels[LANDING_RULE].tolist() == ["reported_at:ambiguous_local_time"]


# --- epoch numbers ----------------------------------------------------------------------------
INSTANTS = pd.Series(pd.to_datetime(["2026-09-01 00:00:01.123456", "2026-09-01 10:15:00.000000", "2026-09-01 23:59:59.999999"], utc=True))
TICKS = INSTANTS.astype("int64") // 1000  # microseconds since 1970


@pytest.mark.parametrize(("fmt", "ticks"), [("epoch_micros", TICKS), ("epoch_nanos", TICKS * 1000), ("epoch_millis", TICKS // 1000), ("epoch_seconds", TICKS // 10**6)])
def test_epoch_formats_from_seconds_to_nanoseconds(fmt, ticks):
    landed, tx = land([(f"T{i}", "C", "M", t, "1.0") for i, t in enumerate(ticks)], mapping(timestamp=fmt))
    per = {"epoch_micros": 1, "epoch_nanos": 1, "epoch_millis": 1000, "epoch_seconds": 10**6}[fmt]
    assert landed.transactions[s.EVENT_TIMESTAMP].tolist() == INSTANTS.dt.floor(f"{per}us").tolist() and tx.rule_counts == {}


def test_parquet_integer_nanoseconds_keep_every_microsecond():
    nanos = (TICKS * 1000 + 999).to_numpy()  # float64 would round these by up to 128 ns
    table = pa.table({"id": ["T0", "T1", "T2"], "card": ["C"] * 3, "term": ["M"] * 3, "ts": pa.array(nanos, pa.int64()), "amt": [1.0] * 3})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    text_ = mapping(timestamp="epoch_nanos").replace("tx/{date}*.csv", "tx/{date}*.parquet")
    landed = read_day(DictFileReader({f"tx/{DAY}.parquet": sink.getvalue()}), load_mapping(text_), DAY)
    assert landed.transactions[s.EVENT_TIMESTAMP].tolist() == INSTANTS.tolist()


@pytest.mark.parametrize(
    ("declared", "ticks", "suggested"),
    [
        ("epoch_seconds", TICKS, "epoch_micros"),  # used to suggest millis, which then failed without a hint
        ("epoch_millis", TICKS, "epoch_micros"),
        ("epoch_micros", TICKS // 1000, "epoch_millis"),
        ("epoch_micros", TICKS * 1000, "epoch_nanos"),
        ("epoch_nanos", TICKS // 10**6, "epoch_seconds"),
    ],
)
def test_epoch_unit_hints_name_the_unit_that_fits(declared, ticks, suggested):
    with pytest.raises(LandingError, match=rf"\[retyped\] column 'ts'.*set timestamp.format: {suggested}$"):
        land([(f"T{i}", "C", "M", t, "1.0") for i, t in enumerate(ticks)], mapping(timestamp=declared))


def test_seconds_from_another_origin_are_not_taken_for_hours_since_1970():
    """IEEE-CIS TransactionDT of its third day (~225,000 s) reads as 1995 in hours: the hint is the origin."""
    with pytest.raises(LandingError, match=r"no epoch unit gives 1990-2099\): .* set timestamp.origin") as caught:
        land([(f"T{i}", "C", "M", 225_744 + i, "1.0") for i in range(3)], mapping(timestamp="epoch_seconds"))
    assert "epoch_hours" not in str(caught.value)


def test_epoch_numbers_from_a_declared_origin():
    """IEEE-CIS TransactionDT: seconds from a reference (86400 = a day in); PaySim step: hours."""
    seconds = [86400 + 10, 86400 + 7200]
    with pytest.raises(LandingError, match=r"no epoch unit gives 1990-2099\): if they count from another instant .* set timestamp.origin"):
        land([(f"T{i}", "C", "M", t, "1.0") for i, t in enumerate(seconds)], mapping(timestamp="epoch_seconds"), dt.date(2017, 12, 2))
    ieee = mapping(timestamp={"format": "epoch_seconds", "origin": "2017-12-01"})
    landed, tx = land([(f"T{i}", "C", "M", t, "1.0") for i, t in enumerate(seconds)], ieee, dt.date(2017, 12, 2))
    assert landed.transactions[s.EVENT_TIMESTAMP].tolist() == [pd.Timestamp("2017-12-02 00:00:10", tz="UTC"), pd.Timestamp("2017-12-02 02:00", tz="UTC")]
    paysim = mapping(timestamp={"format": "epoch_hours", "origin": "2026-09-01T00:00:00+02:00"})
    landed, tx = land([("T1", "C", "M", "3", "1.0"), ("T2", "C", "M", "25", "1.0")], paysim)
    assert landed.transactions[s.EVENT_TIMESTAMP].tolist() == [pd.Timestamp("2026-09-01 01:00", tz="UTC"), pd.Timestamp("2026-09-01 23:00", tz="UTC")]
    assert load_mapping(ieee.replace("'2017-12-01'", "2017-12-01")).transactions.timestamp.origin == dt.datetime(2017, 12, 1, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("timestamp", "refusal"),
    [
        ({"format": "iso", "origin": "2017-12-01"}, "transactions.timestamp.origin applies only to the epoch formats"),
        ({"format": "epoch_seconds", "origin": "last tuesday"}, "transactions.timestamp.origin 'last tuesday' is not an ISO date"),
        ({"format": "epoch_days"}, "transactions.timestamp.format 'epoch_days' is not iso, epoch_hours, epoch_seconds, epoch_millis"),
    ],
)
def test_epoch_origins_and_formats_are_checked_at_load(timestamp, refusal):
    with pytest.raises(MappingError, match=refusal):
        load_mapping(mapping(timestamp=timestamp))


def test_a_label_feed_inherits_the_transactions_epoch_origin():
    loaded = load_mapping(mapping(timestamp={"format": "epoch_seconds", "origin": "2017-12-01"}))
    assert loaded.labels.timestamp == loaded.transactions.timestamp


def test_the_readme_names_the_canonical_vocabulary_where_value_maps_are_described():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("**The canonical vocabulary**") : readme.index("**The mapping's schema.**")]
    for value in (*s.MERCHANT_CATEGORIES, *s.CHANNELS):
        assert f"`{value}`" in section, value
