"""Point-in-time features per day, and their online copy in Feast."""


import dagster as dg
import numpy as np
import pandas as pd

from fraudshield_pipeline.defs.metadata import partitioned_output
from fraudshield_pipeline.defs.partitions import daily_partitions, day_start, keys_window, range_backfill
from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import DEFAULT_LABEL_DELAY_DAYS, lookback_days
from fraudshield_pipeline.resources.feature_store import FeastFeatureStore

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
    kinds={"feast", "sqlite"},
    ins={"transaction_features": dg.AssetIn()},
)
def online_features(
    context: dg.AssetExecutionContext, transaction_features: pd.DataFrame, feature_store: FeastFeatureStore
) -> dg.MaterializeResult:
    """The newest feature values per card and merchant, applied to Feast and written online."""
    from fraudshield_pipeline.feature_repo import VIEW_ENTITY, view_features

    applied = feature_store.apply()
    written = {}
    for view, (_, key) in VIEW_ENTITY.items():
        columns = [key, s.EVENT_TIMESTAMP] + [spec.name for spec in view_features(view)]
        latest = (
            transaction_features.sort_values(s.EVENT_TIMESTAMP)
            .drop_duplicates(key, keep="last")[columns]
            .reset_index(drop=True)
        )
        written[view] = feature_store.write_online(view, latest)
    _, end = keys_window(context.partition_keys)
    return dg.MaterializeResult(
        metadata={
            "feast_objects": dg.MetadataValue.json(applied),
            "entities_written": dg.MetadataValue.json(written),
            "online_store": feature_store.online_store,
            "materialized_until": end.isoformat(),
            "first_day": day_start(min(context.partition_keys)).date().isoformat(),
        }
    )
