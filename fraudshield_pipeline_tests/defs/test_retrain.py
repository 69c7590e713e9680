"""Retraining through the real trained_model asset and a local MLflow registry: an unchanged retrain
reuses its version, a changed one registers anew, and a search logs its trials as nested runs."""

import json

import dagster as dg
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.registry import CHALLENGER
from fraudshield_pipeline.resources.storage import table_key
from fraudshield_pipeline.runner import load_assets


@pytest.fixture
def resources(tmp_path, monkeypatch, small_training_set):
    for name in ("MLFLOW_TRACKING_URI", "FRAUDSHIELD_ENV"):
        monkeypatch.delenv(name, raising=False)
    env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data")}
    monkeypatch.setenv("FRAUDSHIELD_DATA_DIR", env["FRAUDSHIELD_DATA_DIR"])
    built = build_resources(env)
    built["storage"].write_frame(table_key("training_set"), small_training_set)
    return built


def train(resources, **config) -> dict:
    result = dg.materialize(
        load_assets(), resources=resources, selection=["trained_model"],
        run_config={"ops": {"trained_model": {"config": config}}} if config else None,
    )
    return {k: v.value for k, v in result.asset_materializations_for_node("trained_model")[0].metadata.items()}


def versions_and_runs(registry) -> tuple[list[str], int]:
    client = registry.client()
    versions = sorted(str(mv.version) for mv in client.search_model_versions(f"name = '{registry.model_name}'"))
    return versions, len(client.search_runs([registry.experiment_id()]))


def test_an_unchanged_retrain_reuses_the_version(resources):
    registry = resources["registry"]
    first = train(resources)
    assert first["reused_version"] is False
    before = versions_and_runs(registry)
    assert before == (["1"], 1)

    second = train(resources)
    assert second["reused_version"] is True and second["model_version"] == first["model_version"]
    assert second["trained_until"] == first["trained_until"] and second["threshold"] == pytest.approx(first["threshold"], abs=1e-4)  # metadata is rounded
    assert versions_and_runs(registry) == before  # no new version, no new run
    assert registry.version_for_alias(CHALLENGER).version == first["model_version"]

    # The challenger alias was removed in between: the reused version gets it back.
    registry.client().delete_registered_model_alias(registry.model_name, CHALLENGER)
    assert train(resources)["reused_version"] is True
    assert registry.version_for_alias(CHALLENGER).version == "1" and versions_and_runs(registry) == before


@pytest.mark.slow
def test_other_parameters_or_other_data_register_a_new_version(resources, small_training_set):
    registry = resources["registry"]
    assert train(resources)["model_version"] == "1"
    assert train(resources, seed=8)["reused_version"] is False
    assert versions_and_runs(registry)[0] == ["1", "2"]
    changed = small_training_set.copy()
    changed.loc[changed.index[0], s.IS_FRAUD] = 1 - changed.loc[changed.index[0], s.IS_FRAUD]
    resources["storage"].write_frame(table_key("training_set"), changed)
    assert train(resources)["reused_version"] is False
    assert versions_and_runs(registry)[0] == ["1", "2", "3"]


def test_a_search_logs_each_trial_as_a_nested_run_and_records_the_best_params(resources):
    registry = resources["registry"]
    meta = train(resources, search_trials=3, search_timeout_s=60)
    assert meta["reused_version"] is False and meta["search"]["trials"] == 3
    version = registry.get_version(meta["model_version"])
    searched = json.loads(version.tags["searched_params"])
    recipe = json.loads(version.tags["recipe"])
    assert recipe["params"] == searched and "max_depth" in searched and "scale_pos_weight_exponent" in searched
    client = registry.client()
    children = client.search_runs([registry.experiment_id()], f"tags.mlflow.parentRunId = '{meta['mlflow_run_id']}'")
    assert sorted(r.info.run_name for r in children) == ["trial-0", "trial-1", "trial-2"]
    finished = [r for r in children if r.info.status == "FINISHED"]
    assert finished and all("validation_average_precision" in r.data.metrics and "max_depth" in r.data.params for r in finished)
    best = max(r.data.metrics["validation_average_precision"] for r in finished)
    assert meta["search"]["best_validation_average_precision"] == pytest.approx(best, abs=1e-6)
