"""The whole graph on a user's own files: other column names, no merchant category, local times."""

import datetime as dt
import hashlib
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.storage import table_key
from fraudshield_pipeline.runner import run_pipeline
from fraudshield_pipeline_tests.landing_example import example

FIRST_DAY, DAYS = dt.date(2026, 9, 1), 36


# 65 s of a whole-pipeline run on the example landing zone; the landing code itself is covered
# by the default suite's hostile-input, fuzz and mapping tests.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    config = replace(example.CONFIG, n_customers=3000, n_merchants=300, transactions_per_day=1500)
    example.write(root / "zone", tuple(FIRST_DAY + dt.timedelta(days=i) for i in range(DAYS)), config)
    env = {
        "FRAUDSHIELD_DATA_DIR": str(root / "data"),
        "FRAUDSHIELD_SOURCE": "landing",
        "FRAUDSHIELD_LANDING_URI": str(root / "zone"),
    }
    resources = build_resources(env)
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance:
        # A short, category-less history: the gate's floor is set lower, as a user would in the launchpad.
        config = {"evaluation_report": {"absolute_floor": 0.2}}
        results = {r.name: r for r in run_pipeline(instance, resources, FIRST_DAY, DAYS, drift_days=1, asset_config=config)}
        yield results, resources


def test_user_files_flow_through_every_stage(landed):
    results, resources = landed
    store = resources["storage"]
    raw = store.read_table(table_key("raw_transactions", "2026-09-10")).to_pandas()
    assert s.MERCHANT_CATEGORY not in raw.columns and set(raw[s.CHANNEL]) <= {"card_present", "online"}
    assert str(raw[s.EVENT_TIMESTAMP].dtype) == "datetime64[us, UTC]"
    quarantined = sum(results["snapshots"].metadata["quarantined_transactions"]["partition_row_counts"].values())
    assert quarantined == 0
    sources = results["ingest"].metadata["raw_transactions"]["sources"]
    assert sources["2026-09-10"].endswith("{transactions/2026-09-10.csv,labels/2026-09-10.csv}")
    zone = Path(resources["source"].uri)
    hashes = results["ingest"].metadata["raw_transactions"]["source_file_hashes"]["2026-09-10"]
    assert hashes == {
        name: hashlib.sha256((zone / name).read_bytes()).hexdigest()[:16]
        for name in ("transactions/2026-09-10.csv", "labels/2026-09-10.csv")
    }


def test_later_stages_adapt_to_the_missing_category(landed):
    results, resources = landed
    features = resources["storage"].read_table(table_key("transaction_features", "2026-09-30")).to_pandas()
    assert s.MERCHANT_CATEGORY not in features.columns and "is_online" in features.columns
    report = results["evaluation"].metadata["evaluation_report"]
    assert report["promoted"] is True and report["test_average_precision"] > 0.2, report["decision"]
    assert "merchant_category" not in str([r.data for r in report["slices"].records]) and "channel" in report["model_card"]
    (drift,) = [v for k, v in results["monitoring"].metadata.items() if k.startswith("drift_report")]
    assert drift["status"] == "measured"
