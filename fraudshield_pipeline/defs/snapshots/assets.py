"""Validated snapshots: the data contracts applied day by day, with quarantine instead of loss."""


import dagster as dg
import pandas as pd

from fraudshield_pipeline.defs.metadata import counts_metadata, single_data_version, table_schema
from fraudshield_pipeline.defs.partitions import daily_partitions, keys_window, range_backfill

MAX_QUARANTINE_RATE = 0.05

validated_outs = {
    "validated_transactions": dg.AssetOut(description="Transactions that passed the contract, per UTC day.", kinds={"parquet", "pandera"}),
    "validated_labels": dg.AssetOut(description="Labels that passed the contract and reference known transactions.", kinds={"parquet", "pandera"}),
    "quarantined_transactions": dg.AssetOut(description="Transactions that broke a contract rule, with the rule.", kinds={"parquet"}),
    "quarantined_labels": dg.AssetOut(description="Labels that broke a contract rule, with the rule.", kinds={"parquet"}),
}


@dg.multi_asset(
    outs=validated_outs,
    ins={"raw_transactions": dg.AssetIn(), "raw_labels": dg.AssetIn()},
    partitions_def=daily_partitions,
    backfill_policy=range_backfill,
    group_name="snapshots",
    check_specs=[
        dg.AssetCheckSpec("rows_accounted", asset="validated_transactions", blocking=True,
                          description="Rows in = rows validated + rows quarantined, for transactions and labels."),
        dg.AssetCheckSpec("quarantine_rate", asset="validated_transactions", blocking=True,
                          description=f"At most {MAX_QUARANTINE_RATE:.0%} of a day's transactions quarantined."),
    ],
)
def validated_snapshots(
    context: dg.AssetExecutionContext,
    raw_transactions: dict[str, pd.DataFrame],
    raw_labels: dict[str, pd.DataFrame],
):
    """Applies the transaction and label contracts to each day."""
    from fraudshield_pipeline.domain.contracts import CONTRACT_VERSION, validate_labels, validate_transactions
    from fraudshield_pipeline.domain.versioning import content_hash

    outcomes = {}
    for key in context.partition_keys:
        start, end = keys_window([key])
        tx = validate_transactions(raw_transactions[key], start, end, source=f"raw_transactions[{key}]")
        lb = validate_labels(raw_labels[key], tx.valid["transaction_id"], source=f"raw_labels[{key}]")
        outcomes[key] = (tx, lb)
        for unknown in tx.unknown_columns:
            context.log.warning(f"raw_transactions[{key}]: unknown column '{unknown}' is not in the contract; ignored")

    frames = {
        "validated_transactions": {k: o[0].valid for k, o in outcomes.items()},
        "validated_labels": {k: o[1].valid for k, o in outcomes.items()},
        "quarantined_transactions": {k: o[0].quarantine for k, o in outcomes.items()},
        "quarantined_labels": {k: o[1].quarantine for k, o in outcomes.items()},
    }
    for name, by_key in frames.items():
        versions = {k: content_hash(f) for k, f in by_key.items()}
        yield dg.Output(
            by_key,
            output_name=name,
            data_version=single_data_version(by_key, versions),
            metadata={
                **counts_metadata(by_key),
                "content_hashes": dg.MetadataValue.json(versions),
                "contract_version": CONTRACT_VERSION,
                "dagster/column_schema": table_schema(next(iter(by_key.values()))),
            },
        )

    accounting = {
        k: {"transactions": [tx.rows_in, len(tx.valid), len(tx.quarantine)], "labels": [lb.rows_in, len(lb.valid), len(lb.quarantine)]}
        for k, (tx, lb) in outcomes.items()
    }
    yield dg.AssetCheckResult(
        check_name="rows_accounted",
        asset_key="validated_transactions",
        passed=all(tx.rows_accounted and lb.rows_accounted for tx, lb in outcomes.values()),
        metadata={"in_kept_quarantined": dg.MetadataValue.json(accounting)},
    )
    rates = {k: len(tx.quarantine) / max(tx.rows_in, 1) for k, (tx, _) in outcomes.items()}
    rules = {k: tx.rule_counts for k, (tx, _) in outcomes.items() if tx.rule_counts}
    yield dg.AssetCheckResult(
        check_name="quarantine_rate",
        asset_key="validated_transactions",
        passed=max(rates.values()) <= MAX_QUARANTINE_RATE,
        metadata={
            "max_quarantine_rate": max(rates.values()),
            "quarantine_rates": dg.MetadataValue.json(rates),
            "failed_rules": dg.MetadataValue.json(rules),
        },
    )
