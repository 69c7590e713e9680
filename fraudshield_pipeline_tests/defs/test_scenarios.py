"""Scenarios with known ground truth, from the simulator's drift knobs, run through Dagster."""

import datetime as dt

import dagster as dg
import pytest

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.storage import table_key
from fraudshield_pipeline.runner import RANGE_END, RANGE_START, load_assets

INGEST_TO_FEATURES = [
    "raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
    "quarantined_transactions", "quarantined_labels", "transaction_features",
]


@pytest.fixture
def partner_world(tmp_path):
    env = {
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "800",
        "FRAUDSHIELD_SIM_NEW_PARTNER_START": "2026-09-08",
    }
    with dg.instance_for_test() as instance:
        yield build_resources(env), instance


def test_new_payment_partner_is_stopped_by_the_contract_the_same_day(partner_world):
    resources, instance = partner_world
    assets = load_assets()
    before = dg.materialize(
        assets, instance=instance, resources=resources, selection=INGEST_TO_FEATURES,
        tags={RANGE_START: "2026-09-01", RANGE_END: "2026-09-07"},
    )
    assert before.success
    day = dg.materialize(
        assets, instance=instance, resources=resources, selection=INGEST_TO_FEATURES,
        partition_key="2026-09-08", raise_on_error=False,
    )
    checks = {e.check_name: e for e in day.get_asset_check_evaluations()}
    assert checks["rows_accounted"].passed
    assert not checks["quarantine_rate"].passed
    rate = checks["quarantine_rate"].metadata["max_quarantine_rate"].value
    assert 0.2 < rate < 0.4  # the partner carries about 30% of the day
    rules = checks["quarantine_rate"].metadata["failed_rules"].value["2026-09-08"]
    assert list(rules) == [next(r for r in rules if r.startswith("merchant_category:isin"))]
    store = resources["storage"]
    assert store.exists(table_key("quarantined_transactions", "2026-09-08"))  # rows kept, with their rule
    # Blocking: nothing downstream is built on a day that broke its contract.
    assert not store.exists(table_key("transaction_features", "2026-09-08"))
    assert store.exists(table_key("transaction_features", "2026-09-07"))


def test_snapshots_are_content_addressed_and_immutable(tmp_path):
    env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"), "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "300"}
    resources = build_resources(env)
    store, assets = resources["storage"], load_assets()
    selection = ["raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
                 "quarantined_transactions", "quarantined_labels"]

    def version(instance):
        dg.materialize(assets, instance=instance, resources=resources, selection=selection, partition_key="2026-09-02")
        record = instance.get_latest_materialization_event(dg.AssetKey("validated_transactions")).asset_materialization
        return record.tags["dagster/data_version"], store.list_keys("snapshots/validated_transactions/2026-09-02/")

    with dg.instance_for_test() as instance:
        first, files = version(instance)
        again, files_again = version(instance)
        assert first == again and files == files_again == [f"snapshots/validated_transactions/2026-09-02/{first}.parquet"]
        changed = build_resources({**env, "FRAUDSHIELD_SIM_SEED": "8"})
        resources.update(source=changed["source"])
        other, files_after = version(instance)
    assert other != first and len(files_after) == 2  # the earlier version is still there, untouched


@pytest.mark.slow
def test_stable_days_never_retrain_and_a_spending_shift_is_caught_within_a_day(tmp_path):
    """A champion trained on 72 days; 10 stable days, then a holiday spending shift from day X."""
    from fraudshield_pipeline.scenarios import run_monitoring_scenario

    shift = dt.date(2026, 11, 22)
    env = {
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "1500",
        "FRAUDSHIELD_SIM_CUSTOMERS": "3000",
        "FRAUDSHIELD_SIM_MERCHANTS": "300",
        "FRAUDSHIELD_SIM_HOLIDAY_SHIFT_START": shift.isoformat(),
    }
    with dg.instance_for_test() as instance:
        result = run_monitoring_scenario(instance, env, dt.date(2026, 9, 1), training_days=72, monitored_days=12)
    stable = {d: s for d, s in result.share_drifted.items() if d < shift.isoformat()}
    assert len(stable) == 10 and max(stable.values()) < 0.3, stable
    assert "drift" in result.fired, result.share_drifted
    assert result.fired["drift"] >= shift, f"false alarm on stable data: {result.reasons}"
    assert result.delay_days("drift", shift) <= 1
    assert max(max(ticks) for ticks in result.tick_seconds.values()) < 1.0  # sensors read metadata only
