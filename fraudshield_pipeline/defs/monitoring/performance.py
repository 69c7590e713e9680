"""The champion's real performance on a past day, once that day's labels have matured."""

import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import Field

from fraudshield_pipeline.defs.metadata import NO_TRANSACTIONS, measured
from fraudshield_pipeline.defs.partitions import daily_partitions, day_start
from fraudshield_pipeline.resources.policy import RetrainPolicy
from fraudshield_pipeline.resources.registry import ModelRegistry
from fraudshield_pipeline.resources.storage import ArtifactStore, table_key

# Label partitions used for the empirical report-delay curve: days ended at least this long before
# the measurement (so their reports are nearly all in), the newest CURVE_DAYS of them.
COMPLETE_AFTER_DAYS = 30
CURVE_DAYS = 28


class MaturityConfig(dg.Config):
    maturity_days: int = Field(default=7, ge=0, description="Days after a day ends before its labels count.")


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="monitoring",
    kinds={"parquet"},
    ins={"batch_scores": dg.AssetIn()},
    deps=["validated_labels"],
)
def matured_performance(
    context: dg.AssetExecutionContext,
    config: MaturityConfig,
    batch_scores: pd.DataFrame,
    storage: ArtifactStore,
    policy: RetrainPolicy,
    registry: ModelRegistry,
) -> dg.MaterializeResult:
    """Average precision and recall at the alert budget of the champion's scores, on the labels reported so far.

    Also records the share of the day's frauds expected to be reported by now (the empirical delay
    curve of older days) and the age at which the policy's minimum share is reached: recall on the
    frauds reported so far is unbiased when reporting does not depend on the score, and a day is
    compared with the champion's baseline days measured at the same age.
    """
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.label_history import frauds_as_of

    day = context.partition_key
    if batch_scores.empty and "champion_score" in batch_scores.columns:  # scored by a champion, but no transaction that day
        return dg.MaterializeResult(metadata={
            "status": NO_TRANSACTIONS, "rows": 0, "n_fraud": 0, "average_precision": None, "recall_at_budget": None,
        })  # fmt: skip
    label_days = storage.partitions("validated_labels")
    as_of = day_start(label_days[-1]) + dt.timedelta(days=1) if label_days else None
    ready = day_start(day) + dt.timedelta(days=1 + config.maturity_days)
    if as_of is None or as_of < ready:
        raise dg.Failure(f"labels for {day} mature at {ready:%Y-%m-%d}; the newest label data ends {as_of}")
    if batch_scores.empty:
        return dg.MaterializeResult(metadata={"status": "no_scores"})
    labels = storage.read_table(table_key("validated_labels", day)).to_pandas()
    known = frauds_as_of(labels, as_of)[s.TRANSACTION_ID]  # a chargeback reversed by then is genuine
    scored = batch_scores.assign(
        score=batch_scores["champion_score"], **{s.IS_FRAUD: batch_scores[s.TRANSACTION_ID].isin(known).astype(int)}
    )
    metrics = _measure(scored, scored["score"], policy.daily_alert_budget)
    reporting = _reporting(storage, label_days, day, as_of, policy.min_reported_share)
    champion_version = str(batch_scores["champion_version"].iloc[0])
    shadow = _previous_champion(storage, registry, champion_version, day, scored, policy.daily_alert_budget)
    return dg.MaterializeResult(
        metadata={
            "status": "matured",
            "champion_version": champion_version,
            "average_precision": measured(metrics["average_precision"]),
            "recall_at_budget": measured(metrics["recall_at_budget"]),
            "n_fraud": int(metrics["n_fraud"]),
            "rows": len(scored),
            "labels_as_of": as_of.isoformat(),
            **reporting,
            **shadow,
        }
    )


def _previous_champion(storage, registry, champion: str, day: str, scored: pd.DataFrame, budget: int) -> dict:
    """The previous champion's metrics on the same rows and labels: the shadow a rollback is judged by.

    The previous champion is the one the promotion records name before the day's champion (the
    records every promotion, refusal and rollback writes; the registry has no `previous` alias).
    """
    import json

    from fraudshield_pipeline.domain.governance import previous_champion
    from fraudshield_pipeline.domain.train import predict

    history = [json.loads(storage.read_text(key)) for key in storage.list_keys("reports/promotions/")]
    # A champion restored by a rollback is not on trial: it has no shadow to answer to.
    previous = previous_champion([r for r in history if r.get("action") != "rollback"], champion)
    if previous is None:
        return {}
    features = storage.read_table(table_key("transaction_features", day)).to_pandas()
    scores = pd.Series(predict(registry.load_booster(previous), features), index=features["transaction_id"])
    metrics = _measure(scored, scored["transaction_id"].map(scores), budget)
    return {
        "previous_version": previous,
        "previous_average_precision": measured(metrics["average_precision"]),
        "previous_recall_at_budget": measured(metrics["recall_at_budget"]),
    }


def _measure(scored: pd.DataFrame, scores: pd.Series, budget: int) -> dict:
    """One model's metrics on the day's rows and the labels reported so far: the champion and its
    shadow (the previous champion) are measured by this same function, on the same rows."""
    from fraudshield_pipeline.domain.metrics import evaluate_scores

    return evaluate_scores(scored.assign(score=scores.to_numpy()), daily_budget=budget)


def label_delays(storage: ArtifactStore, label_days: list[str], as_of: dt.datetime) -> list[float]:
    """Days from the end of each fraud's day to its report, over label days old enough to be complete."""
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.label_history import frauds_as_of

    complete = [d for d in label_days if day_start(d) + dt.timedelta(days=1 + COMPLETE_AFTER_DAYS) <= as_of]
    delays: list[float] = []
    for old in complete[-CURVE_DAYS:]:
        labels = storage.read_table(table_key("validated_labels", old), columns=[s.TRANSACTION_ID, s.IS_FRAUD, s.REPORTED_AT]).to_pandas()
        # One delay per fraud standing at as_of, from the report that made it one: a feed may confirm genuine
        # transactions too, and a chargeback the merchant won was no fraud (label_history).
        reported = frauds_as_of(labels, as_of)[s.REPORTED_AT]
        delays += list((reported - (day_start(old) + dt.timedelta(days=1))) / dt.timedelta(days=1))
    return delays


def _reporting(storage: ArtifactStore, label_days: list[str], day: str, as_of: dt.datetime, min_share: float) -> dict:
    """The share of `day`'s frauds expected to be reported by `as_of`, from older days' report delays."""
    from fraudshield_pipeline.domain.triggers import judging_age, reported_share

    age = (as_of - (day_start(day) + dt.timedelta(days=1))) / dt.timedelta(days=1)
    delays = label_delays(storage, label_days, as_of)
    if not delays:
        return {"label_age_days": round(age, 2)}
    return {
        "label_age_days": round(age, 2),
        "expected_reported_share": round(reported_share(delays, age), 4),
        "judging_age_days": judging_age(delays, min_share, COMPLETE_AFTER_DAYS),
        "delay_curve_frauds": len(delays),
    }
