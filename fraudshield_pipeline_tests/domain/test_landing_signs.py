"""Feeds that sign their amounts: accounting notation for negatives, and `transactions.amount_sign`.

Accounting and ERP exports write a negative as `12,50-` or `(12.50)`; a bank account's or card
statement's export writes each purchase (a debit) below zero. The first are numbers, not
unparseable text; the second, with `amount_sign: negative`, are purchases: each amount is negated on
reading, and one that was positive in the file (a credit, a refund, a reversal) is no purchase. It
reaches the contract below zero and is quarantined by amount >= 0 with its line, never dropped and
never silently made a purchase; records in = rows kept + rows quarantined. A day that fails on
amounts below zero is told which way to set amount_sign.
"""

import datetime as dt
import io

import pandas as pd
import pytest
import yaml

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import LANDING_RULE, RAW_VALUE, SOURCE_LINE, validate_labels, validate_transactions
from fraudshield_pipeline.domain.landing import DictFileReader, MappingError, load_mapping, read_day
from fraudshield_pipeline.domain.quarantine import NEGATIVE_AMOUNT, explain_quarantine

DAY = dt.date(2026, 9, 3)
START = dt.datetime(2026, 9, 3, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(days=1)
TX = "tx/2026-09-03.csv"
TXP = "tx/2026-09-03.parquet"


def mapping(csv: dict | None = None, **transactions) -> str:
    """A minimal ';'-delimited mapping (columns id, card, term, ts, amt), changed by the arguments."""
    cols = {"transaction_id": "id", "customer_id": "card", "merchant_id": "term", "event_timestamp": "ts", "amount": "amt"}
    tx = {"path": "tx/{date}*.csv", "csv": {"delimiter": ";", **(csv or {})}, "columns": cols, **transactions}
    labels = {"path": "lb/{date}.csv", "required": False, "columns": {"transaction_id": "id", "is_fraud": "fraud", "reported_at": "at"}}
    return yaml.safe_dump({"transactions": tx, "labels": labels})


def file_of(amounts: list[str]) -> bytes:
    rows = [f"T{i};C{i};M1;2026-09-03T{10 + i % 10:02d}:00:00Z;{a}" for i, a in enumerate(amounts)]
    return ("id;card;term;ts;amt\n" + "\n".join(rows) + "\n").encode()


def land(amounts: list[str], mapping_text: str):
    return read_day(DictFileReader({TX: file_of(amounts)}), load_mapping(mapping_text), DAY)


def parquet(amounts: list, mapping_text: str):
    frame = pd.DataFrame({
        "id": [f"T{i}" for i in range(len(amounts))], "card": ["C1"] * len(amounts), "term": ["M1"] * len(amounts),
        "ts": [f"2026-09-03T{10 + i:02d}:00:00Z" for i in range(len(amounts))], "amt": amounts,
    })  # fmt: skip
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    text = mapping_text.replace("tx/{date}*.csv", "tx/{date}.parquet")
    return read_day(DictFileReader({TXP: buffer.getvalue()}), load_mapping(text), DAY)


def accounted(landed, file: str = TX):
    """The contract's outcome, after checking that every record of the file is kept or quarantined."""
    outcome = validate_transactions(landed.transactions, START, END, file)
    assert outcome.rows_accounted and len(outcome.valid) + len(outcome.quarantine) == landed.records[file]
    return outcome


# ---------------------------------------------------------------------------------------------
# accounting notation: a trailing minus and parentheses
# ---------------------------------------------------------------------------------------------
COMMA = {"decimal": ","}
COMMA_DOT = {"decimal": ",", "thousands": "."}


@pytest.mark.parametrize(
    ("csv", "value", "expected"),
    [
        (COMMA, "12,50-", -12.5),
        (COMMA_DOT, "1.234,50-", -1234.5),
        ({}, "(12.50)", -12.5),
        ({}, " (3.00) ", -3.0),
        ({}, "12.50-", -12.5),
        (COMMA_DOT, "(1.234,50)", -1234.5),
        ({"thousands": ","}, "1,234.50-", -1234.5),
        ({}, "(0.00)", 0.0),
    ],
)
def test_accounting_negatives_are_negative_numbers(csv, value, expected):
    landed = land([value, "7" + ("," if "decimal" in csv else ".") + "00"], mapping(csv=csv))
    tx = landed.transactions
    assert tx[s.AMOUNT].tolist() == [expected, 7.0] and tx[LANDING_RULE].isna().all()
    assert str(tx[s.AMOUNT].iloc[0]) != "-0.0"  # (0.00) is zero, not minus zero


@pytest.mark.parametrize(
    ("csv", "value"),
    [
        ({}, "12-50"), ({}, "-(1)"), ({}, "((1))"), ({}, "(-1)"), ({}, "1a-"), ({}, "1--"), ({}, "-1-"), ({}, "()"),
        ({}, "(.)"), ({}, "(1"), ({}, "1)"), ({}, "( 1 )"), ({}, "(1)-"), ({}, "-"), ({}, "(1e3)"),
        (COMMA, "(1.234)"),  # under a decimal comma without thousands '.', 1234 or 1.234: never guessed, signed or not
        ({}, "12,50-"),  # ',' is neither the decimal nor the thousands separator here
    ],
)
def test_other_shapes_stay_unparseable_with_their_raw_text(csv, value):
    ok = "7,00" if "decimal" in csv else "7.00"
    landed = land([ok, value, ok, ok], mapping(csv=csv))
    tx = landed.transactions
    assert tx[LANDING_RULE].tolist() == [None, "amount:unparseable", None, None]
    assert tx[RAW_VALUE].iloc[1] == value
    outcome = accounted(landed)
    assert outcome.quarantine[SOURCE_LINE].tolist() == [3] and outcome.quarantine["failed_rule"].tolist() == ["amount:unparseable"]


def test_a_default_feed_quarantines_accounting_negatives_like_any_negative():
    outcome = accounted(land(["12.50-", "(3.00)", "7.00"], mapping()))
    assert outcome.quarantine["failed_rule"].tolist() == [NEGATIVE_AMOUNT] * 2 and outcome.valid[s.AMOUNT].tolist() == [7.0]


# ---------------------------------------------------------------------------------------------
# transactions.amount_sign: negative
# ---------------------------------------------------------------------------------------------
def test_negative_purchases_are_read_as_positive_and_a_credit_is_quarantined():
    landed = land(["-12.50", "5.00", "0", "-0.00", "-3"], mapping(amount_sign="negative"))
    assert landed.transactions[s.AMOUNT].tolist() == [12.5, -5.0, 0.0, 0.0, 3.0]
    assert landed.transactions[LANDING_RULE].isna().all()
    outcome = accounted(landed)
    assert outcome.valid[s.TRANSACTION_ID].tolist() == ["T0", "T2", "T3", "T4"]
    assert outcome.valid[s.AMOUNT].tolist() == [12.5, 0.0, 0.0, 3.0]
    quarantined = outcome.quarantine
    assert quarantined["failed_rule"].tolist() == [NEGATIVE_AMOUNT]  # the credit: kept, with its line, not dropped
    assert quarantined[s.TRANSACTION_ID].tolist() == ["T1"] and quarantined[SOURCE_LINE].tolist() == [3]


def test_trailing_minus_debits_in_a_negative_feed_are_purchases():
    landed = land(["12,50-", "1.234,50-", "(3,00)", "4,00"], mapping(csv=COMMA_DOT, amount_sign="negative"))
    assert landed.transactions[s.AMOUNT].tolist() == [12.5, 1234.5, 3.0, -4.0]
    outcome = accounted(landed)
    assert outcome.valid[s.AMOUNT].tolist() == [12.5, 1234.5, 3.0]
    assert outcome.quarantine[s.TRANSACTION_ID].tolist() == ["T3"] and outcome.quarantine["failed_rule"].tolist() == [NEGATIVE_AMOUNT]


def test_unparseable_and_bounds_keep_their_rules_in_a_negative_feed():
    landed = land(["-1.00", "oops", "-20000000", "-inf", "", "-2.00"], mapping(amount_sign="negative"))
    tx = landed.transactions
    assert tx[LANDING_RULE].tolist() == [None, "amount:unparseable", "amount:at_most_max_amount", "amount:finite", None, None]
    assert tx[RAW_VALUE].tolist()[1:4] == ["oops", "-20000000", "-inf"]
    outcome = accounted(landed)
    assert outcome.valid[s.AMOUNT].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_a_parquet_numeric_column_of_negative_purchases(dtype):
    amounts = pd.Series([-12.5, -3.0, 4.0, 0.0] if dtype == "float64" else [-12, -3, 4, 0], dtype=dtype)
    landed = parquet(amounts.tolist(), mapping(amount_sign="negative"))
    assert landed.transactions[s.AMOUNT].tolist() == [-float(a) if a else 0.0 for a in amounts]
    outcome = accounted(landed, TXP)
    assert outcome.valid[s.TRANSACTION_ID].tolist() == ["T0", "T1", "T3"]
    assert outcome.quarantine[s.TRANSACTION_ID].tolist() == ["T2"] and outcome.quarantine["failed_rule"].tolist() == [NEGATIVE_AMOUNT]


def test_a_parquet_text_column_takes_the_sign_too():
    landed = parquet(["-12.50", "(3.00)"], mapping(amount_sign="negative"))
    assert landed.transactions[s.AMOUNT].tolist() == [12.5, 3.0]


def test_labels_of_a_negative_feed_join_its_purchases():
    landed = land(["-12.50", "-3.00"], mapping(amount_sign="negative"))
    tx = accounted(landed).valid
    labels = pd.DataFrame({s.TRANSACTION_ID: ["T0"], s.IS_FRAUD: pd.Series([1], dtype="int8"),
                           s.REPORTED_AT: pd.to_datetime(["2026-09-04T10:00:00Z"]).astype("datetime64[us, UTC]")})  # fmt: skip
    assert len(validate_labels(labels, tx[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], "lb").valid) == 1


# ---------------------------------------------------------------------------------------------
# the way out when amounts below zero fail a day
# ---------------------------------------------------------------------------------------------
def explain(outcome, advice=None) -> str:
    rate = len(outcome.quarantine) / outcome.rows_in
    return explain_quarantine({"2026-09-03": (rate, outcome.rule_counts, outcome.quarantine)}, 0.05, "max_quarantine_rate", advice=advice)


def test_a_default_feed_of_negative_purchases_is_told_to_set_amount_sign_negative():
    outcome = accounted(land(["-12.50", "-3.00", "-7.25", "4.00"], mapping()))
    assert outcome.rule_counts == {NEGATIVE_AMOUNT: 3}
    text = explain(outcome)
    assert f"{NEGATIVE_AMOUNT} 3" in text and "if most of the file's amounts are below zero" in text
    assert "set transactions.amount_sign: negative" in text
    assert "quarantined_transactions whose failed_rule is 'amount:greater_than_or_equal_to(0)'" in text


def test_the_snapshot_check_takes_the_direction_of_the_zones_mapping(tmp_path):
    from fraudshield_pipeline.defs.snapshots.assets import _contract_checks
    from fraudshield_pipeline.resources.landing_source import LandingZoneSource
    from fraudshield_pipeline.resources.quality_policy import DataQualityPolicy

    def description(amounts: list[str], mapping_text: str) -> str:
        (tmp_path / "mapping.yaml").write_text(mapping_text)
        tx = accounted(land(amounts, mapping_text))
        lb = validate_labels(pd.DataFrame({
            s.TRANSACTION_ID: pd.Series(dtype=object), s.IS_FRAUD: pd.Series(dtype="int8"),
            s.REPORTED_AT: pd.Series(dtype="datetime64[us, UTC]"),
        }), tx.valid[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], "lb")  # fmt: skip
        checks = list(_contract_checks({"2026-09-03": (tx, lb)}, DataQualityPolicy(), LandingZoneSource(uri=str(tmp_path))))
        (check,) = [c for c in checks if c.check_name == "quarantine_rate"]
        assert not check.passed
        return check.description

    positive = description(["-12.50", "-3.00", "4.00"], mapping())
    assert "set transactions.amount_sign: negative" in positive and "amount_sign: positive" not in positive
    negative = description(["12.50", "3.00", "-4.00"], mapping(amount_sign="negative"))
    assert "set transactions.amount_sign: positive" in negative and "credits, refunds, reversals" in negative
    assert "set transactions.amount_sign: negative" not in negative


def test_without_a_mapping_both_directions_are_named():
    outcome = validate_transactions(
        pd.DataFrame({
            s.TRANSACTION_ID: ["t0", "t1"], s.CUSTOMER_ID: ["c"] * 2, s.MERCHANT_ID: ["m"] * 2,
            s.EVENT_TIMESTAMP: pd.to_datetime(["2026-09-03T10:00Z"] * 2).astype("datetime64[us, UTC]"), s.AMOUNT: [-1.0, -2.0],
        }), START, END, "t",
    )  # fmt: skip
    text = explain(outcome)
    assert "set transactions.amount_sign: negative" in text and "set transactions.amount_sign: positive" in text


# ---------------------------------------------------------------------------------------------
# mapping.yaml validation
# ---------------------------------------------------------------------------------------------
def test_amount_sign_loads_with_positive_by_default():
    assert load_mapping(mapping()).transactions.amount_sign == "positive"
    assert load_mapping(mapping(amount_sign="negative")).transactions.amount_sign == "negative"


@pytest.mark.parametrize("value", ["credit", "Negative", "-", 1, True])
def test_an_unknown_amount_sign_is_refused_naming_the_key_and_the_choices(value):
    with pytest.raises(MappingError) as failure:
        load_mapping(mapping(amount_sign=value))
    assert "transactions.amount_sign input should be 'positive' or 'negative'" in str(failure.value)
    assert repr(value) in str(failure.value)


def test_amount_sign_belongs_to_the_transactions():
    text = yaml.safe_load(mapping())
    text["labels"]["amount_sign"] = "negative"
    with pytest.raises(MappingError) as failure:
        load_mapping(yaml.safe_dump(text))
    assert "labels.amount_sign is not a known key" in str(failure.value)
