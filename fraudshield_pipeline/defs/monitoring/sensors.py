"""Retraining sensors: they read recorded materialization metadata, never raw data.

Each keeps a JSON cursor of the storage ids it has consumed (not wall-clock time), so a tick
is cheap and restarts neither miss nor double-count evidence.
"""


import json
import os

import dagster as dg

from fraudshield_pipeline.defs.jobs import retrain_job
from fraudshield_pipeline.domain.triggers import DriftObservation, drift_trigger, volume_trigger

DRIFT_SHARE_THRESHOLD = float(os.environ.get("FRAUDSHIELD_DRIFT_SHARE_THRESHOLD", "0.3"))
DRIFT_CONSECUTIVE = int(os.environ.get("FRAUDSHIELD_DRIFT_CONSECUTIVE", "2"))
VOLUME_THRESHOLD = int(os.environ.get("FRAUDSHIELD_RETRAIN_VOLUME", "100000"))
HISTORY = 60


def _new_records(context: dg.SensorEvaluationContext, asset: str, after: int | None):
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=after), limit=1000, ascending=True
    ).records
    return records


def _metadata_value(record, key: str):
    entry = record.asset_materialization.metadata.get(key)
    return None if entry is None else entry.value


@dg.sensor(job=retrain_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def drift_retrain_sensor(context: dg.SensorEvaluationContext):
    """Requests a retrain when feature drift stays above its threshold for consecutive days."""
    cursor = json.loads(context.cursor) if context.cursor else {"last_storage_id": None, "observations": {}}
    records = _new_records(context, "drift_report", cursor["last_storage_id"])
    if not records:
        return dg.SkipReason("no new drift reports")
    observations: dict[str, list] = cursor["observations"]
    for record in records:
        if _metadata_value(record, "status") != "measured":
            continue
        partition = record.asset_materialization.partition
        observations[partition] = [float(_metadata_value(record, "share_drifted")), bool(_metadata_value(record, "prediction_drifted"))]
    newest = sorted(observations)[-HISTORY:]
    cursor = {"last_storage_id": records[-1].storage_id, "observations": {p: observations[p] for p in newest}}
    decision = drift_trigger(
        [DriftObservation(p, *observations[p]) for p in newest], DRIFT_SHARE_THRESHOLD, DRIFT_CONSECUTIVE
    )
    if not decision.fire:
        return dg.SensorResult(skip_reason=decision.reason, cursor=json.dumps(cursor))
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"drift:{newest[-1]}:{records[-1].storage_id}",
                tags={"fraudshield/trigger": "drift", "fraudshield/reason": decision.reason[:200]},
            )
        ],
        cursor=json.dumps(cursor),
    )


@dg.sensor(job=retrain_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def volume_retrain_sensor(context: dg.SensorEvaluationContext):
    """Requests a retrain once enough new transactions have been validated since the last request."""
    cursor = json.loads(context.cursor) if context.cursor else {"last_storage_id": None, "counted": {}, "since_request": 0}
    records = _new_records(context, "validated_transactions", cursor["last_storage_id"])
    if not records:
        return dg.SkipReason(f"no new validated partitions; {cursor['since_request']} rows since the last request")
    counted: dict[str, int] = cursor["counted"]
    since = cursor["since_request"]
    for record in records:
        partition = record.asset_materialization.partition
        rows = (_metadata_value(record, "partition_row_counts") or {}).get(partition, 0)
        # A re-materialized day replaces its earlier count rather than adding to it.
        since += int(rows) - int(counted.get(partition, 0))
        counted[partition] = int(rows)
    counted = {p: counted[p] for p in sorted(counted)[-HISTORY:]}
    decision = volume_trigger(since, VOLUME_THRESHOLD)
    last_id = records[-1].storage_id
    if not decision.fire:
        return dg.SensorResult(
            skip_reason=decision.reason,
            cursor=json.dumps({"last_storage_id": last_id, "counted": counted, "since_request": since}),
        )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"volume:{last_id}",
                tags={"fraudshield/trigger": "volume", "fraudshield/reason": decision.reason},
            )
        ],
        cursor=json.dumps({"last_storage_id": last_id, "counted": counted, "since_request": 0}),
    )
