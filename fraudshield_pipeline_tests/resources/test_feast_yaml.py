"""Feast's own tools open the pipeline's registry: `feature_store.yaml` is written from the same settings."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fraudshield_pipeline.resources.feature_store import FeastFeatureStore


def test_yaml_spells_the_active_profile_without_secrets(tmp_path):
    local = FeastFeatureStore(repo_dir=str(tmp_path / "feast"), tables_uri=str(tmp_path / "tables"))
    written = yaml.safe_load(Path(local.write_repo_yaml()).read_text())
    assert written == local.repo_settings()
    assert written["online_store"] == {"type": "sqlite", "path": str((tmp_path / "feast" / "online_store.db").resolve())}
    production = FeastFeatureStore(
        repo_dir=str(tmp_path / "prod"), tables_uri="s3://bucket/fraudshield/tables", online_store="redis",
        redis_connection_string="redis.internal:6379,password=s3cret", registry_path="s3://bucket/feast/registry.pb",
    )
    text = Path(production.write_repo_yaml()).read_text()
    assert "s3cret" not in text
    settings = yaml.safe_load(text)
    assert settings["registry"] == "s3://bucket/feast/registry.pb"
    assert settings["online_store"]["type"] == "redis"
    assert settings["online_store"]["connection_string"].startswith("${FRAUDSHIELD_REDIS_URL},socket_connect_timeout=")


@pytest.mark.slow
# Measured 2026-11-30 at load average 10 on 2 cores: 104 s (apply ~50 s, the `feast` CLI ~50 s,
# nearly all of it Feast importing its own modules: 20 s of CPU). The limits leave 8x that.
@pytest.mark.timeout(1200)
def test_feast_cli_lists_the_applied_feature_views(tmp_path):
    store = FeastFeatureStore(repo_dir=str(tmp_path / "feast"), tables_uri=str(tmp_path / "tables"))
    applied = store.apply()
    feast = Path(sys.executable).parent / "feast"
    listed = subprocess.run(
        [str(feast), "-c", str(tmp_path / "feast"), "feature-views", "list"], capture_output=True, text=True, timeout=900, cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr[-3000:]
    views = {"transaction_context", "customer_activity", "merchant_activity", "customer_state", "merchant_state", "online_store_status"}
    assert views <= set(applied)
    for view in views:
        assert view in listed.stdout, listed.stdout
