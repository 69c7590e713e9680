"""The real Dagster daemon: a sensor requests a retrain, the queue launches it, and it succeeds."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.runner import run_pipeline
from fraudshield_pipeline_tests.instance_home import REPO_ROOT, make_home

pytestmark = pytest.mark.slow


def test_volume_sensor_launches_a_retrain_through_the_daemon(tmp_path):
    home = make_home(tmp_path / "home")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FRAUDSHIELD_", "MLFLOW_"))},
        "DAGSTER_HOME": str(home),
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "800",
        "FRAUDSHIELD_RETRAIN_VOLUME": "5000",  # about a week of this small world's matured days
        # The demo's own retrain_job run (run_pipeline runs the named jobs) starts the cooldown;
        # the sensor must still launch a retrain here, so no cooldown.
        "FRAUDSHIELD_RETRAIN_COOLDOWN_HOURS": "0",
    }
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        pass  # makes sure the storage exists before two processes share it
    instance = dg.DagsterInstance.from_config(str(home))
    run_pipeline(instance, build_resources(env), dt.date(2026, 9, 1), 36, drift_days=0)

    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    # The demo's own retrain_job run (run_pipeline runs the named jobs) is not the sensor's.
    requested = dg.RunsFilter(job_name="retrain_job", tags={"dagster/sensor_name": "volume_retrain_sensor"})
    try:
        deadline = time.monotonic() + 420
        run = None
        while time.monotonic() < deadline:
            runs = instance.get_runs(filters=requested)
            if runs and runs[0].is_finished:
                run = runs[0]
                break
            assert daemon.poll() is None, f"the daemon exited: {(tmp_path / 'daemon.log').read_text()[-3000:]}"
            time.sleep(5)
        assert run is not None, f"no retrain run finished in time: {(tmp_path / 'daemon.log').read_text()[-3000:]}"
        assert run.is_success, run.status
        assert run.tags["fraudshield/trigger"] == "volume" and run.tags["dagster/sensor_name"] == "volume_retrain_sensor"
        assert "newly labelled transactions" in run.tags["fraudshield/reason"]
        time.sleep(10)  # more sensor ticks: the same evidence (run key) must not retrain twice
        assert len(instance.get_runs(filters=requested)) == 1
        assert instance.get_latest_materialization_event(dg.AssetKey("evaluation_report")).run_id == run.run_id
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGINT)
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
        log.close()
        instance.dispose()
