"""The small world the serving tests score, in one place so that both modules score it the same way.

21 simulated days: 20 of history and the day being served (from ``TODAY``), a booster trained on
their labels, and the online state written as of a time from the history before it.
"""

import datetime as dt

import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.online import entity_states
from fraudshield_pipeline.domain.simulate import SimulatedDay, SimulationConfig, simulate_days

UTC = dt.timezone.utc
FIRST = dt.date(2026, 9, 1)
DAYS = 20  # days of history before the served day
TODAY = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS), dt.time(), UTC)  # the served day starts


def small_world(seed: int) -> SimulatedDay:
    """800 cards and 80 merchants over the history and the served day (seconds to build)."""
    config = SimulationConfig(seed=seed, n_customers=800, n_merchants=80, transactions_per_day=800)
    return simulate_days(config, [FIRST + dt.timedelta(days=i) for i in range(DAYS + 1)])


def train_on_labels(features: pd.DataFrame, labels: pd.DataFrame, names: list[str], params: dict, rounds: int):
    """A model trained on the feature rows with their labels, validated on their last 30 % in time."""
    from fraudshield_pipeline.domain.train import train_xgboost

    labelled = features.merge(labels[[s.TRANSACTION_ID, s.IS_FRAUD]], how="left", on=s.TRANSACTION_ID)
    labelled[s.IS_FRAUD] = labelled[s.IS_FRAUD].fillna(0).astype(int)
    cut = labelled[s.EVENT_TIMESTAMP].quantile(0.7)
    train, valid = labelled[labelled[s.EVENT_TIMESTAMP] < cut], labelled[labelled[s.EVENT_TIMESTAMP] >= cut]
    return train_xgboost(train, valid, names, params, max_rounds=rounds)


def materialize(feature_store, world: SimulatedDay, as_of: dt.datetime = TODAY) -> None:
    """The online state as of ``as_of``, from the world's transactions before it."""
    from fraudshield_pipeline.feature_repo import state_tables

    history = world.transactions[world.transactions[s.EVENT_TIMESTAMP] < pd.Timestamp(as_of)]
    feature_store.write_state(state_tables(*entity_states(history, world.labels, as_of), as_of))
