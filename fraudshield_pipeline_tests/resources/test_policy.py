"""The retraining policy resource: described fields, set from the environment, bound everywhere."""

import json

import dagster as dg
import pytest

from fraudshield_pipeline.resources.policy import ENV_VARS, POLICY_TAG, RetrainPolicy, build_policy


def test_every_field_is_described():
    missing = [name for name, field in RetrainPolicy.model_fields.items() if not field.description]
    assert missing == []
    assert set(ENV_VARS) <= set(RetrainPolicy.model_fields)


def test_a_deployment_sets_the_policy_from_its_environment(monkeypatch):
    env = {"FRAUDSHIELD_RETRAIN_COOLDOWN_HOURS": "6", "FRAUDSHIELD_RETRAIN_APPROVAL": "manual",
           "FRAUDSHIELD_DRIFT_SHARE_THRESHOLD": "0.35", "FRAUDSHIELD_PERFORMANCE_FALSE_ALARM_RATE": "0.001"}
    policy = build_policy(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    @dg.sensor(job_name="retrain_job")
    def shows(context, policy: RetrainPolicy):
        return dg.SkipReason(json.dumps(policy.summary()))

    seen = json.loads(shows(dg.build_sensor_context(resources={"policy": policy})).skip_message)
    assert (seen["cooldown_hours"], seen["approval"], seen["drift_share_threshold"]) == (6, "manual", 0.35)
    assert seen["performance_false_alarm_rate"] == 0.001 and seen["drift_consecutive"] == 2  # untouched: default


def test_defaults_calibrate_rather_than_fix_thresholds():
    policy = build_policy({})
    assert policy.drift_share_threshold is None and policy.prediction_drift_threshold is None
    assert policy.min_matured_average_precision is None and policy.cusum_h is None
    tags = policy.as_tags()
    assert json.loads(tags[POLICY_TAG]) == policy.summary()


def test_the_code_location_binds_the_policy():
    from fraudshield_pipeline.definitions import defs

    definitions = defs()
    assert isinstance(definitions.resources["policy"], RetrainPolicy)


@pytest.mark.parametrize("field", ["drift_false_alarm_rate", "performance_false_alarm_rate"])
def test_a_false_alarm_rate_must_be_a_probability(field):
    with pytest.raises(Exception, match=field):
        RetrainPolicy(**{field: 1.5})
