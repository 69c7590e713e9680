"""The champion's real performance on a past day, once that day's labels have matured."""

import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import Field

from fraudshield_pipeline.defs.partitions import daily_partitions, day_start
from fraudshield_pipeline.resources.storage import ArtifactStore, table_key


class MaturityConfig(dg.Config):
    maturity_days: int = Field(default=7, ge=0, description="Days after a day ends before its labels count.")
    daily_alert_budget: int = Field(default=100, ge=1, description="Alerts analysts review per day.")


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="monitoring",
    kinds={"parquet"},
    ins={"batch_scores": dg.AssetIn()},
    deps=["validated_labels"],
)
def matured_performance(
    context: dg.AssetExecutionContext, config: MaturityConfig, batch_scores: pd.DataFrame, storage: ArtifactStore
) -> dg.MaterializeResult:
    """Average precision and recall at the alert budget of the champion's scores, on matured labels."""
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.metrics import evaluate_scores

    day = context.partition_key
    label_days = storage.partitions("validated_labels")
    as_of = day_start(label_days[-1]) + dt.timedelta(days=1) if label_days else None
    ready = day_start(day) + dt.timedelta(days=1 + config.maturity_days)
    if as_of is None or as_of < ready:
        raise dg.Failure(f"labels for {day} mature at {ready:%Y-%m-%d}; the newest label data ends {as_of}")
    if batch_scores.empty:
        return dg.MaterializeResult(metadata={"status": "no_scores"})
    labels = storage.read_table(table_key("validated_labels", day)).to_pandas()
    known = labels[(labels[s.REPORTED_AT] < as_of) & (labels[s.IS_FRAUD] == 1)][s.TRANSACTION_ID]
    scored = batch_scores.assign(
        score=batch_scores["champion_score"], **{s.IS_FRAUD: batch_scores[s.TRANSACTION_ID].isin(known).astype(int)}
    )
    metrics = evaluate_scores(scored, daily_budget=config.daily_alert_budget)
    return dg.MaterializeResult(
        metadata={
            "status": "matured",
            "champion_version": str(batch_scores["champion_version"].iloc[0]),
            "average_precision": metrics["average_precision"],
            "recall_at_budget": metrics["recall_at_budget"],
            "n_fraud": int(metrics["n_fraud"]),
            "rows": len(scored),
            "labels_as_of": as_of.isoformat(),
        }
    )
