# MLflow tracking server of the ECS deployment, run by the mlflow task as `python -c <this>`.
#
# Who may move the champion: the server runs MLflow's basic-auth app, so every request but
# /health needs a user. Users and grants are provisioned here, before the server starts, from the
# task's secrets (Secrets Manager), idempotently on every start, so a restart after a rotation
# applies the new passwords:
#   admin     MLFLOW_AUTH_ADMIN_USERNAME / _PASSWORD          (MLflow's own variables) operators only
#   pipeline  FRAUDSHIELD_MLFLOW_PIPELINE_USERNAME / _PASSWORD  EDIT on the registered models:
#             log runs, register versions, move aliases; no delete, no permission changes
#   scoring   FRAUDSHIELD_MLFLOW_SCORING_USERNAME / _PASSWORD   READ on the registered models
# The registered models (FRAUDSHIELD_MLFLOW_MODELS, comma-separated) are created here if missing,
# so that the pipeline never becomes their creator (a creator gets MANAGE). Any other user has
# NO_PERMISSIONS (default_permission), anonymous requests get 401.
#
# Stores: the backend and the auth app's own user store are the databases MLFLOW_DB_NAME (mlflow)
# and MLFLOW_AUTH_DB_NAME (mlflow_auth) on the RDS instance, reached as MLFLOW_DB_USER, a role
# that owns those two databases and nothing else (created by db_bootstrap.py, not the master
# user). Passwords reach MLflow through MLFLOW_BACKEND_STORE_URI and a 0600 config file on the
# task's private /tmp, never the command line. MLFLOW_BACKEND_STORE_URI / MLFLOW_AUTH_DATABASE_URI,
# when set, replace the PostgreSQL URIs (tests on sqlite). Artifacts:
# FRAUDSHIELD_MLFLOW_ARTIFACT_LOCATION (s3://<artifacts bucket>/mlflow), read and written by
# clients directly with their task role.
# fraudshield_pipeline_tests/services.py runs this same script on loopback (MLFLOW_HOST, _PORT, _WORKERS).
import configparser
import os
import tempfile
import urllib.parse

env = os.environ


def postgres_uri(database):
    # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which is not installed: name psycopg2.
    return "postgresql+psycopg2://{}:{}@{}:{}/{}?sslmode=require".format(
        urllib.parse.quote(env["MLFLOW_DB_USER"], safe=""),
        urllib.parse.quote(env["MLFLOW_DB_PASSWORD"], safe=""),
        env["MLFLOW_DB_HOST"],
        env["MLFLOW_DB_PORT"],
        database,
    )


backend_uri = env.get("MLFLOW_BACKEND_STORE_URI") or postgres_uri(env.get("MLFLOW_DB_NAME", "mlflow"))
auth_uri = env.get("MLFLOW_AUTH_DATABASE_URI") or postgres_uri(env.get("MLFLOW_AUTH_DB_NAME", "mlflow_auth"))
env["MLFLOW_BACKEND_STORE_URI"] = backend_uri
# MLflow's server-side job runner (GenAI jobs; a dozen worker processes) serves nothing here.
env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
env.pop("MLFLOW_AUTH_DATABASE_URI", None)
for name in ("MLFLOW_DB_PASSWORD", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
    env.pop(name, None)  # the server's workers need none of these

users = {
    "admin": (env["MLFLOW_AUTH_ADMIN_USERNAME"], env["MLFLOW_AUTH_ADMIN_PASSWORD"]),
    "pipeline": (env["FRAUDSHIELD_MLFLOW_PIPELINE_USERNAME"], env.pop("FRAUDSHIELD_MLFLOW_PIPELINE_PASSWORD")),
    "scoring": (env["FRAUDSHIELD_MLFLOW_SCORING_USERNAME"], env.pop("FRAUDSHIELD_MLFLOW_SCORING_PASSWORD")),
}
assert len({username for username, _ in users.values()}) == len(users), "admin, pipeline and scoring need distinct users"
models = [m.strip() for m in env.get("FRAUDSHIELD_MLFLOW_MODELS", "fraudshield-fraud-xgb,fraudshield-fraud-xgb-service").split(",") if m.strip()]

# The auth app reads its configuration from a file; the admin password stays in the environment
# (MLFLOW_AUTH_ADMIN_PASSWORD), the auth database's password in this file, readable by us only.
config = configparser.RawConfigParser()
config["mlflow"] = {
    "default_permission": "NO_PERMISSIONS",
    "database_uri": auth_uri.replace("%", "%%"),  # the auth app reads it with interpolation
    "admin_username": users["admin"][0],
    "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
    # A password check is PBKDF2 (hundreds of ms of CPU): cache a success per worker for a minute.
    # Users change only here, at a start, so no worker can hold a stale entry past a rotation.
    "auth_cache_ttl_seconds": "60",
}
config_dir = tempfile.mkdtemp(prefix="mlflow-auth-")
config_path = os.path.join(config_dir, "basic_auth.ini")
with os.fdopen(os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
    config.write(handle)
env["MLFLOW_AUTH_CONFIG_PATH"] = config_path

from mlflow.exceptions import MlflowException  # noqa: E402  (after MLFLOW_AUTH_CONFIG_PATH is set)
from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore as AuthStore  # noqa: E402
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore  # noqa: E402

registry = RegistryStore(backend_uri)
for model in models:
    try:
        registry.create_registered_model(model, description="FraudShield card-fraud model.")
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise

auth = AuthStore()
auth.init_db(auth_uri)
for role, (username, password) in users.items():
    is_admin = role == "admin"
    if not auth.has_user(username, use_primary=True):
        try:
            auth.create_user(username, password, is_admin=is_admin)
            continue
        except MlflowException as error:  # another task created it first
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
    auth.update_user(username, password=password, is_admin=is_admin)
for model in models:
    auth.grant_user_permission(users["pipeline"][0], "registered_model", model, "EDIT")
    auth.grant_user_permission(users["scoring"][0], "registered_model", model, "READ")
auth.engine.dispose()
registry.engine.dispose()

os.execvp(
    "mlflow",
    [
        "mlflow",
        "server",
        "--app-name",
        "basic-auth",
        "--host",
        env.get("MLFLOW_HOST", "0.0.0.0"),
        "--port",
        env.get("MLFLOW_PORT", "5000"),
        "--workers",
        env.get("MLFLOW_WORKERS", "4"),
        "--default-artifact-root",
        env["FRAUDSHIELD_MLFLOW_ARTIFACT_LOCATION"],
        "--no-serve-artifacts",
    ],
)
