"""The data-quality policy decides when a validated day blocks: a quiet day a portfolio expects
(a holiday) is exempted by configuration, and a failure names the day and the way out."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from fraudshield_pipeline.defs.training.assets import TrainingWindowConfig
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


# --- a landing zone whose quarantine dominates: the failure names the rule and the way out ----------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "examples" / "landing"
WEEK = [f"2026-09-0{d}" for d in range(1, 8)]


def _zone(tmp_path, labels_by_report_day: bool = False, drop_channel_map: bool = False) -> dict[str, str]:
    """The example zone, its labels re-keyed by the day they were reported (as banks deliver chargebacks), or its
    channel values left unmapped (chip, contactless, ecom instead of card_present, online)."""
    zone = tmp_path / "zone"
    shutil.copytree(EXAMPLE, zone)
    if labels_by_report_day:
        labels = pd.concat([pd.read_csv(zone / "labels" / f"{d}.csv", dtype=str) for d in WEEK], ignore_index=True)
        report_day = pd.to_datetime(labels["reported_on"], utc=True).dt.strftime("%Y-%m-%d")
        for day in WEEK:
            labels[report_day == day].to_csv(zone / "labels" / f"{day}.csv", index=False)
    if drop_channel_map:
        mapping = yaml.safe_load((zone / "mapping.yaml").read_text())
        del mapping["transactions"]["values"]["channel"]
        (zone / "mapping.yaml").write_text(yaml.safe_dump(mapping))
    return {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"), "FRAUDSHIELD_SOURCE": "landing", "FRAUDSHIELD_LANDING_URI": str(zone)}


def _errors(instance, result) -> list[str]:
    return [e.message for e in instance.all_logs(result.run_id) if e.level >= 40]  # ERROR


def test_a_quarantine_failure_names_the_rule_its_values_and_the_mapping_fix(tmp_path):
    resources = build_resources(_zone(tmp_path, drop_channel_map=True))
    with dg.instance_for_test() as instance:
        result = dg.materialize(load_assets(), instance=instance, resources=resources, selection=SNAPSHOTS,
                                partition_key=WEEK[0], raise_on_error=False)  # fmt: skip
        assert not result.success
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        description = checks["quarantine_rate"].description
        assert description.startswith(f"{WEEK[0]}: ") and "channel:isin" in description and "contactless" in description
        assert "card_present, online" in description and "values: (transactions.values.channel)" in description
        assert len(description) < 2500
        assert any("check quarantine_rate failed" in m and "transactions.values.channel" in m for m in _errors(instance, result))
        # their labels follow their transactions into quarantine: the way out says to fix those first
        labels = checks["label_quarantine_rate"]
        assert not labels.passed and "fix the transactions first" in labels.description


def test_labels_keyed_by_report_day_block_naming_the_rule_and_the_rekeying(tmp_path):
    from fraudshield_pipeline.defs.training.assets import _quarantined_label_rules, _refuse_without_fraud
    from fraudshield_pipeline.domain.training_set import plan_window

    resources = build_resources(_zone(tmp_path, labels_by_report_day=True))
    with dg.instance_for_test() as instance:
        result = _materialize(resources, instance)
        assert not result.success
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert checks["quarantine_rate"].passed and checks["rows_accounted"].passed
        labels = checks["label_quarantine_rate"]
        assert checks["rows_accounted"].metadata["in_kept_quarantined"].value[WEEK[0]]["labels"] == [0, 0, 0]
        assert not labels.passed and labels.metadata["label_quarantine_rates"].value[WEEK[0]] == 0.0  # no label: no failure
        assert not labels.description.startswith(WEEK[0])
        assert "transaction_id:references_known_transaction" in labels.description
        assert "by transaction day, not report day" in labels.description and "quarantined_labels" in labels.description
        assert any("check label_quarantine_rate failed" in m for m in _errors(instance, result))
    storage = resources["storage"]
    assert not storage.exists(table_key("transaction_features", WEEK[-1]))  # blocked downstream
    # training on those days later says the labels were quarantined, not that they were never delivered
    window = plan_window(dt.datetime(2026, 9, 8, tzinfo=dt.timezone.utc), train_days=7, gap_days=0, test_days=1, maturity_days=0)
    quarantined = _quarantined_label_rules(storage, window)
    assert set(quarantined) == {"transaction_id:references_known_transaction"}
    summary = pd.DataFrame({"fraud": [0, 0, 0]}, index=["train", "validation", "test"])
    with pytest.raises(dg.Failure) as failure:
        _refuse_without_fraud(summary, 0, window, TrainingWindowConfig(), quarantined)
    message = failure.value.description
    assert f"{sum(quarantined.values())} labels in quarantined_labels" in message and "references_known_transaction" in message
    assert "by transaction day, not report day" in message and "check that labels are delivered" not in message


def test_the_label_limit_comes_from_the_environment():
    assert build_quality_policy({}).max_label_quarantine_rate == 0.05
    assert build_quality_policy({"FRAUDSHIELD_MAX_LABEL_QUARANTINE_RATE": "0.2"}).max_label_quarantine_rate == 0.2


def test_a_typo_or_a_resent_label_does_not_block_a_day_but_wholesale_loss_does():
    """The label check tolerates a few quarantined labels (a small feed's typo) and never counts a
    repeat of a standing label (a re-sent file); half a day's labels lost always blocks."""
    import numpy as np

    from fraudshield_pipeline.defs.snapshots.assets import _label_check
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.contracts import validate_labels

    ids = [f"T{i}" for i in range(10)]
    reported = pd.Timestamp("2026-09-03", tz="UTC")

    def day(label_ids):
        frame = pd.DataFrame({s.TRANSACTION_ID: pd.Series(label_ids, dtype=object), s.IS_FRAUD: np.int8(1),
                              s.REPORTED_AT: pd.Series([reported] * len(label_ids)).astype("datetime64[us, UTC]"),
                              s.FRAUD_SCENARIO: pd.Series([None] * len(label_ids), dtype=object)})  # fmt: skip
        transactions = validate_labels(frame.iloc[0:0], pd.Series(ids, dtype=object), "tx")  # no transaction quarantined
        return (transactions, validate_labels(frame, pd.Series(ids, dtype=object), "labels"))

    typo, resent, wholesale = day(ids[:9] + ["T9x"]), day(ids + ids), day(ids[:4] + ["X1", "X2", "X3", "X4"])
    diluted = day(["T0", "T0", "T0", "T0", "Y1", "Y2", "Y3"])  # 3 of 4 distinct reports lost; repeats do not dilute it
    assert typo[1].rule_counts and resent[1].rule_counts == {"transaction_id:unique": 10}
    result = _label_check({"typo": typo, "resent": resent, "wholesale": wholesale, "zdiluted": diluted}, DataQualityPolicy())
    assert not result.passed and result.description.startswith("wholesale: ") and "typo" not in result.description
    assert "resent" not in result.description and "zdiluted: 75.0%" in result.description
    assert "transaction_id:unique" not in result.description  # repeats are neither counted nor named
