"""S3 under faults: the ingest and snapshot stages run through a fault-injecting proxy in front of
moto's S3 server. Transient faults are retried by botocore (standard mode) and the run succeeds;
permanent ones fail the run with a message naming the object, and earlier versions stay intact.
"""

import os
from pathlib import Path

import dagster as dg
import pytest

from fraudshield_pipeline.defs.ingest.assets import raw_feeds
from fraudshield_pipeline.defs.snapshots.assets import validated_snapshots
from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline_tests.s3_faults import (
    ACCESS_DENIED,
    INTERNAL_ERROR,
    SLOW_DOWN,
    Fault,
    FaultPlan,
    fault_proxy,
)

DAY = "2026-09-01"
PREFIX = "fraudshield"


@pytest.fixture
def clean_env(aws_test_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in list(os.environ):
        if name.startswith(("FRAUDSHIELD_", "MLFLOW_")):
            monkeypatch.delenv(name)

    def configure(endpoint_url: str, bucket: str, **extra: str) -> dict[str, str]:
        env = {
            **aws_test_env,
            "FRAUDSHIELD_STORAGE": "s3",
            "FRAUDSHIELD_S3_BUCKET": bucket,
            "AWS_ENDPOINT_URL": endpoint_url,
            "FRAUDSHIELD_DATA_DIR": str(tmp_path),
            "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "400",
            **extra,
        }
        for name, value in env.items():  # EnvVar fields resolve from the process environment
            monkeypatch.setenv(name, value)
        return env

    return configure


def ingest_and_validate(env: dict[str, str]) -> dg.ExecuteInProcessResult:
    resources = build_resources(env)
    return dg.materialize(
        [raw_feeds, validated_snapshots],
        partition_key=DAY,
        resources={k: resources[k] for k in ("storage", "io_manager", "source", "quality")},
        raise_on_error=False,
    )


def objects(moto_s3, bucket: str) -> dict[str, str]:
    """Every object under the prefix with its ETag, read straight from moto (not through the proxy)."""
    client = moto_s3.client()
    return {key: client.head_object(Bucket=bucket, Key=key)["ETag"] for key in moto_s3.keys(bucket, PREFIX)}


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(event.step_failure_data.error.to_string() for event in result.get_step_failure_events())


def expected_keys(bucket_objects: dict[str, str]) -> None:
    for table in ("raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
                  "quarantined_transactions", "quarantined_labels"):
        assert f"{PREFIX}/tables/{table}/{DAY}.parquet" in bucket_objects, table
    assert any(k.startswith(f"{PREFIX}/snapshots/validated_transactions/{DAY}/") for k in bucket_objects)


def test_throttling_server_errors_and_slow_responses_are_retried(moto_s3, clean_env):
    bucket = moto_s3.create_bucket()
    is_put = lambda method, path: method == "PUT"  # noqa: E731
    plan = FaultPlan(
        # Served in order to PUTs: the first write is throttled twice and fails once, then answered
        # slowly (4 attempts); the second is throttled, then answered slowly. Within
        # FRAUDSHIELD_S3_MAX_ATTEMPTS=6.
        faults=[SLOW_DOWN, SLOW_DOWN, INTERNAL_ERROR, Fault(delay_s=0.5), SLOW_DOWN, Fault(delay_s=0.5)],
        matches=is_put,
    )
    with fault_proxy(moto_s3.endpoint_url, plan) as endpoint:
        env = clean_env(endpoint, bucket, FRAUDSHIELD_S3_MAX_ATTEMPTS="6")
        result = ingest_and_validate(env)
    assert result.success, failure_text(result)
    assert [status for _, _, status in plan.injected()] == [503, 503, 500, 503]
    # Each fault was answered by a retry of the same request, which then succeeded.
    puts = [(path, status) for method, path, status in plan.log if method == "PUT"]
    first_path = puts[0][0]
    assert [status for path, status in puts[:4]] == [503, 503, 500, 200] and all(p == first_path for p, _ in puts[:4])
    assert puts[4][1] == 503 and puts[5] == (puts[4][0], 200)  # the slow retry still lands
    bucket_objects = objects(moto_s3, bucket)
    expected_keys(bucket_objects)
    # Every object PUT through the proxy landed, and nothing else did.
    assert {p.removeprefix(f"/{bucket}/") for p, s in puts if s == 200} == set(bucket_objects)


def test_throttling_beyond_the_attempt_budget_fails_naming_the_object(moto_s3, clean_env):
    bucket = moto_s3.create_bucket()
    plan = FaultPlan(faults=[SLOW_DOWN] * 3, matches=lambda method, path: method == "PUT")
    with fault_proxy(moto_s3.endpoint_url, plan) as endpoint:
        env = clean_env(endpoint, bucket, FRAUDSHIELD_S3_MAX_ATTEMPTS="2")
        result = ingest_and_validate(env)
    assert not result.success
    text = failure_text(result)
    assert f"S3 PutObject of s3://{bucket}/{PREFIX}/tables/raw_" in text and "after 2 attempt(s): SlowDown" in text
    assert len(plan.injected()) == 2  # exactly the configured budget, then it gave up


def test_permanent_errors_fail_clearly_and_leave_earlier_snapshots_intact(moto_s3, clean_env):
    bucket = moto_s3.create_bucket()
    env = clean_env(moto_s3.endpoint_url, bucket)
    first = ingest_and_validate(env)
    assert first.success, failure_text(first)
    before = objects(moto_s3, bucket)
    expected_keys(before)

    # AccessDenied on every write (a revoked policy): not retried, the run fails naming the key.
    plan = FaultPlan(permanent=ACCESS_DENIED, matches=lambda method, path: method in ("PUT", "DELETE"))
    with fault_proxy(moto_s3.endpoint_url, plan) as endpoint:
        env = clean_env(endpoint, bucket)
        denied = ingest_and_validate(env)
    assert not denied.success
    text = failure_text(denied)
    assert f"S3 PutObject of s3://{bucket}/{PREFIX}/tables/raw_" in text
    assert "after 1 attempt(s): AccessDenied Access Denied" in text
    assert len(plan.injected()) == 1
    assert objects(moto_s3, bucket) == before

    # NoSuchBucket from the real server (a misconfigured bucket name): fails naming that bucket.
    missing = f"{bucket}-missing"
    env = clean_env(moto_s3.endpoint_url, missing)
    result = ingest_and_validate(env)
    assert not result.success
    text = failure_text(result)
    # The first object a run touches is the store's source marker (read before any table is written).
    assert f"S3 ListObjectsV2 of s3://{missing}/{PREFIX}/source.json" in text and "NoSuchBucket" in text
    assert objects(moto_s3, bucket) == before
