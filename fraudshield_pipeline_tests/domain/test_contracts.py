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
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, -5.0)), "amount:greater_than(0)"),
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, np.inf)), "amount:less_than(inf)"),
        (lambda f: f.assign(amount=f[s.AMOUNT].where(f.index != 3, np.nan)), "amount:not_nullable"),
        (lambda f: f.assign(merchant_category=f[s.MERCHANT_CATEGORY].where(f.index != 3, "5411")), "merchant_category:isin"),
        (lambda f: f.assign(channel=f[s.CHANNEL].where(f.index != 3, "telepathy")), "channel:isin"),
        (lambda f: f.assign(customer_id=f[s.CUSTOMER_ID].where(f.index != 3, None)), "customer_id:not_nullable"),
        (lambda f: f.assign(event_timestamp=f[s.EVENT_TIMESTAMP].where(f.index != 3, f[s.EVENT_TIMESTAMP] + pd.Timedelta(days=2))), "event_timestamp:inside_partition_day"),
        (lambda f: f.assign(transaction_id=f[s.TRANSACTION_ID].where(f.index != 3, f[s.TRANSACTION_ID].iloc[2])), "transaction_id:unique"),
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
