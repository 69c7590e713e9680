"""Champion vs challenger on the same time-forward holdout, the promotion gate, and the model card."""

import json

import dagster as dg
import pandas as pd
from pydantic import Field

from fraudshield_pipeline.defs.metadata import frame_table, image_markdown, rounded
from fraudshield_pipeline.resources.registry import CHALLENGER, CHAMPION, ModelRegistry
from fraudshield_pipeline.resources.storage import ArtifactStore, model_key, report_key


class EvaluationConfig(dg.Config):
    daily_alert_budget: int = Field(default=100, ge=1, description="Alerts analysts can review per day.")
    top_k_cards: int = Field(default=100, ge=1, description="k of card precision@k.")
    absolute_floor: float = Field(default=0.30, description="Minimum average precision to become champion.")
    max_regression: float = Field(default=0.01, description="Allowed drop in average precision against the champion.")
    slice_collapse_ratio: float = Field(default=0.5, description="A key slice collapses below this share of the champion's.")


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
    from fraudshield_pipeline.domain.evaluate import inference_latency, prepare_holdout, score_model
    from fraudshield_pipeline.domain.governance import card_yaml, model_card
    from fraudshield_pipeline.domain.promotion import PromotionPolicy, decide_promotion
    from fraudshield_pipeline.domain.reports import curves_png, evaluation_markdown, metrics_table
    from fraudshield_pipeline.domain.training_set import SPLIT

    challenger = registry.version_for_alias(CHALLENGER)
    if challenger is None:
        raise dg.Failure("no model version has the alias 'challenger': materialize trained_model first")
    champion = registry.version_for_alias(CHAMPION)
    if champion is not None and champion.version == challenger.version:
        champion = None  # re-evaluating the champion itself: nothing to compare against
    holdout = prepare_holdout(training_set[training_set[SPLIT] == "test"])
    challenger_booster = registry.load_booster(challenger.version)
    scored = {
        f"challenger v{challenger.version}": score_model(challenger.version, challenger_booster, holdout, config.daily_alert_budget, config.top_k_cards)
    }
    if champion:
        scored[f"champion v{champion.version}"] = score_model(
            champion.version, registry.load_booster(champion.version), holdout, config.daily_alert_budget, config.top_k_cards
        )
    cards = [m.scorecard for m in scored.values()]
    policy = PromotionPolicy(
        absolute_floor=config.absolute_floor, max_regression=config.max_regression, slice_collapse_ratio=config.slice_collapse_ratio
    )
    decision = decide_promotion(cards[0], cards[1] if champion else None, policy)
    champion_before = champion.version if champion else registry_champion(registry)
    context.log.info(f"promotion {'accepted' if decision.promote else 'refused'}: " + "; ".join(decision.reasons))

    latency = inference_latency(challenger_booster, holdout)
    test_metrics = {**cards[0].metrics, **latency}
    registry.log_run_metrics(challenger.run_id, {f"test_{k}": v for k, v in test_metrics.items()})
    table = metrics_table({name: m.scorecard.metrics for name, m in scored.items()})
    png = curves_png(holdout[s.IS_FRAUD].to_numpy(), {name: m.scores for name, m in scored.items()})
    window = {"test_start": str(holdout[s.EVENT_TIMESTAMP].min()), "test_end": str(holdout[s.EVENT_TIMESTAMP].max()), "rows": str(len(holdout))}
    record = {
        "decided_at": pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%fZ"),
        "action": "promotion" if decision.promote else "refusal",
        "model_name": registry.model_name,
        "challenger_version": challenger.version,
        "champion_version_before": champion_before,
        "champion_version_after": challenger.version if decision.promote else champion_before,
        "dagster_run_id": context.run.run_id,
        **decision.to_dict(),
        "challenger_metrics": cards[0].metrics,
        "champion_metrics": cards[1].metrics if champion else None,
    }
    run = registry.client().get_run(challenger.run_id)
    card_md, card = model_card(
        model_name=registry.model_name, version=challenger.version, run_id=challenger.run_id, tags=challenger.tags,
        params=run.data.params, validation_metrics={k: v for k, v in run.data.metrics.items() if k.startswith("validation_")},
        test_metrics=test_metrics, slices=cards[0].slices.to_dict("records"), decision=decision.to_dict(), test_window=window,
    )
    from fraudshield_pipeline.domain.importance import importance_markdown, top_features

    card["top_features"] = top_features(challenger_booster)
    card_md += importance_markdown(card["top_features"])
    report_md = evaluation_markdown(f"Evaluation of model v{challenger.version}", table, decision.to_dict(), cards[0].slices, window)
    report_uri = storage.write_text(report_key("evaluation", f"v{challenger.version}.md"), report_md)
    storage.write_text(report_key("promotions", f"{record['decided_at']}_v{challenger.version}.json"), json.dumps(record, indent=2, default=str))
    card_uri = storage.write_text(model_key(challenger.version, "model_card.md"), card_md)
    storage.write_text(model_key(challenger.version, "model_card.yaml"), card_yaml(card))
    registry.log_run_artifact_bytes(challenger.run_id, png, "evaluation/curves.png")
    for name, text in (("evaluation/report.md", report_md), ("model_card/model_card.md", card_md), ("model_card/model_card.yaml", card_yaml(card))):
        registry.log_run_artifact_text(challenger.run_id, text, name)
    registry.set_version_tags(
        challenger.version,
        {"promotion": record["action"], "evaluated_by_run": context.run.run_id, "model_card": card_uri, "test_average_precision": f"{cards[0].metrics['average_precision']:.4f}"},
    )
    if decision.promote:
        # The commit point, last: one registry write after the record, card and tags exist, so a
        # crash anywhere before leaves the old champion serving and a re-run decides again.
        registry.set_alias(CHAMPION, challenger.version)
    return dg.MaterializeResult(
        metadata={
            "challenger_version": challenger.version,
            "champion_version": record["champion_version_after"] or "none",
            "promoted": decision.promote,
            "decision": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
            "metrics": frame_table(table.rename_axis("metric"), descriptions=METRIC_UNITS),
            "slices": frame_table(cards[0].slices),
            "curves": image_markdown(
                registry.artifact_file_url(challenger.run_id, "evaluation/curves.png"),
                "precision-recall, ROC and score distributions",
                registry.run_url(challenger.run_id, artifact="evaluation/curves.png"),
            ),
            "report": dg.MetadataValue.url(registry.run_url(challenger.run_id, artifact="evaluation/report.md")),
            "model_card_url": dg.MetadataValue.url(registry.run_url(challenger.run_id, artifact="model_card/model_card.md")),
            "model_card": dg.MetadataValue.md(card_md),
            "report_file": dg.MetadataValue.path(report_uri),
            **{f"test_{k}": rounded(float(v)) for k, v in test_metrics.items() if k in _HEADLINE or k.startswith("latency")},
            "mlflow_run": dg.MetadataValue.url(registry.run_url(challenger.run_id)),
            "model_version_url": dg.MetadataValue.url(registry.version_url(challenger.version)),
            "mlflow_run_id": challenger.run_id,
        }
    )


# Units shown in the metrics table's column tooltips: every metric is a fraction (0-1) except latency.
METRIC_UNITS = {"metric": "fractions 0-1 (average precision, AUC, precision@k, recall, F1, Brier score); latency in ms"}

_HEADLINE = ("average_precision", "roc_auc", "card_precision_at_100", "recall_at_budget", "precision", "recall", "f1", "brier")


def registry_champion(registry: ModelRegistry) -> str | None:
    current = registry.version_for_alias(CHAMPION)
    return current.version if current else None
