"""The registered models work through MLflow's own interfaces, pickle-free.

- `models:/<name>@champion` on rows of the feature table as they are (float64, nulls, string
  categoricals, unseen categories, optional columns left out) equals the project's own scores.
- `models:/<name>-service@champion` on raw transactions equals `FraudScorer`, follows the alias
  as documented (resolved at load: a restart after a move serves the new champion), and falls
  back (decision `review`, degraded) on a dead store, fast, with the circuit open, then recovers.
"""

import datetime as dt
import json
import time

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import build_features, model_feature_names
from fraudshield_pipeline_tests.serving_world import FIRST, TODAY, UTC, materialize, small_world, train_on_labels


@pytest.fixture(scope="module")
def world():
    return small_world(seed=5)


@pytest.fixture(scope="module")
def features(world):
    start = dt.datetime.combine(FIRST, dt.time(), UTC)
    return build_features(world.transactions, world.labels, start, TODAY + dt.timedelta(days=1))


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
        history = features[features[s.EVENT_TIMESTAMP] < pd.Timestamp(TODAY)]
        model = train_on_labels(history, world.labels, names, {"tree_method": "hist", "nthread": 1}, rounds)
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


def _requests(transactions: pd.DataFrame) -> pd.DataFrame:
    """Raw transactions as a client sends them: ISO times, the optional columns as strings."""
    frame = transactions[[s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID, s.EVENT_TIMESTAMP, s.AMOUNT, s.CHANNEL, s.MERCHANT_CATEGORY, s.COUNTRY]].copy()
    frame[s.EVENT_TIMESTAMP] = frame[s.EVENT_TIMESTAMP].map(lambda t: t.isoformat())
    frame[s.AMOUNT] = frame[s.AMOUNT].astype("float64")
    return frame.reset_index(drop=True)


def _service(registry, config=None):
    import mlflow

    from fraudshield_pipeline.serving.models import SERVICE_SUFFIX

    return mlflow.pyfunc.load_model(f"models:/{registry.model_name}{SERVICE_SUFFIX}@champion", model_config=config)


def test_the_service_scores_a_day_of_transactions_like_the_batch_and_follows_the_alias_on_restart(
    registered, env, world, features, monkeypatch
):
    from fraudshield_pipeline.domain.train import predict
    from fraudshield_pipeline.resources.profiles import build_resources
    from fraudshield_pipeline.resources.registry import CHAMPION

    registry, versions = registered
    for name, value in {**env, "MLFLOW_TRACKING_URI": registry.tracking_uri}.items():
        monkeypatch.setenv(name, value)
    feature_store = build_resources(env)["feature_store"]
    feature_store.apply()
    materialize(feature_store, world)
    day = world.transactions[world.transactions[s.EVENT_TIMESTAMP] >= pd.Timestamp(TODAY)].sort_values(
        [s.EVENT_TIMESTAMP, s.TRANSACTION_ID]
    )
    service = _service(registry)  # records every transaction: the state advances through the day
    answers = service.predict(_requests(day))
    assert not answers["degraded"].any() and set(answers["model_version"]) == {versions["full"]}
    batch = features[features[s.EVENT_TIMESTAMP] >= pd.Timestamp(TODAY)].set_index(s.TRANSACTION_ID).loc[day[s.TRANSACTION_ID]]
    expected = predict(registry.load_booster(versions["full"]), batch.reset_index())
    np.testing.assert_allclose(answers["score"].to_numpy(dtype=float), expected, rtol=0, atol=1e-6)
    alerts = answers[answers["decision"] == "alert"]
    assert (answers["decision"] == "alert").tolist() == (answers["score"] >= answers["threshold"]).tolist()
    assert all(len(json.loads(r)) == 3 for r in alerts["reasons"]) and len(alerts) > 0

    # A new champion is picked up when the server (re)loads the model: the documented restart.
    registry.set_alias(CHAMPION, versions["weak"])
    try:
        reloaded = _service(registry, {"record": False})
        assert set(reloaded.predict(_requests(day.head(3)))["model_version"]) == {versions["weak"]}
    finally:
        registry.set_alias(CHAMPION, versions["full"])


def _start_redis(port: int, root):
    import subprocess

    from fraudshield_pipeline_tests.services import wait_for_port

    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(root)],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_for_port(port, process, timeout=20)
    return process


def test_a_redis_outage_gets_the_fallback_fast_opens_the_circuit_and_recovers(registered, world, tmp_path, monkeypatch):
    import shutil

    from fraudshield_pipeline.resources.profiles import build_resources
    from fraudshield_pipeline_tests.services import _stop_process_group, free_port

    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (.ci/run installs it)")
    registry, versions = registered
    port = free_port()
    env = {
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_ONLINE_STORE": "redis",
        "FRAUDSHIELD_REDIS_URL": f"127.0.0.1:{port}",
        "MLFLOW_TRACKING_URI": registry.tracking_uri,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    redis = _start_redis(port, tmp_path)
    try:
        feature_store = build_resources(env)["feature_store"].process_config_and_initialize()
        feature_store.apply()
        materialize(feature_store, world)
        requests = _requests(world.transactions[world.transactions[s.EVENT_TIMESTAMP] >= pd.Timestamp(TODAY)].head(20))
        model = _service(registry, {"breaker_reset_s": 1.0})
        service = model.unwrap_python_model().service
        assert not model.predict(requests.iloc[[0]])["degraded"].iloc[0]

        _stop_process_group(redis)
        started = time.perf_counter()
        down = model.predict(requests.iloc[[1]]).iloc[0]
        assert time.perf_counter() - started < 3.5  # the Redis client's timeouts bound it (1 s connect, 2 s read)
        assert down["degraded"] and down["decision"] == "review" and down["degraded_reason"] == "store_unreachable"
        assert down["model_version"] == versions["full"] and pd.isna(down["score"])
        started = time.perf_counter()
        open_answers = model.predict(requests.iloc[2:6])
        assert time.perf_counter() - started < 0.5  # the open circuit does not touch the store
        assert set(open_answers["degraded_reason"]) == {"circuit_open"}

        redis = _start_redis(port, tmp_path)  # the store answers again (empty: the state is rewritten)
        materialize(feature_store, world)
        time.sleep(1.1)  # one probe after breaker_reset_s closes the circuit
        back = model.predict(requests.iloc[6:10])
        assert not back["degraded"].any() and back["score"].between(0, 1).all()
        metrics = service.metrics_text()
        for line in ("fallback_store_unreachable_total", "fallback_circuit_open_total", "circuit_opened_total 1", "circuit_open 0"):
            assert line in metrics, metrics
        assert f'fraudshield_serving_fallback_circuit_open_total{{model_version="{versions["full"]}"}} 4' in metrics
    finally:
        _stop_process_group(redis)


SERVE_START_LIMIT_S = 600


@pytest.mark.parametrize(
    "front",
    [
        "fraudshield",
        # 5 min at load average 12 on 2 cores (2026-11-30): /ping after 143 s, then 800 transactions
        pytest.param("mlflow", marks=pytest.mark.slow),
    ],
)
def test_fraudshield_serve_answers_http_on_loopback_like_the_batch(registered, world, features, tmp_path, front):
    """`fraudshield serve` (both fronts: its own and `mlflow models serve`) scores a day of
    transactions over HTTP as the batch does, and refuses a request the signature rejects."""
    import os
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    from fraudshield_pipeline.domain.train import predict
    from fraudshield_pipeline.resources.profiles import build_resources
    from fraudshield_pipeline_tests.services import _stop_process_group, free_port

    registry, versions = registered
    env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"), "MLFLOW_TRACKING_URI": registry.tracking_uri}
    feature_store = build_resources(env)["feature_store"].process_config_and_initialize()
    feature_store.apply()
    materialize(feature_store, world)
    day = world.transactions[world.transactions[s.EVENT_TIMESTAMP] >= pd.Timestamp(TODAY)].sort_values([s.EVENT_TIMESTAMP, s.TRANSACTION_ID])
    port, metrics_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "fraudshield_pipeline.cli", "serve", "--port", str(port), "--metrics-port", str(metrics_port), "--server", front]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def post(payload: dict) -> tuple[int, dict]:
        request = urllib.request.Request(f"{url}/invocations", json.dumps(payload).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    try:
        # Python processes start in turn (this CLI, and for mlflow `mlflow models serve` and its
        # uvicorn worker, loading the model: MLflow, Dagster's resources, Feast): seconds on 2
        # idle cores, minutes when the host is shared, which is no property of the service.
        started, deadline = time.monotonic(), time.monotonic() + SERVE_START_LIMIT_S
        while True:
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, f"fraudshield serve did not start\n{log_path.read_text()[-3000:]}"
                time.sleep(0.5)
        print(f"fraudshield serve --server {front} answered /ping after {time.monotonic() - started:.1f} s")
        # The day in requests of 100 transactions, in time order (each request records its
        # transactions before the next is read): a bounded wait per request, the same scores.
        # Both of MLflow's table formats: split for most, records for every fifth request.
        answers, requests = [], _requests(day)
        for number, first in enumerate(range(0, len(requests), 100)):
            chunk = requests.iloc[first : first + 100]
            payload = {"dataframe_records": chunk.to_dict(orient="records")} if number % 5 == 4 else {"dataframe_split": chunk.to_dict(orient="split", index=False)}
            status, body = post(payload)
            assert status == 200, body
            answers.append(pd.DataFrame(body["predictions"]))
        answers = pd.concat(answers, ignore_index=True)
        # A request the signature rejects is a 400 naming the column, and changes no state.
        row = requests.iloc[0].to_dict()
        status, body = post({"dataframe_records": [{k: v for k, v in row.items() if k != s.CUSTOMER_ID}]})
        assert status == 400 and s.CUSTOMER_ID in body["message"], body
        status, body = post({"dataframe_records": [{**row, s.AMOUNT: "12,50"}]})
        assert status == 400 and s.AMOUNT in body["message"], body
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        if front == "fraudshield":  # the same metrics on the serving port, and MLflow's other routes
            assert urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode().split("latency")[0] == metrics.split("latency")[0]
            assert urllib.request.urlopen(f"{url}/health", timeout=5).status == 200
            assert urllib.request.urlopen(f"{url}/version", timeout=5).read().decode()[:1].isdigit()
    finally:
        _stop_process_group(server)
    batch = features.set_index(s.TRANSACTION_ID).loc[day[s.TRANSACTION_ID]].reset_index()
    expected = predict(registry.load_booster(versions["full"]), batch)
    np.testing.assert_allclose(answers["score"].to_numpy(dtype=float), expected, rtol=0, atol=1e-6)
    assert set(answers["model_version"]) == {versions["full"]} and not answers["degraded"].any()
    assert answers[s.TRANSACTION_ID].tolist() == day[s.TRANSACTION_ID].astype(str).tolist()
    assert f'fraudshield_serving_recorded_total{{model_version="{versions["full"]}"}} {len(day)}' in metrics
