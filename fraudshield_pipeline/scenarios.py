"""Monitoring scenarios with known ground truth, driven day by day as the schedules would.

A champion is trained on the first days of a simulated world; then each further day is
ingested, scored and measured for drift, and the retraining sensors tick once, exactly as in
production. Used by the scenario tests and by `benchmarks/monitoring.py`.
"""

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.runner import RANGE_END, RANGE_START, console_config, load_assets, run_pipeline

DAILY_ASSETS = (
    "raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
    "quarantined_transactions", "quarantined_labels", "transaction_features",
)


@dataclass
class ScenarioResult:
    first_monitored_day: dt.date
    fired: dict[str, dt.date] = field(default_factory=dict)  # sensor -> first day it requested a retrain
    reasons: dict[str, str] = field(default_factory=dict)
    share_drifted: dict[str, float] = field(default_factory=dict)  # day -> drift share
    tick_seconds: dict[str, list[float]] = field(default_factory=dict)

    def delay_days(self, sensor: str, since: dt.date) -> int | None:
        return (self.fired[sensor] - since).days if sensor in self.fired else None


def run_monitoring_scenario(
    instance: dg.DagsterInstance,
    env: Mapping[str, str],
    first_day: dt.date,
    training_days: int,
    monitored_days: int,
) -> ScenarioResult:
    """Trains a champion on `training_days`, then monitors `monitored_days` more, one at a time."""
    from fraudshield_pipeline.defs.monitoring.sensors import drift_retrain_sensor, volume_retrain_sensor

    resources = build_resources(env)
    run_pipeline(instance, resources, first_day, training_days, drift_days=0)
    assets = load_assets()
    sensors = {"drift": drift_retrain_sensor, "volume": volume_retrain_sensor}
    cursors: dict[str, str | None] = dict.fromkeys(sensors)
    result = ScenarioResult(first_day + dt.timedelta(days=training_days))
    for offset in range(monitored_days):
        day = (result.first_monitored_day + dt.timedelta(days=offset)).isoformat()
        tags = {RANGE_START: day, RANGE_END: day}
        quiet = console_config()
        dg.materialize(assets, instance=instance, resources=resources, selection=list(DAILY_ASSETS), tags=tags, run_config=quiet)
        drift = dg.materialize(
            assets, instance=instance, resources=resources, selection=["drift_report", "batch_scores"], partition_key=day,
            run_config=quiet,
        )
        for event in drift.get_asset_materialization_events():
            if event.asset_key.to_user_string() == "drift_report":
                result.share_drifted[day] = float(event.materialization.metadata["share_drifted"].value)
        for name, sensor in sensors.items():
            started = time.perf_counter()
            tick = sensor(dg.build_sensor_context(instance=instance, cursor=cursors[name]))
            result.tick_seconds.setdefault(name, []).append(time.perf_counter() - started)
            if isinstance(tick, dg.SensorResult):
                cursors[name] = tick.cursor
                if tick.run_requests and name not in result.fired:
                    result.fired[name] = dt.date.fromisoformat(day)
                    result.reasons[name] = tick.run_requests[0].tags["fraudshield/reason"]
    return result
