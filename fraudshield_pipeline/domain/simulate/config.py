"""What determines a simulated world (``SimulationConfig``, ``DriftKnobs``) and what a day yields.

The config is frozen and hashable because it is the cache key of the population and the
fraud-episode schedules; it validates itself so that a bad value fails at construction, not
halfway through a multi-day run.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain.simulate.labels import _label_delay_days
from fraudshield_pipeline.domain.simulate.tables import _N_CAT


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

