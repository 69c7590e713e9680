"""Sensors, one tick at a time, from recorded materializations and a cursor."""

import datetime as dt
import json

import dagster as dg
import pytest

from fraudshield_pipeline.defs.monitoring.sensors import (
    drift_retrain_sensor,
    performance_retrain_sensor,
    volume_retrain_sensor,
)
from fraudshield_pipeline.domain.drift import is_test_score
from fraudshield_pipeline.resources.policy import POLICY_TAG, RetrainPolicy


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


def tick(sensor, instance, cursor, policy: RetrainPolicy | None = None):
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"policy": policy or RetrainPolicy()}))
    if isinstance(result, dg.SkipReason):
        return [], cursor, result.skip_message
    return list(result.run_requests or []), result.cursor, getattr(result.skip_reason, "skip_message", None)


def test_drift_sensor_needs_consecutive_drifted_days(instance):
    assert RetrainPolicy().drift_consecutive == 2
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
    report(instance, "champion", {"champion_version": "3"})
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


def matured(instance, day: str, ap: float, recall: float, champion: str = "2", **extra) -> None:
    report(instance, "matured_performance", {"status": "matured", "champion_version": champion,
                                            "average_precision": ap, "recall_at_budget": recall, **extra}, day)


FLOORS = RetrainPolicy(min_matured_average_precision=0.3, min_matured_recall=0.4, matured_window_days=3)


def test_absolute_floors_override_the_champions_own_expectation(instance):
    report(instance, "champion", {"champion_version": "2"})
    matured(instance, "2026-10-01", 0.6, 0.7)
    matured(instance, "2026-10-02", 0.1, 0.2, champion="1")  # an older champion's day: ignored
    matured(instance, "2026-10-03", 0.2, 0.3)
    requests, cursor, reason = tick(performance_retrain_sensor, instance, None, FLOORS)
    assert requests == [] and "only 2 matured day(s)" in reason
    matured(instance, "2026-10-04", 0.1, 0.2)
    requests, cursor, _ = tick(performance_retrain_sensor, instance, cursor, FLOORS)
    assert len(requests) == 1 and requests[0].run_key == "performance:v2:2026-10-04"
    assert "average precision 0.300" in requests[0].tags["fraudshield/reason"]


# A champion's first week: AP about 0.30 (sd 0.04), recall at budget about 0.60 (sd 0.04).
FIRST_WEEK = [(0.30, 0.60), (0.26, 0.56), (0.34, 0.64), (0.28, 0.58), (0.32, 0.62), (0.25, 0.60), (0.35, 0.60)]


def test_performance_is_judged_sequentially_against_the_champions_first_week(instance):
    report(instance, "champion", {"champion_version": "2"})
    for day, (ap, recall) in enumerate(FIRST_WEEK, start=1):
        matured(instance, f"2026-10-{day:02d}", ap, recall)
    requests, cursor, reason = tick(performance_retrain_sensor, instance, None)
    assert requests == [] and "baseline set" in reason and "expected AP 0.300" in reason
    matured(instance, "2026-10-08", 0.20, 0.50)  # one bad day (2.5 sd) in a small portfolio: not enough
    matured(instance, "2026-10-09", 0.31, 0.61)
    requests, cursor, reason = tick(performance_retrain_sensor, instance, cursor)
    assert requests == [] and "performance holds" in reason, reason
    fired_on = None
    for day in range(10, 20):  # fraud changed its ways: AP and recall drop by about 3 sd
        matured(instance, f"2026-10-{day:02d}", 0.18, 0.48)
        requests, cursor, reason = tick(performance_retrain_sensor, instance, cursor)
        if requests:
            fired_on = day
            break
    assert fired_on is not None and fired_on <= 12, reason  # within three judged days of the drop
    assert "below the champion's own expectation" in requests[0].tags["fraudshield/reason"]


def expected_days(values, age: int = 2) -> dict:
    """An evaluation's recorded expectation: backtest days measured at a label age."""
    return {str(age): [{"partition": f"2026-09-{i + 1:02d}", "average_precision": ap, "recall_at_budget": r, "n_fraud": 30}
                       for i, (ap, r) in enumerate(values)]}


def test_the_champions_backtest_days_are_its_expectation_from_its_first_monitored_day(instance):
    report(instance, "champion", {"champion_version": "2"})
    # Four backtest weeks: AP about 0.30, recall about 0.60, and another evaluation of an older version.
    report(instance, "evaluation_report", {"challenger_version": "2", "expected_performance": dg.MetadataValue.json(expected_days(FIRST_WEEK * 4))})
    report(instance, "evaluation_report", {"challenger_version": "1", "expected_performance": dg.MetadataValue.json(expected_days([(0.9, 0.9)] * 28))})
    fired_on, backtest = None, RetrainPolicy(performance_expectation="backtest")
    for day in range(1, 10):  # from the first monitored day the champion is judged, no first week to wait for
        matured(instance, f"2026-10-{day:02d}", 0.18, 0.48, label_age_days=2.0)
        requests, cursor, reason = tick(performance_retrain_sensor, instance, None, backtest)
        if requests:
            fired_on = day
            break
    assert fired_on is not None and fired_on <= 4, reason
    assert "expected AP 0.300" in requests[0].tags["fraudshield/reason"]
    # The same days against the default first-days baseline: a week to build it, nothing judged yet.
    requests, _, reason = tick(performance_retrain_sensor, instance, None)
    assert requests == [] and "building the champion's baseline" in reason


def test_an_ageing_champion_is_judged_against_backtest_models_of_its_own_age(instance):
    """The backtest's folds lose 0.05 AP and recall a week of age; the champion ages the same way."""
    report(instance, "champion", {"champion_version": "2"})
    test_start = dt.date(2026, 9, 15)
    folds = [{"partition": (dt.date(2026, 8, 1) + dt.timedelta(days=7 * week + day)).isoformat(), "average_precision": 0.5 - 0.05 * week + 0.02 * (day % 3 - 1),
              "recall_at_budget": 0.8 - 0.05 * week + 0.02 * (day % 3 - 1), "n_fraud": 30, "model_age_days": 7 * week + day}
             for week in range(4) for day in range(7)]  # ages 0-27 days
    report(instance, "evaluation_report", {"challenger_version": "2", "expected_performance": dg.MetadataValue.json({"2": folds}),
                                           "expected_performance_model_test_start": test_start.isoformat()})
    backtest = RetrainPolicy(performance_expectation="backtest")
    # Monitored from age 14 on, the champion follows the folds' trend: below their mean from age ~14
    # on, and far below it by age 27, yet as good as a model of its age, so no alarm.
    for age in range(14, 28):
        day = test_start + dt.timedelta(days=age)
        matured(instance, day.isoformat(), 0.5 - 0.05 * age / 7, 0.8 - 0.05 * age / 7, label_age_days=2.0)
    requests, _, reason = tick(performance_retrain_sensor, instance, None, backtest)
    assert requests == [] and "performance holds" in reason and "per week of age AP -0.047" in reason, reason
    # A drop of 0.15 below its age's expectation fires within days.
    fired = None
    for age in range(28, 40):
        day = test_start + dt.timedelta(days=age)
        matured(instance, day.isoformat(), 0.5 - 0.05 * 27 / 7 - 0.15, 0.8 - 0.05 * 27 / 7 - 0.15, label_age_days=2.0)
        requests, _, reason = tick(performance_retrain_sensor, instance, None, backtest)
        if requests:
            fired = age
            break
    assert fired is not None and fired <= 31, reason


def test_a_day_waits_until_enough_of_its_labels_are_reported(instance):
    report(instance, "champion", {"champion_version": "2"})
    for day, (ap, recall) in enumerate(FIRST_WEEK, start=1):
        matured(instance, f"2026-10-{day:02d}", ap, recall, expected_reported_share=0.8)
    for day in range(8, 12):  # measured too early: a third of their frauds reported, recall looks awful
        matured(instance, f"2026-10-{day:02d}", 0.05, 0.1, expected_reported_share=0.3)
    requests, cursor, reason = tick(performance_retrain_sensor, instance, None)
    assert requests == [] and "no day judged yet" in reason
    assert sorted(json.loads(cursor)["observations"]) == [f"2026-10-{d:02d}" for d in range(1, 8)]


def test_every_retrain_request_records_the_policy_that_decided(instance):
    policy = RetrainPolicy(drift_consecutive=3, cooldown_hours=6, drift_share_threshold=0.4, shadow_days=10)
    for day in ("2026-10-01", "2026-10-02", "2026-10-03"):
        report_drift(instance, day, 0.5)
    requests, _, _ = tick(drift_retrain_sensor, instance, None, policy)
    (request,) = requests
    recorded = json.loads(request.tags[POLICY_TAG])
    assert recorded == policy.summary()
    assert (recorded["drift_consecutive"], recorded["cooldown_hours"], recorded["drift_share_threshold"]) == (3, 6, 0.4)
    assert recorded["shadow_days"] == 10 and recorded["approval"] == "auto"


def test_the_drift_sensor_judges_each_day_by_its_calibrated_threshold_unless_overridden(instance):
    for day in ("2026-10-01", "2026-10-02"):  # 0.35 would trip the 0.3 fallback; the champion's own days reach 0.4
        report(instance, "drift_report", {"status": "measured", "share_drifted": 0.35, "prediction_drift_score": 0.0,
                                          "drifted_columns": [], "calibrated_share_threshold": 0.45,
                                          "calibrated_prediction_threshold": 0.1}, day)
    requests, cursor, reason = tick(drift_retrain_sensor, instance, None)
    assert requests == [] and "below 0.45" in reason
    requests, _, _ = tick(drift_retrain_sensor, instance, None, RetrainPolicy(drift_share_threshold=0.3))
    assert len(requests) == 1 and "drifted share >= 0.30" in requests[0].tags["fraudshield/reason"]
    # A key feature counts only when it drifts beyond its own calibrated threshold.
    for day in ("2026-10-03", "2026-10-04"):
        report(instance, "drift_report", {"status": "measured", "share_drifted": 0.1, "prediction_drift_score": 0.0,
                                          "drifted_columns": ["amount"], "beyond_calibration_columns": [],
                                          "calibrated_share_threshold": 0.45, "calibrated_prediction_threshold": 0.1}, day)
    requests, cursor, reason = tick(drift_retrain_sensor, instance, cursor)
    assert requests == [], reason


def test_an_uncalibrated_small_reference_judges_score_drift_by_its_test_not_the_distance_fallback(instance):
    # A reference of at most 1000 rows gets Evidently's tests: the score is 1 - p. Against the distance
    # fallback (0.2) a stable day with p = 0.5 would count as drifted; the test's own verdict decides.
    test = "K-S p_value (as 1 - p)"
    for day in ("2026-10-01", "2026-10-02"):
        report(instance, "drift_report", {"status": "measured", "share_drifted": 0.0, "prediction_drift_score": 0.5,
                                          "prediction_drifted": False, "prediction_drift_method": test, "drifted_columns": []}, day)
    requests, cursor, reason = tick(drift_retrain_sensor, instance, None)
    assert requests == [], reason
    for day in ("2026-10-03", "2026-10-04"):
        report(instance, "drift_report", {"status": "measured", "share_drifted": 0.0, "prediction_drift_score": 0.999,
                                          "prediction_drifted": True, "prediction_drift_method": test, "drifted_columns": []}, day)
    requests, _, _ = tick(drift_retrain_sensor, instance, cursor)
    assert len(requests) == 1 and "prediction drift" in requests[0].tags["fraudshield/reason"]
    # A distance still meets the fallback.
    assert is_test_score(test) and not is_test_score("Wasserstein distance (normed)") and not is_test_score(None)


def test_cooldown_holds_a_request_until_it_has_passed(instance):
    from dagster._core.test_utils import create_run_for_test

    create_run_for_test(instance, job_name="retrain_job", status=dg.DagsterRunStatus.SUCCESS)  # a finished retrain
    report_drift(instance, "2026-10-01", 0.6)
    report_drift(instance, "2026-10-02", 0.6)
    requests, cursor, reason = tick(drift_retrain_sensor, instance, None)
    assert requests == [] and "cooldown has 24.0 h left" in reason and json.loads(cursor)["pending"]
    requests, cursor, _ = tick(drift_retrain_sensor, instance, cursor, RetrainPolicy(cooldown_hours=0))  # still pending
    assert len(requests) == 1


def test_approval_mode_alerts_once_instead_of_retraining(instance):
    manual = {"policy": RetrainPolicy(approval="manual")}
    report_drift(instance, "2026-10-01", 0.6)
    report_drift(instance, "2026-10-02", 0.6)
    result = drift_retrain_sensor(dg.build_sensor_context(instance=instance, resources=manual))
    assert not result.run_requests and "approval required" in result.skip_reason.skip_message
    (alert,) = result.asset_events
    assert alert.asset_key == dg.AssetKey("trained_model") and alert.metadata["approval"].value == "required"
    again = drift_retrain_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=manual))
    assert isinstance(again, dg.SkipReason) and again.skip_message == "no new drift reports"


def test_a_day_without_a_reported_fraud_is_null_and_says_nothing(instance):
    """matured_performance publishes None, not NaN, where a day has no reported fraud; the sensor
    skips such a day instead of reading it as a collapse."""
    report(instance, "champion", {"champion_version": "2"})
    for day, (ap, recall) in enumerate(FIRST_WEEK, start=1):
        matured(instance, f"2026-10-{day:02d}", ap, recall)
    matured(instance, "2026-10-08", None, None, n_fraud=0)
    requests, cursor, reason = tick(performance_retrain_sensor, instance, None)
    assert requests == [] and "no day judged yet" in reason, reason
    matured(instance, "2026-10-09", 0.31, 0.61)
    requests, _, reason = tick(performance_retrain_sensor, instance, cursor)
    assert requests == [] and "over 2026-10-09..2026-10-09" in reason, reason
