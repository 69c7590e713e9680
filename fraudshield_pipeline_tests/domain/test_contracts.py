"""Contracts: schema drift fails loudly; bad rows are quarantined with their rule; nothing is lost."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import QUARANTINE_RULE, SchemaContractError, validate_labels, validate_transactions
from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_day

DAY = dt.date(2026, 9, 3)
START = dt.datetime(2026, 9, 3, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(days=1)


@pytest.fixture(scope="module")
def clean():
    return simulate_day(SimulationConfig(n_customers=500, n_merchants=40, transactions_per_day=400), DAY)


def test_clean_simulated_day_passes_entirely(clean):
    outcome = validate_transactions(clean.transactions, START, END, "sim")
    assert len(outcome.valid) == len(clean.transactions) and len(outcome.quarantine) == 0
    labels = validate_labels(clean.labels, outcome.valid[s.TRANSACTION_ID], "sim")
    assert len(labels.valid) == len(clean.labels)


@pytest.mark.parametrize(
    ("mutate", "rule"),
    [
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, -5.0)), "amount:greater_than_or_equal_to(0)"),
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, -np.inf)), "amount:greater_than_or_equal_to(0)"),
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, 1e308)), "amount:at_most_max_amount"),
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, 10_000_000.01)), "amount:at_most_max_amount"),
        (lambda f: f.assign(customer_id=f[s.CUSTOMER_ID].where(f.index != 3, "   ")), "customer_id:not_empty"),
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, np.inf)), "amount:less_than(inf)"),
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, np.nan)), "amount:not_nullable"),
        (lambda f: f.assign(merchant_category=f[s.MERCHANT_CATEGORY].where(f.index != 3, "5411")), "merchant_category:isin"),
        (lambda f: f.assign(channel=f[s.CHANNEL].where(f.index != 3, "telepathy")), "channel:isin"),
        (lambda f: f.assign(customer_id=f[s.CUSTOMER_ID].where(f.index != 3, None)), "customer_id:not_nullable"),
        (lambda f: f.assign(event_timestamp=f[s.EVENT_TIMESTAMP].where(f.index != 3, f[s.EVENT_TIMESTAMP] + pd.Timedelta(days=2))), "event_timestamp:inside_partition_day"),
        (lambda f: f.assign(transaction_id=f[s.TRANSACTION_ID].where(f.index != 3, f[s.TRANSACTION_ID].iloc[2])), "transaction_id:unique"),
        # ids as a source other than the landing parser may hand them
        (lambda f: f.assign(transaction_id=f[s.TRANSACTION_ID].where(f.index != 3, "T" * 10_000)), "transaction_id:well_formed_id"),
        (lambda f: f.assign(customer_id=f[s.CUSTOMER_ID].where(f.index != 3, "C\x001")), "customer_id:well_formed_id"),
        (lambda f: f.assign(merchant_id=f[s.MERCHANT_ID].where(f.index != 3, "M\ud800")), "merchant_id:well_formed_id"),
    ],
)
def test_bad_rows_are_quarantined_with_their_rule(clean, mutate, rule):
    bad = mutate(clean.transactions.copy())
    outcome = validate_transactions(bad, START, END, "sim")
    assert len(outcome.quarantine) == 1, outcome.rule_counts
    assert outcome.quarantine[QUARANTINE_RULE].iloc[0].startswith(rule)
    assert len(outcome.valid) + len(outcome.quarantine) == len(bad)


def test_missing_renamed_column_fails_naming_file_column_and_expectation(clean):
    renamed = clean.transactions.rename(columns={s.AMOUNT: "amt"})
    with pytest.raises(SchemaContractError, match=r"landing/2026-09-03.csv: missing required column\(s\) \['amount'\].*float64.*'amt'"):
        validate_transactions(renamed, START, END, "landing/2026-09-03.csv")


def test_retyped_column_fails_instead_of_becoming_nulls(clean):
    retyped = clean.transactions.assign(amount=clean.transactions[s.AMOUNT].astype(str))
    with pytest.raises(SchemaContractError, match="column 'amount' has type object; the contract expects float64"):
        validate_transactions(retyped, START, END, "feed")


def test_labels_for_unknown_transactions_are_quarantined(clean):
    labels = pd.concat([clean.labels, clean.labels.head(1).assign(transaction_id="T-UNKNOWN")], ignore_index=True)
    outcome = validate_labels(labels, clean.transactions[s.TRANSACTION_ID], "labels")
    assert outcome.rule_counts == {"transaction_id:references_known_transaction": 1}


def test_zero_amounts_are_accepted_and_the_maximum_is_configurable(clean):
    """Zero-value authorisations (card verification) are ordinary; the ceiling is a parameter."""
    zero = clean.transactions.assign(amount=clean.transactions[s.AMOUNT].where(clean.transactions.index != 3, 0.0))
    assert len(validate_transactions(zero, START, END, "sim").quarantine) == 0
    capped = validate_transactions(clean.transactions, START, END, "sim", max_amount=100.0)
    assert set(capped.rule_counts) == {"amount:at_most_max_amount"}
    assert capped.rule_counts["amount:at_most_max_amount"] == int((clean.transactions[s.AMOUNT] > 100).sum()) > 0


def test_label_reported_before_its_transaction_is_quarantined(clean):
    tx = validate_transactions(clean.transactions, START, END, "sim").valid
    labels = clean.labels.copy()
    happened = labels[s.TRANSACTION_ID].map(tx.set_index(s.TRANSACTION_ID)[s.EVENT_TIMESTAMP])
    labels.loc[0, s.REPORTED_AT] = happened.iloc[0] - pd.Timedelta(seconds=1)
    outcome = validate_labels(labels, tx[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], "labels")
    assert outcome.rule_counts == {"reported_at:not_before_transaction": 1}
    assert outcome.quarantine[s.TRANSACTION_ID].tolist() == [labels[s.TRANSACTION_ID].iloc[0]]


def test_quarantine_has_provenance_columns_and_valid_rows_do_not(clean):
    frame = clean.transactions.head(5).assign(
        source_file="t.csv", source_line=range(2, 7), landing_rule=[None, "amount:unparseable", None, None, None],
        raw_value=[None, "1,234.50", None, None, None],
    )
    outcome = validate_transactions(frame, START, END, "t.csv")
    assert list(outcome.valid.columns) == list(clean.transactions.columns)
    row = outcome.quarantine.iloc[0]
    assert (row["failed_rule"], row["failed_column"], row["raw_value"], row["source_line"]) == ("amount:unparseable", "amount", "1,234.50", 3)
    plain = validate_transactions(clean.transactions.head(5).assign(amount=-1.0), START, END, "sim").quarantine
    assert {"source_file", "source_line", "raw_value"} <= set(plain.columns) and plain["source_file"].isna().all()


def test_a_duplicate_column_or_an_absurd_bound_is_a_contract_error(clean):
    twice = pd.concat([clean.transactions, clean.transactions[[s.AMOUNT]]], axis=1)
    with pytest.raises(SchemaContractError, match="column 'amount' appears twice"):
        validate_transactions(twice, START, END, "feed")
    for bound in (float("nan"), float("inf"), 0.0, 1e300):
        with pytest.raises(SchemaContractError, match="max_amount"):
            validate_transactions(clean.transactions, START, END, "feed", max_amount=bound)


def test_duplicate_labels_that_disagree_are_both_quarantined(clean):
    first = clean.labels.head(1)
    agree, disagree = first.copy(), first.assign(is_fraud=np.int8(1 - int(first[s.IS_FRAUD].iloc[0])))
    outcome = validate_labels(pd.concat([clean.labels, disagree], ignore_index=True), clean.transactions[s.TRANSACTION_ID], "labels")
    assert outcome.rule_counts == {"is_fraud:consistent_duplicates": 2}
    outcome = validate_labels(pd.concat([clean.labels, agree], ignore_index=True), clean.transactions[s.TRANSACTION_ID], "labels")
    assert outcome.rule_counts == {"transaction_id:unique": 1} and len(outcome.valid) == len(clean.labels)


def test_blank_ids_are_exactly_those_python_strips_to_nothing():
    """The vectorized blank check agrees with `str.strip() == ""` on every kind of space, and a
    value Arrow cannot hold as text (a lone surrogate) still gets an answer."""
    import sys

    from fraudshield_pipeline.domain.id_checks import not_blank

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    values = ["", "T1", " T7 ", "\u200b", "\x00", *spaces, "".join(spaces), *(f"{c}x" for c in spaces), None]
    got = not_blank(pd.Series(values, dtype=object)).tolist()
    assert got == [v is None or v.strip() != "" for v in values]
    odd = pd.Series(["\ud800", "  ", "ok"], dtype=object)
    assert not_blank(odd).tolist() == [True, False, True]


def test_validated_rows_can_always_be_written_as_parquet(clean, tmp_path):
    """A lone surrogate in an id would make the snapshot's Parquet write fail with a bare error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    bad = clean.transactions.assign(merchant_id=clean.transactions[s.MERCHANT_ID].where(clean.transactions.index != 3, "M\ud800"))
    outcome = validate_transactions(bad, START, END, "sim")
    pq.write_table(pa.Table.from_pandas(outcome.valid), tmp_path / "valid.parquet")
    pq.write_table(pa.Table.from_pandas(outcome.quarantine), tmp_path / "quarantine.parquet")  # the evidence, escaped
    assert outcome.rule_counts == {"merchant_id:well_formed_id(at_most_256)": 1}
    assert outcome.quarantine[s.MERCHANT_ID].tolist() == ["M\\ud800"]


def test_known_transactions_without_a_time_zone_are_refused_by_name(clean):
    """Validated times are UTC; naive ones handed in directly would have compared as a bare TypeError."""
    tx = validate_transactions(clean.transactions, START, END, "sim").valid
    naive = tx.assign(event_timestamp=tx[s.EVENT_TIMESTAMP].dt.tz_localize(None))
    with pytest.raises(SchemaContractError, match="labels.csv: the known transactions' event_timestamp has no time zone"):
        validate_labels(clean.labels, naive, "labels.csv")


def test_a_label_history_keeps_each_report_that_changes_the_label(clean):
    """A chargeback reversed when the merchant wins, and a genuine one later reported as fraud: each
    report that changes the label is kept, a repeat is a duplicate; the label as of a moment is the
    latest report before it."""
    from fraudshield_pipeline.domain.label_history import frauds_as_of, labels_as_of

    tx = validate_transactions(clean.transactions, START, END, "sim").valid
    a, b = tx[s.TRANSACTION_ID].iloc[0], tx[s.TRANSACTION_ID].iloc[1]
    day = pd.Timestamp(END)

    def report(tid, flag, days):
        return {s.TRANSACTION_ID: tid, s.IS_FRAUD: np.int8(flag), s.REPORTED_AT: day + pd.Timedelta(days=days), s.FRAUD_SCENARIO: None}

    rows = [report(a, 1, 2), report(a, 1, 5), report(a, 0, 30), report(b, 0, 1), report(b, 1, 20)]
    history = pd.DataFrame(rows).astype({s.REPORTED_AT: "datetime64[us, UTC]", s.FRAUD_SCENARIO: object})
    history[s.TRANSACTION_ID] = history[s.TRANSACTION_ID].astype(object)
    outcome = validate_labels(history, tx, "labels")
    assert outcome.rule_counts == {"transaction_id:unique": 1}  # a's second fraud report repeats the first
    kept = outcome.valid
    assert len(kept) == 4
    assert set(frauds_as_of(kept, day + pd.Timedelta(days=10))[s.TRANSACTION_ID]) == {a}
    assert set(frauds_as_of(kept, day + pd.Timedelta(days=31))[s.TRANSACTION_ID]) == {b}  # a reversed, b reported
    assert labels_as_of(kept, day).empty


def test_a_valid_report_is_never_filed_against_one_another_rule_quarantines(clean):
    """A report dated before its transaction (or with a blank flag) is no standing label: the real report
    after it is kept, not filed as its repeat or its contradiction."""
    tx = validate_transactions(clean.transactions, START, END, "sim").valid
    a, b = tx[s.TRANSACTION_ID].iloc[0], tx[s.TRANSACTION_ID].iloc[1]
    happened = tx[s.EVENT_TIMESTAMP].iloc[0]
    rows = pd.DataFrame({
        s.TRANSACTION_ID: pd.Series([a, a, b, b], dtype=object), s.IS_FRAUD: np.array([1, 1, -1, 1], dtype=np.int8),
        s.REPORTED_AT: pd.Series([happened - pd.Timedelta(hours=1), happened + pd.Timedelta(days=10),
                                  happened + pd.Timedelta(days=2), happened + pd.Timedelta(days=2)]).astype("datetime64[us, UTC]"),
        s.FRAUD_SCENARIO: pd.Series([None] * 4, dtype=object),
    })  # fmt: skip
    outcome = validate_labels(rows, tx, "labels")
    assert outcome.rule_counts == {"reported_at:not_before_transaction": 1, "is_fraud:isin([0, 1])": 1}
    assert sorted(outcome.valid[s.TRANSACTION_ID]) == sorted([a, b])
