"""Calendar triggers: daily ingestion, and a weekly retrain as the backstop to the sensors."""

import dagster as dg

from fraudshield_pipeline.defs.jobs import daily_ingestion_job, drift_monitoring_job, retrain_job

daily_ingestion_schedule = dg.build_schedule_from_partitioned_job(
    daily_ingestion_job,
    hour_of_day=2,
    description="Each night, process the UTC day that just ended.",
)

drift_monitoring_schedule = dg.build_schedule_from_partitioned_job(
    drift_monitoring_job,
    hour_of_day=4,
    description="Each night after ingestion, measure the day that just ended against the champion.",
)

weekly_retrain_schedule = dg.ScheduleDefinition(
    name="weekly_retrain_schedule",
    job=retrain_job,
    cron_schedule="0 5 * * 1",
    execution_timezone="UTC",
    tags={"fraudshield/trigger": "schedule", "fraudshield/reason": "weekly calendar retrain"},
    description="Monday 05:00 UTC retrain, whatever the sensors say.",
)
