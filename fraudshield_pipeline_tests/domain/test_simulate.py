"""Tests for the transaction simulator (small populations; the whole file runs in seconds)."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema
from fraudshield_pipeline.domain.simulate import (
    MCC_TO_CATEGORY,
    PARTNER_MCC_CODES,
    DriftKnobs,
    SimulatedDay,
    SimulationConfig,
    clear_caches,
    simulate_day,
    simulate_days,
)

SMALL = SimulationConfig(seed=11, n_customers=3_000, n_merchants=300, transactions_per_day=2_000)
START = datetime.date(2026, 9, 7)  # a Monday
STRING_COLUMNS = (
    schema.TRANSACTION_ID,
    schema.CUSTOMER_ID,
    schema.MERCHANT_ID,
    schema.MERCHANT_CATEGORY,
    schema.CHANNEL,
    schema.COUNTRY,
)
DAY = pd.Timedelta(days=1)


def days(start: datetime.date, n: int) -> list[datetime.date]:
    return [start + datetime.timedelta(days=i) for i in range(n)]


def with_drift(**knobs: Any) -> SimulationConfig:
    return dataclasses.replace(SMALL, drift=DriftKnobs(**knobs))


def joined(sim: SimulatedDay) -> pd.DataFrame:
    """Transactions with their label (is_fraud 0 and scenario None where no chargeback)."""
    out = sim.transactions.merge(sim.labels, on=schema.TRANSACTION_ID, how="left")
    out[schema.IS_FRAUD] = out[schema.IS_FRAUD].fillna(0).astype(int)
    return out


def ks_distance(a: pd.Series, b: pd.Series) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    x, y = np.sort(a.to_numpy()), np.sort(b.to_numpy())
    grid = np.concatenate([x, y])
    return float(
        np.abs(
            np.searchsorted(x, grid, side="right") / len(x)
            - np.searchsorted(y, grid, side="right") / len(y)
        ).max()
    )


def assert_same(a: SimulatedDay, b: SimulatedDay) -> None:
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(a.labels, b.labels)


@pytest.fixture(scope="module")
def four_weeks() -> SimulatedDay:
    return simulate_days(SMALL, days(START, 28))


@pytest.fixture(scope="module")
def four_weeks_joined(four_weeks: SimulatedDay) -> pd.DataFrame:
    return joined(four_weeks)


# --- schema, dtypes, ordering ----------------------------------------------------------------
def test_columns_and_dtypes() -> None:
    sim = simulate_day(SMALL, START)
    tx, labels = sim.transactions, sim.labels
    assert list(tx.columns) == list(schema.TRANSACTION_COLUMNS)
    assert list(labels.columns) == list(schema.LABEL_COLUMNS)
    for column in STRING_COLUMNS:
        assert tx[column].dtype == object, column
        assert all(isinstance(v, str) for v in tx[column].head(50)), column
    assert str(tx[schema.EVENT_TIMESTAMP].dtype) == "datetime64[us, UTC]"
    assert tx[schema.AMOUNT].dtype == np.float64
    assert labels[schema.TRANSACTION_ID].dtype == object
    assert labels[schema.IS_FRAUD].dtype == np.int8
    assert str(labels[schema.REPORTED_AT].dtype) == "datetime64[us, UTC]"
    assert labels[schema.FRAUD_SCENARIO].dtype == object
    assert len(tx) > 1_000 and len(labels) > 0


def test_values_come_from_the_schema_vocabulary(four_weeks: SimulatedDay) -> None:
    tx, labels = four_weeks.transactions, four_weeks.labels
    assert set(tx[schema.CHANNEL]) == set(schema.CHANNELS)
    assert set(tx[schema.COUNTRY]) == set(schema.COUNTRIES)
    assert set(tx[schema.MERCHANT_CATEGORY]) == set(schema.MERCHANT_CATEGORIES)
    assert set(labels[schema.FRAUD_SCENARIO]) <= set(schema.FRAUD_SCENARIOS)


def test_transactions_sorted_and_inside_their_utc_day() -> None:
    for day in (START, START + datetime.timedelta(days=45)):
        ts = simulate_day(SMALL, day).transactions[schema.EVENT_TIMESTAMP]
        midnight = pd.Timestamp(day, tz="UTC")
        assert str(ts.dt.tz) == "UTC"
        assert ts.is_monotonic_increasing
        assert ts.min() >= midnight
        assert ts.max() < midnight + DAY
        # spread over the day rather than piled up at one instant
        assert ts.dt.hour.nunique() == 24


def test_ids_unique_across_days_and_well_formed(four_weeks: SimulatedDay) -> None:
    tx = four_weeks.transactions
    assert tx[schema.TRANSACTION_ID].is_unique
    assert tx[schema.TRANSACTION_ID].str.fullmatch(r"T\d{8}-\d{7}").all()
    assert tx[schema.CUSTOMER_ID].str.fullmatch(r"C\d{7}").all()
    assert tx[schema.MERCHANT_ID].str.fullmatch(r"M\d{6}").all()
    # the id carries the day of the event
    id_day = tx[schema.TRANSACTION_ID].str.slice(1, 9)
    assert (id_day == tx[schema.EVENT_TIMESTAMP].dt.strftime("%Y%m%d")).all()


def test_amounts_positive_and_in_cents(four_weeks: SimulatedDay) -> None:
    amount = four_weeks.transactions[schema.AMOUNT].to_numpy()
    assert (amount > 0).all()
    np.testing.assert_allclose(amount * 100, np.round(amount * 100), atol=1e-6)
    assert 20 < np.median(amount) < 60  # median customer spend ~35


# --- determinism and independence --------------------------------------------------------------
def test_same_day_twice_is_identical() -> None:
    first = simulate_day(SMALL, START)
    assert_same(first, simulate_day(SMALL, START))
    clear_caches()
    assert_same(first, simulate_day(SMALL, START))


def test_order_of_simulation_does_not_matter() -> None:
    chosen = [START + datetime.timedelta(days=d) for d in (0, 1, 9, 30, 31)]
    clear_caches()
    forward = [simulate_day(SMALL, day) for day in chosen]
    clear_caches()
    backward = {day: simulate_day(SMALL, day) for day in reversed(chosen)}
    for day, sim in zip(chosen, forward, strict=True):
        assert_same(sim, backward[day])


def test_days_and_seeds_differ(four_weeks: SimulatedDay) -> None:
    one, two = simulate_day(SMALL, START), simulate_day(SMALL, START + datetime.timedelta(days=7))
    n = min(len(one.transactions), len(two.transactions))
    for column in (schema.CUSTOMER_ID, schema.AMOUNT):
        first, second = one.transactions[column].to_numpy(), two.transactions[column].to_numpy()
        assert (first[:n] != second[:n]).mean() > 0.9, column
    other_seed = simulate_day(dataclasses.replace(SMALL, seed=SMALL.seed + 1), START)
    assert not one.transactions[schema.AMOUNT].equals(other_seed.transactions[schema.AMOUNT])


def test_population_is_a_function_of_the_seed(four_weeks: SimulatedDay) -> None:
    def merchant_profile(tx: pd.DataFrame) -> pd.DataFrame:
        return tx.groupby(schema.MERCHANT_ID)[[schema.MERCHANT_CATEGORY, schema.COUNTRY]].agg(
            lambda s: s.iloc[0]
        )

    tx = four_weeks.transactions
    # a merchant keeps its category and country
    attrs = tx.groupby(schema.MERCHANT_ID)[[schema.MERCHANT_CATEGORY, schema.COUNTRY]].nunique()
    assert (attrs == 1).all().all()
    base = merchant_profile(tx)
    busier = merchant_profile(
        simulate_day(dataclasses.replace(SMALL, transactions_per_day=6_000), START).transactions
    )
    common = base.index.intersection(busier.index)
    assert len(common) > 100
    pd.testing.assert_frame_equal(base.loc[common], busier.loc[common])
    reseeded_config = dataclasses.replace(SMALL, seed=SMALL.seed + 2)
    reseeded = merchant_profile(simulate_day(reseeded_config, START).transactions)
    common = base.index.intersection(reseeded.index)
    assert (base.loc[common] != reseeded.loc[common]).any(axis=1).mean() > 0.5


# --- behaviour ----------------------------------------------------------------------------------
def test_fraud_rate_is_sane() -> None:
    sim = simulate_days(SMALL, days(START, 14))
    rate = len(sim.labels) / len(sim.transactions)
    assert 0.004 < rate < 0.02


def test_every_scenario_occurs(four_weeks: SimulatedDay) -> None:
    counts = four_weeks.labels[schema.FRAUD_SCENARIO].value_counts()
    for scenario in schema.FRAUD_SCENARIOS:
        assert counts.get(scenario, 0) >= 10, scenario


def test_labels_are_delayed_chargebacks_of_fraudulent_transactions(
    four_weeks: SimulatedDay, four_weeks_joined: pd.DataFrame
) -> None:
    labels = four_weeks.labels
    assert labels[schema.TRANSACTION_ID].is_unique
    assert (labels[schema.IS_FRAUD] == 1).all()
    assert set(labels[schema.TRANSACTION_ID]) <= set(four_weeks.transactions[schema.TRANSACTION_ID])
    # each day's labels belong to that day's transactions
    for day in (START, START + datetime.timedelta(days=17)):
        sim = simulate_day(SMALL, day)
        day_ids = set(sim.transactions[schema.TRANSACTION_ID])
        assert set(sim.labels[schema.TRANSACTION_ID]) <= day_ids
    fraud = four_weeks_joined[four_weeks_joined[schema.IS_FRAUD] == 1]
    delay = fraud[schema.REPORTED_AT] - fraud[schema.EVENT_TIMESTAMP]
    assert (delay >= pd.Timedelta(days=1)).all()
    assert (delay <= pd.Timedelta(days=31)).all()
    assert (delay <= pd.Timedelta(days=10)).mean() > 0.7
    assert (delay > pd.Timedelta(days=10)).any()
    # only a small minority of transactions gets a chargeback; the rest count as genuine
    assert four_weeks_joined[schema.IS_FRAUD].mean() < 0.03


def test_weekday_and_time_of_day_seasonality(four_weeks: SimulatedDay) -> None:
    ts = four_weeks.transactions[schema.EVENT_TIMESTAMP]
    per_day = ts.dt.floor("D").value_counts()
    assert len(per_day) == 28
    by_weekday = per_day.groupby(per_day.index.weekday).mean()
    monday, friday, saturday, sunday = by_weekday[0], by_weekday[4], by_weekday[5], by_weekday[6]
    assert saturday > 1.15 * monday
    assert friday > 1.1 * monday
    assert saturday > 1.15 * sunday
    hours = ts.dt.hour.value_counts()
    assert hours[12] > 4 * hours[3]
    assert hours.loc[0:5].sum() / len(ts) < 0.10


def test_card_testing_bursts(four_weeks_joined: pd.DataFrame) -> None:
    testing = four_weeks_joined[
        four_weeks_joined[schema.FRAUD_SCENARIO] == "card_testing"
    ].sort_values([schema.CUSTOMER_ID, schema.EVENT_TIMESTAMP])
    assert (testing[schema.CHANNEL] == "online").all()
    new_burst = (testing[schema.CUSTOMER_ID] != testing[schema.CUSTOMER_ID].shift()) | (
        testing[schema.EVENT_TIMESTAMP].diff() > pd.Timedelta(hours=1)
    )
    bursts = list(testing.groupby(new_burst.cumsum()))
    assert len(bursts) >= 5
    followed = 0
    for _, burst in bursts:
        small = burst[burst[schema.AMOUNT] < 2.0]
        large = burst[burst[schema.AMOUNT] >= 2.0]
        assert len(small) >= 3
        assert small[schema.EVENT_TIMESTAMP].max() - small[
            schema.EVENT_TIMESTAMP
        ].min() < pd.Timedelta(minutes=20)
        assert len(large) <= 1
        if len(large):
            followed += 1
            gap = large[schema.EVENT_TIMESTAMP].iloc[0] - small[schema.EVENT_TIMESTAMP].max()
            assert pd.Timedelta(0) < gap <= pd.Timedelta(minutes=30)
    assert followed >= len(bursts) / 2


def test_large_amounts_are_mostly_fraud(four_weeks_joined: pd.DataFrame) -> None:
    df = four_weeks_joined
    large = df[df[schema.FRAUD_SCENARIO] == "large_amount"]
    assert (large[schema.AMOUNT] > 1500).all()
    big = df[df[schema.AMOUNT] > 1500]
    assert big[schema.IS_FRAUD].mean() > 0.6


def test_compromised_terminals_defraud_card_present_over_many_days(
    four_weeks_joined: pd.DataFrame,
) -> None:
    df = four_weeks_joined
    ct = df[df[schema.FRAUD_SCENARIO] == "compromised_terminal"]
    assert (ct[schema.CHANNEL] == "card_present").all()
    days_per_merchant = ct.groupby(schema.MERCHANT_ID)[schema.EVENT_TIMESTAMP].agg(
        lambda s: s.dt.floor("D").nunique()
    )
    assert days_per_merchant.max() >= 5  # episodes last weeks
    assert len(days_per_merchant) < 0.15 * SMALL.n_merchants  # concentrated on a few terminals
    # at a compromised terminal, a real share of the traffic is fraudulent
    at_terminals = df[df[schema.MERCHANT_ID].isin(days_per_merchant.index)]
    assert at_terminals[schema.IS_FRAUD].mean() > 0.02


def test_account_takeovers_spend_more_often_online_and_abroad(
    four_weeks_joined: pd.DataFrame,
) -> None:
    df = four_weeks_joined
    genuine = df[df[schema.IS_FRAUD] == 0]
    ato = df[df[schema.FRAUD_SCENARIO] == "account_takeover"]
    assert len(ato) >= 20
    usual = genuine.groupby(schema.CUSTOMER_ID)[schema.AMOUNT].median()
    ratio = ato[schema.AMOUNT] / ato[schema.CUSTOMER_ID].map(usual)
    assert ratio.median() > 3
    online = (ato[schema.CHANNEL] == "online").mean()
    assert online > (genuine[schema.CHANNEL] == "online").mean() + 0.3
    home = genuine.groupby(schema.CUSTOMER_ID)[schema.COUNTRY].agg(lambda s: s.mode().iloc[0])
    abroad = (ato[schema.COUNTRY] != ato[schema.CUSTOMER_ID].map(home)).mean()
    assert abroad > 0.4


# --- drift knobs ------------------------------------------------------------------------------
def test_drift_knobs_are_off_by_default() -> None:
    explicit = with_drift(
        holiday_shift_start=None, new_partner_start=None, fraud_strategy_change_start=None
    )
    assert_same(simulate_day(SMALL, START), simulate_day(explicit, START))


def test_holiday_shift_raises_amounts_from_its_start(four_weeks: SimulatedDay) -> None:
    switch = START + datetime.timedelta(days=7)
    config = with_drift(holiday_shift_start=switch)
    for day in days(START + datetime.timedelta(days=5), 2):
        assert_same(simulate_day(config, day), simulate_day(SMALL, day))
    after = simulate_days(config, days(switch, 7)).transactions
    base = four_weeks.transactions
    base = base[base[schema.EVENT_TIMESTAMP] >= pd.Timestamp(switch, tz="UTC")]
    base = base[base[schema.EVENT_TIMESTAMP] < pd.Timestamp(switch, tz="UTC") + 7 * DAY]
    assert after[schema.AMOUNT].mean() > 1.3 * base[schema.AMOUNT].mean()
    assert after[schema.AMOUNT].median() > 1.3 * base[schema.AMOUNT].median()
    festive = ("retail", "electronics", "travel")
    assert set(festive) <= set(schema.MERCHANT_CATEGORIES)
    share_after = after[schema.MERCHANT_CATEGORY].isin(festive).mean()
    share_before = base[schema.MERCHANT_CATEGORY].isin(festive).mean()
    assert share_after > 1.3 * share_before
    # the knob's factor is honoured
    stronger = with_drift(holiday_shift_start=switch, holiday_amount_factor=3.0)
    assert (
        simulate_day(stronger, switch).transactions[schema.AMOUNT].mean()
        > 1.5 * simulate_day(config, switch).transactions[schema.AMOUNT].mean()
    )


def test_partner_mcc_codes() -> None:
    expected = {
        "grocery": "5411",
        "restaurant": "5812",
        "fuel": "5541",
        "retail": "5311",
        "electronics": "5732",
        "travel": "4722",
        "entertainment": "7832",
        "health": "8062",
        "digital_goods": "5818",
        "services": "7299",
    }
    assert PARTNER_MCC_CODES == expected
    assert {v: k for k, v in expected.items()} == MCC_TO_CATEGORY


def test_new_partner_sends_mcc_codes_from_its_start() -> None:
    switch = START + datetime.timedelta(days=3)
    config = with_drift(new_partner_start=switch)
    before = switch - datetime.timedelta(days=1)
    assert_same(simulate_day(config, before), simulate_day(SMALL, before))
    for day in (switch, switch + datetime.timedelta(days=10)):
        sim, base = simulate_day(config, day), simulate_day(SMALL, day)
        category = sim.transactions[schema.MERCHANT_CATEGORY]
        is_mcc = category.isin(set(PARTNER_MCC_CODES.values()))
        assert category[is_mcc].str.fullmatch(r"\d{4}").all()
        assert is_mcc.sum() > 0 and not is_mcc.all()
        assert 0.25 < is_mcc.mean() < 0.35
        # only the encoding changes: mapping the codes back gives the baseline data
        decoded = category.map(lambda c: MCC_TO_CATEGORY.get(c, c))
        pd.testing.assert_series_equal(decoded, base.transactions[schema.MERCHANT_CATEGORY])
        other = [c for c in schema.TRANSACTION_COLUMNS if c != schema.MERCHANT_CATEGORY]
        pd.testing.assert_frame_equal(sim.transactions[other], base.transactions[other])
        pd.testing.assert_frame_equal(sim.labels, base.labels)
    half = with_drift(new_partner_start=switch, new_partner_share=0.6)
    share = simulate_day(half, switch).transactions[schema.MERCHANT_CATEGORY].isin(MCC_TO_CATEGORY)
    assert 0.55 < share.mean() < 0.65


def burst_share(takeovers: pd.DataFrame) -> float:
    """Share of takeover purchases within 10 minutes of the same card's previous one."""
    ordered = takeovers.sort_values([schema.CUSTOMER_ID, schema.EVENT_TIMESTAMP])
    gap = ordered.groupby(schema.CUSTOMER_ID)[schema.EVENT_TIMESTAMP].diff()
    return float((gap < pd.Timedelta(minutes=10)).mean())


def test_fraud_strategy_change_hides_fraud_in_normal_behaviour() -> None:
    switch = START + datetime.timedelta(days=14)
    config = with_drift(fraud_strategy_change_start=switch)
    for day in (START, switch - datetime.timedelta(days=1)):
        assert_same(simulate_day(config, day), simulate_day(SMALL, day))
    # compare a fortnight after every pre-change episode has ended, on a larger world so that
    # the few compromised terminals of the small one do not dominate the comparison
    medium = dataclasses.replace(SMALL, n_customers=10_000, n_merchants=1_000)
    medium = dataclasses.replace(medium, transactions_per_day=5_000)
    changed_medium = dataclasses.replace(config, n_customers=10_000, n_merchants=1_000)
    changed_medium = dataclasses.replace(changed_medium, transactions_per_day=5_000)
    window = days(switch + datetime.timedelta(days=40), 14)
    base = joined(simulate_days(medium, window))
    changed = joined(simulate_days(changed_medium, window))

    def profile(df: pd.DataFrame) -> dict[str, float]:
        fraud = df[df[schema.IS_FRAUD] == 1]
        genuine = df[df[schema.IS_FRAUD] == 0]
        home = genuine.groupby(schema.CUSTOMER_ID)[schema.COUNTRY].agg(lambda s: s.mode().iloc[0])
        at_terminal = fraud[schema.FRAUD_SCENARIO] == "compromised_terminal"
        return {
            "rate": len(fraud) / len(df),
            "loud": fraud[schema.FRAUD_SCENARIO].isin(["card_testing", "large_amount"]).mean(),
            "huge": (fraud[schema.AMOUNT] > 1500).mean(),
            "tiny": (fraud[schema.AMOUNT] < 2).mean(),
            # (card-present fraud at compromised terminals is at home anyway)
            "home": (fraud[schema.COUNTRY] == fraud[schema.CUSTOMER_ID].map(home))[
                ~at_terminal
            ].mean(),
            "terminals": fraud.loc[at_terminal, schema.MERCHANT_ID].nunique(),
            "ks": ks_distance(fraud[schema.AMOUNT], genuine[schema.AMOUNT]),
            "burst": burst_share(fraud[fraud[schema.FRAUD_SCENARIO] == "account_takeover"]),
            "median": df[schema.AMOUNT].median(),
            "p90": df[schema.AMOUNT].quantile(0.9),
        }

    b, c = profile(base), profile(changed)
    assert 0.004 < c["rate"] < 0.02
    assert 0.5 < c["rate"] / b["rate"] < 2.0
    assert c["loud"] < 0.5 * b["loud"]
    assert c["huge"] < 0.5 * b["huge"]
    assert c["tiny"] < 0.5 * b["tiny"]
    assert c["home"] > b["home"] + 0.2
    assert c["terminals"] > 1.2 * b["terminals"]  # spread over more merchants
    assert c["ks"] < 0.6 * b["ks"]  # fraud amounts now look like genuine ones
    assert c["burst"] > 0.5 > 0.2 > b["burst"]  # ... but taken-over cards spend in quick bursts
    # ... while the input distribution hardly moves
    assert abs(c["median"] / b["median"] - 1) < 0.03
    assert abs(c["p90"] / b["p90"] - 1) < 0.05
    assert abs(len(changed) / len(base) - 1) < 0.01


# --- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change",
    [
        {"n_merchants": 5},
        {"n_customers": 0},
        {"transactions_per_day": -1},
        {"weekday_factors": (1.0,) * 6},
        {"compromised_fraud_share": 1.5},
    ],
)
def test_invalid_config_is_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(SMALL, **change)


def test_empty_day_has_the_schema() -> None:
    config = dataclasses.replace(
        SMALL,
        transactions_per_day=0,
        terminal_compromise_rate=0.0,
        account_takeover_rate=0.0,
        card_testing_rate=0.0,
        large_amount_rate=0.0,
    )
    sim = simulate_day(config, START)
    assert sim.transactions.empty and sim.labels.empty
    assert list(sim.transactions.columns) == list(schema.TRANSACTION_COLUMNS)
    assert str(sim.transactions[schema.EVENT_TIMESTAMP].dtype) == "datetime64[us, UTC]"
    assert sim.labels[schema.IS_FRAUD].dtype == np.int8


def test_minimal_column_world_is_the_same_world_without_the_optional_columns() -> None:
    days = [START + datetime.timedelta(days=i) for i in range(3)]
    rich = simulate_days(SMALL, days)
    minimal = simulate_days(dataclasses.replace(SMALL, minimal_columns=True), days)
    assert list(minimal.transactions.columns) == list(schema.REQUIRED_TRANSACTION_COLUMNS)
    assert list(minimal.labels.columns) == [schema.TRANSACTION_ID, schema.IS_FRAUD, schema.REPORTED_AT]
    pd.testing.assert_frame_equal(minimal.transactions, rich.transactions[list(schema.REQUIRED_TRANSACTION_COLUMNS)])
    pd.testing.assert_frame_equal(minimal.labels, rich.labels[list(minimal.labels.columns)])
