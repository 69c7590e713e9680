"""The champion's expectation: backtest days measured exactly as monitored days are."""

import math

import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.expected_performance import as_records, daily_observations, expectation, from_records, nearest_age
from fraudshield_pipeline.domain.triggers import PerformanceObservation


def day_rows(day: str, n: int = 200) -> pd.DataFrame:
    start = pd.Timestamp(day, tz="UTC")
    return pd.DataFrame({
        s.TRANSACTION_ID: [f"{day}-{i}" for i in range(n)],
        s.CUSTOMER_ID: [f"c{i}" for i in range(n)],
        s.EVENT_TIMESTAMP: [start + pd.Timedelta(minutes=5 * i) for i in range(n)],
    })


def test_a_fraud_counts_only_once_reported_within_the_label_age():
    rows = pd.concat([day_rows("2026-10-01"), day_rows("2026-10-02")], ignore_index=True)
    scores = [1.0 - i / 1000 for i in range(len(rows))]  # the first rows of each day rank highest
    day_end = pd.Timestamp("2026-10-02", tz="UTC")
    frauds = pd.DataFrame({
        s.TRANSACTION_ID: ["2026-10-01-0", "2026-10-01-1", "2026-10-01-150", "2026-10-02-3"],
        s.REPORTED_AT: [day_end + pd.Timedelta(hours=12), day_end + pd.Timedelta(days=5), day_end + pd.Timedelta(days=1),
                        day_end + pd.Timedelta(days=1, hours=6)],
    })
    first, second = daily_observations(rows, scores, frauds, age_days=2, daily_budget=100)
    # Day 1 at age 2: frauds 0 and 150 are reported in time, 1 (5 days) is not and counts as genuine.
    assert (first.partition, first.n_fraud, first.recall_at_budget) == ("2026-10-01", 2, 0.5)
    assert first.average_precision == pytest.approx((1 / 1 + 2 / 151) / 2)
    assert (second.partition, second.n_fraud, second.recall_at_budget) == ("2026-10-02", 1, 1.0)
    (late,) = daily_observations(day_rows("2026-10-01"), [0.5] * 200, frauds, age_days=6, daily_budget=100)
    assert late.n_fraud == 3


def test_the_expectation_leaves_out_days_without_a_fraud_and_needs_enough_days():
    days = [PerformanceObservation(f"d{i}", 0.3 + 0.01 * i, 0.6, 20) for i in range(6)] + [PerformanceObservation("d9", math.nan, math.nan, 0)]
    assert expectation(days, min_days=7, min_sd_fraction=0.1) is None
    baseline = expectation(days, min_days=6, min_sd_fraction=0.1)
    assert baseline.days == tuple(f"d{i}" for i in range(6)) and baseline.average_precision == pytest.approx(0.325)
    assert from_records(as_records(days)) [:6] == days[:6] and as_records(days)[-1]["average_precision"] is None


def test_the_stored_age_nearest_the_monitored_days_is_chosen():
    stored = {"2": [{"partition": "a", "average_precision": 0.2, "recall_at_budget": 0.5, "n_fraud": 3}], "7": []}
    assert nearest_age(stored, 2.4)[0] == "2" and nearest_age(stored, 6.0)[0] == "7" and nearest_age(stored, 4.5)[0] == "2"
    assert nearest_age(stored, None)[0] == "2" and nearest_age({}, 3.0) is None
