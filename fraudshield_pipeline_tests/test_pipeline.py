"""The whole asset graph, in-process, on a small simulated world in a temporary directory."""

import datetime as dt
import math

import dagster as dg
import pytest

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.registry import CHALLENGER, CHAMPION
from fraudshield_pipeline.resources.storage import report_key, table_key
from fraudshield_pipeline.runner import run_pipeline

FIRST_DAY = dt.date(2026, 9, 1)
DAYS = 36


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    env = {"FRAUDSHIELD_DATA_DIR": str(root / "data"), "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "2000"}
    resources = build_resources(env)
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        results = run_pipeline(instance, resources, FIRST_DAY, DAYS, drift_days=2)
        yield {"results": {r.name: r for r in results}, "resources": resources, "instance": instance, "root": root}


def test_every_stage_materializes_its_assets(pipeline):
    results = pipeline["results"]
    assert list(results) == ["ingest", "snapshots", "features", "training", "evaluation", "monitoring"]
    materialized = {asset for r in results.values() for asset in r.metadata}
    assert {"raw_transactions", "raw_labels", "validated_transactions", "transaction_features", "online_features",
            "training_set", "trained_model", "evaluation_report"} <= materialized
    assert any(key.startswith("drift_report[") for key in materialized)
    assert any(key.startswith("batch_scores[") for key in materialized)


def test_no_row_is_lost_between_raw_and_validated(pipeline):
    store = pipeline["resources"]["storage"]
    for day in ("2026-09-01", "2026-09-20", "2026-10-06"):
        raw = store.read_table(table_key("raw_transactions", day)).num_rows
        kept = store.read_table(table_key("validated_transactions", day)).num_rows
        quarantined = store.read_table(table_key("quarantined_transactions", day)).num_rows
        features = store.read_table(table_key("transaction_features", day)).num_rows
        assert raw > 1000 and raw == kept + quarantined and features == kept


def test_first_model_is_registered_evaluated_and_promoted(pipeline):
    registry = pipeline["resources"]["registry"]
    model = pipeline["results"]["training"].metadata["trained_model"]
    report = pipeline["results"]["evaluation"].metadata["evaluation_report"]
    challenger = registry.version_for_alias(CHALLENGER)
    assert challenger.version == model["model_version"] and challenger.run_id == model["mlflow_run_id"]
    assert report["promoted"] is True
    assert registry.version_for_alias(CHAMPION).version == challenger.version
    assert 0.3 <= report["test_average_precision"] <= 1.0 and 0.8 <= report["test_roc_auc"] <= 1.0
    run = registry.client().get_run(challenger.run_id)
    assert math.isclose(run.data.metrics["test_average_precision"], report["test_average_precision"])
    assert {"training_set_version", "code_version", "lockfile_sha256"} <= set(run.data.tags)
    assert pipeline["resources"]["storage"].exists(report_key("evaluation", f"v{challenger.version}.md"))


def test_online_store_serves_the_newest_offline_features(pipeline):
    import pandas as pd

    from fraudshield_pipeline.feature_repo import CUSTOMER_VIEW, feature_refs

    store = pipeline["resources"]["storage"]
    last_day = (FIRST_DAY + dt.timedelta(days=DAYS - 1)).isoformat()
    offline = store.read_table(table_key("transaction_features", last_day)).to_pandas()
    latest = offline.sort_values("event_timestamp").drop_duplicates("customer_id", keep="last").head(5)
    online = pd.DataFrame(
        pipeline["resources"]["feature_store"].online_features(
            [{"customer_id": c, "merchant_id": m} for c, m in zip(latest.customer_id, latest.merchant_id)],
            [r for r in feature_refs() if r.startswith(CUSTOMER_VIEW)],
        )
    )
    assert online["customer_tx_count_30d"].tolist() == latest["customer_tx_count_30d"].tolist()
    assert online["customer_amount_sum_24h"].round(6).tolist() == latest["customer_amount_sum_24h"].round(6).tolist()


def test_drift_reports_are_measured_against_the_champion(pipeline):
    monitoring = {k: v for k, v in pipeline["results"]["monitoring"].metadata.items() if k.startswith("drift_report")}
    store = pipeline["resources"]["storage"]
    assert len(monitoring) == 2
    for key, metadata in monitoring.items():
        day = key.removeprefix("drift_report[").removesuffix("]")
        assert metadata["status"] == "measured"
        assert 0.0 <= metadata["share_drifted"] <= 1.0 and metadata["n_features"] >= 25
        assert store.read_text(report_key("drift", f"{day}.html")).lstrip().lower().startswith("<")


def test_runs_are_recorded_on_the_instance(pipeline):
    instance = pipeline["instance"]
    run_ids = [r for result in pipeline["results"].values() for r in result.run_ids]
    assert all(instance.get_run_by_id(r).is_success for r in run_ids)
    event = instance.get_latest_materialization_event(dg.AssetKey("transaction_features"))
    assert event is not None and event.asset_materialization.partition is not None


def test_each_monitored_day_is_scored_by_the_champion(pipeline):
    store = pipeline["resources"]["storage"]
    last_day = (FIRST_DAY + dt.timedelta(days=DAYS - 1)).isoformat()
    scores = store.read_table(table_key("batch_scores", last_day)).to_pandas()
    features = store.read_table(table_key("transaction_features", last_day)).to_pandas()
    assert scores["transaction_id"].tolist() == features["transaction_id"].tolist()
    assert scores["champion_score"].between(0, 1).all() and scores["champion_alert"].dtype == bool
    metadata = pipeline["results"]["monitoring"].metadata[f"batch_scores[{last_day}]"]
    assert metadata["status"] == "scored" and 0 < metadata["alert_rate"] < 0.2


def test_each_partition_of_a_range_run_carries_its_own_row_count(pipeline):
    instance = pipeline["instance"]
    store = pipeline["resources"]["storage"]
    for day in ("2026-09-01", "2026-09-15"):
        (record,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("validated_transactions"), asset_partitions=[day]), limit=1
        ).records
        metadata = record.asset_materialization.metadata
        assert metadata["dagster/row_count"].value == store.read_table(table_key("validated_transactions", day)).num_rows
        assert metadata["range_row_count"].value > metadata["dagster/row_count"].value


def test_matured_performance_only_once_labels_have_matured(pipeline):
    from fraudshield_pipeline.runner import load_assets

    instance, resources = pipeline["instance"], pipeline["resources"]
    mature = dg.materialize(
        load_assets(), instance=instance, resources=resources,
        selection=["batch_scores", "matured_performance"], partition_key="2026-09-25",
    )
    (event,) = [e for e in mature.get_asset_materialization_events() if e.asset_key.to_user_string() == "matured_performance"]
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["status"] == "matured" and metadata["n_fraud"] > 0
    assert 0 < metadata["average_precision"] <= 1 and 0 < metadata["recall_at_budget"] <= 1
    assert metadata["labels_as_of"].startswith("2026-10-07")
    immature = dg.materialize(
        load_assets(), instance=instance, resources=resources,
        selection=["matured_performance"], partition_key="2026-10-05", raise_on_error=False,
    )
    assert not immature.success


def test_matured_performance_schedule_targets_the_day_that_just_matured():
    from fraudshield_pipeline.defs.schedules import matured_performance_schedule

    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 10, 20, 4, 30, tzinfo=dt.timezone.utc))
    request = matured_performance_schedule(context)
    assert request.partition_key == "2026-10-12" and request.run_key == "matured:2026-10-12"
