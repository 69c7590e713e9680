"""Batch scoring: each day scored by the champion, and by the challenger in shadow."""

import dagster as dg
import pandas as pd
from pydantic import Field

from fraudshield_pipeline.defs.metadata import NO_TRANSACTIONS, measured
from fraudshield_pipeline.defs.partitions import daily_partitions
from fraudshield_pipeline.resources.policy import RetrainPolicy
from fraudshield_pipeline.resources.registry import CHALLENGER, CHAMPION, ModelRegistry

SCORE_COLUMNS = ["transaction_id", "customer_id", "merchant_id", "event_timestamp"]


class AlertCapacityConfig(dg.Config):
    max_budget_multiple: float = Field(
        default=3.0, gt=0, description="Alerts a day beyond this multiple of the budget fail the (warning) alert_volume check: "
        "a threshold chosen on few frauds, or a shifted score distribution, floods the analysts.",
    )  # fmt: skip


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="monitoring",
    kinds={"xgboost", "parquet"},
    ins={"transaction_features": dg.AssetIn()},
    deps=["evaluation_report"],
    check_specs=[dg.AssetCheckSpec("alert_volume", asset="batch_scores", description="The champion's alerts of the day "
                                   "within the analysts' capacity (a multiple of the daily alert budget).")],
)
def batch_scores(
    context: dg.AssetExecutionContext,
    config: AlertCapacityConfig,
    transaction_features: pd.DataFrame,
    registry: ModelRegistry,
    policy: RetrainPolicy,
):
    """Fraud scores and alerts from the champion, with reason codes per alert; the challenger scores in shadow."""
    from fraudshield_pipeline.domain.reasons import alert_reasons
    from fraudshield_pipeline.domain.train import model_contract, predict

    champion = registry.version_for_alias(CHAMPION)
    scores = transaction_features[SCORE_COLUMNS].copy()
    if champion is None:
        context.log.warning("no champion yet: nothing to score with")
        yield dg.Output(scores.iloc[0:0], metadata={"status": "no_champion"})
        yield dg.AssetCheckResult(check_name="alert_volume", passed=True, description="no champion: no alerts")
        return
    booster = registry.load_booster(champion.version)
    scores["champion_version"] = champion.version
    scores["champion_score"] = predict(booster, transaction_features)
    scores["champion_alert"] = scores["champion_score"] >= model_contract(booster)[2]
    scores["champion_reasons"] = alert_reasons(booster, transaction_features, scores["champion_alert"].to_numpy())
    # A day without a transaction is scored (an empty table with the columns) and says so: its rates are null, never NaN.
    status = "scored" if len(scores) else NO_TRANSACTIONS
    metadata = {"status": status, "champion_version": champion.version, "rows": len(scores), "alert_rate": measured(scores["champion_alert"].mean())}
    challenger = registry.version_for_alias(CHALLENGER)
    if challenger is not None and challenger.version != champion.version:
        shadow = registry.load_booster(challenger.version)
        scores["challenger_version"] = challenger.version
        scores["challenger_score"] = predict(shadow, transaction_features)
        shadow_alert = scores["challenger_score"] >= model_contract(shadow)[2]
        metadata |= {
            "challenger_version": challenger.version,
            "shadow_alert_rate": measured(shadow_alert.mean()),
            "shadow_alert_agreement": measured((shadow_alert == scores["champion_alert"]).mean()),
        }
    metadata["mean_champion_score"] = measured(scores["champion_score"].mean()) if len(scores) else None
    yield dg.Output(scores, metadata=metadata)
    budget = policy.daily_alert_budget
    alerts, capacity = int(scores["champion_alert"].sum()), budget * config.max_budget_multiple
    yield dg.AssetCheckResult(
        check_name="alert_volume", passed=alerts <= capacity, severity=dg.AssetCheckSeverity.WARN,
        description=f"{alerts} alerts against a budget of {budget} a day (at most {capacity:.0f} before this warns)"
        + ("" if alerts <= capacity else ": the champion's threshold floods the analysts; review the threshold or the budget"),
        metadata={"alerts": alerts, "daily_alert_budget": budget},
    )  # fmt: skip
