"""Who may move the champion: the deployment's MLflow server and database bootstrap, for real.

- MLflow: terraform/modules/compute/templates/mlflow_server.py on loopback (sqlite stores), with
  the basic-auth app and random passwords. The pipeline's user registers a version and moves the
  champion alias; the scoring service's user loads the champion and reads its aliases but gets
  403 when it tries to move an alias or create a version; anonymous requests get 401.
- PostgreSQL: terraform/modules/compute/templates/db_bootstrap.py against a loopback server
  gives Dagster and MLflow roles of their own, each confined to its databases, without the
  master user's powers, and rotates their passwords.

The MLflow tests are slow (the server imports MLflow's auth app three times: bootstrap, CLI,
worker); the database test is not.
"""

import re
import secrets
import uuid

import pytest
import requests

from fraudshield_pipeline_tests.services import MODEL_NAME, MlflowServer, bootstrap_database


slow = pytest.mark.slow


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-auth")
    server = MlflowServer(postgres=None, artifact_root=str(root / "artifacts"), aws_env={}, backend_dir=root).start(timeout=600)
    server.artifacts = root / "experiment-artifacts"
    try:
        yield server
    finally:
        server.stop()


def _as(monkeypatch: pytest.MonkeyPatch, server: MlflowServer, user: str) -> None:
    """MLflow's client reads MLFLOW_TRACKING_USERNAME / _PASSWORD on every request."""
    for name, value in server.users.client_env(user).items():
        monkeypatch.setenv(name, value)


def _client(server: MlflowServer):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server.uri, registry_uri=server.uri)


def _status(call) -> int:
    """The HTTP status MLflow's client raised on (the auth app answers 403 in plain text)."""
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as refused:
        call()
    status = re.search(r"error code (\d{3})", str(refused.value))
    return int(status.group(1)) if status else refused.value.get_http_status_code()


@pytest.fixture(scope="module")
def champion(auth_server):
    """As the pipeline: a run with a tiny XGBoost model, registered and made champion."""
    import mlflow
    import numpy as np
    import xgboost as xgb

    from fraudshield_pipeline.resources.registry import CHAMPION, ModelRegistry

    with pytest.MonkeyPatch.context() as patch:
        _as(patch, auth_server, "pipeline")
        registry = ModelRegistry(tracking_uri=auth_server.uri, artifact_location=str(auth_server.artifacts))
        rng = np.random.default_rng(0)
        features = rng.random((64, 3))
        booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(features, label=features[:, 0] > 0.5), 3)
        mlflow_ = registry._mlflow()
        with mlflow_.start_run(experiment_id=registry.experiment_id()) as run:
            info = mlflow.xgboost.log_model(booster, name="model", model_format="ubj")
        version = _client(auth_server).create_model_version(MODEL_NAME, info.model_uri, run_id=run.info.run_id, model_id=info.model_id)
        registry.set_alias(CHAMPION, version.version)
        return {"version": version.version, "model_uri": info.model_uri, "run_id": run.info.run_id, "model_id": info.model_id,
                "features": features, "expected": booster.inplace_predict(features)}  # fmt: skip


@slow
def test_anonymous_and_wrong_passwords_are_refused_but_health_is_open(auth_server, champion):
    get = f"{auth_server.uri}/api/2.0/mlflow/registered-models/alias"
    params = {"name": MODEL_NAME, "alias": "champion"}
    assert requests.get(get, params=params, timeout=30).status_code == 401
    wrong = (auth_server.users.pipeline[0], secrets.token_urlsafe(24))
    assert requests.get(get, params=params, auth=wrong, timeout=30).status_code == 401
    move = f"{auth_server.uri}/api/2.0/mlflow/registered-models/alias"
    assert requests.post(move, json={**params, "version": "1"}, timeout=30).status_code == 401
    # ModelRegistry.check_reachable and the ECS health check probe /health without a user.
    assert requests.get(f"{auth_server.uri}/health", timeout=30).status_code == 200
    assert requests.get(get, params=params, auth=auth_server.users.scoring, timeout=30).status_code == 200


@slow
def test_the_pipeline_registers_versions_and_moves_the_champion(auth_server, champion, monkeypatch):
    from fraudshield_pipeline.resources.registry import CHAMPION, ModelRegistry

    _as(monkeypatch, auth_server, "pipeline")
    registry = ModelRegistry(tracking_uri=auth_server.uri)
    assert registry.version_for_alias(CHAMPION).version == champion["version"]
    client = _client(auth_server)
    second = client.create_model_version(MODEL_NAME, champion["model_uri"], run_id=champion["run_id"], model_id=champion["model_id"])
    registry.set_alias(CHAMPION, second.version)
    assert registry.version_for_alias(CHAMPION).version == second.version
    registry.set_alias(CHAMPION, champion["version"])  # back, for the other tests
    # EDIT, not MANAGE: it may not delete the model nor hand out permissions on it.
    assert _status(lambda: client.delete_registered_model(MODEL_NAME)) == 403
    grant = requests.post(
        f"{auth_server.uri}/api/2.0/mlflow/registered-models/permissions/create",
        json={"name": MODEL_NAME, "username": auth_server.users.scoring[0], "permission": "MANAGE"},
        auth=auth_server.users.pipeline,
        timeout=30,
    )
    assert grant.status_code == 403, grant.text


@slow
def test_the_scoring_service_reads_the_champion_but_cannot_move_it(auth_server, champion, monkeypatch):
    import mlflow
    import numpy as np

    _as(monkeypatch, auth_server, "scoring")
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")  # resolved through the server
    np.testing.assert_allclose(np.asarray(model.predict(champion["features"])).ravel(), champion["expected"], rtol=1e-6)
    client = _client(auth_server)
    version = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert version.version == champion["version"]
    assert "champion" in client.get_registered_model(MODEL_NAME).aliases

    assert _status(lambda: client.set_registered_model_alias(MODEL_NAME, "champion", champion["version"])) == 403
    assert _status(lambda: client.delete_registered_model_alias(MODEL_NAME, "champion")) == 403
    assert _status(lambda: client.create_model_version(MODEL_NAME, champion["model_uri"], run_id=champion["run_id"], model_id=champion["model_id"])) == 403
    assert _status(lambda: client.delete_model_version(MODEL_NAME, champion["version"])) == 403
    assert client.get_model_version_by_alias(MODEL_NAME, "champion").version == champion["version"]


# --- the database roles ------------------------------------------------------------------------------


def _connect(postgres, user: str, password: str, database: str):
    import psycopg2

    return psycopg2.connect(host="127.0.0.1", port=postgres.port, user=user, password=password, dbname=database, sslmode="require", connect_timeout=10)


def test_database_bootstrap_gives_dagster_and_mlflow_confined_roles(postgres_server):
    import psycopg2

    suffix = uuid.uuid4().hex[:8]
    dagster, mlflow = (f"dagster_{suffix}", secrets.token_urlsafe(24)), (f"mlflow_{suffix}", secrets.token_urlsafe(24))
    databases = {"DAGSTER_DB_NAME": f"dagster_{suffix}", "MLFLOW_DB_NAME": f"mlflow_{suffix}", "MLFLOW_AUTH_DB_NAME": f"mlflow_auth_{suffix}"}
    # An earlier deployment's table, created by the master user: handed over to Dagster's role.
    postgres_server.create_database(databases["DAGSTER_DB_NAME"])
    conn = postgres_server.connect(databases["DAGSTER_DB_NAME"])
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE runs (id serial PRIMARY KEY)")
    conn.close()

    bootstrap_database(postgres_server, {"dagster": dagster, "mlflow": mlflow}, databases)
    bootstrap_database(postgres_server, {"dagster": dagster, "mlflow": mlflow}, databases)  # idempotent

    for (user, password), own, foreign in [
        (dagster, [databases["DAGSTER_DB_NAME"]], [databases["MLFLOW_DB_NAME"], databases["MLFLOW_AUTH_DB_NAME"]]),
        (mlflow, [databases["MLFLOW_DB_NAME"], databases["MLFLOW_AUTH_DB_NAME"]], [databases["DAGSTER_DB_NAME"]]),
    ]:
        for database in own:
            conn = _connect(postgres_server, user, password, database)
            with conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE IF NOT EXISTS probe (x int)")  # migrations create tables
                cur.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication FROM pg_roles WHERE rolname = current_user")
                assert cur.fetchone() == (False, False, False, False)
            conn.close()
        for database in foreign:
            with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                _connect(postgres_server, user, password, database)

    conn = _connect(postgres_server, *dagster, databases["DAGSTER_DB_NAME"])
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO runs DEFAULT VALUES")  # the master's table and its sequence are the role's now
        cur.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'runs'")
        assert cur.fetchone() == (dagster[0],)
    conn.close()
    conn = postgres_server.connect()
    with conn.cursor() as cur:  # only a verifier reached the server, never the password
        cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (mlflow[0],))
        assert cur.fetchone()[0].startswith("SCRAM-SHA-256$4096:")
    conn.close()

    # Rotation: a new password replaces the old one.
    rotated = (dagster[0], secrets.token_urlsafe(24))
    bootstrap_database(postgres_server, {"dagster": rotated, "mlflow": mlflow}, databases)
    _connect(postgres_server, *rotated, databases["DAGSTER_DB_NAME"]).close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _connect(postgres_server, *dagster, databases["DAGSTER_DB_NAME"])
