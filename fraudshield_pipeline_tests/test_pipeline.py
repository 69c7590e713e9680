"""The whole asset graph, in-process, on a small simulated world in a temporary directory."""

import datetime as dt
import math
import re

import dagster as dg
import pandas as pd
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
        results = run_pipeline(instance, resources, FIRST_DAY, DAYS, drift_days=1)
        yield {"results": {r.name: r for r in results}, "resources": resources, "instance": instance, "root": root}


def test_every_stage_materializes_its_assets(pipeline):
    results = pipeline["results"]
    assert list(results) == ["ingest", "snapshots", "features", "training", "evaluation", "monitoring", "matured"]
    materialized = {asset for r in results.values() for asset in r.metadata}
    assert {"raw_transactions", "raw_labels", "validated_transactions", "transaction_features", "online_features",
            "training_set", "trained_model", "evaluation_report", "champion"} <= materialized
    assert any(key.startswith("drift_report[") for key in materialized)
    assert any(key.startswith("batch_scores[") for key in materialized)
    assert any(key.startswith("matured_performance[") for key in materialized)


def test_stages_run_as_the_named_jobs_and_every_asset_is_materialized(pipeline):
    """What the UI's Jobs page and catalog show after the demo: named jobs, no empty asset."""
    from fraudshield_pipeline.runner import load_assets

    instance = pipeline["instance"]
    jobs = {record.dagster_run.job_name for record in instance.get_run_records()}
    assert jobs == {"daily_ingestion_job", "retrain_job", "drift_monitoring_job", "matured_performance_job"}
    keys = {key for assets_def in load_assets() for key in assets_def.keys}
    empty = [key.to_user_string() for key in keys if instance.get_latest_materialization_event(key) is None]
    assert not empty, empty
    (matured,) = [v for k, v in pipeline["results"]["matured"].metadata.items() if k.startswith("matured_performance[")]
    assert matured["status"] == "matured" and 0.0 <= matured["average_precision"] <= 1.0


def test_reports_and_runs_are_links_and_tables_are_typed(pipeline):
    registry = pipeline["resources"]["registry"]
    model = pipeline["results"]["training"].metadata["trained_model"]
    report = pipeline["results"]["evaluation"].metadata["evaluation_report"]
    (drift,) = [v for k, v in pipeline["results"]["monitoring"].metadata.items() if k.startswith("drift_report[2026-10-06")]
    base = "http://127.0.0.1:5000/#/experiments/"
    assert model["mlflow_run"].startswith(base) and model["mlflow_run"].endswith(f"/runs/{model['mlflow_run_id']}")
    assert report["model_version_url"] == f"http://127.0.0.1:5000/#/models/{registry.model_name}/versions/{model['model_version']}"
    assert report["report"].endswith(f"/runs/{model['mlflow_run_id']}/artifacts/evaluation/report.md")
    # The drift link names a real run whose artifact is the Evidently HTML.
    run_id = drift["report"].split("/runs/")[1].split("/")[0]
    html = registry.client().download_artifacts(run_id, "drift_report.html", str(pipeline["root"]))
    assert open(html).read() == open(drift["report_file"]).read()  # the Evidently HTML the asset wrote
    # Typed tables, rounded floats, no index column.
    metrics = report["metrics"]
    assert [c.name for c in metrics.schema.columns][:2] == ["test_set", "metric"]
    assert all(round(v, 4) == v for r in metrics.records for v in r.data.values() if isinstance(v, float))
    assert {r.data["feature"] for r in model["top_features"].records} <= set(registry.load_booster(model["model_version"]).feature_names)
    assert drift["drift_by_feature"].records and "█" in "".join(r.data["drift"] for r in drift["drift_by_feature"].records)
    assert report["test_average_precision"] == round(report["test_average_precision"], 4)
    assert "Top features" in report["model_card"]


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
    # The demo's 36 days hold one backtest week: no fold two weeks older than a test week, so no
    # expectation is recorded and the performance trigger falls back to the champion's first days.
    assert "expected_performance" not in report and "no backtest fold" in report["expected_performance_status"]
    assert 0.3 <= report["test_average_precision"] <= 1.0 and 0.8 <= report["test_roc_auc"] <= 1.0
    run = registry.client().get_run(challenger.run_id)
    assert math.isclose(run.data.metrics["test_average_precision"], report["test_average_precision"], abs_tol=5e-5)  # metadata is rounded
    assert {"training_set_version", "code_version", "lockfile_sha256"} <= set(run.data.tags)
    assert pipeline["resources"]["storage"].exists(report_key("evaluation", f"v{challenger.version}.md"))
    # The protocol set's share of the test rows, shown beside its rows in the model card.
    share = report["protocol_set_share"]
    assert 0.25 < share < 1 and re.search(r"\(\d+\.\d% of the test rows; \d+ frauds\)", report["model_card"])


def _history(store, table, last_day, days):
    keys = [table_key(table, (last_day - dt.timedelta(days=i)).isoformat()) for i in range(days)]
    return store.read_tables([k for k in keys if store.exists(k)]).to_pandas()


def test_training_set_equals_feasts_historical_retrieval(pipeline):
    """Parity: the DuckDB ASOF join and Feast's get_historical_features, value for value."""
    import numpy as np
    import pandas as pd

    from fraudshield_pipeline.domain.features import KEY_COLUMNS
    from fraudshield_pipeline.domain.point_in_time import point_in_time_join
    from fraudshield_pipeline.feature_repo import historical_refs

    store = pipeline["resources"]["storage"]
    features = store.read_tables([table_key("transaction_features", k) for k in store.partitions("transaction_features")]).to_pandas()
    sample = features[list(KEY_COLUMNS)].sample(400, random_state=3)
    # Entity rows at the transactions' own times, and at arbitrary later times (as-of lookups).
    later = sample.sample(100, random_state=4).assign(
        **{"event_timestamp": lambda f: f["event_timestamp"] + pd.to_timedelta(np.arange(len(f)) * 997, unit="min")}
    )
    later["transaction_id"] = later["transaction_id"] + "-later"
    entity_rows = pd.concat([sample, later], ignore_index=True)
    ours = point_in_time_join(entity_rows, features)
    theirs = pipeline["resources"]["feature_store"].historical_features(entity_rows, historical_refs(features.columns))
    key = ["transaction_id", "event_timestamp"]
    ours, theirs = ours.sort_values(key).reset_index(drop=True), theirs.sort_values(key).reset_index(drop=True)
    names = [r.split(":")[1] for r in historical_refs(features.columns)]
    assert len(ours) == len(theirs) == 500 and len(names) >= 30
    for name in names:
        left, right = ours[name], theirs[name]
        if left.dtype == object or right.dtype == object:
            assert left.fillna("<null>").tolist() == right.fillna("<null>").tolist(), name
        else:
            np.testing.assert_array_equal(left.to_numpy(float), right.to_numpy(float), err_msg=name)
    # The '-later' rows found no transaction row of their own (null) but card and merchant state.
    assert ours.loc[ours.transaction_id.str.endswith("-later"), "amount"].isna().all()
    assert ours.loc[ours.transaction_id.str.endswith("-later"), "customer_tx_count_30d"].notna().any()


def test_serving_scores_the_next_day_with_the_offline_features(pipeline):
    """The skew contract: what the scorer sees online equals the training features of the same rows."""
    import numpy as np

    from fraudshield_pipeline.domain.features import build_features, model_feature_names
    from fraudshield_pipeline.domain.train import predict
    from fraudshield_pipeline.serving import FraudScorer
    from fraudshield_pipeline_tests.feature_parity import assert_same_features

    resources, store = pipeline["resources"], pipeline["resources"]["storage"]
    last_day = FIRST_DAY + dt.timedelta(days=DAYS - 1)
    next_day = resources["source"].load_day(last_day + dt.timedelta(days=1))
    arriving = next_day.transactions.head(150)
    scorer = FraudScorer.from_resources(resources)
    decisions = []
    for tx in arriving.to_dict("records"):
        decisions.append(scorer.score(tx))
        scorer.record(tx)
    online = pd.DataFrame([d.features for d in decisions], index=[d.transaction_id for d in decisions])

    history = _history(store, "validated_transactions", last_day, 40)
    labels = _history(store, "validated_labels", last_day, 40)
    start = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    offline = build_features(
        pd.concat([history, arriving], ignore_index=True), labels, start, start + dt.timedelta(days=1)
    ).set_index("transaction_id")
    assert (offline.loc[online.index, "customer_tx_count_30d"] > 0).sum() > 50
    assert_same_features(online, offline, model_feature_names(offline.columns))
    batch = predict(scorer.booster, offline.loc[online.index])
    np.testing.assert_allclose([d.score for d in decisions], batch, rtol=1e-6)
    assert {d.model_version for d in decisions} == {resources["registry"].version_for_alias(CHAMPION).version}


def test_drift_reports_are_measured_against_the_champion(pipeline):
    monitoring = {k: v for k, v in pipeline["results"]["monitoring"].metadata.items() if k.startswith("drift_report")}
    store = pipeline["resources"]["storage"]
    assert len(monitoring) == 1
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
    (run,) = [r for r in pipeline["results"]["monitoring"].run_ids if _ran(pipeline["instance"], r, "batch_scores", last_day)]
    (volume,) = [c for c in _checks(pipeline["instance"], run) if c.check_name == "alert_volume"]
    assert volume.metadata["alerts"].value == int(scores["champion_alert"].sum())
    assert volume.passed is (int(scores["champion_alert"].sum()) <= 300) and volume.severity == dg.AssetCheckSeverity.WARN


def _ran(instance, run_id: str, asset: str, partition: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run.tags.get("dagster/partition") == partition and dg.AssetKey(asset) in (run.asset_selection or set())


def _checks(instance, run_id: str) -> list:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    return [r.event_log_entry.dagster_event.event_specific_data for r in records]


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
    # Labels as they arrive: the report-delay curve of days complete by then (09-01..09-06).
    assert metadata["label_age_days"] == 11 and 0.5 < metadata["expected_reported_share"] <= 1
    assert 1 <= metadata["judging_age_days"] <= 11 and metadata["delay_curve_frauds"] > 0
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
