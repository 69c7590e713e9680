"""Ordinary purchases: the genuine traffic of a day, and the purchase draw fraud scenarios reuse.

``_purchases`` is shared because a stealthy account takeover must look exactly like its card
holder's own habits; ``_Rows`` is the column batch every scenario returns before assembly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraudshield_pipeline.domain.simulate.config import SimulationConfig
from fraudshield_pipeline.domain.simulate.population import (
    _categorical,
    _draw_merchants,
    _Population,
)
from fraudshield_pipeline.domain.simulate.tables import (
    _CATEGORY_AMOUNT_SCALE,
    _HOURLY_CUM,
    _ONLINE,
    _P_ABROAD_CARD_PRESENT,
    _P_FOREIGN_ONLINE,
    _PURCHASE_AMOUNT_SIGMA,
    _STREAM_GENUINE,
    _US_PER_HOUR,
)


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

