"""The handbook-style benchmark world: seeded, canonical schema, and its fraud rules as described."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.worlds.handbook import HandbookConfig, simulate_handbook

FIRST = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def world():
    return simulate_handbook(HandbookConfig(seed=3, n_customers=400, n_terminals=800), FIRST, 40)


def test_same_seed_same_rows_other_seed_other_rows(world):
    again = simulate_handbook(HandbookConfig(seed=3, n_customers=400, n_terminals=800), FIRST, 40)
    pd.testing.assert_frame_equal(world.transactions, again.transactions)
    pd.testing.assert_frame_equal(world.labels, again.labels)
    other = simulate_handbook(HandbookConfig(seed=4, n_customers=400, n_terminals=800), FIRST, 40)
    assert not other.transactions[s.AMOUNT].equals(world.transactions[s.AMOUNT])


def test_only_the_required_columns_in_the_canonical_types(world):
    tx, labels = world.transactions, world.labels
    assert list(tx.columns) == list(s.REQUIRED_TRANSACTION_COLUMNS)
    assert list(labels.columns) == list(s.LABEL_COLUMNS)
    assert str(tx[s.EVENT_TIMESTAMP].dtype) == "datetime64[us, UTC]"
    assert tx[s.TRANSACTION_ID].is_unique and tx[s.EVENT_TIMESTAMP].is_monotonic_increasing
    assert tx[s.EVENT_TIMESTAMP].min() >= pd.Timestamp(FIRST, tz="UTC")
    assert tx[s.EVENT_TIMESTAMP].max() < pd.Timestamp(FIRST + dt.timedelta(days=40), tz="UTC")
    assert (tx[s.AMOUNT] >= 0).all()
    # every label is a fraud of a real transaction, reported 1 to 7 days after it
    joined = labels.merge(tx, on=s.TRANSACTION_ID, validate="one_to_one")
    delay = (joined[s.REPORTED_AT] - joined[s.EVENT_TIMESTAMP]) / pd.Timedelta(days=1)
    assert (labels[s.IS_FRAUD] == 1).all() and delay.between(1, 7).all()


def test_fraud_rules_and_rate(world):
    tx = world.transactions.merge(world.labels[[s.TRANSACTION_ID, s.FRAUD_SCENARIO]], on=s.TRANSACTION_ID, how="left")
    fraud = tx[s.FRAUD_SCENARIO].notna()
    # (1) every amount above 220 is fraud, and that scenario is nothing else
    assert fraud[tx[s.AMOUNT] > 220].all()
    assert (tx.loc[tx[s.FRAUD_SCENARIO] == "large_amount", s.AMOUNT] > 220).all()
    # (2) a compromised terminal: between its first and last fraud, every transaction there is fraud
    terminal = tx[tx[s.FRAUD_SCENARIO] == "compromised_terminal"]
    assert len(terminal) > 0
    for merchant, rows in terminal.groupby(s.MERCHANT_ID):
        first, last = rows[s.EVENT_TIMESTAMP].min(), rows[s.EVENT_TIMESTAMP].max()
        there = tx[(tx[s.MERCHANT_ID] == merchant) & tx[s.EVENT_TIMESTAMP].between(first, last)]
        assert fraud[there.index].all(), merchant
    # (3) compromised customers' frauds are 5x their usual amounts
    customer = tx[tx[s.FRAUD_SCENARIO] == "compromised_customer"]
    usual = tx[~fraud].groupby(s.CUSTOMER_ID)[s.AMOUNT].median()
    ratio = customer[s.AMOUNT].to_numpy() / customer[s.CUSTOMER_ID].map(usual).to_numpy()
    assert len(customer) > 0 and np.nanmedian(ratio) > 3
    # the handbook's mix: ~0.8 % fraud
    assert 0.004 < fraud.mean() < 0.015
