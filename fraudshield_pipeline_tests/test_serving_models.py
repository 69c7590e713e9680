"""The registered models work through MLflow's own interfaces, pickle-free.

- `models:/<name>@champion` on rows of the feature table as they are (float64, nulls, string
  categoricals, unseen categories, optional columns left out) equals the project's own scores.
- `models:/<name>-service@champion` on raw transactions equals `FraudScorer`, follows the alias
  as documented (resolved at load: a restart after a move serves the new champion), and falls
  back (decision `review`, degraded) on a dead store, fast, with the circuit open, then recovers.
"""

import datetime as dt
import json
import socket
import time

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import build_features, model_feature_names
from fraudshield_pipeline.domain.online import entity_states
from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_days

UTC = dt.timezone.utc
FIRST = dt.date(2026, 9, 1)
DAYS = 20
TODAY = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS), dt.time(), UTC)


@pytest.fixture(scope="module")
def world():
    config = SimulationConfig(seed=5, n_customers=800, n_merchants=80, transactions_per_day=800)
    return simulate_days(config, [FIRST + dt.timedelta(days=i) for i in range(DAYS + 1)])


@pytest.fixture(scope="module")
def features(world):
    start = dt.datetime.combine(FIRST, dt.time(), UTC)
    return build_features(world.transactions, world.labels, start, TODAY + dt.timedelta(days=1))


def _train(features, world, names, rounds):
    from fraudshield_pipeline.domain.train import train_xgboost

    labelled = features[features[s.EVENT_TIMESTAMP] < pd.Timestamp(TODAY)].merge(
        world.labels[[s.TRANSACTION_ID, s.IS_FRAUD]], how="left", on=s.TRANSACTION_ID
    )
    labelled[s.IS_FRAUD] = labelled[s.IS_FRAUD].fillna(0).astype(int)
    cut = labelled[s.EVENT_TIMESTAMP].quantile(0.7)
    train, valid = labelled[labelled[s.EVENT_TIMESTAMP] < cut], labelled[labelled[s.EVENT_TIMESTAMP] >= cut]
    return train_xgboost(train, valid, names, {"tree_method": "hist", "nthread": 1}, max_rounds=rounds)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving-models")
    return {"FRAUDSHIELD_DATA_DIR": str(root / "data")}


@pytest.fixture(scope="module")
def registered(env, features, world):
    """Two versions in a local (sqlite) registry: a full model (champion) and a weaker one."""
    from fraudshield_pipeline.resources.profiles import build_resources
    from fraudshield_pipeline.resources.registry import CHAMPION

    registry = build_resources(env)["registry"]
    versions = {}
    for label, names, rounds in (("full", model_feature_names(features.columns), 20), ("weak", ["amount", "hour_of_day"], 5)):
        model = _train(features, world, names, rounds)
        started = time.perf_counter()
        versions[label] = registry.log_training(
            run_name=f"test-{label}", booster=model.booster, example=features.head(5), params={}, metrics={}, tags={}, inputs={}
        ).version
        versions[f"{label}_log_s"] = time.perf_counter() - started
    registry.set_alias(CHAMPION, versions["full"])
    return registry, versions


def test_logging_both_models_stays_fast(registered):
    _, versions = registered
    assert versions["weak_log_s"] < 10, versions  # signature and requirements given: no inference


def test_the_champion_pyfunc_scores_feature_rows_as_they_are_like_the_project(registered, features, monkeypatch):
    import mlflow

    from fraudshield_pipeline.domain.train import predict

    registry, versions = registered
    rows = features.sample(400, random_state=1).reset_index(drop=True)
    rows.loc[:9, s.MERCHANT_CATEGORY] = "never_seen_category"  # unseen in training
    rows.loc[10:19, s.COUNTRY] = None
    assert rows.isna().any().any() and (rows.dtypes == "float64").any()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{registry.model_name}@champion")
    expected = predict(registry.load_booster(versions["full"]), rows)
    np.testing.assert_array_equal(np.asarray(model.predict(rows)).ravel(), expected)
    # The signature says the truth: nullable features and optional source columns are optional.
    inputs = {c.name: c for c in model.metadata.get_input_schema().inputs}
    assert not inputs["customer_hours_since_prev_tx"].required and not inputs[s.MERCHANT_CATEGORY].required
    assert inputs["amount"].required and inputs["amount"].type.name == "double"
    # A client without the optional columns still gets scores (the model treats them as missing).
    assert len(model.predict(rows.drop(columns=[s.MERCHANT_CATEGORY, s.COUNTRY, "is_online"]))) == len(rows)


def test_no_model_version_holds_a_pickle(registered, env):
    from pathlib import Path

    files = [p for p in Path(env["FRAUDSHIELD_DATA_DIR"]).rglob("*") if p.is_file()]
    assert any(p.name == "booster.ubj" for p in files)
    assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".joblib", ".cloudpickle")]
