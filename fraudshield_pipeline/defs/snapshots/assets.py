"""Validated snapshots: the data contracts applied day by day, with quarantine instead of loss."""

import datetime as dt

import dagster as dg
import pandas as pd

from fraudshield_pipeline.defs.metadata import partitioned_output
from fraudshield_pipeline.defs.partitions import daily_partitions, keys_window, range_backfill
from fraudshield_pipeline.defs.snapshots.checks import SNAPSHOT_FRESHNESS
from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.quarantine import (
    NEGATIVE_AMOUNT,
    UNKNOWN_TRANSACTION,
    explain_quarantine,
    labels_of_quarantined_transactions,
    transaction_advice,
)
from fraudshield_pipeline.resources.io_managers import SNAPSHOT
from fraudshield_pipeline.resources.quality_policy import DataQualityPolicy
from fraudshield_pipeline.resources.sources import TransactionSource
from fraudshield_pipeline.resources.storage import ArtifactStore, table_key


validated_outs = {
    # Every version of a validated day is kept, content-addressed; the table is that same file.
    "validated_transactions": dg.AssetOut(
        description="Transactions that passed the contract, per UTC day.", kinds={"parquet", "pandera"},
        metadata={SNAPSHOT: True}, freshness_policy=SNAPSHOT_FRESHNESS,
    ),
    "validated_labels": dg.AssetOut(
        description="Labels that passed the contract and reference known transactions.", kinds={"parquet", "pandera"},
        metadata={SNAPSHOT: True},
    ),
    "quarantined_transactions": dg.AssetOut(description="Transactions that broke a contract rule, with the rule.", kinds={"parquet"}),
    "quarantined_labels": dg.AssetOut(description="Labels that broke a contract rule, with the rule.", kinds={"parquet"}),
}


def _check(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset="validated_transactions", blocking=True, description=description)


@dg.multi_asset(
    outs=validated_outs,
    ins={"raw_transactions": dg.AssetIn(), "raw_labels": dg.AssetIn()},
    partitions_def=daily_partitions,
    backfill_policy=range_backfill,
    group_name="snapshots",
    check_specs=[
        _check("rows_accounted", "Rows in = rows validated + rows quarantined, for transactions and labels."),
        _check("quarantine_rate", "A day's quarantined share of transactions at most the quality policy's max_quarantine_rate."),
        _check("null_rate", "Null share per contract column of the raw feed within the quality policy's limit."),
        _check("volume", "A day's volume within the quality policy's band around the trailing average (0.5x-2x by default): "
               "no sudden drop or spike, except on the policy's volume_exempt_days."),
        _check("unique_ids_across_partitions", "No transaction id seen again within the quality policy's id_horizon_days (90): ids join labels and features."),
        dg.AssetCheckSpec("label_quarantine_rate", asset="validated_labels", blocking=True, description="A day's quarantined "
                          "share of labels at most the quality policy's max_label_quarantine_rate (a day without labels passes)."),
    ],
)
def validated_snapshots(
    context: dg.AssetExecutionContext,
    raw_transactions: dict[str, pd.DataFrame],
    raw_labels: dict[str, pd.DataFrame],
    storage: ArtifactStore,
    source: TransactionSource,
    quality: DataQualityPolicy,
):
    """Applies the transaction and label contracts to each day (amounts bounded by the source's max_amount)."""
    from fraudshield_pipeline.domain.contracts import CONTRACT_VERSION, validate_labels, validate_transactions

    outcomes = {}
    max_amount = source.max_amount()
    for key in context.partition_keys:
        start, end = keys_window([key])
        tx = validate_transactions(raw_transactions[key], start, end, source=f"raw_transactions[{key}]", max_amount=max_amount)
        lb = validate_labels(raw_labels[key], tx.valid[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], source=f"raw_labels[{key}]")
        outcomes[key] = (tx, lb)
        for unknown in tx.unknown_columns:
            context.log.warning(f"raw_transactions[{key}]: unknown column '{unknown}' is not in the contract; ignored")

    frames = {
        "validated_transactions": {k: o[0].valid for k, o in outcomes.items()},
        "validated_labels": {k: o[1].valid for k, o in outcomes.items()},
        "quarantined_transactions": {k: o[0].quarantine for k, o in outcomes.items()},
        "quarantined_labels": {k: o[1].quarantine for k, o in outcomes.items()},
    }
    unknown = {k: list(o[0].unknown_columns) for k, o in outcomes.items() if o[0].unknown_columns}
    for name, by_key in frames.items():
        # The IO manager stores the validated days as their content-addressed snapshots (SNAPSHOT).
        yield partitioned_output(
            context, name, by_key, {"contract_version": CONTRACT_VERSION, "unknown_columns": dg.MetadataValue.json(unknown)}
        )[0]
    checks = [*_contract_checks(outcomes, quality, source), *_quality_checks(context.partition_keys, raw_transactions, storage, quality)]
    for result in checks:
        if not result.passed:  # Dagster's failure names only the check: the days and the way out go to the log
            context.log.error(f"check {result.check_name} failed: {result.description}")
        yield result


def _failures(verdicts: dict) -> str:
    return "; ".join(f"{day}: {v.detail}" for day, v in verdicts.items() if not v.passed)


def _contract_checks(outcomes, quality: DataQualityPolicy, source: TransactionSource | None = None):
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
    failing = {k: (r, outcomes[k][0].rule_counts, outcomes[k][0].quarantine) for k, r in rates.items() if r > quality.max_quarantine_rate}
    yield dg.AssetCheckResult(
        check_name="quarantine_rate",
        asset_key="validated_transactions",
        passed=not failing,
        description=explain_quarantine(failing, quality.max_quarantine_rate, "max_quarantine_rate", advice=_sign_advice(failing, source))
        if failing else None,
        metadata={
            "max_quarantine_rate": max(rates.values()),
            "quarantine_rates": dg.MetadataValue.json(rates),
            "failed_rules": dg.MetadataValue.json({k: tx.rule_counts for k, (tx, _) in outcomes.items() if tx.rule_counts}),
        },
    )
    yield _label_check(outcomes, quality)


def _sign_advice(failing: dict, source: TransactionSource | None) -> dict[str, str] | None:
    """Amounts below zero explained in the direction of the feed's amount_sign (a landing zone's mapping)
    when they are among a failing day's rules; the mapping is read only then."""
    if source is None or not any(NEGATIVE_AMOUNT in rules for _, rules, _ in failing.values()):
        return None
    return transaction_advice(source.amount_sign())


def _label_check(outcomes, quality: DataQualityPolicy) -> dg.AssetCheckResult:
    """The labels' quarantined share: a feed keyed by report day loses every label to references_known_transaction,
    and training later finds no fraud; here the day blocks, naming the rule and the re-keying."""
    # A repeat of the standing label (a re-sent file: transaction_id:unique) loses nothing: it is neither
    # counted nor named, in the lost labels or in the day's labels they are a share of.
    repeat = f"{s.TRANSACTION_ID}:unique"
    lost = {k: len(lb.quarantine) - lb.rule_counts.get(repeat, 0) for k, (_, lb) in outcomes.items()}
    reports = {k: lb.rows_in - lb.rule_counts.get(repeat, 0) for k, (_, lb) in outcomes.items()}
    rates = {k: lost[k] / reports[k] if reports[k] else 0.0 for k in outcomes}
    failing = {
        k: (r, {rule: n for rule, n in outcomes[k][1].rule_counts.items() if rule != repeat}, outcomes[k][1].quarantine)
        for k, r in rates.items()
        if r > quality.max_label_quarantine_rate and (lost[k] > quality.label_quarantine_tolerated_rows or r >= 0.5)
    }  # fmt: skip  (half a day's labels lost is never a typo: a small feed keyed by report day still blocks)
    advice = {}
    own = sum(labels_of_quarantined_transactions(outcomes[k][1].quarantine, outcomes[k][0].quarantine) for k in failing)
    unknown = sum(failing[k][1].get(UNKNOWN_TRANSACTION, 0) for k in failing)
    if unknown and own * 2 > unknown:  # most reference transactions the contract quarantined: fix those first
        advice[UNKNOWN_TRANSACTION] = (f"{own} of these labels' transactions were themselves quarantined that day: fix the "
                                       "transactions first (check quarantine_rate, quarantined_transactions)")  # fmt: skip
    return dg.AssetCheckResult(
        check_name="label_quarantine_rate",
        asset_key="validated_labels",
        passed=not failing,
        description=explain_quarantine(failing, quality.max_label_quarantine_rate, "max_label_quarantine_rate", "labels", advice)
        if failing else None,
        metadata={
            "max_label_quarantine_rate": max(rates.values(), default=0.0),
            "label_quarantine_rates": dg.MetadataValue.json(rates),
            "failed_rules": dg.MetadataValue.json({k: lb.rule_counts for k, (_, lb) in outcomes.items() if lb.rule_counts}),
        },
    )


def _quality_checks(keys, raw_transactions: dict[str, pd.DataFrame], storage: ArtifactStore, quality: DataQualityPolicy):
    from fraudshield_pipeline.domain.quality import null_rate_verdict, null_rates, replayed_ids, volume_verdict

    from fraudshield_pipeline.domain.contracts import data_rows

    rates = {k: null_rates(data_rows(f), s.TRANSACTION_COLUMNS) for k, f in raw_transactions.items()}
    verdicts = {k: null_rate_verdict(r, quality.null_rate_limits) for k, r in rates.items()}
    yield dg.AssetCheckResult(
        check_name="null_rate",
        asset_key="validated_transactions",
        passed=all(v.passed for v in verdicts.values()),
        description=_failures(verdicts) or None,
        metadata={"failures": dg.MetadataValue.json({k: v.detail for k, v in verdicts.items() if not v.passed}),
                  "null_rates": dg.MetadataValue.json(rates)},
    )
    ids = {k: f[s.TRANSACTION_ID] for k, f in raw_transactions.items()}
    first = dt.date.fromisoformat(min(keys))
    stored = set(storage.partitions("raw_transactions"))
    # The stored days before the run, oldest first: read one at a time by the replay check.
    earlier = [d for d in ((first - dt.timedelta(days=b)).isoformat() for b in range(quality.id_horizon_days, 0, -1)) if d in stored]

    def stored_ids(day: str):
        return storage.read_table(table_key("raw_transactions", day), columns=[s.TRANSACTION_ID]).column(s.TRANSACTION_ID)

    # The volume's lookback days are read once, for their counts and for the replay check below.
    recent = {d: stored_ids(d) for d in earlier if d >= (first - dt.timedelta(days=quality.lookback_days)).isoformat()}
    counts = {k: len(v) for k, v in ids.items()} | {d: len(v) for d, v in recent.items()}
    volume_days = sorted(counts)
    volume = {
        k: volume_verdict(counts[k], [counts[p] for p in volume_days[max(0, i - quality.lookback_days) : i]], quality.volume_low,
                          quality.volume_high, exempt=k in quality.volume_exempt_days)
        for i, k in enumerate(volume_days) if k in keys
    }  # fmt: skip
    failed = _failures(volume)
    yield dg.AssetCheckResult(
        check_name="volume",
        asset_key="validated_transactions",
        passed=not failed,
        description=f"{failed}. A day you expect to be quiet or busy (a holiday, a known outage): add it to the quality "
        "policy's volume_exempt_days (FRAUDSHIELD_VOLUME_EXEMPT_DAYS) and materialize it again" if failed else None,
        metadata={"verdicts": dg.MetadataValue.json({k: v.detail for k, v in volume.items()})},
    )
    replayed = {k: r for k, r in replayed_ids(ids, ((d, recent[d] if d in recent else stored_ids(d)) for d in earlier)).items() if k in keys and r.count}
    described = "; ".join(
        f"{k}: {r.count} transaction ids already seen, the oldest on {r.first_seen} ({_days_between(r.first_seen, k)} days before)"
        for k, r in replayed.items()
    )
    yield dg.AssetCheckResult(
        check_name="unique_ids_across_partitions",
        asset_key="validated_transactions",
        passed=not replayed,
        description=f"{described}. Ids are the join key of labels and features: a replayed file, or a feed that recycles "
        f"its ids within {quality.id_horizon_days} days (the quality policy's id_horizon_days), would attach one "
        "transaction's label or history to another; make the ids unique (e.g. prefix the day) and materialize again"
        if replayed else None,
        metadata={"replayed_ids": dg.MetadataValue.json({k: r.count for k, r in replayed.items()}),
                  "first_seen": dg.MetadataValue.json({k: r.first_seen for k, r in replayed.items()}),
                  "days_compared": len(ids) + len(earlier), "id_horizon_days": quality.id_horizon_days},
    )  # fmt: skip


def _days_between(earlier: str, later: str) -> int:
    return (dt.date.fromisoformat(later) - dt.date.fromisoformat(earlier)).days
