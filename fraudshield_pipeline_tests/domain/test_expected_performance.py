"""The champion's expectation: backtest days measured exactly as monitored days are."""

import math

import numpy as np
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


def test_each_day_carries_the_age_of_the_model_that_scored_it():
    from fraudshield_pipeline.domain.expected_performance import MODEL_TEST_START, model_age_days

    rows = pd.concat([day_rows("2026-10-08"), day_rows("2026-10-09")], ignore_index=True)
    rows[MODEL_TEST_START] = pd.Timestamp("2026-10-01", tz="UTC")
    frauds = pd.DataFrame({s.TRANSACTION_ID: ["2026-10-08-0", "2026-10-09-0"], s.REPORTED_AT: [pd.Timestamp("2026-10-09", tz="UTC")] * 2})
    first, second = daily_observations(rows, [0.5] * len(rows), frauds, age_days=7, daily_budget=10)
    assert (first.model_age_days, second.model_age_days) == (7.0, 8.0)
    assert daily_observations(day_rows("2026-10-08"), [0.5] * 200, frauds, 7, 10)[0].model_age_days is None
    assert from_records(as_records([first]))[0] == first  # stored and read back with its age
    assert model_age_days("2026-10-15", "2026-10-01T00:00:00+00:00") == 14.0 and model_age_days("2026-10-15", None) is None


def aged(age: float, ap: float, recall: float, n_fraud: int = 20) -> PerformanceObservation:
    return PerformanceObservation(f"d{age:03.0f}", ap, recall, n_fraud, age)


def test_the_expectation_follows_the_model_age_and_never_expects_ageing_to_help():
    from fraudshield_pipeline.domain.triggers import aged_performance_baseline

    # AP falls by exactly 0.01 a day of age, recall by 0.005: a line through every point.
    days = [aged(a, 0.5 - 0.01 * a, 0.8 - 0.005 * a) for a in range(0, 28, 2)]
    baseline = aged_performance_baseline(days, min_days=7)
    assert baseline.reference_age_days == pytest.approx(13.0) and baseline.age_range_days == (0.0, 26.0)
    assert baseline.average_precision_per_day == pytest.approx(-0.01) and baseline.recall_at_budget_per_day == pytest.approx(-0.005)
    assert baseline.average_precision == pytest.approx(0.5 - 0.13)
    # No residual scatter: the spreads are the floors (10 % of the mean; recall's binomial error on 20 frauds).
    assert baseline.average_precision_sd == pytest.approx(0.1 * 0.37)
    p = 0.8 - 0.065
    assert baseline.recall_at_budget_sd == pytest.approx(max(0.1 * p, (p * (1 - p) / 20) ** 0.5))
    assert baseline.expected(aged(20, 0, 0)) == pytest.approx((0.3, 0.7))
    assert baseline.expected(aged(60, 0, 0)) == pytest.approx((0.5 - 0.26, 0.8 - 0.13))  # held at the oldest age measured
    assert baseline.expected(PerformanceObservation("x", 0, 0, 20)) == pytest.approx((0.37, p))  # no age: the mean
    assert "per week of age AP -0.070" in baseline.describe()
    # Models that get better with age: the slope is capped at 0, the expectation stays flat.
    rising = aged_performance_baseline([aged(a, 0.2 + 0.01 * a, 0.6) for a in range(0, 28, 2)], min_days=7)
    assert rising.average_precision_per_day == 0.0 and rising.expected(aged(26, 0, 0))[0] == pytest.approx(rising.average_precision)
    # Too narrow a spread of ages (one week): the flat expectation of every day.
    narrow = aged_performance_baseline([aged(a, 0.5 - 0.01 * a, 0.8) for a in range(7)], min_days=7)
    assert narrow.age_range_days is None and narrow.expected(aged(6, 0, 0))[0] == pytest.approx(0.47)
    assert aged_performance_baseline(days[:5], min_days=7) is None


def test_an_old_champion_is_judged_against_old_models_and_a_drop_below_the_trend_still_fires():
    from fraudshield_pipeline.domain.triggers import aged_performance_baseline, cusum_limit, cusum_performance_trigger

    rng = __import__("numpy").random.default_rng(3)
    backtest = [aged(a, 0.5 - 0.008 * a + rng.normal(0, 0.03), 0.8 - 0.006 * a + rng.normal(0, 0.03)) for a in range(28) for _ in range(2)]
    baseline = aged_performance_baseline(backtest, min_days=7)
    h = cusum_limit(1 / 730)
    # The champion ages along the backtest's own trend (ages 14-41): no alarm, although from age
    # ~24 every day is below the flat mean of the backtest days.
    ordinary = [PerformanceObservation(f"m{a:02d}", 0.5 - 0.008 * min(a, 27), 0.8 - 0.006 * min(a, 27), 20, a) for a in range(14, 42)]
    assert not cusum_performance_trigger(ordinary, baseline, 0.5, h).fire
    flat = dataclasses_replace(baseline, age_range_days=None)
    assert cusum_performance_trigger(ordinary, flat, 0.5, h).fire  # the flat expectation cries wolf
    # A change at age 20 that takes 0.15 AP below the trend fires within days.
    broken = ordinary[:6] + [dataclasses_replace(o, average_precision=o.average_precision - 0.15) for o in ordinary[6:]]
    fired = next(i for i in range(6, len(broken)) if cusum_performance_trigger(broken[: i + 1], baseline, 0.5, h).fire)
    assert fired - 6 <= 4, fired


def dataclasses_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def test_each_day_is_judged_on_the_labels_standing_at_its_age():
    """A label history: a chargeback reversed after the judging age still counted at that age."""
    from fraudshield_pipeline.domain.expected_performance import daily_observations

    day = pd.Timestamp("2026-01-01", tz="UTC")
    rows = pd.DataFrame({s.TRANSACTION_ID: ["A", "B", "C"], s.CUSTOMER_ID: ["c1", "c2", "c3"],
                         s.EVENT_TIMESTAMP: [day + pd.Timedelta(hours=h) for h in (1, 2, 3)]})  # fmt: skip
    history = pd.DataFrame({s.TRANSACTION_ID: ["A", "A", "B"], s.IS_FRAUD: np.array([1, 0, 1], dtype=np.int8),
                            s.REPORTED_AT: [day + pd.Timedelta(days=d) for d in (2, 20, 3)]})  # fmt: skip
    (young,) = daily_observations(rows, [0.9, 0.8, 0.1], history, age_days=5, daily_budget=10)
    (old,) = daily_observations(rows, [0.9, 0.8, 0.1], history, age_days=30, daily_budget=10)
    assert (young.n_fraud, old.n_fraud) == (2, 1)
