"""Shared fixtures: a real S3 API (moto's server on loopback) for storage and pipeline tests, the
servers of the production profile, and a small training set for tests that train through the registry."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest

TEST_REGION = "us-east-1"
TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class MotoS3:
    """A running moto S3 server: its endpoint and a way to get a fresh, empty bucket."""

    endpoint_url: str
    region: str = TEST_REGION
    buckets: list[str] = field(default_factory=list)

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region, **TEST_CREDENTIALS)

    def create_bucket(self, name: str | None = None) -> str:
        """Creates a bucket no other test uses (the server's state lives for the whole session)."""
        bucket = name or f"test-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=bucket)
        self.buckets.append(bucket)
        return bucket

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key under a prefix, through the S3 API (not through the code under test)."""
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(o["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", []))

    def __getitem__(self, item: str):  # dict-style access: moto_s3["endpoint_url"]
        return getattr(self, item)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """moto's S3 server on 127.0.0.1 and a free port, for the whole session; stopped at the end."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield MotoS3(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def aws_test_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Test-only AWS credentials and region in the process environment; no real AWS config is read."""
    empty = tmp_path_factory.mktemp("aws-config")
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_REGION": TEST_REGION,
        "AWS_CONFIG_FILE": str(empty / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty / "credentials"),
    }
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


# --- servers of the production profile (fraudshield_pipeline_tests/services.py) ------------------


def _require(name: str) -> None:
    from fraudshield_pipeline_tests import services

    if reason := services.missing().get(name):
        pytest.skip(f"needs {reason} (.ci/run installs it)")


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL cluster with TLS on loopback for the session (database `dagster`)."""
    from fraudshield_pipeline_tests.services import PostgresServer

    _require("postgres")
    _require("openssl")
    _require("runuser")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """redis-server on loopback for the session."""
    from fraudshield_pipeline_tests.services import RedisServer

    _require("redis")
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_server(postgres_server, moto_s3: MotoS3):
    """The deployment's MLflow server script on loopback: PostgreSQL backend, artifacts on moto S3."""
    from fraudshield_pipeline_tests.services import MlflowServer

    bucket = moto_s3.create_bucket()
    server = MlflowServer(
        postgres=postgres_server,
        artifact_root=f"s3://{bucket}/mlflow",
        aws_env={
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": TEST_REGION,
            "AWS_ENDPOINT_URL": moto_s3.endpoint_url,
            "MLFLOW_S3_ENDPOINT_URL": moto_s3.endpoint_url,
        },
    ).start()
    server.bucket = bucket
    try:
        yield server
    finally:
        server.stop()


# --- a small training set for tests that train through the real trained_model asset -------------


@pytest.fixture(scope="module")
def small_training_set():
    """30 simulated days (1,500 cards) as a training set: enough to train and register in seconds."""
    import datetime as dt

    from fraudshield_pipeline.domain.features import build_features
    from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_days
    from fraudshield_pipeline.domain.training_set import build_training_set, plan_window

    config = SimulationConfig(n_customers=1500, n_merchants=150, transactions_per_day=500)
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(30)]
    simulated = simulate_days(config, days)
    transactions, labels = simulated.transactions, simulated.labels
    start, end = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc), dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
    return build_training_set(build_features(transactions, labels, start, end), labels, plan_window(end))
