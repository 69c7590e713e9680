"""The four fraud scenarios of ``schema.FRAUD_SCENARIOS`` and their multi-day episode schedules.

Episodes (compromised terminals, account takeovers) are pure functions of ``(config, start
day)`` with their own RNG stream, so a day can look back over the start days whose episodes
may still be active without simulating them: ``simulate_day`` stays a pure function of
``(config, day)``. The fraud strategy change switches each scenario to its new behaviour from
its start date.
"""

from __future__ import annotations

import functools

import numpy as np

from fraudshield_pipeline.domain.simulate.config import SimulationConfig
from fraudshield_pipeline.domain.simulate.population import (
    _categorical,
    _draw_merchants,
    _population,
    _Population,
    _readonly,
)
from fraudshield_pipeline.domain.simulate.purchases import _cents, _purchases, _Rows, _time_of_day
from fraudshield_pipeline.domain.simulate.tables import (
    _ATO,
    _BURST_GAP_MEAN_S,
    _CASHOUT_MEDIAN,
    _CHANGED_LOUD_FACTOR,
    _CHANGED_TAKEOVER_DAYS,
    _CHANGED_TAKEOVER_FACTOR,
    _CHANGED_TAKEOVER_TX_FACTOR,
    _CHANGED_TERMINAL_FACTOR,
    _CP,
    _CT,
    _FRAUD_HOURLY_CUM,
    _HOURLY_CUM,
    _LARGE,
    _LARGE_AMOUNT_RANGE,
    _ONLINE,
    _P_ABROAD_CARD_PRESENT,
    _P_CASHOUT,
    _P_FOREIGN_ONLINE,
    _P_TAKEOVER_ABROAD,
    _P_TAKEOVER_ONLINE,
    _STREAM_COMPROMISE,
    _STREAM_COMPROMISE_DAY,
    _STREAM_LARGE_DAY,
    _STREAM_TAKEOVER,
    _STREAM_TAKEOVER_DAY,
    _STREAM_TESTING_DAY,
    _TAKEOVER_SPIKE,
    _TEST_GAP_MEAN_S,
    _TESTING,
    _TESTING_AMOUNT_CENTS,
    _TESTS_PER_BURST,
    _US_PER_DAY,
    _US_PER_MINUTE,
)


def _strategy_changed(config: SimulationConfig, ordinal: int) -> bool:
    start = config.drift.fraud_strategy_change_start
    return start is not None and ordinal >= start.toordinal()


def _duration_bounds(days: int) -> tuple[int, int]:
    spread = days // 4
    return max(1, days - spread), days + spread


@functools.lru_cache(maxsize=16_384)
def _compromise_episodes(
    config: SimulationConfig, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Terminals compromised on day ``start``: (merchant, last affected day ordinal, share)."""
    rng = np.random.default_rng([config.seed, start, _STREAM_COMPROMISE])
    pop = _population(config.seed, config.n_customers, config.n_merchants)
    factor = _CHANGED_TERMINAL_FACTOR if _strategy_changed(config, start) else 1.0
    k = rng.poisson(config.terminal_compromise_rate * config.n_merchants * factor)
    candidates = pop.card_present_merchants
    merchant = candidates[rng.integers(0, len(candidates), k)]
    lo, hi = _duration_bounds(config.compromise_days)
    last_day = start + rng.integers(lo, hi + 1, k)
    share = np.minimum(rng.uniform(0.5, 1.5, k) * config.compromised_fraud_share / factor, 1.0)
    _readonly(merchant, last_day, share)
    return merchant, last_day, share


@functools.lru_cache(maxsize=16_384)
def _takeover_episodes(
    config: SimulationConfig, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Accounts taken over on day ``start``: (customer, end ordinal (excl.), rate, stealthy)."""
    rng = np.random.default_rng([config.seed, start, _STREAM_TAKEOVER])
    stealthy = _strategy_changed(config, start)
    factor = _CHANGED_TAKEOVER_FACTOR if stealthy else 1.0
    k = rng.poisson(config.account_takeover_rate * config.transactions_per_day * factor)
    customer = rng.integers(0, config.n_customers, k)
    lo, hi = (1, _CHANGED_TAKEOVER_DAYS) if stealthy else _duration_bounds(config.account_takeover_days)
    end = start + rng.integers(lo, hi + 1, k)
    tx_factor = _CHANGED_TAKEOVER_TX_FACTOR if stealthy else 1.0
    rate = config.account_takeover_tx_per_day * tx_factor * rng.uniform(0.5, 1.5, k)
    _readonly(customer, end, rate)
    return customer, end, rate, stealthy


def _mark_compromised(config: SimulationConfig, genuine: _Rows, ordinal: int) -> None:
    """Turn a share of the transactions at currently compromised terminals into fraud."""
    share = np.zeros(config.n_merchants)
    _, hi = _duration_bounds(config.compromise_days)
    for start in range(ordinal - hi, ordinal):
        merchant, last_day, episode_share = _compromise_episodes(config, start)
        active = last_day >= ordinal
        np.maximum.at(share, merchant[active], episode_share[active])
    rng = np.random.default_rng([config.seed, ordinal, _STREAM_COMPROMISE_DAY])
    card_present = genuine.channel == _CP  # skimmed at the physical terminal
    hit = (rng.random(len(genuine.merchant)) < share[genuine.merchant]) & card_present
    genuine.scenario[hit] = _CT


def _takeovers(
    config: SimulationConfig, pop: _Population, ordinal: int, holiday: bool
) -> _Rows:
    """Extra transactions by fraudsters on taken-over accounts."""
    customers, rates, stealth = [], [], []
    hi = max(_duration_bounds(config.account_takeover_days)[1], _CHANGED_TAKEOVER_DAYS)
    for start in range(ordinal - hi + 1, ordinal + 1):
        customer, end, rate, episode_stealthy = _takeover_episodes(config, start)
        active = end > ordinal
        customers.append(customer[active])
        rates.append(rate[active])
        stealth.append(np.full(int(active.sum()), episode_stealthy))
    rng = np.random.default_rng([config.seed, ordinal, _STREAM_TAKEOVER_DAY])
    counts = rng.poisson(np.concatenate(rates))
    customer = np.repeat(np.concatenate(customers), counts)
    stealthy = np.repeat(np.concatenate(stealth), counts)
    n = len(customer)
    # Loud fraudsters: spending spikes, mostly online and abroad, at any hour.
    channel, merchant, amount = _purchases(
        pop,
        rng,
        customer,
        pop.takeover_mix,
        _P_TAKEOVER_ONLINE,
        _P_TAKEOVER_ABROAD,
        _P_TAKEOVER_ABROAD,
    )
    amount = amount * rng.uniform(*_TAKEOVER_SPIKE, n)
    time = _time_of_day(rng, n, _FRAUD_HOURLY_CUM)
    # Stealthy fraudsters (after the strategy change) copy the card holder's habits.
    s_channel, s_merchant, s_amount = _purchases(
        pop,
        rng,
        customer,
        pop.holiday_mix if holiday else pop.genuine_mix,
        pop.online_propensity[customer],
        _P_ABROAD_CARD_PRESENT,
        _P_FOREIGN_ONLINE,
    )
    s_time = _time_of_day(rng, n, _HOURLY_CUM)
    # ... but spend fast: a card's stealthy purchases of the day come in one burst, minutes
    # apart (drawn last, so the days before the change keep their exact output).
    s_time = np.where(stealthy, _bursts(rng, counts), s_time)
    channel = np.where(stealthy, s_channel, channel)
    merchant = np.where(stealthy, s_merchant, merchant)
    amount = np.where(stealthy, s_amount, amount)
    time = np.where(stealthy, s_time, time)
    if holiday:
        amount = amount * config.drift.holiday_amount_factor
    return _Rows(customer, merchant, time, _cents(amount), channel, np.full(n, _ATO))


def _bursts(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Times of day of ``counts[i]`` events of card ``i``, in one burst starting at a usual hour."""
    start = _time_of_day(rng, len(counts), _HOURLY_CUM)
    gaps = rng.exponential(_BURST_GAP_MEAN_S * 1e6, int(counts.sum())).astype(np.int64) + 30_000_000
    elapsed = np.cumsum(gaps)
    before = np.concatenate([[0], elapsed])[np.cumsum(counts) - counts]  # elapsed before each burst
    return np.minimum(np.repeat(start, counts) + elapsed - np.repeat(before, counts), _US_PER_DAY - 1)


def _card_testing(config: SimulationConfig, pop: _Population, ordinal: int) -> _Rows:
    """Bursts of tiny online payments on one card, usually followed by a larger purchase."""
    rng = np.random.default_rng([config.seed, ordinal, _STREAM_TESTING_DAY])
    factor = _CHANGED_LOUD_FACTOR if _strategy_changed(config, ordinal) else 1.0
    n_bursts = int(rng.poisson(config.card_testing_rate * config.transactions_per_day * factor))
    card = rng.integers(0, config.n_customers, n_bursts)
    n_tests = rng.integers(_TESTS_PER_BURST[0], _TESTS_PER_BURST[1] + 1, n_bursts)
    cashout = rng.random(n_bursts) < _P_CASHOUT
    online = np.full(n_bursts, _ONLINE)
    # one (weakly protected) web shop per burst, anywhere
    shop_country = _categorical(pop.country_cum, rng.random(n_bursts))
    shop_category = _categorical(pop.testing_mix[online], rng.random(n_bursts))
    shop = _draw_merchants(pop, online, shop_category, shop_country, rng.random(n_bursts))
    cashout_category = _categorical(pop.cashout_mix[online], rng.random(n_bursts))
    cashout_country = np.where(
        rng.random(n_bursts) < 0.5,
        pop.home[card],
        _categorical(pop.country_cum, rng.random(n_bursts)),
    )
    cashout_shop = _draw_merchants(
        pop, online, cashout_category, cashout_country, rng.random(n_bursts)
    )
    cashout_amount = rng.lognormal(np.log(_CASHOUT_MEDIAN), 0.5, n_bursts)

    # tests: offsets from the burst start, seconds apart
    burst = np.repeat(np.arange(n_bursts), n_tests)
    gaps = rng.exponential(_TEST_GAP_MEAN_S * 1e6, len(burst)).astype(np.int64) + 1_000_000
    first = np.cumsum(n_tests) - n_tests
    offsets = np.cumsum(gaps)
    offsets -= np.repeat(offsets[first], n_tests)
    last_test = np.zeros(n_bursts, dtype=np.int64)
    np.maximum.at(last_test, burst, offsets)
    cashout_offset = last_test + rng.integers(2 * _US_PER_MINUTE, 30 * _US_PER_MINUTE, n_bursts)
    span = np.where(cashout, cashout_offset, last_test)
    start = _time_of_day(rng, n_bursts, _FRAUD_HOURLY_CUM)
    start = np.clip(start, 0, np.maximum(_US_PER_DAY - 1 - span, 0))
    test_amount = rng.integers(*_TESTING_AMOUNT_CENTS, len(burst)) / 100.0

    customer = np.concatenate([card[burst], card[cashout]])
    return _Rows(
        customer=customer,
        merchant=np.concatenate([shop[burst], cashout_shop[cashout]]),
        time=np.minimum(
            np.concatenate([start[burst] + offsets, start[cashout] + cashout_offset[cashout]]),
            _US_PER_DAY - 1,
        ),
        amount=_cents(np.concatenate([test_amount, cashout_amount[cashout]])),
        channel=np.full(len(customer), _ONLINE),
        scenario=np.full(len(customer), _TESTING),
    )


def _large_amounts(config: SimulationConfig, pop: _Population, ordinal: int) -> _Rows:
    """Single very large purchases with a stolen card."""
    rng = np.random.default_rng([config.seed, ordinal, _STREAM_LARGE_DAY])
    factor = _CHANGED_LOUD_FACTOR if _strategy_changed(config, ordinal) else 1.0
    n = int(rng.poisson(config.large_amount_rate * config.transactions_per_day * factor))
    customer = rng.integers(0, config.n_customers, n)
    channel = (rng.random(n) < 0.6).astype(np.int64)
    country = np.where(
        rng.random(n) < 0.6, pop.home[customer], _categorical(pop.country_cum, rng.random(n))
    )
    category = _categorical(pop.large_mix[channel], rng.random(n))
    merchant = _draw_merchants(pop, channel, category, country, rng.random(n))
    lo, hi = np.log(_LARGE_AMOUNT_RANGE)
    amount = np.exp(rng.uniform(lo, hi, n))
    time = _time_of_day(rng, n, _FRAUD_HOURLY_CUM)
    return _Rows(customer, merchant, time, _cents(amount), channel, np.full(n, _LARGE))

