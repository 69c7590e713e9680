"""Where raw transactions come from: the embedded simulator (default) or, later, a landing zone."""


import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
from pydantic import Field


@dataclass(frozen=True)
class RawDay:
    transactions: pd.DataFrame
    labels: pd.DataFrame
    source: str  # a URI naming where the rows came from, for lineage and error messages
    file_hashes: dict[str, str] = field(default_factory=dict)  # source file -> sha256 prefix, for lineage
    unknown_columns: dict[str, list[str]] = field(default_factory=dict)  # file -> columns not in the mapping


class TransactionSource(dg.ConfigurableResource, ABC):
    @abstractmethod
    def load_day(self, day: dt.date) -> RawDay: ...

    def max_amount(self) -> float:
        """The largest plausible amount in this source's currency: the bound the snapshot contract
        applies (one home for it; a landing zone takes it from its mapping.yaml)."""
        from fraudshield_pipeline.domain.contracts import DEFAULT_MAX_AMOUNT

        return DEFAULT_MAX_AMOUNT

    def amount_sign(self) -> str | None:
        """How the feed signs a purchase ("positive" or "negative"), where a mapping says so: the quarantine
        check's way out for amounts below zero names the setting to change. None: no such setting."""
        return None

    def late_days(
        self, ingested: dict[dt.date, tuple[dt.datetime, dict[str, str] | None]], seen: dict[str, list[str]]
    ) -> tuple[dict[dt.date, str], dict[str, list[str]], dict[dt.date, str]]:
        """Ingested days whose files changed since (a late chargeback file): ({day: what changed}, the
        next check's cache, {day: a digest of its files now}). `ingested`: day -> (when, the file
        hashes read then). A source that never changes after its day (the simulator) has none."""
        return {}, {}, {}


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


class SimulatorSource(TransactionSource):
    """The embedded, seeded transaction simulator; drift knobs switch on at the given dates."""

    seed: int = 7
    n_customers: int = Field(default=20_000, gt=0)
    n_merchants: int = Field(default=2_000, gt=0)
    transactions_per_day: int = Field(default=10_000, gt=0)
    holiday_shift_start: str | None = Field(default=None, description="ISO date: holiday spending shift.")
    new_partner_start: str | None = Field(default=None, description="ISO date: partner with MCC-coded categories.")
    fraud_strategy_change_start: str | None = Field(default=None, description="ISO date: fraud hides in normal behaviour.")
    label_delay: str = Field(default="mixed", description="Fraud report delay: mixed, fixed:DAYS or lognormal:MEDIAN:SIGMA.")
    fraud_rate_factor: float = Field(default=1.0, gt=0, description="Scales every fraud scenario's rate (another world).")
    weekday_factors: str | None = Field(default=None, description="Relative daily volume Monday..Sunday, comma-separated.")
    minimal_columns: bool = Field(
        default=False, description="Only the required columns (ids, time, amount; labels: id, is_fraud, reported_at), like many real feeds."
    )

    def config(self):
        from fraudshield_pipeline.domain.simulate import DriftKnobs, SimulationConfig

        base, scale = SimulationConfig(), self.fraud_rate_factor
        weekly = tuple(float(v) for v in self.weekday_factors.split(",")) if self.weekday_factors else base.weekday_factors
        return SimulationConfig(
            weekday_factors=weekly,
            terminal_compromise_rate=base.terminal_compromise_rate * scale,
            account_takeover_rate=base.account_takeover_rate * scale,
            card_testing_rate=base.card_testing_rate * scale,
            large_amount_rate=base.large_amount_rate * scale,
            seed=self.seed,
            n_customers=self.n_customers,
            n_merchants=self.n_merchants,
            transactions_per_day=self.transactions_per_day,
            drift=DriftKnobs(
                holiday_shift_start=_date(self.holiday_shift_start),
                new_partner_start=_date(self.new_partner_start),
                fraud_strategy_change_start=_date(self.fraud_strategy_change_start),
            ),
            label_delay=self.label_delay,
            minimal_columns=self.minimal_columns,
        )

    def load_day(self, day: dt.date) -> RawDay:
        from fraudshield_pipeline.domain.simulate import simulate_day

        simulated = simulate_day(self.config(), day)
        return RawDay(simulated.transactions, simulated.labels, f"simulator://seed={self.seed}/{day.isoformat()}")
