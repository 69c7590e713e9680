"""The code location loads fast, completely, and without the heavy ML libraries."""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from fraudshield_pipeline.definitions import defs

EXPECTED_ASSETS = {
    "raw_transactions",
    "raw_labels",
    "validated_transactions",
    "validated_labels",
    "quarantined_transactions",
    "quarantined_labels",
    "transaction_features",
    "online_features",
    "training_set",
    "trained_model",
    "evaluation_report",
    "drift_report",
    "batch_scores",
    "matured_performance",
    "champion",
}
HEAVY = ("xgboost", "mlflow", "feast", "evidently", "sklearn", "pandera")


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def test_every_asset_job_schedule_and_sensor_resolves(definitions: dg.Definitions):
    repository = definitions.get_repository_def()
    assert {k.to_user_string() for k in repository.asset_graph.get_all_asset_keys()} == EXPECTED_ASSETS
    for job in ("daily_ingestion_job", "drift_monitoring_job", "matured_performance_job", "retrain_job", "rollback_job"):
        assert definitions.resolve_job_def(job).name == job
    assert {s.name for s in repository.schedule_defs} == {"daily_ingestion_job_schedule", "drift_monitoring_job_schedule", "matured_performance_schedule", "weekly_retrain_schedule"}
    assert {s.name for s in repository.sensor_defs} == {
        "drift_retrain_sensor", "volume_retrain_sensor", "performance_retrain_sensor", "rollback_sensor", "late_files_sensor",
    }
    assert set(repository.get_top_level_resources()) >= {"storage", "io_manager", "registry", "feature_store", "compute", "source", "policy"}


def test_retrain_job_carries_the_concurrency_tag(definitions: dg.Definitions):
    assert definitions.resolve_job_def("retrain_job").tags["fraudshield/retrain"] == "true"


def test_freshness_is_a_policy_on_the_validated_snapshot(definitions: dg.Definitions):
    """FreshnessPolicy (Dagster 1.12+), evaluated by the daemon; no superseded checks or sensor."""
    node = definitions.get_repository_def().asset_graph.get(dg.AssetKey("validated_transactions"))
    assert node.freshness_policy is not None
    checks = definitions.get_repository_def().asset_graph.asset_check_keys
    assert checks and not [k for k in checks if "fresh" in k.name]


def test_loading_the_code_location_prints_no_warning_of_ours():
    """What `fraudshield ui`'s code servers print on start: nothing from this project."""
    probe = "import warnings; warnings.simplefilter('always'); from fraudshield_pipeline.definitions import defs; defs()"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr, result.stderr[-3000:]




def test_code_location_imports_fast_and_lazily():
    """Importing and building the definitions must not pull in the heavy ML stack.

    CPU time rather than wall time: the budget is about our imports, not about a busy CI box.
    """
    probe = (
        "import json, sys, time; t = time.process_time();"
        "from fraudshield_pipeline.definitions import defs; defs();"
        f"print(json.dumps({{'seconds': time.process_time() - t, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))"
    )
    # Bytecode compilation is Python's, not ours: with PYTHONDONTWRITEBYTECODE set (as on some CI
    # machines) every import recompiles pandas and dagster from source (~2 s). A first run writes
    # the bytecode caches; the second one is measured.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _ in range(2):
        output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, env=env)
    result = json.loads(output.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["seconds"] < 5.0, result
def test_blocking_contract_checks_exist(definitions: dg.Definitions):
    specs = [spec for asset in definitions.assets for spec in asset.check_specs]
    assert {(s.asset_key.to_user_string(), s.name, s.blocking) for s in specs} >= {
        ("validated_transactions", "rows_accounted", True),
        ("validated_transactions", "quarantine_rate", True),
        ("validated_transactions", "null_rate", True),
        ("validated_transactions", "volume", True),
        ("validated_transactions", "unique_ids_across_partitions", True),
        ("validated_labels", "label_quarantine_rate", True),
    }
