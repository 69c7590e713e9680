"""The data-quality policy decides when a validated day blocks: a quiet day a portfolio expects
(a holiday) is exempted by configuration, and a failure names the day and the way out."""

import dagster as dg
import pytest

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.quality_policy import DataQualityPolicy, build_quality_policy
from fraudshield_pipeline.resources.storage import table_key
from fraudshield_pipeline.runner import RANGE_END, RANGE_START, load_assets

SNAPSHOTS = ["raw_transactions", "raw_labels", "validated_transactions", "validated_labels", "quarantined_transactions",
             "quarantined_labels", "transaction_features"]  # fmt: skip
QUIET_SUNDAY = "2026-09-06"


@pytest.fixture
def quiet_sundays(tmp_path):
    env = {
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "600",
        "FRAUDSHIELD_SIM_WEEKDAY_FACTORS": "1.1,1.1,1.1,1.1,1.1,1.1,0.3",  # Sundays at a third of the week's volume
    }
    return env


def _materialize(resources, instance):
    return dg.materialize(
        load_assets(), instance=instance, resources=resources, selection=SNAPSHOTS,
        tags={RANGE_START: "2026-09-01", RANGE_END: "2026-09-07"}, raise_on_error=False,
    )  # fmt: skip


def test_a_quiet_day_blocks_naming_the_day_and_the_exemption(quiet_sundays):
    resources = build_resources(quiet_sundays)
    with dg.instance_for_test() as instance:
        result = _materialize(resources, instance)
        assert not result.success
        volume = next(e for e in result.get_asset_check_evaluations() if e.check_name == "volume")
        assert not volume.passed
        assert volume.description.startswith(f"{QUIET_SUNDAY}: ") and "volume_exempt_days" in volume.description
        logged = [e.message for e in instance.all_logs(result.run_id) if e.level >= 40]  # ERROR
        assert any(QUIET_SUNDAY in m and "check volume failed" in m for m in logged)
    assert not resources["storage"].exists(table_key("transaction_features", "2026-09-01"))  # blocked downstream


def test_an_exempt_day_is_reported_and_does_not_block(quiet_sundays):
    resources = {**build_resources(quiet_sundays), "quality": DataQualityPolicy(volume_exempt_days=[QUIET_SUNDAY])}
    with dg.instance_for_test() as instance:
        result = _materialize(resources, instance)
        assert result.success
        volume = next(e for e in result.get_asset_check_evaluations() if e.check_name == "volume")
        assert volume.passed and "exempt day" in volume.metadata["verdicts"].value[QUIET_SUNDAY]
    assert resources["storage"].exists(table_key("transaction_features", QUIET_SUNDAY))


def test_the_policy_comes_from_the_environment():
    policy = build_quality_policy({"FRAUDSHIELD_VOLUME_EXEMPT_DAYS": "2026-12-25, 2026-12-26", "FRAUDSHIELD_VOLUME_LOW": "0.3"})
    assert policy.volume_exempt_days == ["2026-12-25", "2026-12-26"] and policy.volume_low == 0.3
    assert build_quality_policy({}).max_quarantine_rate == 0.05
    with pytest.raises(Exception, match="2026-13-01"):
        build_quality_policy({"FRAUDSHIELD_VOLUME_EXEMPT_DAYS": "2026-13-01"})


def test_the_id_horizon_covers_the_features_lookback():
    assert build_quality_policy({"FRAUDSHIELD_ID_HORIZON_DAYS": "120"}).id_horizon_days == 120
    with pytest.raises(Exception, match="features' lookback of 37 days"):
        build_quality_policy({"FRAUDSHIELD_ID_HORIZON_DAYS": "30"})
