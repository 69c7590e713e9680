"""Freshness: yesterday's validated snapshot must exist by 06:00 UTC, or the check fails."""

import dagster as dg


freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[dg.AssetKey("validated_transactions")],
    deadline_cron="0 6 * * *",
    timezone="UTC",
    severity=dg.AssetCheckSeverity.ERROR,
)

freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness_checks, name="snapshot_freshness_sensor"
)
