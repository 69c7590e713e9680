"""Sensors, one tick at a time, from recorded materializations and a cursor."""

import json

import dagster as dg
import pytest

from fraudshield_pipeline.defs.monitoring.sensors import (
    DRIFT_CONSECUTIVE,
    drift_retrain_sensor,
    performance_retrain_sensor,
    volume_retrain_sensor,
)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def report_drift(instance, day: str, share: float, status: str = "measured", drifted=(), prediction: float = 0.0) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="drift_report",
            partition=day,
            metadata={
                "status": status, "share_drifted": share, "prediction_drift_score": prediction,
                "prediction_drifted": prediction >= 0.1, "drifted_columns": list(drifted),
            },
        )
    )


def report_row_counts(instance, day: str, rows: int, asset: str = "transaction_features") -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=asset, partition=day, metadata={"partition_row_counts": {day: rows}})
    )


def tick(sensor, instance, cursor):
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    if isinstance(result, dg.SkipReason):
        return [], cursor, result.skip_message
    return list(result.run_requests or []), result.cursor, getattr(result.skip_reason, "skip_message", None)


def test_drift_sensor_needs_consecutive_drifted_days(instance):
    assert DRIFT_CONSECUTIVE == 2
    report_drift(instance, "2026-10-01", 0.6)
    requests, cursor, reason = tick(drift_retrain_sensor, instance, None)
    assert requests == [] and "need 2 consecutive" in reason
    report_drift(instance, "2026-10-02", 0.1)
    requests, cursor, reason = tick(drift_retrain_sensor, instance, cursor)
    assert requests == [] and "below" in reason
    report_drift(instance, "2026-10-03", 0.5)
    report_drift(instance, "2026-10-04", 0.45)
    requests, cursor, _ = tick(drift_retrain_sensor, instance, cursor)
    assert len(requests) == 1
    assert requests[0].tags["fraudshield/trigger"] == "drift"
    assert "2026-10-03=0.50, 2026-10-04=0.45" in requests[0].tags["fraudshield/reason"]
    assert requests[0].run_key.startswith("drift:2026-10-04:")
    assert sorted(json.loads(cursor)["observations"]) == ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"]
    # Nothing new: no second request for the same evidence.
    requests, cursor_after, reason = tick(drift_retrain_sensor, instance, cursor)
    assert requests == [] and reason == "no new drift reports" and cursor_after == cursor


def test_drift_of_a_key_feature_counts_even_when_the_share_is_low(instance):
    report_drift(instance, "2026-10-01", 0.1, drifted=["amount"])
    report_drift(instance, "2026-10-02", 0.1, drifted=["amount", "hour_of_day"])
    requests, _, _ = tick(drift_retrain_sensor, instance, None)
    assert len(requests) == 1 and requests[0].tags["fraudshield/reason"].startswith("feature or prediction drift")


def test_score_drift_counts_only_beyond_the_prediction_threshold(instance):
    # Evidently flags 0.1; stable worlds move their score distribution that much day to day.
    for day in ("2026-10-01", "2026-10-02", "2026-10-03"):
        report_drift(instance, day, 0.1, prediction=0.15)
    requests, cursor, reason = tick(drift_retrain_sensor, instance, None)
    assert requests == [], reason
    report_drift(instance, "2026-10-04", 0.1, prediction=0.25)
    report_drift(instance, "2026-10-05", 0.1, prediction=0.3)
    requests, _, _ = tick(drift_retrain_sensor, instance, cursor)
    assert len(requests) == 1


def test_drift_sensor_ignores_reports_without_a_champion(instance):
    report_drift(instance, "2026-10-01", 0.9, status="no_champion")
    report_drift(instance, "2026-10-02", 0.9, status="no_champion")
    requests, cursor, _ = tick(drift_retrain_sensor, instance, None)
    assert requests == [] and json.loads(cursor)["observations"] == {}


def report(instance, asset: str, metadata: dict, partition: str | None = None) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata))


def test_volume_sensor_counts_matured_days_since_the_champions_training_data(instance):
    per_day = 30_000
    for day in range(1, 11):
        report_row_counts(instance, f"2026-10-{day:02d}", per_day)
    requests, cursor, reason = tick(volume_retrain_sensor, instance, None)
    assert requests == [] and f"{3 * per_day} newly labelled" in reason  # 10-01..10-03 matured by 10-10
    report_row_counts(instance, "2026-10-02", per_day)  # a re-run day replaces its count, never adds
    report_row_counts(instance, "2026-10-11", per_day)
    requests, cursor, _ = tick(volume_retrain_sensor, instance, cursor)
    assert len(requests) == 1 and requests[0].tags["fraudshield/trigger"] == "volume"
    assert requests[0].run_key == "volume:vNone:2026-10-11"
    # A champion trained on data until 10-03 resets the count to what matured after it.
    report(instance, "trained_model", {"model_version": "3", "trained_until": "2026-10-03"})
    report(instance, "evaluation_report", {"champion_version": "3"})
    report_row_counts(instance, "2026-10-12", per_day)
    requests, cursor, reason = tick(volume_retrain_sensor, instance, cursor)
    assert requests == [] and f"{2 * per_day} newly labelled" in reason and "v3" in reason


def test_volume_sensor_waits_for_features_before_counting_a_day(instance):
    # A backfill mid-way: days validated but not yet featured cannot be trained on.
    for day in range(1, 12):
        report_row_counts(instance, f"2026-10-{day:02d}", 30_000, asset="validated_transactions")
    requests, cursor, reason = tick(volume_retrain_sensor, instance, None)
    assert requests == [] and "no new feature partitions" in reason
    for day in range(1, 12):
        report_row_counts(instance, f"2026-10-{day:02d}", 30_000)
    requests, _, _ = tick(volume_retrain_sensor, instance, cursor)
    assert len(requests) == 1 and requests[0].run_key == "volume:vNone:2026-10-11"


def matured(instance, day: str, ap: float, recall: float, champion: str = "2") -> None:
    report(instance, "matured_performance", {"status": "matured", "champion_version": champion,
                                            "average_precision": ap, "recall_at_budget": recall}, day)


def test_performance_sensor_fires_on_decayed_matured_metrics_of_the_current_champion(instance):
    report(instance, "evaluation_report", {"champion_version": "2"})
    matured(instance, "2026-10-01", 0.6, 0.7)
    matured(instance, "2026-10-02", 0.1, 0.2, champion="1")  # an older champion's day: ignored
    matured(instance, "2026-10-03", 0.2, 0.3)
    requests, cursor, reason = tick(performance_retrain_sensor, instance, None)
    assert requests == [] and "only 2 matured day(s)" in reason
    matured(instance, "2026-10-04", 0.1, 0.2)
    requests, cursor, _ = tick(performance_retrain_sensor, instance, cursor)
    assert len(requests) == 1 and requests[0].run_key == "performance:v2:2026-10-04"
    assert "average precision 0.300" in requests[0].tags["fraudshield/reason"]


def test_cooldown_holds_a_request_until_it_has_passed(instance, monkeypatch):
    from dagster._core.test_utils import create_run_for_test

    create_run_for_test(instance, job_name="retrain_job", status=dg.DagsterRunStatus.SUCCESS)  # a finished retrain
    report_drift(instance, "2026-10-01", 0.6)
    report_drift(instance, "2026-10-02", 0.6)
    requests, cursor, reason = tick(drift_retrain_sensor, instance, None)
    assert requests == [] and "cooldown has 24.0 h left" in reason and json.loads(cursor)["pending"]
    monkeypatch.setenv("FRAUDSHIELD_RETRAIN_COOLDOWN_HOURS", "0")
    requests, cursor, _ = tick(drift_retrain_sensor, instance, cursor)  # no new evidence, still pending
    assert len(requests) == 1


def test_approval_mode_alerts_once_instead_of_retraining(instance, monkeypatch):
    monkeypatch.setenv("FRAUDSHIELD_RETRAIN_APPROVAL", "manual")
    report_drift(instance, "2026-10-01", 0.6)
    report_drift(instance, "2026-10-02", 0.6)
    result = drift_retrain_sensor(dg.build_sensor_context(instance=instance))
    assert not result.run_requests and "approval required" in result.skip_reason.skip_message
    (alert,) = result.asset_events
    assert alert.asset_key == dg.AssetKey("trained_model") and alert.metadata["approval"].value == "required"
    again = drift_retrain_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor))
    assert isinstance(again, dg.SkipReason) and again.skip_message == "no new drift reports"
