"""Late files: a day ingested again when its source changed after its ingestion (late chargebacks)."""

import datetime as dt

import dagster as dg

from fraudshield_pipeline.defs.jobs import daily_ingestion_job
from fraudshield_pipeline.resources.sources import TransactionSource

# What a day's files feed: the raw tables and their validated snapshots. Not the features: a label
# that arrives today informs features from today on (they only count labels reported before each
# transaction), so recomputing earlier days would rewrite history with what was not known then.
INGESTED = ("raw_transactions", "raw_labels", "validated_transactions", "validated_labels", "quarantined_transactions",
            "quarantined_labels")  # fmt: skip
LATE_FILES_TAG = "late_files"


def ingestion_times(instance: dg.DagsterInstance, days: list[str]) -> dict[dt.date, dt.datetime]:
    """When each day's labels were last ingested, newest materialization first, a page at a time."""
    wanted, found, cursor = set(days), {}, None
    while wanted - found.keys():
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_labels"), asset_partitions=sorted(wanted)), limit=1000, cursor=cursor
        )
        for record in page.records:
            found.setdefault(record.partition_key, record.timestamp)
        if not page.has_more:
            break
        cursor = page.cursor
    return {dt.date.fromisoformat(k): dt.datetime.fromtimestamp(t, dt.timezone.utc) for k, t in found.items()}


@dg.sensor(job=daily_ingestion_job, minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING)
def late_files_sensor(context: dg.SensorEvaluationContext, source: TransactionSource):
    """Ingests a day again when a file of it was added or rewritten after its ingestion.

    Chargebacks arrive for weeks after their transaction's day: without this, a day would keep the
    labels it had the night it was ingested, and the matured performance and the next training set
    would count its later frauds as genuine. Watches the source's last `late_file_days` (a landing
    zone's files, by modification time); the simulator's days never change.
    """
    ingested = sorted(context.instance.get_materialized_partitions(dg.AssetKey("raw_labels")))
    if not ingested:
        return dg.SkipReason("no day ingested yet")
    late = source.late_days(ingestion_times(context.instance, ingested[-400:]))
    if not late:
        return dg.SkipReason(f"no file added or changed after its day's ingestion ({len(ingested)} day(s) ingested)")
    return [
        dg.RunRequest(
            run_key=f"{LATE_FILES_TAG}:{day.isoformat()}:{changed.isoformat()}",
            partition_key=day.isoformat(),
            asset_selection=[dg.AssetKey(a) for a in INGESTED],
            tags={"fraudshield/trigger": LATE_FILES_TAG, "fraudshield/reason": f"a file of {day} changed at {changed:%Y-%m-%d %H:%M} UTC"},
        )
        for day, changed in sorted(late.items())
    ]
