"""The one feature definition, shared by training (offline tables) and serving (Feast).

The time rule, stated once: a feature of a transaction at time ``t`` with window ``w`` sees
exactly the events with ``t - w <= event_timestamp < t``. The transaction itself, and any
other transaction at the very same instant, is never inside its own window. Merchant fraud
risk additionally uses only labels reported before ``t`` (``reported_at < t``) about
transactions at least ``label_delay`` old, so a late chargeback can never reach back into an
earlier feature.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

from fraudshield_pipeline.domain import schema as s

DEFAULT_LABEL_DELAY_DAYS = 7
CUSTOMER_WINDOWS = {"1h": "1 HOUR", "24h": "24 HOURS", "7d": "7 DAYS", "30d": "30 DAYS"}
MERCHANT_WINDOWS = {"1d": 1, "7d": 7, "30d": 30}
CATEGORICAL_SOURCE_COLUMNS = (s.MERCHANT_CATEGORY, s.CHANNEL, s.COUNTRY)


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    dtype: str  # "float" | "int" | "category"
    entity: str  # "customer" | "merchant" | "transaction"
    description: str
    requires: str | None = None  # an optional source column this feature needs


def _customer_specs() -> list[FeatureSpec]:
    specs = []
    for label in CUSTOMER_WINDOWS:
        specs += [
            FeatureSpec(f"customer_tx_count_{label}", "int", "customer", f"Card's transactions in the previous {label}."),
            FeatureSpec(f"customer_amount_sum_{label}", "float", "customer", f"Card's spend in the previous {label}."),
            FeatureSpec(f"customer_amount_mean_{label}", "float", "customer", f"Card's mean amount in the previous {label}."),
        ]
    return specs + [
        FeatureSpec("customer_hours_since_prev_tx", "float", "customer", "Hours since the card's previous transaction (30 d horizon)."),
        FeatureSpec("customer_amount_zscore_30d", "float", "customer", "Amount against the card's own 30 d history, in standard deviations."),
        FeatureSpec("customer_amount_ratio_30d", "float", "customer", "Amount divided by the card's 30 d mean amount."),
        FeatureSpec("customer_distinct_merchants_24h", "int", "customer", "Distinct merchants the card used in the previous 24 h."),
        FeatureSpec("customer_merchant_visits_30d", "int", "customer", "Earlier visits of this card to this merchant in 30 d."),
        FeatureSpec("customer_merchant_first_visit", "int", "customer", "1 when the card has not used this merchant in 30 d."),
    ]


def _merchant_specs() -> list[FeatureSpec]:
    specs = []
    for label in MERCHANT_WINDOWS:
        specs += [
            FeatureSpec(f"merchant_tx_count_{label}", "int", "merchant", f"Merchant's transactions in the previous {label}."),
            FeatureSpec(
                f"merchant_fraud_risk_{label}",
                "float",
                "merchant",
                f"Share of the merchant's transactions in the {label} before the label delay that were reported as fraud before now.",
            ),
        ]
    return specs


FEATURES: tuple[FeatureSpec, ...] = tuple(
    [FeatureSpec("amount", "float", "transaction", "Transaction amount.")]
    + _customer_specs()
    + _merchant_specs()
    + [
        FeatureSpec("hour_of_day", "int", "transaction", "Hour of the transaction, UTC."),
        FeatureSpec("is_weekend", "int", "transaction", "1 on Saturday and Sunday (UTC)."),
        FeatureSpec("is_night", "int", "transaction", "1 between 00:00 and 06:00 UTC."),
        FeatureSpec("is_online", "int", "transaction", "1 for card-not-present transactions.", requires=s.CHANNEL),
        FeatureSpec(s.MERCHANT_CATEGORY, "category", "transaction", "Merchant category.", requires=s.MERCHANT_CATEGORY),
        FeatureSpec(s.COUNTRY, "category", "transaction", "Country of the transaction.", requires=s.COUNTRY),
    ]
)

KEY_COLUMNS = (s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID, s.EVENT_TIMESTAMP)


def lookback_days(label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS) -> int:
    """Days of history one day of features needs: the longest merchant window behind the delay."""
    return max(MERCHANT_WINDOWS.values()) + label_delay_days


def available_features(source_columns: Sequence[str]) -> list[FeatureSpec]:
    """The features a source supports: optional columns a user's data lacks drop out."""
    present = set(source_columns)
    return [f for f in FEATURES if f.requires is None or f.requires in present]


def model_feature_names(source_columns: Sequence[str]) -> list[str]:
    return [f.name for f in available_features(source_columns)]


def _customer_window(label: str, interval: str) -> str:
    return (
        f"c{label} AS (PARTITION BY {s.CUSTOMER_ID} ORDER BY {s.EVENT_TIMESTAMP} "
        f"RANGE BETWEEN INTERVAL {interval} PRECEDING AND CURRENT ROW EXCLUDE GROUP)"
    )


def feature_sql(source_columns: Sequence[str], label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS) -> str:
    """DuckDB SQL over relations `transactions` and `labels`, bounded by $start and $end."""
    present = set(source_columns)
    customer_cols = []
    for label in CUSTOMER_WINDOWS:
        customer_cols += [
            f"count(*) OVER c{label} AS customer_tx_count_{label}",
            f"coalesce(sum({s.AMOUNT}) OVER c{label}, 0) AS customer_amount_sum_{label}",
            f"avg({s.AMOUNT}) OVER c{label} AS customer_amount_mean_{label}",
        ]
    customer_cols += [
        f"date_diff('microsecond', max({s.EVENT_TIMESTAMP}) OVER c30d, {s.EVENT_TIMESTAMP}) / 3.6e9 AS customer_hours_since_prev_tx",
        f"({s.AMOUNT} - avg({s.AMOUNT}) OVER c30d) / nullif(stddev_samp({s.AMOUNT}) OVER c30d, 0) AS customer_amount_zscore_30d",
        f"{s.AMOUNT} / nullif(avg({s.AMOUNT}) OVER c30d, 0) AS customer_amount_ratio_30d",
        f"coalesce(length(list_distinct(list({s.MERCHANT_ID}) OVER c24h)), 0) AS customer_distinct_merchants_24h",
        "count(*) OVER cm30d AS customer_merchant_visits_30d",
        "CAST(count(*) OVER cm30d = 0 AS INTEGER) AS customer_merchant_first_visit",
    ]
    merchant_cols = []
    for label, days in MERCHANT_WINDOWS.items():
        merchant_cols += [
            f"count(*) OVER m{label} AS merchant_tx_count_{label}",
            f"count(*) OVER md{label} AS merchant_delayed_count_{label}",
        ]
    windows = [_customer_window(label, interval) for label, interval in CUSTOMER_WINDOWS.items()]
    windows.append(
        f"cm30d AS (PARTITION BY {s.CUSTOMER_ID}, {s.MERCHANT_ID} ORDER BY {s.EVENT_TIMESTAMP} "
        "RANGE BETWEEN INTERVAL 30 DAYS PRECEDING AND CURRENT ROW EXCLUDE GROUP)"
    )
    for label, days in MERCHANT_WINDOWS.items():
        windows.append(
            f"m{label} AS (PARTITION BY {s.MERCHANT_ID} ORDER BY {s.EVENT_TIMESTAMP} "
            f"RANGE BETWEEN INTERVAL {days} DAYS PRECEDING AND CURRENT ROW EXCLUDE GROUP)"
        )
        windows.append(
            f"md{label} AS (PARTITION BY {s.MERCHANT_ID} ORDER BY {s.EVENT_TIMESTAMP} "
            f"RANGE BETWEEN INTERVAL {days + label_delay_days} DAYS PRECEDING "
            f"AND (INTERVAL {label_delay_days} DAYS + INTERVAL 1 MICROSECOND) PRECEDING)"
        )
    fraud_counts = ",\n        ".join(
        f"count(*) FILTER (WHERE f.fraud_ts >= w.{s.EVENT_TIMESTAMP} - INTERVAL {days + label_delay_days} DAYS) "
        f"AS merchant_fraud_{label}"
        for label, days in MERCHANT_WINDOWS.items()
    )
    risk_cols = ",\n    ".join(
        f"coalesce(r.merchant_fraud_{label}, 0) / nullif(w.merchant_delayed_count_{label}, 0) AS merchant_fraud_risk_{label}"
        for label in MERCHANT_WINDOWS
    )
    passthrough = [c for c in CATEGORICAL_SOURCE_COLUMNS if c in present]
    online = f", CAST(w.{s.CHANNEL} = 'online' AS INTEGER) AS is_online" if s.CHANNEL in present else ""
    feature_names = [f.name for f in available_features(source_columns) if f.name not in passthrough]
    window_columns = ",\n    ".join(customer_cols + merchant_cols)
    window_definitions = ",\n    ".join(windows)
    return f"""
WITH windowed AS (
  SELECT *,
    {window_columns}
  FROM transactions
  WINDOW {window_definitions}
),
targets AS (
  SELECT * FROM windowed WHERE {s.EVENT_TIMESTAMP} >= $start AND {s.EVENT_TIMESTAMP} < $end
),
known_fraud AS (
  SELECT t.{s.MERCHANT_ID}, t.{s.EVENT_TIMESTAMP} AS fraud_ts, min(l.{s.REPORTED_AT}) AS reported_at
  FROM transactions t JOIN labels l USING ({s.TRANSACTION_ID})
  WHERE l.{s.IS_FRAUD} = 1
  GROUP BY ALL
),
risk AS (
  SELECT w.{s.TRANSACTION_ID},
        {fraud_counts}
  FROM targets w JOIN known_fraud f
    ON f.{s.MERCHANT_ID} = w.{s.MERCHANT_ID}
   AND f.fraud_ts >= w.{s.EVENT_TIMESTAMP} - INTERVAL {max(MERCHANT_WINDOWS.values()) + label_delay_days} DAYS
   AND f.fraud_ts < w.{s.EVENT_TIMESTAMP} - INTERVAL {label_delay_days} DAYS
   AND f.reported_at < w.{s.EVENT_TIMESTAMP}
  GROUP BY w.{s.TRANSACTION_ID}
),
assembled AS (
  SELECT w.*,
    {risk_cols},
    CAST(hour(w.{s.EVENT_TIMESTAMP}) AS INTEGER) AS hour_of_day,
    CAST(dayofweek(w.{s.EVENT_TIMESTAMP}) IN (0, 6) AS INTEGER) AS is_weekend,
    CAST(hour(w.{s.EVENT_TIMESTAMP}) < 6 AS INTEGER) AS is_night{online}
  FROM targets w LEFT JOIN risk r USING ({s.TRANSACTION_ID})
)
SELECT {", ".join(KEY_COLUMNS + tuple(passthrough))}, {", ".join(feature_names)}
FROM assembled
ORDER BY {s.EVENT_TIMESTAMP}, {s.TRANSACTION_ID}
"""


def build_features(
    transactions: pd.DataFrame | pa.Table,
    labels: pd.DataFrame | pa.Table,
    start: dt.datetime,
    end: dt.datetime,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
    threads: int | None = None,
) -> pd.DataFrame:
    """Features for the transactions in [start, end), from history that includes the lookback."""
    source_columns = transactions.column_names if isinstance(transactions, pa.Table) else list(transactions.columns)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.register("transactions", transactions)
        con.register("labels", labels)
        frame = con.execute(
            feature_sql(source_columns, label_delay_days), {"start": _utc(start), "end": _utc(end)}
        ).df()
    finally:
        con.close()
    return frame


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
