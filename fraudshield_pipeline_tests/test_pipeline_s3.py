"""The whole pipeline with its tables and reports on S3 (moto's S3 server on loopback)."""

import datetime as dt
import io
import math
import os
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.s3_storage import S3ArtifactStore
from fraudshield_pipeline.runner import MATURED, MONITORING, STAGES, run_pipeline

FIRST_DAY = dt.date(2026, 9, 1)
DAYS = 36
PREFIX = "fraudshield"
DAY_KEYS = [(FIRST_DAY + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
LAST_DAY = DAY_KEYS[-1]


@pytest.fixture
def s3_env(moto_s3, aws_test_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    bucket = moto_s3.create_bucket()
    env = {
        "FRAUDSHIELD_STORAGE": "s3",
        "FRAUDSHIELD_S3_BUCKET": bucket,
        "AWS_ENDPOINT_URL": moto_s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FRAUDSHIELD_DATA_DIR": str(tmp_path),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "1500",
    }
    # Nothing from the developer's shell may redirect the run (another bucket, a real MLflow, ...).
    for name in list(os.environ):
        if name.startswith(("FRAUDSHIELD_", "MLFLOW_")):
            monkeypatch.delenv(name)
    # EnvVar-valued resource fields resolve from the process environment when a run starts.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.mark.slow  # 85 s: a third whole-pipeline run; S3 storage itself is covered by the io-manager tests
def test_whole_pipeline_on_s3(s3_env: dict[str, str], moto_s3, tmp_path: Path):
    bucket = s3_env["FRAUDSHIELD_S3_BUCKET"]
    resources = build_resources(s3_env)
    assert isinstance(resources["storage"], S3ArtifactStore)

    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        results = run_pipeline(instance, resources, FIRST_DAY, DAYS, drift_days=1)

        assert [r.name for r in results] == [s.name for s in STAGES] + [MONITORING.name, MATURED.name]
        for stage in results:
            assert stage.run_ids, f"stage {stage.name} launched no run"
            for run_id in stage.run_ids:
                run = instance.get_run_by_id(run_id)
                assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS, (stage.name, run_id)
    by_stage = {r.name: r.metadata for r in results}

    keys = moto_s3.keys(bucket)
    assert keys and all(k.startswith(f"{PREFIX}/") for k in keys), keys[:5]
    keys = {k.removeprefix(f"{PREFIX}/") for k in keys}

    def partitions(table: str) -> list[str]:
        prefix = f"tables/{table}/"
        return sorted(k[len(prefix) :].removesuffix(".parquet") for k in keys if k.startswith(prefix))

    for table in ("raw_transactions", "raw_labels", "validated_transactions", "validated_labels", "transaction_features"):
        assert partitions(table) == DAY_KEYS, table
    assert "tables/training_set/data.parquet" in keys

    evaluation = by_stage["evaluation"]["evaluation_report"]
    version = evaluation["challenger_version"]
    assert f"reports/evaluation/v{version}.md" in keys
    assert evaluation["report_file"] == f"s3://{bucket}/{PREFIX}/reports/evaluation/v{version}.md"
    assert any(k.startswith("reports/promotions/") and k.endswith(f"_v{version}.json") for k in keys)
    assert f"models/v{version}/drift_reference.parquet" in keys
    ap = evaluation["test_average_precision"]
    assert isinstance(ap, float) and math.isfinite(ap) and 0.0 < ap <= 1.0

    drift = by_stage["monitoring"][f"drift_report[{LAST_DAY}]"]
    assert drift["status"] == "measured", drift
    assert drift["report_file"] == f"s3://{bucket}/{PREFIX}/reports/drift/{LAST_DAY}.html"
    assert f"reports/drift/{LAST_DAY}.html" in keys
    assert [k for k in keys if k.startswith("reports/drift/")] == [f"reports/drift/{LAST_DAY}.html"]

    # The objects are real: a features partition and the reports read back through plain boto3.
    client = moto_s3.client()

    def body(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=f"{PREFIX}/{key}")["Body"].read()

    features = pq.read_table(io.BytesIO(body(f"tables/transaction_features/{LAST_DAY}.parquet")))
    assert features.num_rows > 0
    training_rows = pq.read_metadata(io.BytesIO(body("tables/training_set/data.parquet"))).num_rows
    assert training_rows == by_stage["training"]["training_set"]["dagster/row_count"] > 0
    assert body(f"reports/evaluation/v{version}.md").decode("utf-8").strip()
    assert b"<html" in body(f"reports/drift/{LAST_DAY}.html")[:5000].lower()

    # The local store was never touched; only MLflow, Feast and Dagster's own files are local.
    store_dir = tmp_path / "store"
    assert not store_dir.exists() or not any(p.is_file() for p in store_dir.rglob("*"))
