"""Monitoring scenarios with known ground truth, driven day by day as the schedules would.

A champion is trained on the first days of a simulated world; then each further day is
ingested, scored and measured for drift (and, once its labels have matured, for the champion's
real performance), and the retraining sensors tick once, exactly as in production. Used by the
scenario tests and by `benchmarks/monitoring.py`.

The daily partitions start at FRAUDSHIELD_START_DATE, read when the code location is imported;
a scenario that needs a longer history than the default calendar holds runs in its own process:

    FRAUDSHIELD_START_DATE=2026-06-01 DAGSTER_HOME=... python -m fraudshield_pipeline.scenarios \\
        fraud-strategy --first-day 2026-06-01 --change 2026-08-22 --out result.json
"""

import argparse
import datetime as dt
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import dagster as dg

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.runner import RANGE_END, RANGE_START, console_config, load_assets, run_pipeline

DAILY_ASSETS = (
    "raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
    "quarantined_transactions", "quarantined_labels", "transaction_features",
)
MATURITY_DAYS = 7


# The default calendar (partitions from 2026-09-01 to yesterday) is too short for a champion with
# full feature history plus months of monitoring: the long scenarios run in their own process,
# with the daily partitions starting here (FRAUDSHIELD_START_DATE).
LONG_HISTORY_START = "2026-06-01"
# The fraud-strategy world: a smaller portfolio than production sees a few dozen frauds a day,
# so one day's average precision swings widely. The default policy judges it (a CUSUM against the
# champion's expected performance, its recipe's backtest days): no thresholds set for this world.
FRAUD_STRATEGY_WORLD = {
    "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "3000",
    "FRAUDSHIELD_SIM_CUSTOMERS": "6000",
    "FRAUDSHIELD_SIM_MERCHANTS": "600",
}
# A second world for "no per-world tuning": a larger portfolio with half the fraud rate and a
# weekly rhythm peaking on Mondays, and only the required columns (ids, time, amount, labels).
SECOND_WORLD = {
    "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "5000",
    "FRAUDSHIELD_SIM_CUSTOMERS": "12000",
    "FRAUDSHIELD_SIM_MERCHANTS": "900",
    "FRAUDSHIELD_SIM_FRAUD_RATE_FACTOR": "0.5",
    "FRAUDSHIELD_SIM_WEEKDAY_FACTORS": "1.3,1.0,0.95,0.95,1.0,0.9,0.9",
    "FRAUDSHIELD_SIM_SEED": "11",
    "FRAUDSHIELD_SIM_MINIMAL_COLUMNS": "true",  # ids, time, amount and labels only
}
# Report delays: a realistic one (most within a few days, a long tail) and the fixed week.
REALISTIC_DELAY = "lognormal:2:1.0"
FIXED_DELAY = "fixed:7"

@dataclass
class ScenarioResult:
    first_monitored_day: dt.date
    fired: dict[str, dt.date] = field(default_factory=dict)  # sensor -> first day it requested a retrain
    reasons: dict[str, str] = field(default_factory=dict)
    request_tags: dict[str, dict[str, str]] = field(default_factory=dict)  # sensor -> tags of its first request
    share_drifted: dict[str, float] = field(default_factory=dict)  # day -> drift share
    matured: dict[str, dict[str, float]] = field(default_factory=dict)  # day -> the champion's measured metrics
    tick_seconds: dict[str, list[float]] = field(default_factory=dict)

    def delay_days(self, sensor: str, since: dt.date) -> int | None:
        return (self.fired[sensor] - since).days if sensor in self.fired else None

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))


def _sensors(names: Sequence[str]) -> dict[str, dg.SensorDefinition]:
    from fraudshield_pipeline.defs.monitoring import sensors

    known = {
        "drift": sensors.drift_retrain_sensor,
        "volume": sensors.volume_retrain_sensor,
        "performance": sensors.performance_retrain_sensor,
    }
    return {name: known[name] for name in names}


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    """An asset's metadata as plain values (tables as lists of rows): a scenario's outcome is JSON."""
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            return {k: _plain(v) for k, v in event.materialization.metadata.items()}
    raise LookupError(f"the run materialized no {asset}")


def _plain(value: object) -> object:
    if isinstance(value, dg.TableMetadataValue):
        return [dict(row.data) for row in value.records]
    return getattr(value, "value", value)


def ingest(instance: dg.DagsterInstance, resources: Mapping[str, object], first: dt.date, last: dt.date) -> None:
    """Ingests, validates and featurizes [first, last] in one range run, as a backfill would."""
    tags = {RANGE_START: first.isoformat(), RANGE_END: last.isoformat()}
    dg.materialize(
        load_assets(), instance=instance, resources=resources, selection=list(DAILY_ASSETS), tags=tags, run_config=console_config()
    )


def run_monitoring_scenario(
    instance: dg.DagsterInstance,
    env: Mapping[str, str],
    first_day: dt.date,
    training_days: int,
    monitored_days: int,
    sensors: Sequence[str] = ("drift", "volume"),
    stop_when_fired: str | None = None,
    ingest_upfront: bool = False,
    asset_config: Mapping[str, Mapping[str, object]] | None = None,
) -> ScenarioResult:
    """Trains a champion on `training_days`, then monitors `monitored_days` more, one at a time.

    With "performance" among the sensors, each day also measures the champion on the day whose
    labels have just matured (as `matured_performance_schedule` does). `ingest_upfront` ingests
    the monitored days in one run first (faster; only for sensors that read drift reports, since
    the volume and performance evidence depends on when days arrive). `asset_config` is passed
    to the champion's pipeline run (e.g. the evaluation gate's floor for a small world).

    The sensors tick with the policy's retrain cooldown at 0 (`scenario_policy`): a scenario's days
    pass in seconds of wall-clock time, and the 24-hour cooldown since the champion's own training
    run would hold every request, so that nothing could ever fire (the cooldown's own tests are
    the sensor tests').
    """
    if ingest_upfront and set(sensors) - {"drift"}:
        raise ValueError("ingest_upfront suits the drift sensor only")
    resources = build_resources(env)
    run_pipeline(instance, resources, first_day, training_days, drift_days=0, asset_config=asset_config)
    if resources["registry"].version_for_alias("champion") is None:
        raise RuntimeError(
            "the first model was refused by the gate (see evaluation_report's decision), so there is no champion to "
            "monitor: a small simulated world needs a lower absolute_floor (--absolute-floor)"
        )
    assets = load_assets()
    watched = _sensors(sensors)
    policy = scenario_policy(env)
    cursors: dict[str, str | None] = dict.fromkeys(watched)
    result = ScenarioResult(first_day + dt.timedelta(days=training_days))
    quiet = console_config()
    age = judging_age_now(resources, result.first_monitored_day)
    if ingest_upfront:
        ingest(instance, resources, result.first_monitored_day, result.first_monitored_day + dt.timedelta(days=monitored_days - 1))
    for offset in range(monitored_days):
        today = result.first_monitored_day + dt.timedelta(days=offset)
        day = today.isoformat()
        if not ingest_upfront:
            ingest(instance, resources, today, today)
        monitoring = ["drift_report"] if ingest_upfront else ["drift_report", "batch_scores"]
        drift = dg.materialize(assets, instance=instance, resources=resources, selection=monitoring, partition_key=day, run_config=quiet)
        result.share_drifted[day] = float(_metadata(drift, "drift_report")["share_drifted"])
        matured = today - dt.timedelta(days=age)
        if "performance" in watched and matured >= result.first_monitored_day:
            config = {**quiet, "ops": {"matured_performance": {"config": {"maturity_days": age}}}}
            measured = dg.materialize(
                assets, instance=instance, resources=resources, selection=["matured_performance"],
                partition_key=matured.isoformat(), run_config=config,
            )
            metadata = _metadata(measured, "matured_performance")
            keys = ("average_precision", "recall_at_budget", "n_fraud", "label_age_days", "expected_reported_share")
            result.matured[matured.isoformat()] = {k: float(metadata[k]) for k in keys if k in metadata}
        for name, sensor in watched.items():
            started = time.perf_counter()
            context = dg.build_sensor_context(instance=instance, cursor=cursors[name], resources={"policy": policy})
            tick = sensor(context)
            result.tick_seconds.setdefault(name, []).append(time.perf_counter() - started)
            if isinstance(tick, dg.SensorResult):
                cursors[name] = tick.cursor
                if tick.run_requests and name not in result.fired:
                    result.fired[name] = today
                    result.request_tags[name] = dict(tick.run_requests[0].tags)
                    result.reasons[name] = tick.run_requests[0].tags["fraudshield/reason"]
        if stop_when_fired in result.fired:
            break
    return result


def scenario_policy(env: Mapping[str, str]):
    """The profile's policy for sensors that tick on simulated days: no wall-clock retrain cooldown."""
    from fraudshield_pipeline.resources.policy import ENV_VARS, build_policy

    return build_policy({**env, ENV_VARS["cooldown_hours"]: "0"})


def judging_age_now(resources: Mapping[str, object], today: dt.date) -> int:
    """Labels as they arrive: the age at which the policy's share of a day's frauds is expected in.

    From the report delays of label days old enough to be complete, as `matured_performance`
    records them; the scenario measures each day once, at this age (the schedule's job in production).
    """
    from fraudshield_pipeline.defs.monitoring.performance import COMPLETE_AFTER_DAYS, label_delays
    from fraudshield_pipeline.defs.partitions import day_start
    from fraudshield_pipeline.domain.triggers import judging_age

    storage = resources["storage"]
    delays = label_delays(storage, storage.partitions("validated_labels"), day_start(today.isoformat()))
    if not delays:
        return MATURITY_DAYS
    return max(1, judging_age(delays, resources["policy"].min_reported_share, COMPLETE_AFTER_DAYS))


def run_retrain(
    instance: dg.DagsterInstance,
    resources: Mapping[str, object],
    tags: Mapping[str, str],
    as_of: dt.date,
    window: Mapping[str, object] | None = None,
    evaluation: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Executes `retrain_job` itself, with a request's tags and a training window ending at `as_of`.

    `window` and `evaluation` are launchpad config of `training_set` and `evaluation_report`.

    Returns the evaluation report's metadata (the gate's decision and both models' metrics) plus
    the new version and the run id.
    """
    from fraudshield_pipeline.definitions import stage_definitions

    ops = {"training_set": {"config": {**(window or {}), "as_of": as_of.isoformat()}}, **({"evaluation_report": {"config": dict(evaluation)}} if evaluation else {})}
    job = dg.Definitions.merge(stage_definitions(), dg.Definitions(resources=dict(resources))).get_job_def("retrain_job")
    result = job.execute_in_process(
        instance=instance, tags=dict(tags), run_config={**console_config(), "ops": ops}
    )
    storage = resources["storage"]
    record = json.loads(storage.read_text(sorted(storage.list_keys("reports/promotions/"))[-1]))  # this run's decision
    return {
        **_metadata(result, "evaluation_report"),
        "model_version": str(_metadata(result, "trained_model")["model_version"]),
        "run_id": result.run_id,
        "challenger_metrics": record["challenger_metrics"],
        "champion_metrics": record["champion_metrics"],
    }


def run_fraud_strategy_scenario(
    instance: dg.DagsterInstance,
    env: Mapping[str, str],
    first_day: dt.date,
    training_days: int,
    change: dt.date,
    max_monitored_days: int = 40,
    retrain: bool = True,
    evaluation: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """A change of fraud strategy after a champion was trained, caught by matured labels.

    Monitors day by day until the performance sensor requests a retrain. With `retrain`, then
    ingests until the training window (train, gap, test, maturity: 35 days) lies after the
    change, runs `retrain_job` with the sensor's tags, and finally runs it once more with a
    deliberately worse challenger: the same post-change holdout, but a four-week label-delay gap,
    so that it trains on the weeks before the change (one day of data is not worse here: the new
    pattern is that easy to learn).
    """
    from fraudshield_pipeline.resources.registry import CHAMPION

    env = fraud_strategy_env(env, change)
    monitored = run_monitoring_scenario(
        instance, env, first_day, training_days, max_monitored_days, sensors=("drift", "performance"), stop_when_fired="performance",
        asset_config={"evaluation_report": evaluation} if evaluation else None,
    )
    outcome: dict[str, object] = {"change": change.isoformat(), "monitoring": monitored.to_json()}
    if not retrain or "performance" not in monitored.fired:
        return outcome
    resources = build_resources(env)
    registry = resources["registry"]
    outcome["champion_before"] = registry.version_for_alias(CHAMPION).version
    as_of = change + dt.timedelta(days=35)
    ingest(instance, resources, monitored.fired["performance"] + dt.timedelta(days=1), as_of - dt.timedelta(days=1))
    outcome["retrain"] = run_retrain(instance, resources, monitored.request_tags["performance"], as_of, evaluation=evaluation)
    outcome["champion_after_retrain"] = registry.version_for_alias(CHAMPION).version
    manual = {"fraudshield/trigger": "manual", "fraudshield/reason": "trained before the change (expected to be refused)"}
    outcome["worse"] = run_retrain(instance, resources, manual, as_of, window={"gap_days": 28}, evaluation=evaluation)
    outcome["champion_after_worse"] = registry.version_for_alias(CHAMPION).version
    return outcome


def fraud_strategy_env(env: Mapping[str, str], change: dt.date) -> dict[str, str]:
    """The world whose fraud changes its ways on `change`: every later stage of the scenario must
    simulate this same world (a day ingested without it is a day of the world before the change)."""
    return {**env, "FRAUDSHIELD_SIM_FRAUD_STRATEGY_CHANGE_START": change.isoformat()}


def run_stable_scenario(
    instance: dg.DagsterInstance,
    env: Mapping[str, str],
    first_day: dt.date,
    training_days: int,
    monitored_days: int,
    evaluation: Mapping[str, object] | None = None,
    sensors: Sequence[str] = ("drift", "performance"),
) -> dict[str, object]:
    """A stable world: a champion, then `monitored_days` of monitoring by the drift and performance sensors."""
    result = run_monitoring_scenario(
        instance, env, first_day, training_days, monitored_days, sensors=sensors, ingest_upfront=tuple(sensors) == ("drift",),
        asset_config={"evaluation_report": evaluation} if evaluation else None,
    )
    return {"monitoring": result.to_json()}


def run_bad_promotion_scenario(
    instance: dg.DagsterInstance, env: Mapping[str, str], outcome: Mapping[str, object], as_of: dt.date, max_days: int = 30
) -> dict[str, object]:
    """After the fraud-strategy retrain: a human promotes the stale challenger the gate refused.

    The stale model was trained on the weeks before the change, a world that is gone. The previous
    champion (the retrain) is measured in shadow; the rollback sensor must undo the promotion within
    the policy's shadow period, and `rollback_job` runs exactly as the sensor asks.
    """
    from fraudshield_pipeline.defs.governance.assets import record_champion_event
    from fraudshield_pipeline.defs.monitoring.rollback import rollback_job, rollback_sensor
    from fraudshield_pipeline.resources.registry import CHAMPION
    from fraudshield_pipeline.resources.storage import report_key

    # The days after the promotion belong to the outcome's world: fraud changed its ways on its `change`.
    resources = build_resources(fraud_strategy_env(env, dt.date.fromisoformat(str(outcome["change"]))))
    registry, storage, policy = resources["registry"], resources["storage"], resources["policy"]
    good, stale = str(outcome["champion_after_retrain"]), str(outcome["worse"]["model_version"])
    registry.set_alias(CHAMPION, stale)
    record = {
        "decided_at": dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ"), "action": "promotion", "promote": True,
        "challenger_version": stale, "champion_version_before": good, "champion_version_after": stale,
        "reasons": ["manual promotion (scenario): a model trained before the change, refused by the gate"],
    }
    storage.write_text(report_key("promotions", f"{record['decided_at']}_promotion_v{stale}.json"), json.dumps(record))
    record_champion_event(instance, registry, record)
    assets, quiet, age = load_assets(), console_config(), judging_age_now(resources, as_of)
    result: dict[str, object] = {"promoted": stale, "previous": good, "promoted_on": as_of.isoformat(), "shadow": {}}
    for offset in range(max_days):
        today = as_of + dt.timedelta(days=offset)
        ingest(instance, resources, today, today)
        dg.materialize(assets, instance=instance, resources=resources, selection=["batch_scores"], partition_key=today.isoformat(), run_config=quiet)
        day = today - dt.timedelta(days=age)
        if day < as_of:
            continue
        config = {**quiet, "ops": {"matured_performance": {"config": {"maturity_days": age}}}}
        measured = dg.materialize(assets, instance=instance, resources=resources, selection=["matured_performance"],
                                  partition_key=day.isoformat(), run_config=config)
        metadata = _metadata(measured, "matured_performance")
        result["shadow"][day.isoformat()] = {k: metadata.get(k) for k in (
            "average_precision", "previous_average_precision", "recall_at_budget", "previous_recall_at_budget")}
        tick = rollback_sensor(dg.build_sensor_context(instance=instance, resources={"policy": policy}))
        if isinstance(tick, dg.SensorResult) and tick.run_requests:
            request = tick.run_requests[0]
            rollback_job.execute_in_process(instance=instance, tags=dict(request.tags),
                                            resources={"registry": registry, "storage": storage})
            result.update(rolled_back_on=today.isoformat(), days_after_promotion=offset, reason=request.tags["fraudshield/reason"])
            break
    result["champion_after"] = registry.version_for_alias(CHAMPION).version
    result["shadow_days"] = policy.shadow_days
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one scenario on the instance of DAGSTER_HOME and writes its outcome as JSON."""
    parser = argparse.ArgumentParser(prog="python -m fraudshield_pipeline.scenarios", description=main.__doc__)
    parser.add_argument("scenario", choices=["stable", "fraud-strategy"])
    parser.add_argument("--bad-promotion", action="store_true", help="fraud-strategy: then promote the stale model")
    parser.add_argument("--first-day", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--training-days", type=int, default=72)
    parser.add_argument("--monitored-days", type=int, default=60, help="stable: days monitored; fraud-strategy: at most")
    parser.add_argument("--change", type=dt.date.fromisoformat, help="fraud-strategy: the day the strategy changes")
    parser.add_argument("--no-retrain", action="store_true", help="fraud-strategy: stop once the sensor fired")
    parser.add_argument("--absolute-floor", type=float, help="the gate's average-precision floor (EvaluationConfig)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    evaluation = {"absolute_floor": args.absolute_floor} if args.absolute_floor is not None else None
    if args.scenario == "stable":
        outcome = run_stable_scenario(instance, os.environ, args.first_day, args.training_days, args.monitored_days, evaluation)
    else:
        if args.change is None:
            parser.error("fraud-strategy needs --change")
        outcome = run_fraud_strategy_scenario(
            instance, os.environ, args.first_day, args.training_days, args.change, args.monitored_days,
            retrain=not args.no_retrain, evaluation=evaluation,
        )
        if args.bad_promotion and "worse" in outcome:
            as_of = args.change + dt.timedelta(days=35)
            outcome["bad_promotion"] = run_bad_promotion_scenario(instance, os.environ, outcome, as_of)
    outcome["seconds"] = round(time.perf_counter() - started, 1)
    with open(args.out, "w") as handle:
        json.dump(outcome, handle, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
