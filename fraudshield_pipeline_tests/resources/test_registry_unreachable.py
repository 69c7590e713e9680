"""MLflow down: training fails at once, naming the tracking URI, with nothing registered; once the
server is back (a real `mlflow server` on loopback) the next run trains and registers."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.registry import CHALLENGER, ModelRegistry
from fraudshield_pipeline.resources.storage import table_key
from fraudshield_pipeline.runner import load_assets
from fraudshield_pipeline_tests.services import free_port


@pytest.fixture
def env_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_training_set: pd.DataFrame):
    for name in list(os.environ):
        if name.startswith(("FRAUDSHIELD_", "MLFLOW_")):
            monkeypatch.delenv(name)

    def make(tracking_uri: str) -> dict[str, str]:
        env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"), "MLFLOW_TRACKING_URI": tracking_uri}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        resources = build_resources(env)
        resources["storage"].write_frame(table_key("training_set"), small_training_set)
        return env

    return make


def train(env: dict[str, str]) -> dg.ExecuteInProcessResult:
    return dg.materialize(load_assets(), resources=build_resources(env), selection=["trained_model"], raise_on_error=False)


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    texts = []
    for event in result.all_events:
        data = event.event_specific_data
        error = getattr(data, "error", None)
        if error is not None:
            texts.append(error.to_string())
    return "\n".join(texts)


def assert_fails_fast_naming(env: dict[str, str], shown_uri: str) -> None:
    started = time.monotonic()
    result = train(env)
    elapsed = time.monotonic() - started
    assert not result.success
    text = failure_text(result)
    assert f"MLflow tracking server {shown_uri} is unreachable" in text, text[-2000:]
    assert "nothing was logged or registered" in text
    assert result.get_asset_materialization_events() == []
    assert elapsed < 30, f"took {elapsed:.0f} s to notice"  # not MLflow's minutes of HTTP retries


def test_unreachable_tracking_server_fails_the_run_at_once(env_for, tmp_path: Path):
    port = free_port()
    env = env_for(f"http://127.0.0.1:{port}")
    assert_fails_fast_naming(env, f"http://127.0.0.1:{port}")
    # Nothing was written for MLflow: no local store was created as a fallback.
    assert not (tmp_path / "data" / "mlflow").exists()


def test_the_message_never_shows_a_password_in_the_uri(env_for):
    port = free_port()
    env = env_for(f"http://fraud:s3cr3t-pw@127.0.0.1:{port}")
    assert_fails_fast_naming(env, f"http://fraud:***@127.0.0.1:{port}")
    assert "s3cr3t-pw" not in failure_text(train(env))


@pytest.mark.slow
def test_the_next_run_succeeds_once_the_server_is_back(env_for, tmp_path: Path):
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    env = env_for(uri)
    assert_fails_fast_naming(env, uri)

    server_dir = tmp_path / "mlflow-server"
    server_dir.mkdir()
    log = (tmp_path / "mlflow-server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{server_dir / 'mlflow.db'}",
         "--default-artifact-root", (server_dir / "artifacts").as_uri(), "--workers", "1"],
        cwd=server_dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start in 120 s"
            time.sleep(1)

        result = train(env)
        assert result.success, failure_text(result)[-3000:]
        (event,) = result.get_asset_materialization_events()
        assert event.materialization.metadata["model_version"].value == "1"  # the failed run registered nothing
        registry = ModelRegistry(tracking_uri=uri)
        assert registry.version_for_alias(CHALLENGER).version == "1"
        assert [mv.version for mv in registry.client().search_model_versions(f"name='{registry.model_name}'")] == ["1"]
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


@pytest.mark.slow
def test_the_challenger_alias_moves_only_once_its_drift_reference_is_stored(env_for, tmp_path: Path, monkeypatch):
    """A training that dies before its files are stored leaves no alias pointing at a half-published version."""
    from fraudshield_pipeline.resources.storage import LocalArtifactStore

    env = env_for(f"sqlite:///{tmp_path / 'mlflow.db'}")
    original = LocalArtifactStore.write_table

    def failing_for_models(self, key, table):
        if key.startswith("models/"):
            raise OSError(f"disk full while writing {key}")
        return original(self, key, table)

    monkeypatch.setattr(LocalArtifactStore, "write_table", failing_for_models)
    result = train(env)
    assert not result.success and "disk full while writing models/v1/drift_reference.parquet" in failure_text(result)
    registry = ModelRegistry(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert registry.version_for_alias(CHALLENGER) is None  # version 1 exists, but nothing points at it
