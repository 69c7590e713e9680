"""The daily partitioning every time-based asset shares (UTC days)."""


import datetime as dt
import os
from collections.abc import Sequence

import dagster as dg

START_DATE = os.environ.get("FRAUDSHIELD_START_DATE", "2026-09-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")

# Backfills of day-by-day assets run a month per run: one process and one DuckDB pass per month
# instead of hundreds of tiny runs, while a run's memory stays bounded by a month (plus the
# features' lookback) however long the backfill; the run queue spreads the months.
MAX_DAYS_PER_RUN = 31
range_backfill = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_DAYS_PER_RUN)


def day_start(partition_key: str) -> dt.datetime:
    return dt.datetime.fromisoformat(partition_key).replace(tzinfo=dt.timezone.utc)


def keys_window(partition_keys: Sequence[str]) -> tuple[dt.datetime, dt.datetime]:
    """[start of the first day, end of the last day) for a run's partition keys."""
    keys = sorted(partition_keys)
    return day_start(keys[0]), day_start(keys[-1]) + dt.timedelta(days=1)
