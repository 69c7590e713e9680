"""Sensors, one tick at a time, from recorded materializations and a cursor."""

import json

import dagster as dg
import pytest

from fraudshield_pipeline.defs.monitoring.sensors import (
    DRIFT_CONSECUTIVE,
    VOLUME_THRESHOLD,
    drift_retrain_sensor,
    volume_retrain_sensor,
)


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def report_drift(instance, day: str, share: float, status: str = "measured") -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="drift_report",
            partition=day,
            metadata={"status": status, "share_drifted": share, "prediction_drifted": False},
        )
    )


def report_validated(instance, day: str, rows: int) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="validated_transactions", partition=day, metadata={"partition_row_counts": {day: rows}}
        )
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


def test_drift_sensor_ignores_reports_without_a_champion(instance):
    report_drift(instance, "2026-10-01", 0.9, status="no_champion")
    report_drift(instance, "2026-10-02", 0.9, status="no_champion")
    requests, cursor, _ = tick(drift_retrain_sensor, instance, None)
    assert requests == [] and json.loads(cursor)["observations"] == {}


def test_volume_sensor_counts_each_day_once_and_resets_after_a_request(instance):
    per_day = VOLUME_THRESHOLD // 3 + 1
    report_validated(instance, "2026-10-01", per_day)
    report_validated(instance, "2026-10-02", per_day)
    requests, cursor, reason = tick(volume_retrain_sensor, instance, None)
    assert requests == [] and f"{2 * per_day} newly labelled" in reason
    # Re-materializing a day replaces its count instead of adding it again.
    report_validated(instance, "2026-10-02", per_day)
    requests, cursor, _ = tick(volume_retrain_sensor, instance, cursor)
    assert requests == [] and json.loads(cursor)["since_request"] == 2 * per_day
    report_validated(instance, "2026-10-03", per_day)
    requests, cursor, _ = tick(volume_retrain_sensor, instance, cursor)
    assert len(requests) == 1 and requests[0].tags["fraudshield/trigger"] == "volume"
    assert json.loads(cursor)["since_request"] == 0
    requests, _, _ = tick(volume_retrain_sensor, instance, cursor)
    assert requests == []
