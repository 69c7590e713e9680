"""Point-in-time features per day, and the serving state in Feast's online store."""


import dagster as dg
import numpy as np
import pandas as pd

from fraudshield_pipeline.defs.metadata import partitioned_output
from fraudshield_pipeline.defs.partitions import daily_partitions, keys_window, range_backfill
from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import DEFAULT_LABEL_DELAY_DAYS, lookback_days
from fraudshield_pipeline.resources.feature_store import FeastFeatureStore
from fraudshield_pipeline.resources.storage import ArtifactStore, table_key

history = dg.TimeWindowPartitionMapping(
    start_offset=-lookback_days(DEFAULT_LABEL_DELAY_DAYS), allow_nonexistent_upstream_partitions=True
)


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=range_backfill,
    group_name="features",
    kinds={"duckdb", "parquet"},
    ins={
        "validated_transactions": dg.AssetIn(partition_mapping=history),
        "validated_labels": dg.AssetIn(partition_mapping=history),
    },
)
def transaction_features(
    context: dg.AssetExecutionContext, validated_transactions: pd.DataFrame, validated_labels: pd.DataFrame
) -> dg.Output[dict[str, pd.DataFrame]]:
    """Point-in-time card, merchant and transaction features, from the day's lookback history."""
    from fraudshield_pipeline.domain.features import build_features

    start, end = keys_window(context.partition_keys)
    features = build_features(validated_transactions, validated_labels, start, end, DEFAULT_LABEL_DELAY_DAYS)
    day = features[s.EVENT_TIMESTAMP].dt.tz_convert(None).to_numpy().astype("datetime64[D]")
    by_key = {key: features[day == np.datetime64(key)].reset_index(drop=True) for key in context.partition_keys}
    output, _ = partitioned_output(
        context,
        "transaction_features",
        by_key,
        {"history_rows": len(validated_transactions), "label_delay_days": DEFAULT_LABEL_DELAY_DAYS},
        output_name="result",
    )
    return output


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=range_backfill,
    group_name="features",
    kinds={"feast", "parquet"},
    deps=["transaction_features"],
    ins={
        "validated_transactions": dg.AssetIn(partition_mapping=history),
        "validated_labels": dg.AssetIn(partition_mapping=history),
    },
)
def online_features(
    context: dg.AssetExecutionContext,
    validated_transactions: pd.DataFrame,
    validated_labels: pd.DataFrame,
    feature_store: FeastFeatureStore,
    storage: ArtifactStore,
) -> dg.MaterializeResult:
    """`feast apply`, then every card's and merchant's serving state as of the end of the range.

    The state holds the recent events from which serving evaluates the same windows as
    `transaction_features` at the moment a transaction arrives (see `domain.online`).
    """
    from fraudshield_pipeline.domain.online import entity_states
    from fraudshield_pipeline.feature_repo import state_tables

    applied = feature_store.apply()
    last = max(context.partition_keys)
    _, as_of = keys_window(context.partition_keys)
    customers, merchants = entity_states(validated_transactions, validated_labels, as_of, DEFAULT_LABEL_DELAY_DAYS)
    tables = state_tables(customers, merchants, as_of)
    for name, table in tables.items():
        storage.write_table(table_key(name, last), table)
    newest = storage.partitions("validated_transactions")[-1]
    metadata = {
        "feast_objects": dg.MetadataValue.json(applied),
        "online_store": feature_store.online_store,
        "state_as_of": as_of.isoformat(),
        "cards": customers.num_rows,
        "merchants": merchants.num_rows,
        "state_tables": dg.MetadataValue.json({name: storage.uri(table_key(name, last)) for name in tables}),
    }
    if last < newest:
        # Never roll the online store back to an older day when an old partition is re-run.
        context.log.info(f"state as of {as_of:%Y-%m-%d} kept offline only: validated data exists up to {newest}")
        return dg.MaterializeResult(metadata={**metadata, "written_online": False})
    feature_store.write_state(tables)
    return dg.MaterializeResult(metadata={**metadata, "written_online": True})
