"""The simulator's configurable fraud report delay: the monitoring loop must cope with real ones."""

import dataclasses
import datetime

import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema
from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_day, simulate_days

SMALL = SimulationConfig(n_customers=2000, n_merchants=200, transactions_per_day=3000)
DAYS = [datetime.date(2026, 9, 1) + datetime.timedelta(days=i) for i in range(14)]


def delays(config: SimulationConfig) -> pd.Series:
    sim = simulate_days(config, DAYS)
    joined = sim.labels.merge(sim.transactions[[schema.TRANSACTION_ID, schema.EVENT_TIMESTAMP]], on=schema.TRANSACTION_ID)
    return (joined[schema.REPORTED_AT] - joined[schema.EVENT_TIMESTAMP]) / pd.Timedelta(days=1)


def test_a_realistic_delay_reports_most_frauds_within_days_with_a_long_tail():
    days = delays(dataclasses.replace(SMALL, label_delay="lognormal:2:1.0"))
    assert len(days) > 200
    assert 1.5 < days.median() < 2.5
    assert (days <= 7).mean() > 0.8 and (days > 14).mean() > 0.005 and days.max() <= 120


def test_a_fixed_delay_reports_every_fraud_exactly_then():
    days = delays(dataclasses.replace(SMALL, label_delay="fixed:7"))
    assert days.round(6).eq(7.0).all()


def test_the_delay_changes_only_the_labels():
    day = DAYS[3]
    default, fixed = simulate_day(SMALL, day), simulate_day(dataclasses.replace(SMALL, label_delay="fixed:7"), day)
    pd.testing.assert_frame_equal(default.transactions, fixed.transactions)
    assert set(default.labels[schema.TRANSACTION_ID]) == set(fixed.labels[schema.TRANSACTION_ID])


@pytest.mark.parametrize("spec", ["lognormal:2", "fixed:-1", "weekly", "lognormal:a:b"])
def test_a_bad_delay_spec_is_refused(spec):
    with pytest.raises(ValueError, match="label_delay"):
        SimulationConfig(label_delay=spec)
