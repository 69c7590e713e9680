"""World assembly: one simulated day from the population, the genuine traffic and the frauds.

``simulate_day`` is the only place that knows the order of the parts; each part draws from its
own RNG stream, so a drift knob changes only what it is meant to change.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain.schema import (
    AMOUNT,
    CHANNEL,
    COUNTRY,
    CUSTOMER_ID,
    EVENT_TIMESTAMP,
    IS_FRAUD,
    MERCHANT_CATEGORY,
    MERCHANT_ID,
    REPORTED_AT,
    REQUIRED_TRANSACTION_COLUMNS,
    TRANSACTION_COLUMNS,
    TRANSACTION_ID,
)
from fraudshield_pipeline.domain.simulate.config import SimulatedDay, SimulationConfig
from fraudshield_pipeline.domain.simulate.fraud import (
    _card_testing,
    _compromise_episodes,
    _large_amounts,
    _mark_compromised,
    _takeover_episodes,
    _takeovers,
)
from fraudshield_pipeline.domain.simulate.labels import _labels
from fraudshield_pipeline.domain.simulate.population import _population
from fraudshield_pipeline.domain.simulate.purchases import _genuine
from fraudshield_pipeline.domain.simulate.tables import (
    _CATEGORY_NAMES,
    _CHANNEL_NAMES,
    _COUNTRY_NAMES,
    _EPOCH,
    _MCC_NAMES,
    _STREAM_PARTNER_DAY,
    _US_PER_DAY,
    _timestamps,
)


def clear_caches() -> None:
    """Drop the cached population and episode schedules (outputs never depend on them)."""
    _population.cache_clear()
    _compromise_episodes.cache_clear()
    _takeover_episodes.cache_clear()


def _active(start: datetime.date | None, day: datetime.date) -> bool:
    return start is not None and day >= start


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

    labels = _labels(config, ordinal, micros, scenario, transaction_ids)
    if config.minimal_columns:
        transactions = transactions[list(REQUIRED_TRANSACTION_COLUMNS)]
        labels = labels[[TRANSACTION_ID, IS_FRAUD, REPORTED_AT]]
    return SimulatedDay(transactions=transactions, labels=labels)


def simulate_days(config: SimulationConfig, days: Iterable[datetime.date]) -> SimulatedDay:
    """Several days, concatenated (each day simulated independently by ``simulate_day``)."""
    results = [simulate_day(config, day) for day in days]
    if not results:
        raise ValueError("simulate_days needs at least one day")
    return SimulatedDay(
        transactions=pd.concat([r.transactions for r in results], ignore_index=True),
        labels=pd.concat([r.labels for r in results], ignore_index=True),
    )
