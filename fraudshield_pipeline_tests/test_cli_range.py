"""A range of days from the command line: `dagster job execute` of daily_ingestion_job with the
partition-range tags (the README's command), in a subprocess on a Dagster home of its own.

`dagster asset materialize --partition-range` and `dagster job execute --partition-range` refuse
assets whose backfill policy is not single-run, and ours run a month per run (bounded memory); the
range tags are what a single-run backfill's run carries, and what `fraudshield demo` uses.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraudshield_pipeline.resources.storage import LocalArtifactStore
from fraudshield_pipeline_tests.instance_home import make_home

ROOT = Path(__file__).resolve().parents[1]
RANGE_TAGS = {"dagster/asset_partition_range_start": "2026-09-01", "dagster/asset_partition_range_end": "2026-09-03"}


@pytest.mark.slow
def test_dagster_job_execute_materializes_a_range_of_days_in_one_run(tmp_path: Path):
    env = {
        **os.environ,
        "DAGSTER_HOME": str(make_home(tmp_path / "home")),
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "300",
        "FRAUDSHIELD_SIM_CUSTOMERS": "2000",
        "FRAUDSHIELD_SIM_MERCHANTS": "200",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "fraudshield_pipeline.definitions",
               "-j", "daily_ingestion_job", "--tags", json.dumps(RANGE_TAGS)]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    store = LocalArtifactStore(base_dir=str(tmp_path / "data" / "store"))
    days = ["2026-09-01", "2026-09-02", "2026-09-03"]
    for table in ("raw_transactions", "validated_transactions", "quarantined_transactions", "transaction_features"):
        assert store.partitions(table) == days, table
    assert "RUN_SUCCESS" in done.stderr + done.stdout

    import dagster as dg

    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        (run,) = instance.get_runs()  # the whole range in one run
        assert run.job_name == "daily_ingestion_job" and run.tags["dagster/asset_partition_range_end"] == "2026-09-03"
        materialized = instance.get_materialized_partitions(dg.AssetKey("validated_transactions"))
    assert sorted(materialized) == days
