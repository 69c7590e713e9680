"""A year of daily partitions backfilled through the real webserver, daemon and run queue.

365 days of about 10,000 simulated transactions go from raw to features in one asset backfill
launched through the GraphQL API the UI uses, with the repository's dagster.yaml (queued run
coordinator, at most 4 runs at once). The backfill policy runs up to a month per run, so the
daemon has many month-sized runs to order by dependency (each month's features need the month
before) and the queue has more runs than it may start. The feature tables must equal a build of
the same validated data done differently: week by week, parquet to parquet.
"""

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline_tests.ui.conftest import running_dagster_dev

pytestmark = pytest.mark.slow

DAYS = 365
TRANSACTIONS_PER_DAY = 10_000
MAX_CONCURRENT_RUNS = 4  # dagster.yaml
ASSETS = (
    "raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
    "quarantined_transactions", "quarantined_labels", "transaction_features",
)
LAUNCH = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }
"""
STATUS = """
query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status numPartitions runs(limit: 1000) { runId status startTime endTime } } } }
"""


def test_a_year_backfill_completes_within_the_queue_limit_and_equals_a_weekly_build(tmp_path):
    from fraudshield_pipeline.domain.features import write_features_to_parquet

    start = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=DAYS)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    with running_dagster_dev(tmp_path, start, TRANSACTIONS_PER_DAY) as ui:
        launched = ui.graphql(
            LAUNCH,
            {"params": {"partitionNames": days, "assetSelection": [{"path": [a]} for a in ASSETS], "fromFailure": False}},
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            backfill = ui.graphql(STATUS, {"id": launched["backfillId"]})["partitionBackfillOrError"]
            if backfill["status"] not in ("REQUESTED",):
                break
            time.sleep(10)
        assert backfill["status"] == "COMPLETED_SUCCESS" or backfill["status"] == "COMPLETED", (backfill, ui.log_tail())
        runs = backfill["runs"]
        assert runs and all(r["status"] == "SUCCESS" for r in runs), (runs, ui.log_tail())
        # At no moment did more runs execute than the queue allows.
        edges = sorted([(r["startTime"], 1) for r in runs] + [(r["endTime"], -1) for r in runs])
        running = peak = 0
        for _, step in edges:
            running += step
            peak = max(peak, running)
        assert len(runs) > MAX_CONCURRENT_RUNS  # month-sized runs: more than the queue may start at once
        assert 1 <= peak <= MAX_CONCURRENT_RUNS
        store = ui.data_dir / "store" / "tables"

    assert sorted(p.stem for p in (store / "transaction_features").glob("*.parquet")) == days
    validated = [str(store / "validated_transactions" / f"{d}.parquet") for d in days]
    labels = [str(store / "validated_labels" / f"{d}.parquet") for d in days if (store / "validated_labels" / f"{d}.parquet").exists()]
    weekly = tmp_path / "weekly"
    written = write_features_to_parquet(validated, labels, start, DAYS, str(weekly), chunk_days=7)
    assert sum(written.values()) > DAYS * TRANSACTIONS_PER_DAY * 0.8

    key = ["event_timestamp", "transaction_id"]
    backfilled = pd.read_parquet(store / "transaction_features").sort_values(key).reset_index(drop=True)
    rebuilt = pd.read_parquet(weekly).sort_values(key).reset_index(drop=True)
    assert len(backfilled) == len(rebuilt) == sum(written.values())
    assert list(backfilled.columns) == list(rebuilt.columns)
    for column in backfilled.columns:
        left, right = backfilled[column], rebuilt[column]
        if pd.api.types.is_float_dtype(left):
            np.testing.assert_allclose(left.to_numpy(), right.to_numpy(), rtol=1e-9, atol=1e-9, err_msg=column)
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist(), column
