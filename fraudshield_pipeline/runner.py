"""Materializes the whole asset graph once, stage by stage, on a Dagster instance.

Used by the `fraudshield demo` command, the end-to-end tests and the benchmark, so all three
exercise the same path. Each stage is one run of the named job the schedules and sensors launch
(`daily_ingestion_job`, `retrain_job`, `drift_monitoring_job`, `matured_performance_job`),
restricted to the stage's assets, visible under that job in the UI of that instance; the
day-partitioned stages run as a single range run (range tags, as a backfill's runs use).
"""

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class Stage:
    name: str
    assets: tuple[str, ...]
    partitioned: bool
    job: str = ""


INGESTION, RETRAIN = "daily_ingestion_job", "retrain_job"
STAGES = (
    Stage("ingest", ("raw_transactions", "raw_labels"), True, INGESTION),
    Stage("snapshots", ("validated_transactions", "validated_labels", "quarantined_transactions", "quarantined_labels"), True, INGESTION),
    Stage("features", ("transaction_features", "online_features"), True, INGESTION),
    Stage("training", ("training_set", "trained_model"), False, RETRAIN),
    Stage("evaluation", ("evaluation_report", "champion"), False, RETRAIN),
)
MONITORING = Stage("monitoring", ("drift_report", "batch_scores"), True, "drift_monitoring_job")
MATURED = Stage("matured", ("matured_performance",), True, "matured_performance_job")
# Days after a day ends before its labels count (the matured_performance asset's default).
MATURITY_DAYS = 7


@dataclass
class StageResult:
    name: str
    seconds: float
    run_ids: list[str]
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)


def console_config(level: str = "WARNING") -> dict:
    """Run config that sets only the terminal's log level; the event log keeps everything."""
    return {"loggers": {"console": {"config": {"log_level": level}}}}


def load_assets() -> list:
    """The code location's assets (with their checks), without its resource bindings."""
    from fraudshield_pipeline.definitions import stage_definitions

    return list(stage_definitions().assets or [])


def load_jobs(resources: Mapping[str, object]) -> Callable[[str], dg.JobDefinition]:
    """The code location's named jobs, bound to `resources` and run in one process."""
    from fraudshield_pipeline.definitions import stage_definitions

    defs = dg.Definitions.merge(stage_definitions(), dg.Definitions(resources=dict(resources), executor=dg.in_process_executor))
    return defs.resolve_job_def


def _metadata(result: dg.ExecuteInProcessResult, assets: Sequence[str]) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for event in result.get_asset_materialization_events():
        key = event.asset_key.to_user_string()
        if key in assets:
            found[key] = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    return found


def run_pipeline(
    instance: dg.DagsterInstance,
    resources: Mapping[str, object],
    first_day: dt.date,
    days: int,
    drift_days: int = 3,
    on_stage: Callable[[StageResult], None] | None = None,
    on_stage_start: Callable[[Stage], None] | None = None,
    console_log_level: str = "WARNING",
    asset_config: Mapping[str, Mapping[str, object]] | None = None,
    search_trials: int = 0,
) -> list[StageResult]:
    """Runs every stage once over [first_day, first_day + days) and drift for the last days.

    `console_log_level` only quiets the terminal; the instance's event log keeps every event.
    `asset_config` is launchpad config per asset, e.g. {"evaluation_report": {"absolute_floor": 0.2}}.
    `search_trials` overrides retrain_job's nightly search budget: the demo, the tests and the
    pipeline benchmark train the default recipe unless asked (a search is a nightly run's work,
    and at 1M transactions its budget alone was most of the graph's time).
    """
    asset_config = {**(asset_config or {})}
    asset_config["trained_model"] = {"search_trials": search_trials, **asset_config.get("trained_model", {})}
    job = load_jobs(resources)
    last_day = first_day + dt.timedelta(days=days - 1)
    range_tags = {RANGE_START: first_day.isoformat(), RANGE_END: last_day.isoformat()}
    results = []

    def run(stage: Stage, tags: Mapping[str, str] | None = None, partition_key: str | None = None):
        ops = {name: {"config": dict(config)} for name, config in (asset_config or {}).items() if name in stage.assets}
        return job(stage.job).execute_in_process(
            instance=instance,
            run_config={**console_config(console_log_level), **({"ops": ops} if ops else {})},
            asset_selection=[dg.AssetKey(a) for a in stage.assets],
            tags={"fraudshield/stage": stage.name, **(tags or {})},
            partition_key=partition_key,
        )

    for stage in STAGES:
        if on_stage_start:
            on_stage_start(stage)
        started = time.perf_counter()
        result = run(stage, range_tags if stage.partitioned else None)
        stage_result = StageResult(stage.name, time.perf_counter() - started, [result.run_id], _metadata(result, stage.assets))
        results.append(stage_result)
        if on_stage:
            on_stage(stage_result)

    if drift_days:
        if on_stage_start:
            on_stage_start(MONITORING)
        started = time.perf_counter()
        monitored = StageResult(MONITORING.name, 0.0, [])
        for offset in range(min(drift_days, days) - 1, -1, -1):
            day = (last_day - dt.timedelta(days=offset)).isoformat()
            result = run(MONITORING, partition_key=day)
            monitored.run_ids.append(result.run_id)
            for asset, metadata in _metadata(result, MONITORING.assets).items():
                monitored.metadata[f"{asset}[{day}]"] = metadata
        monitored.seconds = time.perf_counter() - started
        results.append(monitored)
        if on_stage:
            on_stage(monitored)

    # The newest day whose labels have matured: scored by the champion, then measured, so the
    # performance sensor has evidence from the first demo on.
    matured_day = last_day - dt.timedelta(days=MATURITY_DAYS)
    if drift_days and matured_day >= first_day:
        if on_stage_start:
            on_stage_start(MATURED)
        started = time.perf_counter()
        day = matured_day.isoformat()
        measured = StageResult(MATURED.name, 0.0, [])
        scored = run(Stage(MONITORING.name, ("batch_scores",), True, MONITORING.job), partition_key=day)
        result = run(MATURED, partition_key=day)
        measured.run_ids += [scored.run_id, result.run_id]
        for asset, metadata in _metadata(result, MATURED.assets).items():
            measured.metadata[f"{asset}[{day}]"] = metadata
        measured.seconds = time.perf_counter() - started
        results.append(measured)
        if on_stage:
            on_stage(measured)
    return results
