"""A failed quarantine check names the rules that dominate, with counts, and one way out per rule
family, in a text of bounded length: not only a percentage."""

import datetime as dt

import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import validate_labels, validate_transactions
from fraudshield_pipeline.domain.quarantine import explain_quarantine, labels_of_quarantined_transactions

UTC = dt.timezone.utc
DAY = dt.datetime(2026, 9, 2, tzinfo=UTC)


def transactions(times, categories=None) -> pd.DataFrame:
    n = len(times)
    frame = pd.DataFrame({
        s.TRANSACTION_ID: [f"t{i}" for i in range(n)], s.CUSTOMER_ID: ["c1"] * n, s.MERCHANT_ID: ["m1"] * n,
        s.EVENT_TIMESTAMP: pd.to_datetime(times, utc=True).astype("datetime64[us, UTC]"), s.AMOUNT: [10.0] * n,
    })  # fmt: skip
    return frame if categories is None else frame.assign(**{s.MERCHANT_CATEGORY: categories})


def explain(outcome, table="transactions", limit_name="max_quarantine_rate"):
    rate = len(outcome.quarantine) / outcome.rows_in
    return explain_quarantine({"2026-09-02": (rate, outcome.rule_counts, outcome.quarantine)}, 0.05, limit_name, table)


def test_a_file_per_local_day_is_told_to_hold_utc_days():
    # Pacific/Kiritimati (UTC+14): a local day's file holds 14 hours of the UTC day before
    local = [dt.datetime(2026, 9, 2, h, 30) - dt.timedelta(hours=14) for h in range(24)]
    outcome = validate_transactions(transactions([t.replace(tzinfo=UTC) for t in local]), DAY, DAY + dt.timedelta(days=1), "t")
    text = explain(outcome)
    assert text.startswith("2026-09-02: 58.3% of transactions quarantined > 5.0% (max_quarantine_rate)")
    assert "event_timestamp:inside_partition_day 14" in text and "one UTC day per file" in text and "timezone" in text


def test_unmapped_categories_name_the_values_and_the_vocabulary():
    times = [DAY + dt.timedelta(hours=h) for h in range(10)]
    outcome = validate_transactions(transactions(times, ["grocery_pos"] * 6 + ["misc_net"] * 3 + ["fuel"]), DAY,
                                    DAY + dt.timedelta(days=1), "t")  # fmt: skip
    text = explain(outcome)
    assert "merchant_category:isin 9 (grocery_pos 6, misc_net 3)" in text
    assert ", ".join(s.MERCHANT_CATEGORIES) in text and "values: (transactions.values.merchant_category)" in text
    assert "isin([" not in text  # the vocabulary is named once, in the way out


def test_other_rules_point_at_the_quarantine_table_with_the_rule():
    times = [DAY + dt.timedelta(hours=h) for h in range(4)]
    outcome = validate_transactions(transactions(times).assign(**{s.AMOUNT: [-1.0, -2.0, 3.0, 4.0]}), DAY,
                                    DAY + dt.timedelta(days=1), "t")  # fmt: skip
    text = explain(outcome)
    assert "amount:greater_than_or_equal_to(0) 2" in text
    assert "quarantined_transactions whose failed_rule is 'amount:greater_than_or_equal_to(0)'" in text


def test_labels_keyed_by_report_day_are_told_to_use_the_transaction_day():
    times = [DAY + dt.timedelta(hours=h) for h in range(3)]
    tx = validate_transactions(transactions(times), DAY, DAY + dt.timedelta(days=1), "t")
    labels = pd.DataFrame({
        s.TRANSACTION_ID: ["yesterday-1", "yesterday-2"], s.IS_FRAUD: pd.Series([1, 1], dtype="int8"),
        s.REPORTED_AT: pd.to_datetime(["2026-09-02T09:00:00Z"] * 2).astype("datetime64[us, UTC]"),
    })  # fmt: skip
    lb = validate_labels(labels, tx.valid[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], "l")
    text = explain(lb, "labels", "max_label_quarantine_rate")
    assert text.startswith("2026-09-02: 100.0% of labels quarantined > 5.0% (max_label_quarantine_rate)")
    assert "transaction_id:references_known_transaction 2" in text and "by transaction day, not report day" in text
    assert "quarantined_labels" in text
    assert labels_of_quarantined_transactions(lb.quarantine, tx.quarantine) == 0


def test_the_text_stays_bounded_over_many_days_rules_and_long_values():
    quarantine = pd.DataFrame({"failed_rule": ["merchant_category:isin(['grocery'])"] * 50,
                               s.MERCHANT_CATEGORY: [f"{'x' * 500}{i}" for i in range(50)]})  # fmt: skip
    rules = {"merchant_category:isin(['grocery'])": 50, **{f"column{i}:rule{i}": 10 + i for i in range(20)}}
    failing = {f"2026-09-{d:02d}": (0.9, rules, quarantine) for d in range(1, 31)}
    text = explain_quarantine(failing, 0.05, "max_quarantine_rate")
    assert len(text) < 2500 and "and 25 more days over the limit (2026-09-06..2026-09-30)" in text
    assert "merchant_category:isin 50" in text and "more under other rules" in text
