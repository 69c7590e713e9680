"""A seeded, vectorised simulator of card transactions and their (delayed) chargeback labels.

Inspired by the transaction simulator of the *Reproducible Machine Learning for Credit Card
Fraud Detection* handbook (Le Borgne et al.), but richer and vectorised with numpy:

* a fixed population of customers (cards) and merchants (terminals) that is a pure function of
  the seed: home country, a lognormal spending profile, a heavily skewed (Pareto) activity
  rate and an online-shopping propensity per customer; a category, a country, a channel mix
  (card present only, online only, or both) and a popularity per merchant;
* a weekly profile of the daily volume and a diurnal profile of the time of day;
* four fraud scenarios (``schema.FRAUD_SCENARIOS``): compromised terminals, account takeovers,
  card testing bursts and very large amounts;
* a label feed: one chargeback row per fraudulent transaction that becomes known days later;
* drift knobs (holiday spending, a new payment partner sending MCC codes, a change of fraud
  strategy), each effective from its own start date.

``simulate_day(config, day)`` is a pure function of ``(config, day)``: the output does not
depend on which other days were simulated, or in which order. Multi-day fraud episodes are
drawn from RNGs seeded by ``(seed, start day ordinal, scenario)`` and each day looks back
over the start days whose episodes may still be active. Every random component of a day has
its own RNG stream, so a drift knob changes only what it is meant to change.

This module deliberately depends only on numpy and pandas.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain.schema import (
    AMOUNT,
    CHANNEL,
    CHANNELS,
    COUNTRIES,
    COUNTRY,
    CUSTOMER_ID,
    EVENT_TIMESTAMP,
    FRAUD_SCENARIO,
    FRAUD_SCENARIOS,
    IS_FRAUD,
    LABEL_COLUMNS,
    MERCHANT_CATEGORIES,
    MERCHANT_CATEGORY,
    MERCHANT_ID,
    REPORTED_AT,
    REQUIRED_TRANSACTION_COLUMNS,
    TRANSACTION_COLUMNS,
    TRANSACTION_ID,
)

__all__ = [
    "DriftKnobs",
    "MCC_TO_CATEGORY",
    "PARTNER_MCC_CODES",
    "SimulatedDay",
    "SimulationConfig",
    "clear_caches",
    "simulate_day",
    "simulate_days",
]

# ---------------------------------------------------------------------------------------------
# Vocabulary (indices into the schema's tuples; all strings come from schema.py)
# ---------------------------------------------------------------------------------------------
_N_CAT = len(MERCHANT_CATEGORIES)
_N_CTY = len(COUNTRIES)
_CP, _ONLINE = 0, 1  # indices into CHANNELS ("card_present", "online")
_CT, _ATO, _TESTING, _LARGE = 0, 1, 2, 3  # indices into FRAUD_SCENARIOS

_CATEGORY_NAMES = np.array(MERCHANT_CATEGORIES, dtype=object)
_CHANNEL_NAMES = np.array(CHANNELS, dtype=object)
_COUNTRY_NAMES = np.array(COUNTRIES, dtype=object)
_SCENARIO_NAMES = np.array(FRAUD_SCENARIOS, dtype=object)

# Per-category parameter tables, aligned with schema.MERCHANT_CATEGORIES:
#   grocery, restaurant, fuel, retail, electronics, travel, entertainment, health,
#   digital_goods, services
_MCC = ("5411", "5812", "5541", "5311", "5732", "4722", "7832", "8062", "5818", "7299")
# Merchant category codes the "new payment partner" sends instead of the category names.
PARTNER_MCC_CODES: dict[str, str] = dict(zip(MERCHANT_CATEGORIES, _MCC, strict=True))
MCC_TO_CATEGORY: dict[str, str] = {mcc: name for name, mcc in PARTNER_MCC_CODES.items()}
_MCC_NAMES = np.array(_MCC, dtype=object)


def _per_category(*values: float) -> np.ndarray:
    if len(values) != _N_CAT:  # pragma: no cover - guards a schema change
        raise ValueError(f"expected {_N_CAT} per-category values, got {len(values)}")
    return np.asarray(values, dtype=float)


# Typical amount of a purchase in the category, relative to the customer's own median.
_CATEGORY_AMOUNT_SCALE = _per_category(0.7, 0.9, 0.9, 1.4, 3.5, 5.0, 1.0, 1.0, 0.4, 1.5)
# Share of merchants per category, and each category's channel mix.
_MERCHANT_CATEGORY_WEIGHTS = _per_category(18, 20, 7, 18, 6, 5, 7, 6, 5, 8)
_P_ONLINE_ONLY = _per_category(0.02, 0.02, 0.0, 0.25, 0.35, 0.50, 0.30, 0.05, 1.0, 0.20)
_P_BOTH_CHANNELS = _per_category(0.10, 0.08, 0.0, 0.30, 0.30, 0.25, 0.20, 0.10, 0.0, 0.20)
# Category mix of genuine purchases, per channel.
_GENUINE_MIX = np.stack(
    [
        _per_category(30, 20, 13, 14, 3, 2, 6, 6, 0, 6),  # card present
        _per_category(6, 6, 0, 25, 12, 10, 10, 3, 18, 10),  # online
    ]
)
# Holiday season: people buy more retail, electronics and travel.
_HOLIDAY_CATEGORY_BOOST = _per_category(1, 1, 1, 2.2, 2.5, 2.0, 1, 1, 1, 1)
# Category mixes of the fraud scenarios (channel independent).
_TAKEOVER_MIX = _per_category(0, 0, 0, 20, 30, 15, 5, 0, 20, 10)
_LARGE_MIX = _per_category(0, 0, 0, 15, 40, 30, 0, 0, 0, 15)
_TESTING_MIX = _per_category(0, 0, 0, 0, 0, 0, 25, 0, 50, 25)
_CASHOUT_MIX = _per_category(0, 0, 0, 25, 45, 10, 0, 0, 20, 0)

# Aligned with schema.COUNTRIES: NL, DE, FR, BE, ES, IT, GB, US, PL, SE.
_COUNTRY_WEIGHTS = np.array([30, 15, 12, 8, 8, 8, 7, 5, 4, 3], dtype=float)
_ONLINE_MERCHANT_COUNTRY_BOOST = np.array([1, 1, 1, 1, 1, 1, 2.5, 5, 1, 1], dtype=float)
if len(_COUNTRY_WEIGHTS) != _N_CTY:  # pragma: no cover - guards a schema change
    raise ValueError("country tables are out of line with schema.COUNTRIES")

# Diurnal profile (UTC hour of day, relative weights): quiet nights, lunch and evening peaks.
_HOURLY = np.array(
    [0.8, 0.5, 0.3, 0.25, 0.3, 0.6, 1.5, 3.0, 4.5, 5.0, 5.5, 6.5,
     7.5, 6.5, 5.5, 5.5, 6.0, 7.0, 7.5, 6.5, 5.0, 4.0, 2.8, 1.6]
)  # fmt: skip
_HOURLY_CUM = np.cumsum(_HOURLY / _HOURLY.sum())
# Fraudsters care less about office hours: half flat, half diurnal.
_FRAUD_HOURLY = 0.5 / 24 + 0.5 * _HOURLY / _HOURLY.sum()
_FRAUD_HOURLY_CUM = np.cumsum(_FRAUD_HOURLY)
_HOURLY_CUM[-1] = _FRAUD_HOURLY_CUM[-1] = 1.0

_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR
_US_PER_MINUTE = 60_000_000
_EPOCH = datetime.date(1970, 1, 1)

# Behavioural constants.
_MEDIAN_AMOUNT = 35.0  # median of the customers' median amounts
_CUSTOMER_AMOUNT_SIGMA = 0.6  # spread of the customers' medians (lognormal)
_PURCHASE_AMOUNT_SIGMA = 0.6  # spread of a customer's purchases around their median
_ACTIVITY_PARETO_SHAPE = 1.6
_ACTIVITY_CAP = 40.0  # the busiest card is at most 40x as active as the quietest
_P_ABROAD_CARD_PRESENT = 0.04  # card present purchases made while travelling
_P_FOREIGN_ONLINE = 0.30  # online purchases at a foreign web shop
_LARGE_AMOUNT_RANGE = (1_550.0, 9_000.0)  # log-uniform
_TESTING_AMOUNT_CENTS = (50, 200)  # card tests cost 0.50 .. 1.99
_TESTS_PER_BURST = (3, 8)
_TEST_GAP_MEAN_S = 45.0
_P_CASHOUT = 0.8  # share of card testing bursts followed by a larger purchase
_CASHOUT_MEDIAN = 300.0
_TAKEOVER_SPIKE = (2.5, 6.0)  # amount multiplier while an account is taken over
_P_TAKEOVER_ONLINE = 0.75
_P_TAKEOVER_ABROAD = 0.6
# After the fraud strategy change: fewer loud scenarios; quieter compromised terminals; and many
# more, short account takeovers whose purchases copy the card holder's habits (amount, category,
# channel, country) but come in one quick burst a day: invisible to a model that learnt the old
# patterns, learnable from velocity features by one retrained on the new labels.
_CHANGED_TERMINAL_FACTOR = 2.0  # 2x as many compromised terminals, each 2x as quiet
_CHANGED_TAKEOVER_FACTOR = 5.0  # 5x as many account takeovers ...
_CHANGED_TAKEOVER_DAYS = 3  # ... each drained within 1-3 days ...
_CHANGED_TAKEOVER_TX_FACTOR = 2.7  # ... in one burst of about 4 purchases a day ...
_BURST_GAP_MEAN_S = 90.0  # ... a minute or two apart
_CHANGED_LOUD_FACTOR = 0.2

# RNG streams: [seed, day ordinal (0 for the population), stream].
_STREAM_POPULATION = 0
_STREAM_COMPROMISE = 1
_STREAM_TAKEOVER = 2
_STREAM_GENUINE = 10
_STREAM_COMPROMISE_DAY = 11
_STREAM_TAKEOVER_DAY = 12
_STREAM_TESTING_DAY = 13
_STREAM_LARGE_DAY = 14
_STREAM_LABELS_DAY = 15
_STREAM_PARTNER_DAY = 16


# ---------------------------------------------------------------------------------------------
# Configuration and result
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DriftKnobs:
    """Distribution shifts, each switched on from its start date (inclusive). All off by default."""

    holiday_shift_start: datetime.date | None = None
    holiday_amount_factor: float = 1.5
    new_partner_start: datetime.date | None = None
    new_partner_share: float = 0.3
    fraud_strategy_change_start: datetime.date | None = None

    def __post_init__(self) -> None:
        if not self.holiday_amount_factor > 0:
            raise ValueError("holiday_amount_factor must be > 0")
        if not 0.0 <= self.new_partner_share <= 1.0:
            raise ValueError("new_partner_share must be within [0, 1]")


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that determines the simulated world. Frozen and hashable (used as cache key)."""

    seed: int = 7
    n_customers: int = 20_000
    n_merchants: int = 2_000
    transactions_per_day: int = 10_000  # average; weekday seasonality varies it
    drift: DriftKnobs = DriftKnobs()
    # Relative daily volume Monday..Sunday (mean 1): busy Friday/Saturday, quiet Sunday/Monday.
    weekday_factors: tuple[float, ...] = (0.90, 0.93, 0.95, 0.98, 1.12, 1.22, 0.90)
    # compromised_terminal: new compromised terminals per merchant per day, how long a
    # compromise lasts (days after the start day, +-25%) and the mean share of the terminal's
    # transactions in that window that are fraudulent.
    terminal_compromise_rate: float = 0.0005
    compromise_days: int = 28
    compromised_fraud_share: float = 0.3
    # account_takeover: new takeovers per day per average daily transaction, duration in days
    # (+-25%) and mean number of fraudulent transactions per taken-over card per day.
    account_takeover_rate: float = 0.00012
    account_takeover_days: int = 14
    account_takeover_tx_per_day: float = 1.5
    # card_testing bursts and large_amount frauds per day per average daily transaction.
    card_testing_rate: float = 0.0003
    large_amount_rate: float = 0.0012
    # When each fraud is reported, in days after the transaction: "mixed" (85 % uniform in 1-10
    # days, the rest 10-30), "lognormal:MEDIAN:SIGMA" (realistic: most within a few days, a long
    # tail; capped at 120 days) or "fixed:DAYS" (every fraud exactly DAYS later).
    label_delay: str = "mixed"
    # A minimal-column source, like many real feeds: transactions carry only the required columns
    # (ids, time, amount) and labels only (id, is_fraud, reported_at). The world itself is unchanged:
    # the same seed gives the same rows, less the optional columns.
    minimal_columns: bool = False

    def __post_init__(self) -> None:
        _label_delay_days(self.label_delay, np.random.default_rng(0), 1)  # raises on a bad spec
        if self.n_customers < 1:
            raise ValueError("n_customers must be >= 1")
        if self.n_merchants < _N_CAT:
            raise ValueError(f"n_merchants must be >= {_N_CAT} (one per category)")
        if self.transactions_per_day < 0:
            raise ValueError("transactions_per_day must be >= 0")
        if len(self.weekday_factors) != 7 or min(self.weekday_factors) < 0:
            raise ValueError("weekday_factors needs 7 non-negative values (Monday..Sunday)")
        if self.compromise_days < 1 or self.account_takeover_days < 1:
            raise ValueError("episode durations must be >= 1 day")
        rates = (
            self.terminal_compromise_rate,
            self.compromised_fraud_share,
            self.account_takeover_rate,
            self.account_takeover_tx_per_day,
            self.card_testing_rate,
            self.large_amount_rate,
        )
        if min(rates) < 0 or self.compromised_fraud_share > 1:
            raise ValueError("fraud rates must be >= 0 (and the compromised share <= 1)")


@dataclass(frozen=True)
class SimulatedDay:
    transactions: pd.DataFrame  # columns: schema.TRANSACTION_COLUMNS, sorted by event time
    labels: pd.DataFrame  # columns: schema.LABEL_COLUMNS, one row per fraud, by reported_at


# ---------------------------------------------------------------------------------------------
# Population
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Population:
    customer_ids: np.ndarray  # object
    home: np.ndarray  # country index
    median_amount: np.ndarray
    activity_cum: np.ndarray  # cumulative, normalised activity (for sampling by activity)
    online_propensity: np.ndarray
    merchant_ids: np.ndarray  # object
    merchant_category: np.ndarray
    merchant_country: np.ndarray
    card_present_merchants: np.ndarray  # indices of merchants accepting card-present payments
    # merchant pools by (channel, category, country) with a (channel, category) fallback
    pool_merchant: np.ndarray  # merchant index per pool entry, entries sorted by pool
    pool_cum: np.ndarray  # cumulative popularity over the entries
    pool_lo: np.ndarray
    pool_hi: np.ndarray
    pool_base: np.ndarray  # cumulative popularity before the pool's first entry
    pool_total: np.ndarray
    pool_of: np.ndarray  # [channel, category, country] -> pool id (after fallback)
    # cumulative category mixes [channel, category]
    genuine_mix: np.ndarray
    holiday_mix: np.ndarray
    takeover_mix: np.ndarray
    large_mix: np.ndarray
    testing_mix: np.ndarray
    cashout_mix: np.ndarray
    foreign_cum: np.ndarray  # [home country, country]: where a customer goes abroad
    country_cum: np.ndarray  # overall country distribution


def _cum_rows(weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights / weights.sum(axis=-1, keepdims=True), axis=-1)
    cum[..., -1] = 1.0
    return cum


def _categorical(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Per-row categorical draw: ``cum`` is (n, k) cumulative probabilities, ``u`` uniform (n,)."""
    if cum.ndim == 1:
        return np.searchsorted(cum, u, side="right")
    return (cum <= u[:, None]).sum(axis=1)


def _readonly(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


@functools.lru_cache(maxsize=8)
def _population(seed: int, n_customers: int, n_merchants: int) -> _Population:
    rng = np.random.default_rng([seed, 0, _STREAM_POPULATION])
    country_p = _COUNTRY_WEIGHTS / _COUNTRY_WEIGHTS.sum()

    # customers
    home = rng.choice(_N_CTY, size=n_customers, p=country_p)
    median_amount = rng.lognormal(np.log(_MEDIAN_AMOUNT), _CUSTOMER_AMOUNT_SIGMA, n_customers)
    activity = np.minimum(rng.pareto(_ACTIVITY_PARETO_SHAPE, n_customers) + 1.0, _ACTIVITY_CAP)
    activity_cum = np.cumsum(activity / activity.sum())
    activity_cum[-1] = 1.0
    online_propensity = rng.beta(2.0, 5.0, n_customers)

    # merchants; the first ones cover every category so each channel has merchants
    category = rng.choice(
        _N_CAT, size=n_merchants, p=_MERCHANT_CATEGORY_WEIGHTS / _MERCHANT_CATEGORY_WEIGHTS.sum()
    )
    category[:_N_CAT] = np.arange(_N_CAT)
    u = rng.random(n_merchants)
    p_online_only = _P_ONLINE_ONLY[category]
    online_only = u < p_online_only
    both = ~online_only & (u < p_online_only + _P_BOTH_CHANNELS[category])
    accepts = np.stack([~online_only, online_only | both])  # [channel, merchant]
    online_country_w = _COUNTRY_WEIGHTS * _ONLINE_MERCHANT_COUNTRY_BOOST
    country = np.where(
        online_only,
        rng.choice(_N_CTY, size=n_merchants, p=online_country_w / online_country_w.sum()),
        rng.choice(_N_CTY, size=n_merchants, p=country_p),
    )
    popularity = rng.lognormal(0.0, 1.0, n_merchants)

    # pools: id channel*N_CAT*N_CTY + category*N_CTY + country, then fallbacks
    # 2*N_CAT*N_CTY + channel*N_CAT + category (any country)
    n_fine = 2 * _N_CAT * _N_CTY
    n_pools = n_fine + 2 * _N_CAT
    keys, members = [], []
    for channel in (_CP, _ONLINE):
        idx = np.flatnonzero(accepts[channel])
        keys.append(channel * _N_CAT * _N_CTY + category[idx] * _N_CTY + country[idx])
        keys.append(n_fine + channel * _N_CAT + category[idx])
        members.extend([idx, idx])
    key = np.concatenate(keys)
    member = np.concatenate(members)
    order = np.argsort(key, kind="stable")
    key, member = key[order], member[order]
    cum = np.cumsum(popularity[member])
    pool_lo = np.searchsorted(key, np.arange(n_pools), side="left")
    pool_hi = np.searchsorted(key, np.arange(n_pools), side="right")
    cum_with_zero = np.concatenate([[0.0], cum])
    pool_base = cum_with_zero[pool_lo]
    pool_total = cum_with_zero[pool_hi] - pool_base
    nonempty = pool_hi > pool_lo
    fine = np.arange(n_fine).reshape(2, _N_CAT, _N_CTY)
    coarse = (n_fine + np.arange(2 * _N_CAT)).reshape(2, _N_CAT, 1)
    pool_of = np.where(nonempty[fine], fine, coarse)
    available = nonempty[n_fine:].reshape(2, _N_CAT).astype(float)  # [channel, category]

    def mix(weights: np.ndarray) -> np.ndarray:
        w = np.broadcast_to(weights, (2, _N_CAT)) * available
        w = np.where(w.sum(axis=1, keepdims=True) > 0, w, available)  # fallback: any category
        return _cum_rows(w)

    foreign_w = np.tile(_COUNTRY_WEIGHTS, (_N_CTY, 1))
    np.fill_diagonal(foreign_w, 0.0)
    population = _Population(
        customer_ids=np.array([f"C{i:07d}" for i in range(n_customers)], dtype=object),
        home=home,
        median_amount=median_amount,
        activity_cum=activity_cum,
        online_propensity=online_propensity,
        merchant_ids=np.array([f"M{i:06d}" for i in range(n_merchants)], dtype=object),
        merchant_category=category,
        merchant_country=country,
        card_present_merchants=np.flatnonzero(accepts[_CP]),
        pool_merchant=member,
        pool_cum=cum,
        pool_lo=pool_lo,
        pool_hi=pool_hi,
        pool_base=pool_base,
        pool_total=pool_total,
        pool_of=pool_of,
        genuine_mix=mix(_GENUINE_MIX),
        holiday_mix=mix(_GENUINE_MIX * _HOLIDAY_CATEGORY_BOOST),
        takeover_mix=mix(_TAKEOVER_MIX),
        large_mix=mix(_LARGE_MIX),
        testing_mix=mix(_TESTING_MIX),
        cashout_mix=mix(_CASHOUT_MIX),
        foreign_cum=_cum_rows(foreign_w),
        country_cum=_cum_rows(_COUNTRY_WEIGHTS),
    )
    _readonly(*(v for v in vars(population).values() if isinstance(v, np.ndarray)))
    return population


def _draw_merchants(
    pop: _Population, channel: np.ndarray, category: np.ndarray, country: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """A merchant per row, by popularity, from the (channel, category, country) pool."""
    pool = pop.pool_of[channel, category, country]
    target = pop.pool_base[pool] + u * pop.pool_total[pool]
    entry = np.searchsorted(pop.pool_cum, target, side="right")
    entry = np.clip(entry, pop.pool_lo[pool], pop.pool_hi[pool] - 1)
    return pop.pool_merchant[entry]


# ---------------------------------------------------------------------------------------------
# Multi-day fraud episodes (pure functions of (config, start day))
# ---------------------------------------------------------------------------------------------
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


def clear_caches() -> None:
    """Drop the cached population and episode schedules (outputs never depend on them)."""
    _population.cache_clear()
    _compromise_episodes.cache_clear()
    _takeover_episodes.cache_clear()


# ---------------------------------------------------------------------------------------------
# One day
# ---------------------------------------------------------------------------------------------
@dataclass
class _Rows:
    """Column arrays of a batch of transactions (before ids and sorting)."""

    customer: np.ndarray
    merchant: np.ndarray
    time: np.ndarray  # microseconds since midnight
    amount: np.ndarray
    channel: np.ndarray
    scenario: np.ndarray  # -1 for genuine, else index into FRAUD_SCENARIOS


def _time_of_day(rng: np.random.Generator, n: int, hourly_cum: np.ndarray) -> np.ndarray:
    hour = np.searchsorted(hourly_cum, rng.random(n), side="right")
    return hour * _US_PER_HOUR + rng.integers(0, _US_PER_HOUR, n)


def _cents(amount: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(amount, 2), 0.01)


def _purchases(
    pop: _Population,
    rng: np.random.Generator,
    customer: np.ndarray,
    mix: np.ndarray,
    p_online: np.ndarray | float,
    p_abroad_cp: float,
    p_abroad_online: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channel, merchant and ordinary amount of a purchase by each ``customer``."""
    n = len(customer)
    channel = (rng.random(n) < p_online).astype(np.int64)
    home = pop.home[customer]
    abroad = rng.random(n) < np.where(channel == _ONLINE, p_abroad_online, p_abroad_cp)
    country = np.where(abroad, _categorical(pop.foreign_cum[home], rng.random(n)), home)
    category = _categorical(mix[channel], rng.random(n))
    merchant = _draw_merchants(pop, channel, category, country, rng.random(n))
    amount = (
        pop.median_amount[customer]
        * _CATEGORY_AMOUNT_SCALE[pop.merchant_category[merchant]]
        * np.exp(_PURCHASE_AMOUNT_SIGMA * rng.standard_normal(n))
    )
    return channel, merchant, amount


def _genuine(
    config: SimulationConfig, pop: _Population, ordinal: int, holiday: bool, weekday: int
) -> _Rows:
    rng = np.random.default_rng([config.seed, ordinal, _STREAM_GENUINE])
    n = int(rng.poisson(config.transactions_per_day * config.weekday_factors[weekday]))
    customer = np.searchsorted(pop.activity_cum, rng.random(n), side="right")
    customer = np.minimum(customer, config.n_customers - 1)
    mix = pop.holiday_mix if holiday else pop.genuine_mix
    channel, merchant, amount = _purchases(
        pop,
        rng,
        customer,
        mix,
        pop.online_propensity[customer],
        _P_ABROAD_CARD_PRESENT,
        _P_FOREIGN_ONLINE,
    )
    if holiday:
        amount = amount * config.drift.holiday_amount_factor
    time = _time_of_day(rng, n, _HOURLY_CUM)
    return _Rows(customer, merchant, time, _cents(amount), channel, np.full(n, -1))


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


def _active(start: datetime.date | None, day: datetime.date) -> bool:
    return start is not None and day >= start


def _timestamps(micros: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(micros.astype("datetime64[us]")).tz_localize("UTC")


def simulate_day(config: SimulationConfig, day: datetime.date) -> SimulatedDay:
    """Transactions of ``day`` (UTC) and the chargebacks for its fraudulent ones.

    A pure function of ``(config, day)``. ``labels`` holds one row per fraudulent transaction
    of the day (IS_FRAUD = 1, the scenario, and when it is reported - days later); genuine
    transactions get no label row.
    """
    if isinstance(day, datetime.datetime):
        day = day.date()
    ordinal = day.toordinal()
    drift = config.drift
    holiday = _active(drift.holiday_shift_start, day)
    pop = _population(config.seed, config.n_customers, config.n_merchants)

    genuine = _genuine(config, pop, ordinal, holiday, day.weekday())
    _mark_compromised(config, genuine, ordinal)
    parts = [
        genuine,
        _takeovers(config, pop, ordinal, holiday),
        _card_testing(config, pop, ordinal),
        _large_amounts(config, pop, ordinal),
    ]
    time = np.concatenate([p.time for p in parts]).astype(np.int64)
    order = np.argsort(time, kind="stable")
    time = time[order]

    def take(field: str) -> np.ndarray:
        return np.concatenate([getattr(p, field) for p in parts])[order]

    customer, merchant = take("customer"), take("merchant")
    amount, channel, scenario = take("amount"), take("channel"), take("scenario")
    n = len(time)
    category = pop.merchant_category[merchant]
    category_names = _CATEGORY_NAMES[category]
    if _active(drift.new_partner_start, day):
        rng = np.random.default_rng([config.seed, ordinal, _STREAM_PARTNER_DAY])
        via_partner = rng.random(n) < drift.new_partner_share
        category_names = np.where(via_partner, _MCC_NAMES[category], category_names)

    prefix = f"T{day:%Y%m%d}-"
    transaction_ids = np.array([f"{prefix}{i:07d}" for i in range(n)], dtype=object)
    micros = time + (day - _EPOCH).days * _US_PER_DAY
    transactions = pd.DataFrame(
        {
            TRANSACTION_ID: transaction_ids,
            CUSTOMER_ID: pop.customer_ids[customer],
            MERCHANT_ID: pop.merchant_ids[merchant],
            EVENT_TIMESTAMP: _timestamps(micros),
            AMOUNT: amount.astype(np.float64),
            MERCHANT_CATEGORY: category_names,
            CHANNEL: _CHANNEL_NAMES[channel],
            COUNTRY: _COUNTRY_NAMES[pop.merchant_country[merchant]],
        },
        columns=list(TRANSACTION_COLUMNS),
    )

    fraud = np.flatnonzero(scenario >= 0)
    rng = np.random.default_rng([config.seed, ordinal, _STREAM_LABELS_DAY])
    k = len(fraud)
    delay_days = _label_delay_days(config.label_delay, rng, k)
    reported = micros[fraud] + (delay_days * _US_PER_DAY).astype(np.int64)
    by_report = np.argsort(reported, kind="stable")
    fraud, reported = fraud[by_report], reported[by_report]
    labels = pd.DataFrame(
        {
            TRANSACTION_ID: transaction_ids[fraud],
            IS_FRAUD: np.ones(k, dtype=np.int8),
            REPORTED_AT: _timestamps(reported),
            FRAUD_SCENARIO: _SCENARIO_NAMES[scenario[fraud]],
        },
        columns=list(LABEL_COLUMNS),
    )
    if config.minimal_columns:
        transactions = transactions[list(REQUIRED_TRANSACTION_COLUMNS)]
        labels = labels[[TRANSACTION_ID, IS_FRAUD, REPORTED_AT]]
    return SimulatedDay(transactions=transactions, labels=labels)


def _label_delay_days(spec: str, rng: np.random.Generator, k: int) -> np.ndarray:
    """Report delays in days for `k` frauds, by the config's label-delay spec (see SimulationConfig)."""
    kind, *params = spec.split(":")
    try:
        values = [float(p) for p in params]
    except ValueError:
        values = []
    if kind == "mixed" and not params:
        return np.where(rng.random(k) < 0.85, rng.uniform(1.0, 10.0, k), rng.uniform(10.0, 30.0, k))
    if kind == "fixed" and len(values) == 1 and values[0] >= 0:
        return np.full(k, values[0])
    if kind == "lognormal" and len(values) == 2 and values[0] > 0 and values[1] >= 0:
        return np.minimum(rng.lognormal(np.log(values[0]), values[1], k), 120.0)
    raise ValueError(f"label_delay must be 'mixed', 'fixed:DAYS' or 'lognormal:MEDIAN:SIGMA', not {spec!r}")


def simulate_days(config: SimulationConfig, days: Iterable[datetime.date]) -> SimulatedDay:
    """Several days, concatenated (each day simulated independently by ``simulate_day``)."""
    results = [simulate_day(config, day) for day in days]
    if not results:
        raise ValueError("simulate_days needs at least one day")
    return SimulatedDay(
        transactions=pd.concat([r.transactions for r in results], ignore_index=True),
        labels=pd.concat([r.labels for r in results], ignore_index=True),
    )
