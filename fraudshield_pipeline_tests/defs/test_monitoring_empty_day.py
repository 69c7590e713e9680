"""A day without a transaction (a header-only file on a volume-exempt holiday) is monitored as
such: drift_report, batch_scores and matured_performance materialize with status
no_transactions and null figures (never NaN), Evidently is not asked to compare an empty column,
and the drift and performance sensors read the day as no evidence."""

import json

import dagster as dg
import pytest

from fraudshield_pipeline.defs.monitoring.sensors import drift_retrain_sensor, performance_retrain_sensor
from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import model_feature_names
from fraudshield_pipeline.domain.training_set import SPLIT
from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.registry import CHAMPION
from fraudshield_pipeline.resources.storage import table_key
from fraudshield_pipeline.runner import load_assets
from fraudshield_pipeline_tests.defs.test_promotion_flow import WEAK_FEATURES, register
from fraudshield_pipeline_tests.defs.test_sensors import report, report_drift, tick

EMPTY_DAY = "2026-10-20"
MONITORING = ["drift_report", "batch_scores", "matured_performance"]


@pytest.fixture(scope="module")
def champion_and_challenger(small_training_set, tmp_path_factory):
    """A champion and a challenger in shadow, and a feature partition with the columns and no row."""
    resources = build_resources({"FRAUDSHIELD_DATA_DIR": str(tmp_path_factory.mktemp("empty-day") / "data")})
    champion = register(resources, small_training_set, model_feature_names(small_training_set.columns), rounds=5)
    resources["registry"].set_alias(CHAMPION, champion)
    register(resources, small_training_set, WEAK_FEATURES, rounds=3)  # the challenger
    empty = small_training_set.drop(columns=[SPLIT, s.IS_FRAUD]).iloc[0:0].reset_index(drop=True)
    resources["storage"].write_frame(table_key("transaction_features", EMPTY_DAY), empty)
    return resources, champion


def test_a_day_without_transactions_is_no_evidence(champion_and_challenger, monkeypatch):
    import fraudshield_pipeline.domain.drift as drift

    def no_evidently(*args, **kwargs):
        raise AssertionError("Evidently was asked to compare a day without rows")

    monkeypatch.setattr(drift, "compute_drift", no_evidently)
    resources, champion = champion_and_challenger
    with dg.instance_for_test() as instance:
        report(instance, "champion", {"champion_version": champion})
        report_drift(instance, "2026-10-19", 0.6)
        report_drift(instance, EMPTY_DAY, 0.6)  # an earlier measurement of the day, before its file was replaced
        result = dg.materialize(
            load_assets(), instance=instance, resources=resources, selection=MONITORING, partition_key=EMPTY_DAY,
            raise_on_error=False,
        )  # fmt: skip
        assert result.success, [e.message for e in instance.all_logs(result.run_id) if e.level >= 40]
        metadata = {a: {k: v.value for k, v in result.asset_materializations_for_node(a)[0].metadata.items()} for a in MONITORING}
        drift_meta, scores, matured = metadata["drift_report"], metadata["batch_scores"], metadata["matured_performance"]
        assert drift_meta["status"] == scores["status"] == matured["status"] == "no_transactions"
        assert drift_meta["share_drifted"] is None and drift_meta["prediction_drift_score"] is None
        assert scores["alert_rate"] is None and scores["challenger_version"] is not None
        assert scores["shadow_alert_rate"] is None and scores["shadow_alert_agreement"] is None
        assert matured["average_precision"] is None and matured["recall_at_budget"] is None
        (volume,) = result.get_asset_check_evaluations()
        assert volume.check_name == "alert_volume" and volume.passed

        requests, cursor, reason = tick(drift_retrain_sensor, instance, None)
        assert requests == [] and "only 1 drift report" in reason, reason  # 2026-10-19 alone: the empty day is not drift
        assert list(json.loads(cursor)["observations"]) == ["2026-10-19"]
        requests, cursor, reason = tick(performance_retrain_sensor, instance, None)
        assert requests == [] and EMPTY_DAY not in json.loads(cursor)["observations"], reason
