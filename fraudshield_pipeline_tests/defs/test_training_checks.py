"""The training set says when its labels cannot be trusted yet, from the portfolio's own report
delays, and a window without a reported fraud fails naming the cause and the setting to change."""

import dagster as dg
import pytest

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.runner import RANGE_END, RANGE_START, load_assets

UP_TO_FEATURES = ["raw_transactions", "raw_labels", "validated_transactions", "validated_labels", "quarantined_transactions",
                  "quarantined_labels", "transaction_features"]  # fmt: skip


@pytest.fixture(scope="module")
def late_labels(tmp_path_factory):
    """42 days whose frauds are all reported 25 days after they happened: later than the default windows allow
    (as_of 2026-10-13: test window 09-29..10-06, train window 09-08..09-22 with its validation part from 09-19)."""
    env = {
        "FRAUDSHIELD_DATA_DIR": str(tmp_path_factory.mktemp("late") / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "500",
        "FRAUDSHIELD_SIM_CUSTOMERS": "1500",
        "FRAUDSHIELD_SIM_MERCHANTS": "150",
        "FRAUDSHIELD_SIM_LABEL_DELAY": "fixed:25",
    }
    resources = build_resources(env)
    with dg.instance_for_test() as instance:
        assert dg.materialize(load_assets(), instance=instance, resources=resources, selection=UP_TO_FEATURES,
                              tags={RANGE_START: "2026-09-01", RANGE_END: "2026-10-12"}).success  # fmt: skip
        yield resources, instance


def test_late_labels_fail_training_naming_the_cause_and_the_setting(late_labels):
    resources, instance = late_labels
    result = dg.materialize(load_assets(), instance=instance, resources=resources, selection=["training_set"], raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
    assert "holds no reported fraud" in failure and "reports them only after as_of" in failure and "gap_days, now 7" in failure


def test_immature_test_labels_warn_with_the_maturity_that_would_do(late_labels):
    resources, instance = late_labels
    config = {"ops": {"training_set": {"config": {"gap_days": 14, "train_days": 7}}}}  # train window 09-08..09-15: reported
    result = dg.materialize(load_assets(), instance=instance, resources=resources, selection=["training_set"], run_config=config)
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    mature = checks["test_labels_mature"]
    assert not mature.passed and mature.severity == dg.AssetCheckSeverity.WARN
    assert mature.metadata["expected_reported_share"].value == 0.0 and mature.metadata["suggested_maturity_days"].value == 25
    assert "Set training_set's maturity_days to 25 (now 7)" in mature.description
    # recorded beside the window, for the evaluation's advice to name this portfolio's figure
    assert result.asset_materializations_for_node("training_set")[0].metadata["suggested_maturity_days"].value == 25
    splits = {r.data["split"]: r.data for r in result.asset_materializations_for_node("training_set")[0].metadata["splits"].value.records}
    enough = checks["enough_fraud"]
    assert enough.metadata["validation_frauds"].value == splits["validation"]["fraud"] > 0
    assert enough.passed is (splits["validation"]["fraud"] >= 20) and enough.severity == dg.AssetCheckSeverity.WARN


def test_a_window_longer_than_the_id_horizon_is_refused(late_labels):
    """Labels join transactions by id, which the snapshots check unique only within id_horizon_days."""
    from fraudshield_pipeline.resources.quality_policy import DataQualityPolicy

    resources, instance = late_labels
    result = dg.materialize(load_assets(), instance=instance, resources={**resources, "quality": DataQualityPolicy(id_horizon_days=37)},
                            selection=["training_set"], raise_on_error=False, run_config={"ops": {"training_set": {"config": {"train_days": 28}}}})  # fmt: skip
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error.message
    assert "the window spans 49 days" in failure and "id_horizon_days (37)" in failure


def test_an_evaluation_without_test_frauds_names_the_portfolios_maturity(late_labels):
    """The evaluation's advice is this feed's own figure (25 days), not the demo feed's label delay."""
    resources, instance = late_labels
    config = {"ops": {"training_set": {"config": {"gap_days": 14, "train_days": 7}}}}
    result = dg.materialize(load_assets(), instance=instance, resources=resources, run_config=config, raise_on_error=False,
                            selection=["training_set", "trained_model", "evaluation_report"])  # fmt: skip
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "evaluation_report"
    message = failure.step_failure_data.error.message
    assert "the test window" in message and "raise training_set's maturity_days to 25 (now 7)" in message
    assert "demo feed" not in message
