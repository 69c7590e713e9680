"""The skew contract: serving-time features equal the training features of the same transactions."""

import datetime as dt

import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import build_features, lookback_days, model_feature_names
from fraudshield_pipeline.domain.online import (
    CustomerState,
    MerchantState,
    StaleOnlineState,
    entity_states,
    features_at,
)
from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_days
from fraudshield_pipeline_tests.feature_parity import assert_same_features

UTC = dt.timezone.utc
FIRST = dt.date(2026, 9, 1)
SERVED = FIRST + dt.timedelta(days=lookback_days() + 2)


@pytest.fixture(scope="module")
def world():
    config = SimulationConfig(seed=11, n_customers=1500, n_merchants=150, transactions_per_day=1500)
    days = [FIRST + dt.timedelta(days=i) for i in range((SERVED - FIRST).days + 1)]
    return simulate_days(config, days)


def replay(transactions, customers, merchants):
    """Score a day's transactions in event order, advancing the state as the serving path does."""
    customer_state = {row[s.CUSTOMER_ID]: CustomerState.from_row(row) for row in customers.to_pylist()}
    labels_as_of = merchants.column("labels_as_of_us")[0].as_py()
    merchant_state = {row[s.MERCHANT_ID]: MerchantState.from_row(row, labels_as_of) for row in merchants.to_pylist()}
    rows = []
    for tx in transactions.to_dict("records"):
        customer = customer_state.get(tx[s.CUSTOMER_ID]) or CustomerState.empty()
        merchant = merchant_state.get(tx[s.MERCHANT_ID]) or MerchantState.empty(labels_as_of)
        rows.append({s.TRANSACTION_ID: tx[s.TRANSACTION_ID], **features_at(tx, customer, merchant)})
        t = int(pd.Timestamp(tx[s.EVENT_TIMESTAMP]).value // 1000)
        customer_state[tx[s.CUSTOMER_ID]] = customer.observe(t, tx[s.AMOUNT], tx[s.MERCHANT_ID])
        merchant_state[tx[s.MERCHANT_ID]] = merchant.observe(t)
    return pd.DataFrame(rows).set_index(s.TRANSACTION_ID)


def test_online_features_equal_offline_features_at_serving_time(world):
    day_start = dt.datetime.combine(SERVED, dt.time(), UTC)
    offline = build_features(world.transactions, world.labels, day_start, day_start + dt.timedelta(days=1)).set_index(
        s.TRANSACTION_ID
    )
    history = world.transactions[world.transactions[s.EVENT_TIMESTAMP] < pd.Timestamp(day_start)]
    known = world.labels[world.labels[s.REPORTED_AT] < pd.Timestamp(day_start)]
    customers, merchants = entity_states(history, known, day_start)
    served = world.transactions[world.transactions[s.EVENT_TIMESTAMP] >= pd.Timestamp(day_start)]
    online = replay(served, customers, merchants)
    assert len(online) == len(offline) > 1000
    assert (offline["merchant_fraud_risk_30d"] > 0).sum() > 10  # the label path is exercised
    assert (offline["customer_tx_count_1h"] > 0).sum() > 10  # and the velocity windows
    assert_same_features(online, offline, model_feature_names(world.transactions.columns))


def test_a_day_old_state_is_refused_rather_than_scored(world):
    day_start = dt.datetime.combine(SERVED, dt.time(), UTC)
    _, merchants = entity_states(world.transactions, world.labels, day_start - dt.timedelta(days=1))
    labels_as_of = merchants.column("labels_as_of_us")[0].as_py()
    tx = world.transactions[world.transactions[s.EVENT_TIMESTAMP] >= pd.Timestamp(day_start)].iloc[0].to_dict()
    with pytest.raises(StaleOnlineState, match="materialize online_features"):
        features_at(tx, CustomerState.empty(), MerchantState.empty(labels_as_of))


def test_reversed_chargebacks_agree_online_and_offline(world):
    """A label history (frauds reversed before the served day) counts the same way in both paths."""
    day_start = dt.datetime(SERVED.year, SERVED.month, SERVED.day, tzinfo=UTC)
    frauds = world.labels[(world.labels[s.IS_FRAUD] == 1) & (world.labels[s.REPORTED_AT] < pd.Timestamp(day_start) - pd.Timedelta(days=3))]
    reversals = frauds.iloc[::2].assign(**{s.IS_FRAUD: frauds[s.IS_FRAUD].iloc[::2] * 0, s.FRAUD_SCENARIO: None,
                                            s.REPORTED_AT: frauds[s.REPORTED_AT].iloc[::2] + pd.Timedelta(days=1)})  # fmt: skip
    labels = pd.concat([world.labels, reversals], ignore_index=True)
    offline = build_features(world.transactions, labels, day_start, day_start + dt.timedelta(days=1)).set_index(s.TRANSACTION_ID)
    before = build_features(world.transactions, world.labels, day_start, day_start + dt.timedelta(days=1)).set_index(s.TRANSACTION_ID)
    assert len(reversals) > 5 and (offline["merchant_fraud_risk_30d"] < before["merchant_fraud_risk_30d"]).sum() > 10
    history = world.transactions[world.transactions[s.EVENT_TIMESTAMP] < pd.Timestamp(day_start)]
    customers, merchants = entity_states(history, labels[labels[s.REPORTED_AT] < pd.Timestamp(day_start)], day_start)
    online = replay(world.transactions[world.transactions[s.EVENT_TIMESTAMP] >= pd.Timestamp(day_start)], customers, merchants)
    assert_same_features(online, offline, model_feature_names(world.transactions.columns))
