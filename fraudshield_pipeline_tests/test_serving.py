"""The serving path never scores from missing features: it fails fast, with a reason."""

import datetime as dt
import socket
import time

import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import build_features, model_feature_names
from fraudshield_pipeline.domain.online import StaleOnlineState
from fraudshield_pipeline_tests.serving_world import DAYS, FIRST, TODAY, UTC, materialize, small_world, train_on_labels


@pytest.fixture(scope="module")
def world():
    return small_world(seed=3)


@pytest.fixture(scope="module")
def booster(world):
    start = dt.datetime.combine(FIRST, dt.time(), UTC)
    features = build_features(world.transactions, world.labels, start, TODAY)
    return train_on_labels(features, world.labels, model_feature_names(features.columns), {"tree_method": "hist"}, 20).booster


def store(tmp_path, **kwargs):
    from fraudshield_pipeline.resources.feature_store import FeastFeatureStore

    feature_store = FeastFeatureStore(repo_dir=str(tmp_path / "feast"), tables_uri=str(tmp_path / "tables"), **kwargs)
    feature_store.apply()
    return feature_store


def arriving(world) -> dict:
    return world.transactions[world.transactions[s.EVENT_TIMESTAMP] >= pd.Timestamp(TODAY)].iloc[0].to_dict()


def test_a_store_never_materialized_refuses_to_score(tmp_path, world, booster):
    from fraudshield_pipeline.serving import FraudScorer

    scorer = FraudScorer(store(tmp_path), booster, "test")
    with pytest.raises(StaleOnlineState, match="never materialized"):
        scorer.score(arriving(world))


def test_a_store_a_day_behind_refuses_to_score_and_a_fresh_one_scores(tmp_path, world, booster):
    from fraudshield_pipeline.serving import FraudScorer

    feature_store = store(tmp_path)
    scorer = FraudScorer(feature_store, booster, "test")
    materialize(feature_store, world, TODAY - dt.timedelta(days=1))
    with pytest.raises(StaleOnlineState, match="materialize online_features"):
        scorer.score(arriving(world))
    materialize(feature_store, world, TODAY)
    decision = scorer.score(arriving(world))
    assert 0.0 <= decision.score <= 1.0 and decision.features["customer_tx_count_30d"] >= 0


def test_an_unreachable_online_store_fails_fast(tmp_path, world, booster):
    from fraudshield_pipeline.serving import FraudScorer

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scorer = FraudScorer(store(tmp_path, online_store="redis", redis_connection_string=f"127.0.0.1:{port}"), booster, "test")
    with pytest.raises(Exception, match="(?i)connect|refused") as failure:
        scorer.score(arriving(world))  # the first call also imports the Redis client
    assert not isinstance(failure.value, (KeyError, TypeError, ValueError))  # the store's error, not a scoring bug
    started = time.perf_counter()
    with pytest.raises(type(failure.value)):
        scorer.score(arriving(world))
    assert time.perf_counter() - started < 3  # no retry loop holds the request


def _margin(booster, vector, names, categories) -> float:
    from fraudshield_pipeline.domain.reasons import vector_matrix

    return float(booster.predict(vector_matrix(vector, names, categories), output_margin=True)[0])


@pytest.mark.parametrize("exact", [False, True], ids=["approximate", "exact"])
def test_an_alert_comes_with_reasons_that_are_the_top_of_contributions_summing_to_the_margin(tmp_path, world, booster, exact):
    import numpy as np

    from fraudshield_pipeline.domain.reasons import vector_contributions
    from fraudshield_pipeline.domain.train import model_vector
    from fraudshield_pipeline.serving import FraudScorer

    feature_store = store(tmp_path)
    scorer = FraudScorer(feature_store, booster, "test", exact_reasons=exact)
    materialize(feature_store, world, TODAY)
    transaction = arriving(world)
    features = scorer.features(transaction)
    below = scorer.decide(transaction, features)
    scorer.threshold = below.score  # this transaction now sits exactly at the alert threshold
    decision = scorer.decide(transaction, features)
    assert decision.flagged and len(decision.reasons) == 3
    assert below.flagged or not below.reasons

    vector = model_vector(features, scorer.feature_names, scorer.categories)
    contribs = vector_contributions(booster, vector, scorer.feature_names, scorer.categories, approximate=not exact)[0]
    other = vector_contributions(booster, vector, scorer.feature_names, scorer.categories, approximate=exact)[0]
    assert not np.allclose(contribs, other)  # the two splits differ: the scorer used the one asked for
    assert abs(float(contribs.sum()) - _margin(booster, vector, scorer.feature_names, scorer.categories)) < 1e-4  # every feature plus the bias
    per_feature = dict(zip(scorer.feature_names, contribs[:-1].tolist()))
    top = sorted(per_feature.values(), reverse=True)[:3]
    assert [r["contribution"] for r in decision.reasons] == pytest.approx(top, abs=1e-6)
    for reason in decision.reasons:
        assert reason["contribution"] == pytest.approx(per_feature[reason["feature"]], abs=1e-6)
        value = features[reason["feature"]]
        assert reason["value"] == (None if isinstance(value, float) and np.isnan(value) else value)


def _same_card_transactions(world, n: int) -> list[dict]:
    """`n` transactions of one card and one merchant, a second apart, on the day after the state."""
    base = arriving(world)
    start = pd.Timestamp(base[s.EVENT_TIMESTAMP])
    return [
        {**base, s.TRANSACTION_ID: f"concurrent-{i}", s.EVENT_TIMESTAMP: start + pd.Timedelta(seconds=i), s.AMOUNT: 10.0 + i}
        for i in range(n)
    ]


def _concurrent_records_keep_every_event(make_store, world, booster):
    from concurrent.futures import ThreadPoolExecutor

    from fraudshield_pipeline.serving import FraudScorer

    materialize(make_store(), world, TODAY)
    transactions = _same_card_transactions(world, 48)
    # Two scorers with their own store clients (two serving processes), four threads each; half
    # the events through `record`, half through the service's `score_and_record`.
    scorers = [FraudScorer(make_store(), booster, "test") for _ in range(2)]
    before = scorers[0]._state(transactions[0])

    def record(pair):
        number, transaction = pair
        scorer = scorers[number % 2]
        if number % 4 < 2:
            return scorer.record(transaction)
        decision, error = scorer.score_and_record(transaction)
        assert error is None and 0 <= decision.score <= 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(record, enumerate(transactions)))
    customer, merchant = scorers[0]._state(transactions[0])
    assert len(customer.event_us) == len(before[0].event_us) + len(transactions)
    assert len(merchant.event_us) == len(before[1].event_us) + len(transactions)
    assert sorted(customer.amounts.tolist()[-len(transactions):]) == sorted(t[s.AMOUNT] for t in transactions)


def test_concurrent_records_of_one_card_keep_every_event_on_sqlite(tmp_path, world, booster):
    _concurrent_records_keep_every_event(lambda: store(tmp_path), world, booster)


def test_concurrent_records_of_one_card_keep_every_event_on_redis(tmp_path, world, booster, redis_server):
    redis_server.client().flushall()
    _concurrent_records_keep_every_event(
        lambda: store(tmp_path, online_store="redis", redis_connection_string=redis_server.url), world, booster
    )


def test_batch_reasons_are_the_top_contributions_of_alerts_only_and_contributions_sum_to_the_margin(world, booster):
    import json

    import numpy as np

    from fraudshield_pipeline.domain.reasons import alert_reasons, contributions
    from fraudshield_pipeline.domain.train import model_contract, model_matrix

    start = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS - 1), dt.time(), UTC)
    rows = build_features(world.transactions, world.labels, start, start + dt.timedelta(days=1)).head(200)
    names, categories, _ = model_contract(booster)
    matrix = model_matrix(rows, names, categories)
    contribs = contributions(booster, matrix)
    import xgboost as xgb

    margin = booster.predict(xgb.DMatrix(matrix, enable_categorical=True), output_margin=True)
    np.testing.assert_allclose(contribs.sum(axis=1), margin, atol=1e-4)
    alerts = np.arange(len(rows)) % 3 == 0
    reasons = alert_reasons(booster, rows, alerts)
    assert [r is not None for r in reasons] == alerts.tolist()
    for i in np.flatnonzero(alerts):
        got = json.loads(reasons[i])
        order = np.argsort(-contribs[i, :-1], kind="stable")[:3]
        assert [r["feature"] for r in got] == [names[j] for j in order]
        assert [r["contribution"] for r in got] == pytest.approx(contribs[i, order].tolist(), abs=1e-6)


def _reads_equal_feasts_standard_api(feature_store, world, booster):
    """The scorer's lean read (`online_rows`) returns exactly what Feast's `get_online_features` does."""
    from fraudshield_pipeline.feature_repo import CUSTOMER_STATE, MERCHANT_STATE, STORE_ID, STORE_KEY, STORE_STATUS, online_refs
    from fraudshield_pipeline.serving import FraudScorer

    materialize(feature_store, world, TODAY)
    FraudScorer(feature_store, booster, "test").record(arriving(world))  # a row written by write_entity too
    cards = [arriving(world), {**arriving(world), s.CUSTOMER_ID: "never-seen", s.MERCHANT_ID: "never-seen"}]
    for tx in cards:
        lean = feature_store.online_rows(
            [(CUSTOMER_STATE, tx[s.CUSTOMER_ID]), (MERCHANT_STATE, tx[s.MERCHANT_ID]), (STORE_STATUS, STORE_ID)]
        )
        row = {s.CUSTOMER_ID: tx[s.CUSTOMER_ID], s.MERCHANT_ID: tx[s.MERCHANT_ID], STORE_KEY: STORE_ID}
        standard = {k: v[0] for k, v in feature_store.online_features([row], online_refs(), full_names=True).items()}
        for view, values in zip((CUSTOMER_STATE, MERCHANT_STATE, STORE_STATUS), lean, strict=True):
            fields = {k.split("__", 1)[1]: v for k, v in standard.items() if k.startswith(f"{view}__")}
            assert (values or {k: None for k in fields}) == fields, view
    assert lean[0] is None and lean[2] is not None  # an unknown card has no row; the status row is there


def test_the_lean_state_read_equals_feasts_get_online_features_on_sqlite(tmp_path, world, booster):
    _reads_equal_feasts_standard_api(store(tmp_path), world, booster)


def test_the_lean_state_read_equals_feasts_get_online_features_on_redis(tmp_path, world, booster, redis_server):
    redis_server.client().flushall()
    _reads_equal_feasts_standard_api(store(tmp_path, online_store="redis", redis_connection_string=redis_server.url), world, booster)


def test_score_and_record_answers_as_score_then_record_does(tmp_path, world, booster):
    from fraudshield_pipeline.serving import FraudScorer

    transactions = _same_card_transactions(world, 6)
    apart, together = (FraudScorer(store(tmp_path / name), booster, "test") for name in ("apart", "together"))
    for scorer in (apart, together):
        materialize(scorer.feature_store, world, TODAY)
    for transaction in transactions:
        expected = apart.score(transaction)
        apart.record(transaction)
        decision, error = together.score_and_record(transaction)
        assert error is None and decision == expected
    assert [len(state.event_us) for state in apart._state(transactions[0])] == [len(state.event_us) for state in together._state(transactions[0])]


def test_a_failed_record_keeps_the_answer_counts_the_failure_and_opens_the_circuit(tmp_path, world, booster, monkeypatch):
    import sqlite3

    from fraudshield_pipeline.serving import FraudScorer
    from fraudshield_pipeline.serving.service import OPEN, ScoringService

    feature_store = store(tmp_path)
    materialize(feature_store, world, TODAY)
    service = ScoringService(FraudScorer(feature_store, booster, "test"))
    transactions = _same_card_transactions(world, 2)
    expected = FraudScorer(feature_store, booster, "test").score(transactions[0]).score

    def disk_full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(type(feature_store), "write_entity", disk_full)
    answer = service.handle(transactions[0])
    assert not answer["degraded"] and answer["score"] == pytest.approx(expected)
    assert service.metrics.counts["record_failures"] == 1 and service.metrics.counts["recorded"] == 0
    assert service.breaker.state == OPEN and service.handle(transactions[1])["degraded_reason"] == "circuit_open"


def test_the_serving_store_checkpoints_its_wal_on_a_thread_not_inside_a_request(tmp_path, world, booster):
    import sqlite3
    from pathlib import Path

    from fraudshield_pipeline.serving import FraudScorer

    feature_store = store(tmp_path)
    materialize(feature_store, world, TODAY)
    assert feature_store.checkpoint_in_background(interval_s=0.05).daemon
    conn = feature_store.store()._get_provider().online_store._get_conn(feature_store.store().config)
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # never inside a commit
    database = Path(feature_store.store().config.online_store.path)
    before = database.stat().st_mtime_ns
    scorer = FraudScorer(feature_store, booster, "test")
    for transaction in _same_card_transactions(world, 20):
        scorer.record(transaction)
    deadline = time.monotonic() + 10
    while database.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert database.stat().st_mtime_ns != before  # the thread copied the log into the database
    frames = sqlite3.connect(database).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames[1] == frames[2]  # nothing left in the log that is not in the database


def test_a_request_refused_at_a_later_row_records_none_of_its_rows(tmp_path, world, booster):
    from fraudshield_pipeline.serving import FraudScorer
    from fraudshield_pipeline.serving.service import ScoringService

    feature_store = store(tmp_path)
    materialize(feature_store, world, TODAY)
    service = ScoringService(FraudScorer(feature_store, booster, "test"))
    good, bad = _same_card_transactions(world, 2)
    before = [len(state.event_us) for state in service.scorer._state(good)]
    for broken in ({**bad, s.EVENT_TIMESTAMP: "yesterday-ish"}, {**bad, s.AMOUNT: "12,50"}, {k: v for k, v in bad.items() if k != s.MERCHANT_ID}):
        with pytest.raises((KeyError, ValueError)):
            service.handle_all([good, broken])
        assert [len(state.event_us) for state in service.scorer._state(good)] == before  # the good row was not recorded
    assert [a["degraded"] for a in service.handle_all([good, bad])] == [False, False]
    assert [len(state.event_us) for state in service.scorer._state(good)] == [n + 2 for n in before]
