"""A stage killed with SIGKILL part-way, then re-run, ends exactly where an uninterrupted run does.

Each stage runs in its own process (`crash_stage.py`), started from a copy of the world as it
was before that stage in an uninterrupted baseline. The kill lands inside the stage: mid-way
through its storage commits (snapshots, features), between registering a model and aliasing it
(training), and just before the promotion's commit point (evaluation).
"""

import datetime as dt
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fraudshield_pipeline.domain.versioning import content_hash
from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.registry import CHALLENGER, CHAMPION
from fraudshield_pipeline.runner import STAGES
from fraudshield_pipeline_tests.crash_stage import STAGE_ENV
from fraudshield_pipeline_tests.instance_home import make_home

pytestmark = pytest.mark.slow

FIRST_DAY = dt.date(2026, 9, 1)
DAYS = 36
ORDER = [stage.name for stage in STAGES]  # ingest, snapshots, features, training, evaluation


def run_stage(stage: str, world: Path, kill: bool = False) -> subprocess.CompletedProcess:
    home = make_home(world / "dagster_home")
    command = [sys.executable, "-m", "fraudshield_pipeline_tests.crash_stage", stage, str(world / "data"), str(home),
               FIRST_DAY.isoformat(), str(DAYS)] + (["--kill"] if kill else [])
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def table_hashes(world: Path, assets) -> dict[str, str]:
    """Content hash of every readable partition of the given assets (what a reader sees)."""
    store = build_resources({"FRAUDSHIELD_DATA_DIR": str(world / "data"), **STAGE_ENV})["storage"]
    hashes = {}
    for asset in assets:
        for partition in store.partitions(asset):
            key = f"tables/{asset}/{partition}.parquet"
            hashes[key] = content_hash(store.read_table(key).to_pandas())
    return hashes


def registry(world: Path):
    return build_resources({"FRAUDSHIELD_DATA_DIR": str(world / "data"), **STAGE_ENV})["registry"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The uninterrupted run, with a copy of the world before each stage."""
    root = tmp_path_factory.mktemp("crash")
    world = root / "baseline"
    (world / "data").mkdir(parents=True)
    before = {}
    for stage in ORDER:
        before[stage] = root / f"before_{stage}"
        shutil.copytree(world, before[stage])
        done = run_stage(stage, world)
        assert done.returncode == 0 and "SUCCESS" in done.stdout, done.stderr[-3000:]
    return {"world": world, "before": before, "root": root}


def assert_nothing_half_written_is_visible(world: Path) -> None:
    tables = world / "data" / "store" / "tables"
    leftovers = list(tables.rglob(".*.tmp"))
    for path in tables.rglob("*.parquet"):
        pq.read_metadata(path)  # every file under a final name is a complete parquet file
    assert leftovers, "the kill did not land inside a storage commit"


@pytest.mark.parametrize("stage", ["snapshots", "features"])
def test_killed_table_stage_reruns_to_the_same_data_versions(baseline, stage, tmp_path):
    world = tmp_path / "world"
    shutil.copytree(baseline["before"][stage], world)
    killed = run_stage(stage, world, kill=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert_nothing_half_written_is_visible(world)
    assets = next(s.assets for s in STAGES if s.name == stage)
    partial = table_hashes(world, assets)
    expected = table_hashes(baseline["world"], assets)
    assert partial and set(partial) < set(expected)  # some partitions committed, not all
    assert all(expected[key] == value for key, value in partial.items())  # and those are complete

    rerun = run_stage(stage, world)
    assert rerun.returncode == 0 and "SUCCESS" in rerun.stdout, rerun.stderr[-3000:]
    assert table_hashes(world, assets) == expected


def test_killed_training_leaves_no_alias_and_reruns_to_the_same_model(baseline, tmp_path):
    import numpy as np

    world = tmp_path / "world"
    shutil.copytree(baseline["before"]["training"], world)
    killed = run_stage("training", world, kill=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    models = registry(world)
    assert models.version_for_alias(CHALLENGER) is None and models.version_for_alias(CHAMPION) is None
    rerun = run_stage("training", world)
    assert rerun.returncode == 0 and "SUCCESS" in rerun.stdout, rerun.stderr[-3000:]

    expected, got = registry(baseline["world"]).version_for_alias(CHALLENGER), models.version_for_alias(CHALLENGER)
    assert got.tags["training_set_version"] == expected.tags["training_set_version"]
    assert table_hashes(world, ["training_set"]) == table_hashes(baseline["world"], ["training_set"])
    rows = build_resources({"FRAUDSHIELD_DATA_DIR": str(world / "data")})["storage"].read_table("tables/training_set/data.parquet").to_pandas()
    from fraudshield_pipeline.domain.train import predict

    ours = predict(models.load_booster(got.version), rows.head(500))
    theirs = predict(registry(baseline["world"]).load_booster(expected.version), rows.head(500))
    np.testing.assert_array_equal(ours, theirs)  # same data, same seed: the same model


def test_killed_promotion_keeps_the_old_champion_and_reruns_to_the_same_decision(baseline, tmp_path):
    world = tmp_path / "world"
    shutil.copytree(baseline["before"]["evaluation"], world)
    assert registry(baseline["world"]).version_for_alias(CHAMPION) is not None  # the baseline promoted
    before = registry(world).version_for_alias(CHAMPION)
    killed = run_stage("evaluation", world, kill=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    models = registry(world)
    # Killed at the commit point: the record exists, the alias did not move.
    current = models.version_for_alias(CHAMPION)
    assert (current.version if current else None) == (before.version if before else None)
    rerun = run_stage("evaluation", world)
    assert rerun.returncode == 0 and "SUCCESS" in rerun.stdout, rerun.stderr[-3000:]
    expected = registry(baseline["world"]).version_for_alias(CHAMPION)
    champion = models.version_for_alias(CHAMPION)
    assert (champion is None) == (expected is None)
    if champion is not None:
        assert champion.version == models.version_for_alias(CHALLENGER).version
        assert champion.tags["promotion"] == "promotion"  # it passed the gate
