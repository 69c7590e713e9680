"""Retraining sensors: they read recorded materialization metadata, never raw data.

Each keeps a JSON cursor of the storage ids it has consumed (not wall-clock time), so a tick is
cheap and restarts neither miss nor double-count evidence. Every request goes through one gate:
a cooldown since the last retrain, and an approval mode that alerts instead of retraining. Every
threshold comes from the `policy` resource (resources/policy.py), recorded in each request's tags.
"""

import json
import time

import dagster as dg

from fraudshield_pipeline.defs.governance.assets import current_champion
from fraudshield_pipeline.defs.jobs import retrain_job
from fraudshield_pipeline.defs.metadata import NO_TRANSACTIONS, as_float
from fraudshield_pipeline.domain.drift import is_test_score
from fraudshield_pipeline.domain.triggers import (
    DriftObservation,
    PerformanceObservation,
    cooldown_remaining_hours,
    cusum_limit,
    cusum_performance_trigger,
    drift_trigger,
    matured_rows_since,
    performance_baseline,
    performance_trigger,
    volume_trigger,
)
from fraudshield_pipeline.resources.policy import RetrainPolicy

HISTORY = 120


def _new_records(context: dg.SensorEvaluationContext, asset: str, after: int | None):
    return context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=after), limit=1000, ascending=True
    ).records


def _evidence(context: dg.SensorEvaluationContext, asset: str, empty: dict) -> tuple[dict, list | None]:
    """The cursor and the new records since it; None when there is nothing new to decide on."""
    cursor = json.loads(context.cursor) if context.cursor else {"last_storage_id": None, **empty}
    records = _new_records(context, asset, cursor["last_storage_id"])
    if not records and not cursor.get("pending"):
        return cursor, None
    if records:
        cursor["last_storage_id"] = records[-1].storage_id
    return cursor, records


def _value(record, key: str, default=None):
    entry = record.asset_materialization.metadata.get(key)
    return default if entry is None else entry.value


IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _request(
    context: dg.SensorEvaluationContext, policy: RetrainPolicy, trigger: str, run_key: str, reason: str, cursor: dict
) -> dg.SensorResult:
    """The one way a sensor asks for a retrain: in-flight retrain, cooldown, approval mode, then the run.

    Run keys deduplicate only within one sensor, so two sensors tripped by the same day would both
    ask; a retrain already queued or running answers every trigger (it trains on the newest data).
    """
    in_flight = context.instance.get_run_records(
        filters=dg.RunsFilter(job_name=retrain_job.name, statuses=IN_FLIGHT), limit=1
    )
    if in_flight:
        cursor["pending"] = False
        run = in_flight[0].dagster_run
        return dg.SensorResult(
            skip_reason=(
                f"{trigger}: would retrain ({reason}), but retrain run {run.run_id[:8]} is already "
                f"{run.status.value.lower()} and answers this evidence"
            ),
            cursor=json.dumps(cursor),
        )
    runs = context.instance.get_run_records(filters=dg.RunsFilter(job_name=retrain_job.name), limit=1)
    last = runs[0].create_timestamp.timestamp() if runs else None
    remaining = cooldown_remaining_hours(last, time.time(), policy.cooldown_hours)
    if remaining > 0:
        cursor["pending"] = True  # evidence stands; decide again once the cooldown is over
        return dg.SensorResult(
            skip_reason=f"{trigger}: would retrain ({reason}), but the cooldown has {remaining:.1f} h left",
            cursor=json.dumps(cursor),
        )
    cursor["pending"] = False
    if policy.approval == "manual":
        if cursor.get("alerted") == run_key:
            return dg.SensorResult(skip_reason=f"{trigger}: awaiting approval ({reason})", cursor=json.dumps(cursor))
        cursor["alerted"] = run_key
        alert = dg.AssetObservation(
            asset_key="trained_model",
            metadata={"retrain_requested_by": trigger, "reason": reason, "approval": "required", "evidence": run_key},
        )
        context.log.warning(f"APPROVAL REQUIRED: {trigger} asks for a retrain: {reason}")
        return dg.SensorResult(
            skip_reason=f"approval required: {trigger} asks for a retrain ({reason}); launch retrain_job to approve",
            asset_events=[alert],
            cursor=json.dumps(cursor),
        )
    tags = {"fraudshield/trigger": trigger, "fraudshield/reason": reason[:200], **policy.as_tags()}
    request = dg.RunRequest(run_key=run_key, tags=tags)
    return dg.SensorResult(run_requests=[request], cursor=json.dumps(cursor))


@dg.sensor(job=retrain_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def drift_retrain_sensor(context: dg.SensorEvaluationContext, policy: RetrainPolicy):
    """Requests a retrain when features, key features or scores drift for consecutive days."""
    cursor, records = _evidence(context, "drift_report", {"observations": {}})
    if records is None:
        return dg.SkipReason("no new drift reports")
    observations: dict[str, list] = cursor["observations"]
    for record in records:
        if _value(record, "status") != "measured":  # no champion, no transactions: no evidence, and none kept from before
            observations.pop(record.asset_materialization.partition, None)
            continue
        observations[record.asset_materialization.partition] = _drift_evidence(record, policy)
    newest = sorted(observations)[-HISTORY:]
    cursor["observations"] = {p: observations[p] for p in newest}
    decision = drift_trigger(
        [DriftObservation(p, *observations[p]) for p in newest], policy.drift_share_fallback, policy.drift_consecutive
    )
    if not decision.fire:
        return dg.SensorResult(skip_reason=decision.reason, cursor=json.dumps({**cursor, "pending": False}))
    return _request(context, policy, "drift", f"drift:{newest[-1]}:{cursor['last_storage_id']}", decision.reason, cursor)


def _drift_evidence(record, policy: RetrainPolicy) -> list:
    """[share, other drift, share threshold] of one report: calibrated values unless the policy overrides.

    Key features count when they drift beyond their own calibrated threshold (or, for reports without
    calibration, whenever Evidently flags them).
    """
    calibrated = _value(record, "calibrated_share_threshold")
    share_threshold = policy.drift_share_threshold
    if share_threshold is None and calibrated is not None:
        share_threshold = float(calibrated)
    prediction_threshold = policy.prediction_drift_threshold
    prediction = _value(record, "prediction_drift_score")
    calibrated_prediction = _value(record, "calibrated_prediction_threshold")
    calibrated = calibrated_prediction is not None and calibrated_prediction == calibrated_prediction
    if prediction_threshold is None and not calibrated and is_test_score(_value(record, "prediction_drift_method")):
        # A small reference's test (1 - p) without a calibration: the test's own verdict, not the distance fallback.
        prediction_drifted = bool(_value(record, "prediction_drifted", False))
    else:
        if prediction_threshold is None:
            prediction_threshold = float(calibrated_prediction) if calibrated else policy.prediction_drift_fallback
        prediction_drifted = prediction is not None and float(prediction) >= prediction_threshold
    key_drift = set(_value(record, "beyond_calibration_columns", _value(record, "drifted_columns", [])))
    other = prediction_drifted or bool(key_drift & set(policy.key_features))
    return [float(_value(record, "share_drifted")), other, share_threshold]


@dg.sensor(job=retrain_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def volume_retrain_sensor(context: dg.SensorEvaluationContext, policy: RetrainPolicy):
    """Requests a retrain once enough transactions have matured since the champion's training data.

    Counts days whose features exist: only those can be trained on (a retrain requested while a
    backfill has validated data but not yet built its features would fail).
    """
    cursor, records = _evidence(context, "transaction_features", {"counted": {}})
    if records is None:
        return dg.SkipReason("no new feature partitions")
    counted: dict[str, int] = cursor["counted"]
    for record in records:
        partition = record.asset_materialization.partition
        counted[partition] = int((_value(record, "partition_row_counts") or {}).get(partition, 0))
    cursor["counted"] = counted = {p: counted[p] for p in sorted(counted)[-HISTORY:]}
    if not counted:
        return dg.SensorResult(skip_reason="no feature partitions yet", cursor=json.dumps(cursor))
    champion = current_champion(context.instance)
    trained_until = _trained_until(context, champion)
    newest = max(counted)
    rows = matured_rows_since(counted, trained_until, newest, policy.maturity_days)
    decision = volume_trigger(rows, policy.retrain_volume)
    if not decision.fire:
        return dg.SensorResult(
            skip_reason=f"{decision.reason} (champion v{champion or '-'} trained on data until {trained_until})",
            cursor=json.dumps({**cursor, "pending": False}),
        )
    return _request(context, policy, "volume", f"volume:v{champion}:{newest}", decision.reason, cursor)


def _trained_until(context: dg.SensorEvaluationContext, champion: str | None) -> str | None:
    """The last day of the champion's training data, from trained_model's recorded metadata."""
    if not champion or champion == "none":
        return None
    records = context.instance.fetch_materializations(dg.AssetKey("trained_model"), limit=50).records
    for record in records:
        if str(_value(record, "model_version")) == str(champion):
            return _value(record, "trained_until")
    return None


@dg.sensor(job=retrain_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def performance_retrain_sensor(context: dg.SensorEvaluationContext, policy: RetrainPolicy):
    """Requests a retrain when the champion's measured AP or recall falls below its own expectation.

    A CUSUM against the champion's first measured days (unless the policy sets absolute floors);
    a day counts once the share of its frauds expected to be reported reaches the policy's minimum.
    """
    cursor, records = _evidence(context, "matured_performance", {"observations": {}})
    if records is None:
        return dg.SkipReason("no new matured-performance measurements")
    champion = current_champion(context.instance)
    # Only the current champion's days count: a new champion starts with a clean slate.
    observations: dict[str, list] = cursor["observations"] if cursor.get("champion") == champion else {}
    for record in records:
        if _value(record, "status") == NO_TRANSACTIONS:  # a day without a transaction says nothing, whatever it said before
            observations.pop(record.asset_materialization.partition, None)
            continue
        if _value(record, "status") != "matured" or str(_value(record, "champion_version")) != str(champion):
            continue
        reported = _value(record, "expected_reported_share")
        if reported is not None and float(reported) < policy.min_reported_share:
            continue  # too few of the day's labels are in yet; a later measurement will count
        partition = record.asset_materialization.partition
        n_fraud, age = _value(record, "n_fraud"), _value(record, "label_age_days")
        observations[partition] = [
            as_float(_value(record, "average_precision")), as_float(_value(record, "recall_at_budget")),
            None if n_fraud is None else int(n_fraud), None if age is None else float(age),
        ]
    newest = sorted(observations)[-HISTORY:]
    cursor.update(observations={p: observations[p] for p in newest}, champion=champion)
    measured = [PerformanceObservation(p, *observations[p][:3]) for p in newest]
    if policy.min_matured_average_precision is not None or policy.min_matured_recall is not None:
        decision = performance_trigger(
            measured, policy.min_matured_average_precision or 0.0, policy.min_matured_recall or 0.0,
            policy.matured_window_days,
        )
    else:
        ages = sorted(o[3] for o in observations.values() if len(o) > 3 and o[3] is not None)
        expected = _expectation(context, policy, champion, ages[len(ages) // 2] if ages else None)
        if expected is None:
            baseline = performance_baseline(measured, policy.performance_baseline_days, policy.min_sd_fraction)
        else:  # each monitored day judged against a model as old as the champion was that day
            from dataclasses import replace as dataclass_replace

            from fraudshield_pipeline.domain.expected_performance import model_age_days

            baseline, test_start = expected
            measured = [dataclass_replace(o, model_age_days=model_age_days(o.partition, test_start)) for o in measured]
        limit = policy.cusum_h or cusum_limit(policy.performance_false_alarm_rate, policy.cusum_k)
        decision = cusum_performance_trigger(measured, baseline, policy.cusum_k, limit)
    if not decision.fire:
        return dg.SensorResult(skip_reason=decision.reason, cursor=json.dumps({**cursor, "pending": False}))
    return _request(context, policy, "performance", f"performance:v{champion}:{newest[-1]}", decision.reason, cursor)


def _expectation(context: dg.SensorEvaluationContext, policy: RetrainPolicy, champion: str | None, label_age: float | None):
    """(expectation, the champion's test start) from its evaluation: its recipe's backtest days at
    the label age nearest the monitored days', by model age; None unless the policy asks for it and
    the evaluation recorded enough days."""
    from fraudshield_pipeline.domain.expected_performance import expectation, nearest_age

    if policy.performance_expectation != "backtest" or not champion or champion == "none":
        return None
    records = context.instance.fetch_materializations(dg.AssetKey("evaluation_report"), limit=50).records
    for record in records:
        if str(_value(record, "challenger_version")) != str(champion):
            continue
        chosen = nearest_age(_value(record, "expected_performance") or {}, label_age)
        baseline = None if chosen is None else expectation(chosen[1], policy.performance_baseline_days, policy.min_sd_fraction)
        return None if baseline is None else (baseline, _value(record, "expected_performance_model_test_start"))
    return None
