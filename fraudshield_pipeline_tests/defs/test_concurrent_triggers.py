"""Drift and volume trip on the same day: the real sensor daemon iteration and run queue launch
exactly one retrain, and the queue never runs two retrains at once.

The instance is the repository's own dagster.yaml (queue, tag concurrency limit) with a run
launcher that records launches instead of starting processes: the queue logic under test is
Dagster's, the retrain itself is not what is tested here (see test_daemon.py for that).
"""

import logging
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import InProcessTestWorkspaceLoadTarget, create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster._daemon.sensor import execute_sensor_iteration

from fraudshield_pipeline.defs.jobs import RETRAIN_TAG
from fraudshield_pipeline_tests.defs.test_sensors import report_drift, report_row_counts
from fraudshield_pipeline_tests.instance_home import REPO_ROOT, make_home

RETRAIN_SENSORS = ("drift_retrain_sensor", "volume_retrain_sensor")


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("FRAUDSHIELD_RETRAIN_APPROVAL", "FRAUDSHIELD_SOURCE", "FRAUDSHIELD_STORAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRAUDSHIELD_DATA_DIR", str(tmp_path / "data"))
    home = make_home(tmp_path / "home")
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    config["run_launcher"] = {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.instance_for_test(temp_dir=str(home), overrides=config) as instance:
        yield instance


@pytest.fixture
def workspace(instance):
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="fraudshield_pipeline.definitions", working_directory=str(REPO_ROOT)),
        location_name="fraudshield_pipeline",
    )
    with create_test_daemon_workspace_context(InProcessTestWorkspaceLoadTarget(origin), instance) as context:
        yield context


def tick_sensors(workspace) -> None:
    list(execute_sensor_iteration(workspace, logging.getLogger("sensor-test"), None, None))


def run_queue(workspace) -> None:
    list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(workspace))


def retrains(instance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(job_name="retrain_job")))


def last_ticks(instance) -> dict[str, object]:
    ticks = {}
    for state in instance.all_instigator_state():
        if state.name in RETRAIN_SENSORS:
            (tick,) = instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
            ticks[state.name] = tick
    return ticks


def trip_drift_and_volume(instance) -> None:
    for day in range(1, 12):  # 11 days of 30,000: four have matured past the 100,000 threshold
        report_row_counts(instance, f"2026-10-{day:02d}", 30_000)
    report_drift(instance, "2026-10-10", 0.5)
    report_drift(instance, "2026-10-11", 0.6)


@pytest.mark.parametrize("cooldown_hours", ["24", "0"])
def test_drift_and_volume_on_the_same_day_queue_one_retrain(instance, workspace, monkeypatch, cooldown_hours):
    # With no cooldown the in-flight check alone must hold the second trigger back.
    monkeypatch.setenv("FRAUDSHIELD_RETRAIN_COOLDOWN_HOURS", cooldown_hours)
    trip_drift_and_volume(instance)

    tick_sensors(workspace)
    (retrain,) = retrains(instance)
    assert retrain.status == dg.DagsterRunStatus.QUEUED and retrain.tags[RETRAIN_TAG] == "true"
    ticks = last_ticks(instance)
    assert set(ticks) == set(RETRAIN_SENSORS)
    fired = [name for name, tick in ticks.items() if tick.run_ids]
    held = [name for name, tick in ticks.items() if not tick.run_ids]
    assert len(fired) == 1 and len(held) == 1, {n: t.status for n, t in ticks.items()}
    assert retrain.tags["dagster/sensor_name"] == fired[0]
    skip = ticks[held[0]].skip_reason
    assert "would retrain" in skip and ("already queued" in skip or "cooldown" in skip), skip

    # The queue launches it; further ticks on more tripping evidence still add nothing.
    run_queue(workspace)
    assert instance.get_run_by_id(retrain.run_id).status == dg.DagsterRunStatus.STARTING
    report_drift(instance, "2026-10-12", 0.7)
    report_row_counts(instance, "2026-10-12", 30_000)
    tick_sensors(workspace)
    assert [r.run_id for r in retrains(instance)] == [retrain.run_id]


def submit_retrain(instance, workspace) -> str:
    """A retrain_job run submitted to the queue, as the UI or a schedule would (with the job's tags)."""
    from dagster._core.test_utils import create_run_for_test

    context = workspace.create_request_context()
    location = context.get_code_location("fraudshield_pipeline")
    (repository,) = location.get_repositories().values()
    job = repository.get_full_job("retrain_job")
    run = create_run_for_test(
        instance,
        job_name="retrain_job",
        tags=dict(job.tags),
        remote_job_origin=job.get_remote_origin(),
        job_code_origin=job.get_python_origin(),
    )
    instance.submit_run(run.run_id, context)
    return run.run_id


def test_the_queue_never_runs_two_retrains_at_once(instance, workspace):
    # Two retrains submitted while none runs (e.g. the weekly backstop and a human in the UI).
    runs = [submit_retrain(instance, workspace) for _ in range(2)]
    assert all(instance.get_run_by_id(r).tags[RETRAIN_TAG] == "true" for r in runs)
    assert all(instance.get_run_by_id(r).status == dg.DagsterRunStatus.QUEUED for r in runs)
    run_queue(workspace)
    statuses = {r: instance.get_run_by_id(r).status for r in runs}
    assert sorted(s.value for s in statuses.values()) == ["QUEUED", "STARTING"], statuses
    running = next(r for r, s in statuses.items() if s == dg.DagsterRunStatus.STARTING)
    waiting = next(r for r, s in statuses.items() if s == dg.DagsterRunStatus.QUEUED)
    run_queue(workspace)
    assert instance.get_run_by_id(waiting).status == dg.DagsterRunStatus.QUEUED  # held while the other runs
    instance.report_run_failed(instance.get_run_by_id(running))
    run_queue(workspace)
    assert instance.get_run_by_id(waiting).status == dg.DagsterRunStatus.STARTING  # only now
