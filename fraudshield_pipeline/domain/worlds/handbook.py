"""A world shaped like the simulated dataset of the "Reproducible Machine Learning for Credit
Card Fraud Detection" handbook (Le Borgne et al.), in our canonical raw schema.

Not our simulator, on purpose: detection quality is measured on external data, and this is a
likely shape of it. Written from the handbook's description, not from its code:
- customers and terminals at uniform random places on a 100 x 100 grid; a customer uses the
  terminals within `radius` of it (none within reach: no transactions);
- per customer a mean amount ~ U(5, 100) (std = mean / 2) and a daily rate ~ U(0, 4); each day
  Poisson(rate) transactions, time of day ~ N(noon, 20000 s) kept inside the day, amount
  ~ N(mean, std) (a negative draw becomes U(0, 2 mean)), a uniform random reachable terminal;
- frauds: (1) every amount > 220; (2) each day `terminals_per_day` random terminals are
  compromised, all their transactions of the next 28 days are fraud; (3) each day
  `customers_per_day` random customers are compromised, a third of their transactions of the
  next 14 days get 5 x the amount and are fraud.
The handbook's world has 5,000 customers and 10,000 terminals with 2 terminals and 3 customers
compromised per day; a smaller world keeps those per-population rates (so the fraud mix stays
~0.8 %) unless the counts are given. Only the required columns exist (no category, channel or
country), and labels say when each fraud was reported: `report_delay_days` after the
transaction, uniform in the given range (the handbook assumes a one-week feedback delay).
Pure numpy/pandas and seeded: the same config gives the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s

_US_PER_DAY = 86_400_000_000
SCENARIOS = ("large_amount", "compromised_terminal", "compromised_customer")


@dataclass(frozen=True)
class HandbookConfig:
    seed: int = 0
    n_customers: int = 5_000
    n_terminals: int = 10_000
    radius: float = 5.0
    # None: the handbook's 2 terminals and 3 customers per day, scaled to the population size.
    terminals_per_day: float | None = None
    customers_per_day: float | None = None
    large_amount: float = 220.0
    terminal_days: int = 28
    customer_days: int = 14
    report_delay_days: tuple[float, float] = (1.0, 7.0)

    def __post_init__(self) -> None:
        if self.n_customers < 1 or self.n_terminals < 1 or self.radius <= 0:
            raise ValueError("need >= 1 customer, >= 1 terminal and a positive radius")
        low, high = self.report_delay_days
        if not 0 <= low <= high:
            raise ValueError("report_delay_days must be (low, high) with 0 <= low <= high")


@dataclass(frozen=True)
class HandbookWorld:
    transactions: pd.DataFrame  # schema.REQUIRED_TRANSACTION_COLUMNS, sorted by event time
    labels: pd.DataFrame  # transaction_id, is_fraud (1), reported_at, fraud_scenario; one row per fraud


def simulate_handbook(config: HandbookConfig, first_day: dt.date, days: int) -> HandbookWorld:
    """`days` days from `first_day` (UTC) of the handbook-style world."""
    if days < 1:
        raise ValueError("days must be >= 1")
    rng = np.random.default_rng(config.seed)
    cust_xy = rng.uniform(0, 100, (config.n_customers, 2))
    mean_amount = rng.uniform(5, 100, config.n_customers)
    rate = rng.uniform(0, 4, config.n_customers)
    term_xy = rng.uniform(0, 100, (config.n_terminals, 2))
    reachable = [
        np.flatnonzero(((term_xy - xy) ** 2).sum(axis=1) < config.radius**2) for xy in cust_xy
    ]

    # Genuine behaviour, all days at once: one row per transaction.
    counts = rng.poisson(np.tile(rate, days))  # day-major: index = day * n_customers + customer
    day_of = np.repeat(np.repeat(np.arange(days), config.n_customers), counts.reshape(-1)) if counts.sum() else np.empty(0, int)
    customer = np.repeat(np.tile(np.arange(config.n_customers), days), counts)
    seconds = rng.normal(43_200, 20_000, len(customer))
    inside = (seconds >= 0) & (seconds < 86_400)
    has_terminal = np.array([len(r) > 0 for r in reachable])[customer]
    keep = inside & has_terminal
    day_of, customer, seconds = day_of[keep], customer[keep], seconds[keep]
    n = len(customer)
    amount = rng.normal(mean_amount[customer], mean_amount[customer] / 2)
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean_amount[customer[negative]])
    pick = rng.random(n)
    sizes = np.array([len(r) for r in reachable])
    terminal = np.array([reachable[c][int(u * sizes[c])] for c, u in zip(customer, pick, strict=True)], dtype=np.int64)

    scenario = np.full(n, -1)
    # (3) compromised customers: a third of their transactions in the next 14 days, amount x 5.
    per_day_c = config.customers_per_day if config.customers_per_day is not None else 3 * config.n_customers / 5_000
    per_day_t = config.terminals_per_day if config.terminals_per_day is not None else 2 * config.n_terminals / 10_000
    until_c = np.full(config.n_customers, -1)
    since_c = np.full(config.n_customers, days + 1)
    until_t = np.full(config.n_terminals, -1)
    since_t = np.full(config.n_terminals, days + 1)
    for d in range(days):
        cw = rng.choice(config.n_customers, min(rng.poisson(per_day_c), config.n_customers), replace=False)
        since_c[cw] = np.where(until_c[cw] < d, d + 1, since_c[cw])
        until_c[cw] = d + config.customer_days
        tw = rng.choice(config.n_terminals, min(rng.poisson(per_day_t), config.n_terminals), replace=False)
        since_t[tw] = np.where(until_t[tw] < d, d + 1, since_t[tw])
        until_t[tw] = d + config.terminal_days
    # (The episode's own day is excluded: "the next N days", as in the handbook.)
    cust_hit = (day_of >= since_c[customer]) & (day_of <= until_c[customer]) & (rng.random(n) < 1 / 3)
    amount = np.where(cust_hit, amount * 5, amount)
    scenario[cust_hit] = 2
    term_hit = (day_of >= since_t[terminal]) & (day_of <= until_t[terminal])
    scenario[term_hit] = 1
    amount = np.round(amount, 2)
    scenario[amount > config.large_amount] = 0

    start_us = (first_day - dt.date(1970, 1, 1)).days * _US_PER_DAY
    micros = start_us + day_of.astype(np.int64) * _US_PER_DAY + (seconds * 1e6).astype(np.int64)
    order = np.argsort(micros, kind="stable")
    micros, customer, terminal, amount, scenario = micros[order], customer[order], terminal[order], amount[order], scenario[order]
    ids = np.array([f"H{i:09d}" for i in range(n)], dtype=object)
    transactions = pd.DataFrame(
        {
            s.TRANSACTION_ID: ids,
            s.CUSTOMER_ID: np.char.add("C", np.char.zfill(customer.astype(str), 6)).astype(object),
            s.MERCHANT_ID: np.char.add("M", np.char.zfill(terminal.astype(str), 6)).astype(object),
            s.EVENT_TIMESTAMP: _timestamps(micros),
            s.AMOUNT: amount.astype(np.float64),
        },
        columns=list(s.REQUIRED_TRANSACTION_COLUMNS),
    )
    fraud = np.flatnonzero(scenario >= 0)
    low, high = config.report_delay_days
    reported = micros[fraud] + (rng.uniform(low, high, len(fraud)) * _US_PER_DAY).astype(np.int64)
    by_report = np.argsort(reported, kind="stable")
    fraud, reported = fraud[by_report], reported[by_report]
    labels = pd.DataFrame(
        {
            s.TRANSACTION_ID: ids[fraud],
            s.IS_FRAUD: np.ones(len(fraud), dtype=np.int8),
            s.REPORTED_AT: _timestamps(reported),
            s.FRAUD_SCENARIO: np.array(SCENARIOS, dtype=object)[scenario[fraud]],
        },
        columns=list(s.LABEL_COLUMNS),
    )
    return HandbookWorld(transactions, labels)


def _timestamps(micros: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(micros.astype("datetime64[us]")).tz_localize("UTC")
