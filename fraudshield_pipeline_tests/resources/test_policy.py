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


def test_one_alert_budget_serves_the_evaluation_the_scores_and_the_matured_days():
    """An expectation measured at one budget and monitored days at another would compare unlike figures."""
    from fraudshield_pipeline.defs.evaluation.assets import EvaluationConfig, evaluation_report
    from fraudshield_pipeline.defs.monitoring.performance import MaturityConfig, matured_performance
    from fraudshield_pipeline.defs.monitoring.scoring import AlertCapacityConfig, batch_scores

    assert build_policy({"FRAUDSHIELD_DAILY_ALERT_BUDGET": "250"}).daily_alert_budget == 250
    for config in (EvaluationConfig, AlertCapacityConfig, MaturityConfig):
        assert "daily_alert_budget" not in config.model_fields, config
    for asset in (evaluation_report, batch_scores, matured_performance):
        assert "policy" in asset.required_resource_keys, asset.key
