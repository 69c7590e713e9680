"""Raw transactions and the chargeback label feed, one UTC day per partition."""


import datetime as dt

import dagster as dg
import pandas as pd

from fraudshield_pipeline.defs.metadata import partitioned_output
from fraudshield_pipeline.defs.partitions import daily_partitions, range_backfill
from fraudshield_pipeline.resources.sources import TransactionSource


@dg.multi_asset(
    outs={
        "raw_transactions": dg.AssetOut(description="Card transactions as received, one UTC day per partition.", kinds={"parquet"}),
        "raw_labels": dg.AssetOut(description="Chargeback feed: fraud labels with the time each was reported.", kinds={"parquet"}),
    },
    partitions_def=daily_partitions,
    backfill_policy=range_backfill,
    group_name="ingest",
)
def raw_feeds(context: dg.AssetExecutionContext, source: TransactionSource):
    """Loads each day once and emits its transactions and labels."""
    transactions: dict[str, pd.DataFrame] = {}
    labels: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    file_hashes: dict[str, dict[str, str]] = {}
    unknown: dict[str, dict[str, list[str]]] = {}
    for key in context.partition_keys:
        day = source.load_day(dt.date.fromisoformat(key))
        transactions[key], labels[key], sources[key] = day.transactions, day.labels, day.source
        file_hashes[key] = day.file_hashes
        if day.unknown_columns:
            unknown[key] = day.unknown_columns
            context.log.warning(f"{key}: columns not in the mapping, ignored: {day.unknown_columns}")
    lineage = {
        "sources": dg.MetadataValue.json(sources),
        "source_file_hashes": dg.MetadataValue.json({k: v for k, v in file_hashes.items() if v}),
        "unknown_source_columns": dg.MetadataValue.json(unknown),
    }
    for name, frames in (("raw_transactions", transactions), ("raw_labels", labels)):
        yield partitioned_output(context, name, frames, lineage)[0]
