"""Undo a bad promotion: shadow days of the previous champion, the rollback sensor and rollback_job."""

import json

import dagster as dg
import pytest

from fraudshield_pipeline.defs.governance.assets import current_champion
from fraudshield_pipeline.defs.monitoring.rollback import ROLLBACK_FROM, ROLLBACK_TO, rollback_job, rollback_sensor
from fraudshield_pipeline.defs.monitoring.sensors import performance_retrain_sensor
from fraudshield_pipeline.resources.policy import POLICY_TAG, RetrainPolicy
from fraudshield_pipeline_tests.defs.test_sensors import report, tick


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def shadow_day(instance, day: str, new: tuple[float, float], previous: tuple[float, float], champion: str = "3") -> None:
    report(instance, "matured_performance", {
        "status": "matured", "champion_version": champion, "average_precision": new[0], "recall_at_budget": new[1],
        "previous_version": "2", "previous_average_precision": previous[0], "previous_recall_at_budget": previous[1],
    }, day)


def test_a_clearly_worse_new_champion_is_rolled_back_with_its_evidence_and_policy(instance):
    report(instance, "champion", {"champion_version": "3"})
    shadow_day(instance, "2026-10-01", (0.15, 0.45), (0.30, 0.60))
    requests, _, reason = tick(rollback_sensor, instance, None)
    assert requests == [] and "only 1 shadow day" in reason
    shadow_day(instance, "2026-10-02", (0.16, 0.47), (0.29, 0.58))
    shadow_day(instance, "2026-10-03", (0.14, 0.44), (0.31, 0.61))
    policy = RetrainPolicy(shadow_days=10)
    (request,), _, _ = tick(rollback_sensor, instance, None, policy)
    assert request.tags[ROLLBACK_TO] == "2" and request.tags[ROLLBACK_FROM] == "3"
    assert request.run_key == "rollback:v3:v2" and "worse than the previous" in request.tags["fraudshield/reason"]
    assert sorted(json.loads(request.tags["fraudshield/evidence"])) == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert json.loads(request.tags[POLICY_TAG]) == policy.summary()


def test_an_equal_new_champion_stays_and_days_after_the_shadow_period_do_not_count(instance):
    report(instance, "champion", {"champion_version": "3"})
    for day, new, previous in [("01", 0.30, 0.28), ("02", 0.25, 0.29), ("03", 0.33, 0.30), ("04", 0.27, 0.29)]:
        shadow_day(instance, f"2026-10-{day}", (new, 0.6), (previous, 0.6))
    requests, _, reason = tick(rollback_sensor, instance, None, RetrainPolicy(shadow_days=4))
    assert requests == [] and "holds against the previous" in reason and "shadow period over" in reason
    for day in ("05", "06", "07", "08"):  # much worse, but after the shadow period: the performance sensor's job
        shadow_day(instance, f"2026-10-{day}", (0.05, 0.2), (0.3, 0.6))
    requests, _, _ = tick(rollback_sensor, instance, None, RetrainPolicy(shadow_days=4))
    assert requests == []


def test_in_approval_mode_a_rollback_is_an_alert_raised_once(instance):
    report(instance, "champion", {"champion_version": "3"})
    for day in ("01", "02", "03"):
        shadow_day(instance, f"2026-10-{day}", (0.1, 0.4), (0.3, 0.6))
    manual = {"policy": RetrainPolicy(approval="manual")}
    result = rollback_sensor(dg.build_sensor_context(instance=instance, resources=manual))
    assert not result.run_requests and "approval required" in result.skip_reason.skip_message
    (alert,) = result.asset_events
    assert alert.metadata["rollback_requested"].value == "v3 -> v2"
    again = rollback_sensor(dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=manual))
    assert isinstance(again, dg.SkipReason) and "awaiting approval" in again.skip_message


def test_rollback_job_moves_the_alias_records_the_rollback_and_the_sensors_see_it(training_set, env):
    """A real MLflow registry: v1 (strong) was champion, v2 (weak) was promoted, the job rolls back."""
    from fraudshield_pipeline.domain.features import model_feature_names
    from fraudshield_pipeline.resources.profiles import build_resources
    from fraudshield_pipeline.resources.registry import CHAMPION
    from fraudshield_pipeline_tests.defs.test_promotion_flow import WEAK_FEATURES, register

    resources = build_resources(env)
    registry, storage = resources["registry"], resources["storage"]
    full = model_feature_names(training_set.columns)
    good = register(resources, training_set, full, rounds=20)
    bad = register(resources, training_set, WEAK_FEATURES, rounds=5)
    registry.set_alias(CHAMPION, bad)
    tags = {ROLLBACK_TO: good, ROLLBACK_FROM: bad, "fraudshield/reason": "new champion worse than the previous",
            "fraudshield/evidence": '{"2026-10-01":[0.1,0.3,0.4,0.6]}', **RetrainPolicy(shadow_days=9).as_tags()}
    with dg.instance_for_test() as instance:
        report(instance, "champion", {"champion_version": bad})
        result = rollback_job.execute_in_process(
            instance=instance, tags=tags, resources={"registry": registry, "storage": storage}
        )
        assert result.success
        assert registry.version_for_alias(CHAMPION).version == good
        (key,) = [k for k in storage.list_keys("reports/promotions/") if "rollback" in k]
        record = json.loads(storage.read_text(key))
        assert record["action"] == "rollback" and record["champion_version_after"] == good
        assert record["evidence"].startswith('{"2026-10-01"') and record["policy"]["shadow_days"] == 9
        # The sensors and the UI read the current champion from the `champion` asset: the rollback is what they see now.
        latest = instance.get_latest_materialization_event(dg.AssetKey("champion")).asset_materialization
        assert latest.metadata["champion_version"].value == good and latest.metadata["action"].value == "rollback"
        assert current_champion(instance) == good
        report(instance, "matured_performance", {"status": "matured", "champion_version": good,
                                                 "average_precision": 0.3, "recall_at_budget": 0.6}, "2026-10-05")
        _, cursor, _ = tick(performance_retrain_sensor, instance, None)
        assert json.loads(cursor)["champion"] == good
        # A second request for the same rollback finds nothing to undo.
        again = rollback_job.execute_in_process(
            instance=instance, tags=tags, resources={"registry": registry, "storage": storage}, raise_on_error=False
        )
        assert not again.success and registry.version_for_alias(CHAMPION).version == good


from fraudshield_pipeline_tests.defs.test_promotion_flow import env, training_set, world  # noqa: E402,F401  (fixtures)
