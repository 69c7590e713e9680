"""One data directory per source by default; one store never mixes two sources' days."""

from pathlib import Path

import dagster as dg
import pytest

from fraudshield_pipeline.resources import profiles
from fraudshield_pipeline.resources.profiles import build_resources, data_dir, source_id
from fraudshield_pipeline.resources.storage import table_key
from fraudshield_pipeline.runner import load_assets

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "examples" / "landing"
DAY = "2026-09-01"
SIMULATOR = {"FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "200", "FRAUDSHIELD_SIM_CUSTOMERS": "2000", "FRAUDSHIELD_SIM_MERCHANTS": "200"}
LANDING = {"FRAUDSHIELD_SOURCE": "landing", "FRAUDSHIELD_LANDING_URI": str(EXAMPLE)}


def ingest(env: dict[str, str]) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize(load_assets(), instance=instance, resources=build_resources(env),
                              selection=["raw_transactions", "raw_labels"], partition_key=DAY, raise_on_error=False)


def test_source_identity():
    assert source_id({}) == source_id({"FRAUDSHIELD_SIM_SEED": "8"}) == "simulator"  # any seed: one source
    assert source_id(LANDING) == f"landing:{EXAMPLE}"
    assert source_id({**LANDING, "FRAUDSHIELD_LANDING_URI": "s3://bucket/zones/shop/"}) == "landing:s3://bucket/zones/shop"


def test_default_data_dir_per_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(profiles, "REPO_ROOT", tmp_path)
    assert data_dir({}) == tmp_path / "data"
    assert data_dir(LANDING) == tmp_path / "data" / "landing-landing"
    assert data_dir({**LANDING, "FRAUDSHIELD_LANDING_URI": "s3://bucket/zones/my shop/"}) == tmp_path / "data" / "landing-my-shop"
    assert data_dir({**LANDING, "FRAUDSHIELD_DATA_DIR": str(tmp_path / "mine")}) == tmp_path / "mine"  # explicit wins


def test_the_example_and_the_simulator_keep_their_own_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(profiles, "REPO_ROOT", tmp_path)
    assert ingest(SIMULATOR).success and ingest(LANDING).success
    simulator, landing = build_resources(SIMULATOR)["storage"], build_resources(LANDING)["storage"]
    assert simulator.uri("") != landing.uri("")
    ours = simulator.read_table(table_key("raw_transactions", DAY)).to_pandas()
    theirs = landing.read_table(table_key("raw_transactions", DAY)).to_pandas()
    # The simulator's 200 rows with a merchant category; the example's own day, which has none.
    assert len(ours) == 200 and "merchant_category" in ours.columns
    assert len(theirs) > 200 and "merchant_category" not in theirs.columns


def test_two_sources_in_one_data_dir_are_refused_naming_both(tmp_path: Path):
    shared = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data")}
    assert ingest({**shared, **SIMULATOR}).success
    store = build_resources(shared)["storage"]
    before = store.read_bytes(table_key("raw_transactions", DAY))

    refused = ingest({**shared, **LANDING})
    assert not refused.success
    (failure,) = refused.get_step_failure_events()
    assert f"holds the tables of source 'simulator'; this run reads 'landing:{EXAMPLE}'" in failure.step_failure_data.error.to_string()
    assert store.read_bytes(table_key("raw_transactions", DAY)) == before  # the simulator's day is untouched
