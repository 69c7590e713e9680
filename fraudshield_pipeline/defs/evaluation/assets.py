"""Champion vs challenger on the same time-forward holdout, and the promotion gate."""


import datetime as dt
import json

import dagster as dg
import pandas as pd
from pydantic import Field

from fraudshield_pipeline.defs.metadata import markdown_table
from fraudshield_pipeline.resources.registry import CHALLENGER, CHAMPION, ModelRegistry
from fraudshield_pipeline.resources.storage import ArtifactStore, report_key


class EvaluationConfig(dg.Config):
    daily_alert_budget: int = Field(default=100, ge=1, description="Alerts analysts can review per day.")
    top_k_cards: int = Field(default=100, ge=1, description="k of card precision@k.")
    absolute_floor: float = Field(default=0.30, description="Minimum average precision to become champion.")
    max_regression: float = Field(default=0.01, description="Allowed drop in average precision against the champion.")


@dg.asset(group_name="evaluation", kinds={"mlflow"}, deps=["trained_model"], ins={"training_set": dg.AssetIn()})
def evaluation_report(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    training_set: pd.DataFrame,
    registry: ModelRegistry,
    storage: ArtifactStore,
) -> dg.MaterializeResult:
    """Scores challenger and champion on the test window; promotes the challenger only through the gate."""
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.metrics import AMOUNT_BAND, amount_band, evaluate_scores, slice_metrics
    from fraudshield_pipeline.domain.promotion import PromotionPolicy, Scorecard, decide_promotion
    from fraudshield_pipeline.domain.reports import curves_png, evaluation_markdown, metrics_table, png_markdown
    from fraudshield_pipeline.domain.train import model_contract, predict
    from fraudshield_pipeline.domain.training_set import SPLIT

    challenger = registry.version_for_alias(CHALLENGER)
    if challenger is None:
        raise dg.Failure("no model version has the alias 'challenger': materialize trained_model first")
    champion = registry.version_for_alias(CHAMPION)
    test = training_set[training_set[SPLIT] == "test"].copy()
    test[AMOUNT_BAND] = amount_band(test[s.AMOUNT])
    test["customer_history"] = test["customer_tx_count_30d"].map(lambda n: "new" if n == 0 else "known")
    slice_columns = [c for c in (s.MERCHANT_CATEGORY, AMOUNT_BAND, s.CHANNEL, "customer_history", s.FRAUD_SCENARIO) if c in test]

    def scorecard(version: str) -> tuple[Scorecard, pd.Series]:
        booster = registry.load_booster(version)
        scored = test.assign(score=predict(booster, test))
        threshold = model_contract(booster)[2]
        metrics = evaluate_scores(scored, threshold=threshold, daily_budget=config.daily_alert_budget, k=config.top_k_cards)
        return Scorecard(version, metrics, slice_metrics(scored, slice_columns, threshold=threshold)), scored["score"]

    challenger_card, challenger_scores = scorecard(challenger.version)
    champion_card, champion_scores = scorecard(champion.version) if champion and champion.version != challenger.version else (None, None)
    policy = PromotionPolicy(absolute_floor=config.absolute_floor, max_regression=config.max_regression)
    decision = decide_promotion(challenger_card, champion_card, policy)
    if decision.promote:
        registry.set_alias(CHAMPION, challenger.version)  # a single registry write: atomic
    context.log.info(f"promotion {'accepted' if decision.promote else 'refused'}: " + "; ".join(decision.reasons))

    registry.log_run_metrics(challenger.run_id, {f"test_{k}": v for k, v in challenger_card.metrics.items()})
    names = {f"challenger v{challenger.version}": challenger_card.metrics}
    scores = {f"challenger v{challenger.version}": challenger_scores.to_numpy()}
    if champion_card is not None:
        names[f"champion v{champion.version}"] = champion_card.metrics
        scores[f"champion v{champion.version}"] = champion_scores.to_numpy()
    table = metrics_table(names)
    png = curves_png(test[s.IS_FRAUD].to_numpy(), scores)
    window = {"test_start": str(test[s.EVENT_TIMESTAMP].min()), "test_end": str(test[s.EVENT_TIMESTAMP].max()), "rows": str(len(test))}
    markdown = evaluation_markdown(f"Evaluation of model v{challenger.version}", table, decision.to_dict(), challenger_card.slices, window)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    record = {
        "decided_at": stamp,
        "model_name": registry.model_name,
        "challenger_version": challenger.version,
        "champion_version_before": champion.version if champion else None,
        "champion_version_after": challenger.version if decision.promote else (champion.version if champion else None),
        "dagster_run_id": context.run.run_id,
        **decision.to_dict(),
        "challenger_metrics": challenger_card.metrics,
        "champion_metrics": champion_card.metrics if champion_card else None,
    }
    report_uri = storage.write_text(report_key("evaluation", f"v{challenger.version}.md"), markdown)
    storage.write_text(report_key("promotions", f"{stamp}_v{challenger.version}.json"), json.dumps(record, indent=2, default=str))
    registry.log_run_artifact_text(challenger.run_id, markdown, "evaluation/report.md")
    registry.set_version_tags(challenger.version, {"promotion": "promoted" if decision.promote else "refused", "evaluated_by_run": context.run.run_id})
    headline = challenger_card.metrics
    return dg.MaterializeResult(
        metadata={
            "challenger_version": challenger.version,
            "champion_version": record["champion_version_after"] or "none",
            "promoted": decision.promote,
            "decision": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
            "metrics": markdown_table(table.reset_index(names="metric")),
            "curves": dg.MetadataValue.md(png_markdown(png, "precision-recall, ROC and score distributions")),
            "report": dg.MetadataValue.path(report_uri),
            "test_average_precision": headline["average_precision"],
            "test_roc_auc": headline["roc_auc"],
            "test_card_precision_at_100": headline.get(f"card_precision_at_{config.top_k_cards}", float("nan")),
            "test_recall_at_budget": headline["recall_at_budget"],
            "mlflow_run_id": challenger.run_id,
        }
    )
