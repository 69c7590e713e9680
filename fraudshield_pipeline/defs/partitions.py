"""The daily partitioning every time-based asset shares (UTC days)."""


import datetime as dt
import os
from collections.abc import Sequence

import dagster as dg

START_DATE = os.environ.get("FRAUDSHIELD_START_DATE", "2026-09-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")

# Backfills of day-by-day assets run as one run over the whole range: one process, one
# DuckDB pass over the window, instead of hundreds of tiny runs.
range_backfill = dg.BackfillPolicy.single_run()


def day_start(partition_key: str) -> dt.datetime:
    return dt.datetime.fromisoformat(partition_key).replace(tzinfo=dt.timezone.utc)


def keys_window(partition_keys: Sequence[str]) -> tuple[dt.datetime, dt.datetime]:
    """[start of the first day, end of the last day) for a run's partition keys."""
    keys = sorted(partition_keys)
    return day_start(keys[0]), day_start(keys[-1]) + dt.timedelta(days=1)
