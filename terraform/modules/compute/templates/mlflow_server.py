# MLflow tracking server of the ECS deployment, run by the mlflow task as `python -c <this>`.
# Backend store: the database `mlflow` on the Dagster PostgreSQL instance (created on first
# start); artifacts: FRAUDSHIELD_MLFLOW_ARTIFACT_LOCATION (s3://<artifacts bucket>/mlflow),
# which clients read and write directly with their task role. The password comes from the
# task's secrets and reaches MLflow through MLFLOW_BACKEND_STORE_URI, not the command line.
# fraudshield_pipeline_tests/services.py runs this same script on loopback (MLFLOW_HOST, _PORT, _WORKERS).
import os
import urllib.parse

import psycopg2
from psycopg2 import errors

env = os.environ
database = env.get("MLFLOW_DATABASE", "mlflow")
connect = dict(
    host=env["DAGSTER_PG_HOST"],
    port=env["DAGSTER_PG_PORT"],
    user=env["DAGSTER_PG_USER"],
    password=env["DAGSTER_PG_PASSWORD"],
    sslmode="require",
    connect_timeout=10,
)

conn = psycopg2.connect(dbname=env["DAGSTER_PG_DB"], **connect)
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
    if cur.fetchone() is None:
        try:
            cur.execute('CREATE DATABASE "{}"'.format(database.replace('"', "")))
        except errors.DuplicateDatabase:
            pass
conn.close()

# SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3, which is not installed: name psycopg2.
env["MLFLOW_BACKEND_STORE_URI"] = "postgresql+psycopg2://{}:{}@{}:{}/{}?sslmode=require".format(
    urllib.parse.quote(connect["user"], safe=""),
    urllib.parse.quote(connect["password"], safe=""),
    connect["host"],
    connect["port"],
    database,
)
os.execvp(
    "mlflow",
    [
        "mlflow",
        "server",
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
