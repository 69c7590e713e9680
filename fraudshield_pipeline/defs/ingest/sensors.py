"""Late files: a day ingested again when its source changed after its ingestion (late chargebacks)."""

import datetime as dt
import hashlib
import json

import dagster as dg

from fraudshield_pipeline.defs.jobs import daily_ingestion_job
from fraudshield_pipeline.resources.sources import TransactionSource

# What a day's files feed: the raw tables and their validated snapshots. Not the features: a label
# that arrives today informs features from today on (they only count labels reported before each
# transaction), so recomputing earlier days would rewrite history with what was not known then.
INGESTED = ("raw_transactions", "raw_labels", "validated_transactions", "validated_labels", "quarantined_transactions",
            "quarantined_labels")  # fmt: skip
LATE_FILES_TAG = "late_files"
MAX_WATCHED_DAYS = 730  # the reach of a source's late_file_days: reports come at most 730 days late (contracts)


def ingestions(instance: dg.DagsterInstance, days: list[str]) -> dict[dt.date, tuple[dt.datetime, dict[str, str] | None]]:
    """Each day's last ingestion: when, and the content hash of each file it read (raw_feeds' lineage)."""
    wanted, found, cursor = set(days), {}, None
    while wanted - found.keys():
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_labels"), asset_partitions=sorted(wanted)), limit=1000, cursor=cursor
        )
        for record in page.records:
            if record.partition_key not in found:
                lineage = record.asset_materialization.metadata.get("source_file_hashes")
                hashes = lineage.value.get(record.partition_key) if lineage is not None else None
                found[record.partition_key] = (dt.datetime.fromtimestamp(record.timestamp, dt.timezone.utc), hashes)
        if not page.has_more:
            break
        cursor = page.cursor
    return {dt.date.fromisoformat(k): v for k, v in found.items()}


@dg.sensor(job=daily_ingestion_job, minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING)
def late_files_sensor(context: dg.SensorEvaluationContext, source: TransactionSource):
    """Ingests a day again when its files differ from those its last ingestion read.

    Chargebacks arrive for weeks after their transaction's day: without this, a day would keep the
    labels it had the night it was ingested, and the matured performance and the next training set
    would count its later frauds as genuine. Watches the source's last `late_file_days` (a landing
    zone's files: a file added, removed, or rewritten with other bytes; a file only touched, as a
    sync re-uploading it, is read once and changes nothing); the simulator's days never change.
    """
    if type(source).late_days is TransactionSource.late_days:  # the simulator: no query of the event log for nothing
        return dg.SkipReason(f"the {type(source).__name__}'s days never change after their ingestion")
    ingested = sorted(context.instance.get_materialized_partitions(dg.AssetKey("raw_labels")))
    if not ingested:
        return dg.SkipReason("no day ingested yet")
    seen = json.loads(context.cursor) if context.cursor else {}
    state = ingestions(context.instance, ingested[-MAX_WATCHED_DAYS:])
    late, seen, fingerprint = source.late_days(state, seen)
    context.update_cursor(json.dumps(seen, sort_keys=True))
    if not late:
        return dg.SkipReason(f"no file added, removed or rewritten since its day's ingestion ({len(ingested)} day(s) ingested)")
    return [
        dg.RunRequest(
            # one run per state of a day's files after each of its ingestions (a fixed file after a failed run runs again)
            run_key=f"{LATE_FILES_TAG}:{day.isoformat()}:{state[day][0].timestamp():.0f}:{fingerprint[day]}",
            partition_key=day.isoformat(),
            asset_selection=[dg.AssetKey(a) for a in INGESTED],
            tags={"fraudshield/trigger": LATE_FILES_TAG, "fraudshield/reason": f"{day}: {what}"[:200]},
        )
        for day, what in sorted(late.items())
    ]
