"""Calendar triggers: daily ingestion, and a weekly retrain as the backstop to the sensors."""

import datetime as dt

import dagster as dg

from fraudshield_pipeline.defs.jobs import daily_ingestion_job, drift_monitoring_job, matured_performance_job, retrain_job

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

MATURITY_DAYS = 7


@dg.schedule(job=matured_performance_job, cron_schedule="30 4 * * *", execution_timezone="UTC")
def matured_performance_schedule(context: dg.ScheduleEvaluationContext):
    """Each night, measure the day whose labels have just matured (maturity days behind)."""
    scheduled = context.scheduled_execution_time.date()
    day = (scheduled - dt.timedelta(days=1 + MATURITY_DAYS)).isoformat()
    return dg.RunRequest(run_key=f"matured:{day}", partition_key=day)


weekly_retrain_schedule = dg.ScheduleDefinition(
    name="weekly_retrain_schedule",
    job=retrain_job,
    cron_schedule="0 5 * * 1",
    execution_timezone="UTC",
    tags={"fraudshield/trigger": "schedule", "fraudshield/reason": "weekly calendar retrain"},
    description="Monday 05:00 UTC retrain, whatever the sensors say.",
)
