"""Serving-time features: one transaction's features from its card's and merchant's recent events.

Sliding windows ``[t - w, t)`` cannot be read from a precomputed value: which events are inside
depends on the moment ``t`` the transaction arrives. So the online store keeps each entity's
*state*, its events inside the longest window, and `features_at` evaluates the windows of
`domain.features` at the request's own time. The state is written once a day by the pipeline
(as of the end of the newest partition, with the fraud labels reported by then) and advanced by
the serving path with every scored transaction (`CustomerState.observe`, `MerchantState.observe`).

With that, the online value is the offline value by construction of the rule, not by luck of
timing; the skew contract test replays real days through this module and compares them to
`feature_sql` value for value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import (
    CATEGORICAL_SOURCE_COLUMNS,
    CUSTOMER_WINDOWS,
    DEFAULT_LABEL_DELAY_DAYS,
    MERCHANT_WINDOWS,
)

US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR
_CUSTOMER_WINDOW_US = {label: int(pd.Timedelta(interval.lower()).value // 1000) for label, interval in CUSTOMER_WINDOWS.items()}
CUSTOMER_HORIZON_US = max(_CUSTOMER_WINDOW_US.values())

# Field names of the online state views (lists, oldest first).
EVENT_US = "event_us"
AMOUNTS = "amounts"
MERCHANTS = "merchant_ids"
FRAUD_EVENT_US = "fraud_event_us"
LABELS_AS_OF_US = "labels_as_of_us"


class StaleOnlineState(RuntimeError):
    """The online state does not cover the request's time: scoring it would use missing features."""


def merchant_horizon_us(label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS) -> int:
    return (max(MERCHANT_WINDOWS.values()) + label_delay_days) * US_PER_DAY


def to_us(moment: pd.Timestamp | dt.datetime | str) -> int:
    """Microseconds since the epoch; a naive time is taken as UTC, like everywhere else."""
    stamp = pd.Timestamp(moment)
    return int((stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")).value // 1000)


@dataclass
class CustomerState:
    """A card's events inside its longest window, oldest first."""

    event_us: np.ndarray
    amounts: np.ndarray
    merchant_ids: np.ndarray

    @classmethod
    def empty(cls) -> CustomerState:
        return cls(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, object))

    def observe(self, event_us: int, amount: float, merchant_id: str) -> CustomerState:
        """The state after one more event; events that left every window are dropped."""
        at = int(np.searchsorted(self.event_us, event_us, side="right"))
        keep = int(np.searchsorted(self.event_us, event_us - CUSTOMER_HORIZON_US, side="left"))
        return CustomerState(
            np.concatenate([self.event_us[keep:at], [event_us], self.event_us[at:]]).astype(np.int64),
            np.concatenate([self.amounts[keep:at], [amount], self.amounts[at:]]).astype(np.float64),
            np.concatenate([self.merchant_ids[keep:at], np.array([merchant_id], object), self.merchant_ids[at:]]),
        )

    def to_row(self) -> dict[str, list]:
        return {EVENT_US: self.event_us.tolist(), AMOUNTS: self.amounts.tolist(), MERCHANTS: self.merchant_ids.tolist()}

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> CustomerState:
        if row.get(EVENT_US) is None:
            return cls.empty()
        return cls(
            np.asarray(row[EVENT_US], np.int64), np.asarray(row[AMOUNTS], np.float64), np.asarray(row[MERCHANTS], object)
        )


@dataclass
class MerchantState:
    """A merchant's events inside its longest (delayed) window, and its frauds known by `labels_as_of_us`."""

    event_us: np.ndarray
    fraud_event_us: np.ndarray
    labels_as_of_us: int
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS

    @classmethod
    def empty(cls, labels_as_of_us: int, label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS) -> MerchantState:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), labels_as_of_us, label_delay_days)

    def observe(self, event_us: int) -> MerchantState:
        horizon = merchant_horizon_us(self.label_delay_days)
        at = int(np.searchsorted(self.event_us, event_us, side="right"))
        keep = int(np.searchsorted(self.event_us, event_us - horizon, side="left"))
        frauds = self.fraud_event_us[self.fraud_event_us >= event_us - horizon]
        events = np.concatenate([self.event_us[keep:at], [event_us], self.event_us[at:]]).astype(np.int64)
        return MerchantState(events, frauds, self.labels_as_of_us, self.label_delay_days)

    def to_row(self) -> dict[str, object]:
        return {EVENT_US: self.event_us.tolist(), FRAUD_EVENT_US: self.fraud_event_us.tolist(), LABELS_AS_OF_US: self.labels_as_of_us}

    @classmethod
    def from_row(cls, row: Mapping[str, object], labels_as_of_us: int, label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS) -> MerchantState:
        if row.get(EVENT_US) is None:
            return cls.empty(labels_as_of_us, label_delay_days)
        return cls(
            np.asarray(row[EVENT_US], np.int64),
            np.asarray(row[FRAUD_EVENT_US] or [], np.int64),
            int(row[LABELS_AS_OF_US]),
            label_delay_days,
        )


def features_at(
    transaction: Mapping[str, object],
    customer: CustomerState,
    merchant: MerchantState,
) -> dict[str, object]:
    """The features of `transaction` at its own event time, by the rule in `domain.features`."""
    t = to_us(transaction[s.EVENT_TIMESTAMP])
    day_start = t - t % US_PER_DAY
    if merchant.labels_as_of_us < day_start:
        raise StaleOnlineState(
            f"merchant state holds labels reported before {_iso(merchant.labels_as_of_us)}, but a transaction at "
            f"{_iso(t)} needs every label reported before {_iso(day_start)}: materialize online_features first"
        )
    amount = float(transaction[s.AMOUNT])
    out: dict[str, object] = {s.AMOUNT: amount}

    # Card windows over [t - w, t): `side="left"` at t leaves out t itself and same-instant events.
    ts = customer.event_us
    end = int(np.searchsorted(ts, t, side="left"))
    starts = {label: int(np.searchsorted(ts, t - width, side="left")) for label, width in _CUSTOMER_WINDOW_US.items()}
    for label in CUSTOMER_WINDOWS:
        count = end - starts[label]
        total = float(customer.amounts[starts[label] : end].sum()) if count else 0.0
        out[f"customer_tx_count_{label}"] = count
        out[f"customer_amount_sum_{label}"] = total
        out[f"customer_amount_mean_{label}"] = total / count if count else np.nan
    month = customer.amounts[starts["30d"] : end]
    out["customer_hours_since_prev_tx"] = (t - int(ts[end - 1])) / 3.6e9 if end > starts["30d"] else np.nan
    # A constant history (a subscription's same charge) has no spread: numpy's two-pass std of ten
    # 9.99s is 1.9e-15, not DuckDB's exact 0, and would serve a z-score near 1 that training never had.
    std = float(np.std(month, ddof=1)) if len(month) > 1 and month.min() != month.max() else np.nan
    mean = out["customer_amount_mean_30d"]
    out["customer_amount_zscore_30d"] = (amount - mean) / std if std == std and std != 0 else np.nan
    out["customer_amount_ratio_30d"] = amount / mean if mean == mean and mean != 0 else np.nan
    out["customer_distinct_merchants_24h"] = len(set(customer.merchant_ids[starts["24h"] : end].tolist()))
    visits = int(np.count_nonzero(customer.merchant_ids[starts["30d"] : end] == transaction[s.MERCHANT_ID]))
    out["customer_merchant_visits_30d"] = visits
    out["customer_merchant_first_visit"] = int(visits == 0)

    # Merchant windows, and fraud risk over [t - w - delay, t - delay) with labels known today.
    mts = merchant.event_us
    mend = int(np.searchsorted(mts, t, side="left"))
    delay = merchant.label_delay_days * US_PER_DAY
    delayed_end = int(np.searchsorted(mts, t - delay, side="left"))
    frauds = merchant.fraud_event_us
    for label, days in MERCHANT_WINDOWS.items():
        out[f"merchant_tx_count_{label}"] = mend - int(np.searchsorted(mts, t - days * US_PER_DAY, side="left"))
        lower = t - days * US_PER_DAY - delay
        delayed = delayed_end - int(np.searchsorted(mts, lower, side="left"))
        fraud = int(np.count_nonzero((frauds >= lower) & (frauds < t - delay)))
        out[f"merchant_fraud_risk_{label}"] = fraud / delayed if delayed else np.nan

    moment = pd.Timestamp(t * 1000, tz="UTC")
    out["hour_of_day"] = moment.hour
    out["is_weekend"] = int(moment.dayofweek >= 5)
    out["is_night"] = int(moment.hour < 6)
    if s.CHANNEL in transaction:
        out["is_online"] = int(transaction[s.CHANNEL] == "online")
    for column in CATEGORICAL_SOURCE_COLUMNS:
        if column in transaction:
            out[column] = transaction[column]
    return out


def entity_states(
    transactions: pd.DataFrame | pa.Table,
    labels: pd.DataFrame | pa.Table,
    as_of: dt.datetime,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
) -> tuple[pa.Table, pa.Table]:
    """Every card's and merchant's state as of `as_of` (exclusive), from validated history.

    Merchant frauds count only with a label reported before `as_of`; when `as_of` is a day
    boundary that is exactly what the rule allows transactions of that day to see.
    """
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("transactions", transactions)
        con.register("labels", labels)
        params = {
            "as_of": as_of,
            "customer_from": as_of - dt.timedelta(microseconds=CUSTOMER_HORIZON_US),
            "merchant_from": as_of - dt.timedelta(microseconds=merchant_horizon_us(label_delay_days)),
        }
        ts = s.EVENT_TIMESTAMP
        epoch = f"epoch_us({ts})"
        customers = con.sql(
            f"""
            SELECT {s.CUSTOMER_ID}, CAST($as_of AS TIMESTAMPTZ) AS {ts},
                   list({epoch} ORDER BY {ts}, {s.TRANSACTION_ID}) AS {EVENT_US},
                   list(CAST({s.AMOUNT} AS DOUBLE) ORDER BY {ts}, {s.TRANSACTION_ID}) AS {AMOUNTS},
                   list({s.MERCHANT_ID} ORDER BY {ts}, {s.TRANSACTION_ID}) AS {MERCHANTS}
            FROM transactions WHERE {ts} >= $customer_from AND {ts} < $as_of
            GROUP BY {s.CUSTOMER_ID} ORDER BY {s.CUSTOMER_ID}
            """,
            params={k: params[k] for k in ("as_of", "customer_from")},
        ).to_arrow_table()
        merchants = con.sql(
            f"""
            WITH recent AS (
              SELECT {s.TRANSACTION_ID}, {s.MERCHANT_ID}, {ts} FROM transactions
              WHERE {ts} >= $merchant_from AND {ts} < $as_of
            ),
            standing AS (  -- each transaction's label as known at as_of: its latest report (label_history)
              SELECT {s.TRANSACTION_ID}, arg_max({s.IS_FRAUD}, {s.REPORTED_AT}) AS {s.IS_FRAUD}
              FROM labels WHERE {s.REPORTED_AT} < $as_of GROUP BY 1
            ),
            frauds AS (
              SELECT r.{s.TRANSACTION_ID}, r.{s.MERCHANT_ID}, r.{ts}
              FROM recent r JOIN standing l USING ({s.TRANSACTION_ID})
              WHERE l.{s.IS_FRAUD} = 1
            )
            SELECT r.{s.MERCHANT_ID}, CAST($as_of AS TIMESTAMPTZ) AS {ts},
                   list(epoch_us(r.{ts}) ORDER BY r.{ts}) AS {EVENT_US},
                   coalesce(any_value(f.fraud_list), []) AS {FRAUD_EVENT_US},
                   epoch_us(CAST($as_of AS TIMESTAMPTZ)) AS {LABELS_AS_OF_US}
            FROM recent r
            LEFT JOIN (SELECT {s.MERCHANT_ID}, list(epoch_us({ts}) ORDER BY {ts}) AS fraud_list FROM frauds GROUP BY 1) f
              USING ({s.MERCHANT_ID})
            GROUP BY r.{s.MERCHANT_ID} ORDER BY r.{s.MERCHANT_ID}
            """,
            params={k: params[k] for k in ("as_of", "merchant_from")},
        ).to_arrow_table()
    finally:
        con.close()
    return customers, merchants


def _iso(us: int) -> str:
    return pd.Timestamp(us * 1000, tz="UTC").isoformat()
