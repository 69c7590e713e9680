"""Champion vs challenger on the same time-forward holdout and rolling backtest, the gate, and the model card."""

import json
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from fraudshield_pipeline.defs.evaluation.history import (
    card_first_reports,
    evaluation_window,
    expected_performance,
    recorded_suggested_maturity,
    rolling_backtest,
)
from fraudshield_pipeline.defs.metadata import frame_table, image_markdown, rounded
from fraudshield_pipeline.resources.compute import TrainingCompute
from fraudshield_pipeline.resources.policy import RetrainPolicy
from fraudshield_pipeline.resources.registry import CHALLENGER, CHAMPION, ModelRegistry
from fraudshield_pipeline.resources.storage import ArtifactStore, model_key, report_key


class EvaluationConfig(dg.Config):
    top_k_cards: int = Field(default=100, ge=1, description="k of card precision@k.")
    absolute_floor: float = Field(default=0.30, description="Minimum average precision to become champion.")
    min_protocol_share: float = Field(
        default=0.25, ge=0, le=1, description="Share of the test rows the protocol set (known-compromised cards removed) keeps, "
        "below which the evaluation warns that the gate's figures rest on few rows (most cards already had a reported fraud).",
    )  # fmt: skip
    max_regression: float = Field(default=0.01, description="Allowed drop in average precision against the champion (backtest mean).")
    slice_collapse_ratio: float = Field(default=0.5, description="A key slice collapses below this share of the champion's.")
    min_slice_frauds: int = Field(default=20, ge=1, description="A slice or fraud scenario enters the gate only with this many frauds.")
    min_slice_genuine: int = Field(default=100, ge=1, description="... and an attribute slice only with this many genuine transactions.")
    backtest_weeks: int = Field(default=4, ge=1, description="Weeks of the rolling backtest (1 = the test week only).")
    backtest_replays_rounds: bool = Field(
        default=True,
        description="Each backtest week refits a model with the rounds and threshold it chose on its own window (one fit a week); "
        "off: every week chooses them again by early stopping (about twice the training time).",
    )
    max_worst_week_regression: float = Field(default=0.05, ge=0, description="No backtest week may fall further below the champion's recipe.")
    bootstrap_unit: Literal["card", "day"] = Field(default="card", description="What the bootstrap resamples (never rows).")
    bootstrap_draws: int = Field(default=500, ge=50, description="Bootstrap draws of the AP difference.")
    max_value_regression: float | None = Field(default=None, ge=0, description="Optional rule: allowed drop in the share of fraud value caught at the budget; off when unset.")


@dg.asset(group_name="evaluation", kinds={"mlflow"}, deps=["trained_model"], ins={"training_set": dg.AssetIn()})
def evaluation_report(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    training_set: pd.DataFrame,
    registry: ModelRegistry,
    storage: ArtifactStore,
    compute: TrainingCompute,
    policy: RetrainPolicy,
) -> dg.MaterializeResult:
    """Both test sets, the rolling backtest and the promotion gate; the challenger is promoted only through it.

    Also records what the challenger is expected to achieve on a monitored day (its recipe's
    backtest days measured at the monitoring's label ages): the performance trigger's baseline
    once it is champion.
    """
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.evaluate import WindowWithoutFraudError, inference_latency, prepare_holdout, require_frauds, score_model
    from fraudshield_pipeline.domain.governance import card_yaml, model_card
    from fraudshield_pipeline.domain.importance import importance_markdown, top_features
    from fraudshield_pipeline.domain.promotion import PromotionPolicy, decide_promotion
    from fraudshield_pipeline.domain.reports import curves_png, evaluation_markdown, metrics_table
    from fraudshield_pipeline.domain.training_set import SPLIT

    window = evaluation_window(context, training_set, storage)
    try:
        require_frauds(training_set, SPLIT, window, recorded_suggested_maturity(context))
    except WindowWithoutFraudError as error:
        raise dg.Failure(str(error)) from error
    challenger = registry.version_for_alias(CHALLENGER)
    if challenger is None:
        raise dg.Failure("no model version has the alias 'challenger': materialize trained_model first")
    champion = registry.version_for_alias(CHAMPION)
    if champion is not None and champion.version == challenger.version:
        champion = None  # re-evaluating the champion itself: nothing to compare against
    first_reports = card_first_reports(storage)
    if first_reports is None:
        context.log.warning("no labels/transactions partitions in storage: known-compromised cards cannot be removed by report date")
    holdout = prepare_holdout(training_set[training_set[SPLIT] == "test"])
    scoring = dict(daily_budget=policy.daily_alert_budget, k=config.top_k_cards, first_reports=first_reports,
                   min_slice_frauds=config.min_slice_frauds, min_slice_genuine=config.min_slice_genuine)
    challenger_booster = registry.load_booster(challenger.version)
    boosters = {"challenger": challenger_booster}
    scored = {f"challenger v{challenger.version}": score_model(challenger.version, challenger_booster, holdout, **scoring)}
    if champion:
        boosters["champion"] = registry.load_booster(champion.version)
        scored[f"champion v{champion.version}"] = score_model(champion.version, boosters["champion"], holdout, **scoring)
    cards = [m.scorecard for m in scored.values()]
    versions = {"challenger": challenger, **({"champion": champion} if champion else {})}
    backtest = rolling_backtest(context, config, window, versions, boosters, storage, compute, first_reports, training_set, policy.daily_alert_budget)
    expected = expected_performance(backtest, storage, window, policy)
    gate = PromotionPolicy(
        absolute_floor=config.absolute_floor, max_regression=config.max_regression, slice_collapse_ratio=config.slice_collapse_ratio,
        min_slice_support=config.min_slice_frauds, min_slice_genuine=config.min_slice_genuine,
        max_worst_week_regression=config.max_worst_week_regression, max_value_regression=config.max_value_regression,
    )
    decision = decide_promotion(cards[0], cards[1] if champion else None, gate, backtest if champion else None)
    champion_before = champion.version if champion else registry_champion(registry)
    context.log.info(f"promotion {'accepted' if decision.promote else 'refused'}: " + "; ".join(decision.reasons))

    latency = inference_latency(challenger_booster, holdout)
    test_metrics = {**cards[0].metrics, **latency}
    registry.log_run_metrics(challenger.run_id, {f"test_{k}": v for k, v in test_metrics.items()})
    table = metrics_table({name: m.scorecard.metrics for name, m in scored.items()}, k=config.top_k_cards)
    png = curves_png(holdout[s.IS_FRAUD].to_numpy(), {name: m.scores for name, m in scored.items()})
    kept_rows, kept_frauds = int(cards[0].metrics["n_transactions"]), int(cards[0].metrics["n_fraud"])
    protocol_share = kept_rows / max(len(holdout), 1)
    shown = {
        "test_start": window["test_start"], "test_end": window["test_end"], "labels_known_as_of": window.get("as_of", "?"),
        "rows (all test transactions)": f"{len(holdout)} ({int(holdout[s.IS_FRAUD].sum())} frauds)",
        "rows (known-compromised cards removed)": f"{kept_rows} ({protocol_share:.1%} of the test rows; {kept_frauds} frauds)",
    }
    if protocol_share < config.min_protocol_share:
        context.log.warning(
            f"the protocol test set (known-compromised cards removed) keeps only {protocol_share:.1%} of the test rows and "
            f"{kept_frauds} frauds: most test cards already had a reported fraud. The gate's figures rest on few rows; read "
            "them beside the all-transactions figures"
        )
    policy_record = gate_policy_record(gate, context.run.tags)
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
        "backtest": backtest.to_dict() if backtest else None,
        **policy_record,
    }
    run = registry.client().get_run(challenger.run_id)
    card_md, card = model_card(
        model_name=registry.model_name, version=challenger.version, run_id=challenger.run_id, tags=challenger.tags,
        params=run.data.params, validation_metrics={k: v for k, v in run.data.metrics.items() if k.startswith("validation_")},
        test_metrics=test_metrics, slices=cards[0].slices.to_dict("records"), decision=decision.to_dict(), test_window=shown,
        scenarios=cards[0].scenarios.to_dict("records"), backtest=backtest.to_dict() if backtest else None,
    )
    report_md = evaluation_markdown(
        f"Evaluation of model v{challenger.version}", table, decision.to_dict(), cards[0].slices, shown,
        scenarios=cards[0].scenarios, backtest=backtest,
    )
    card["top_features"] = top_features(challenger_booster)
    card_md += importance_markdown(card["top_features"])
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
            "protocol_set_share": rounded(protocol_share),
            "decision": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
            "policy": dg.MetadataValue.json(policy_record),
            "metrics": frame_table(table, descriptions=METRIC_UNITS),
            "slices": frame_table(cards[0].slices),
            "fraud_scenarios": frame_table(cards[0].scenarios),
            **({"backtest_weeks": frame_table(backtest.weeks)} if backtest is not None and len(backtest.weeks) else {}),
            **({"backtest_mean_delta": round(backtest.mean_delta(), 4)} if backtest is not None and backtest.compared_weeks() else {}),
            **({"backtest_folds": dg.MetadataValue.json(backtest.fits)} if backtest is not None and backtest.fits else {}),
            **expected_metadata(expected, window["test_start"], policy),
            "curves": image_markdown(
                registry.artifact_file_url(challenger.run_id, "evaluation/curves.png"),
                "precision-recall, ROC and score distributions",
                registry.run_url(challenger.run_id, artifact="evaluation/curves.png"),
            ),
            "report": dg.MetadataValue.url(registry.run_url(challenger.run_id, artifact="evaluation/report.md")),
            "model_card_url": dg.MetadataValue.url(registry.run_url(challenger.run_id, artifact="model_card/model_card.md")),
            "model_card": dg.MetadataValue.md(card_md),
            "report_file": dg.MetadataValue.path(report_uri),
            **{f"test_{k}": rounded(float(v)) for k, v in test_metrics.items() if k.removeprefix("all_") in _HEADLINE or k.startswith("latency")},
            "mlflow_run": dg.MetadataValue.url(registry.run_url(challenger.run_id)),
            "model_version_url": dg.MetadataValue.url(registry.version_url(challenger.version)),
            "mlflow_run_id": challenger.run_id,
        }
    )


# Units shown in the metrics table's column tooltips: every metric is a fraction (0-1) except value and latency.
METRIC_UNITS = {"metric": "fractions 0-1 (average precision, AUC, precision@k, recall, F1, Brier score); fraud_value_* in the feed's currency; latency in ms"}

_HEADLINE = (
    "average_precision", "roc_auc", "card_precision_at_100", "recall_at_budget", "precision", "recall", "f1", "brier",
    "fraud_value_caught_share", "fraud_value_caught", "fraud_value_missed",
)


def expected_metadata(expected: dict[str, list[dict]], test_start: str, policy) -> dict[str, object]:
    """The expectation as the performance sensor reads it (JSON, with the champion's test start, from
    which a monitored day's model age counts) and as a person reads it (a table per label age)."""
    from fraudshield_pipeline.domain.expected_performance import expectation, from_records

    if not expected:
        return {"expected_performance_status": "none: no backtest fold could be scored on a week as far after its own as the champion's "
                "first monitored day is after its test week (more backtest weeks of history needed); the performance trigger "
                "judges the champion against its first measured days"}
    rows = []
    for age, records in expected.items():
        baseline = expectation(from_records(records), policy.performance_baseline_days, policy.min_sd_fraction)
        if baseline is None:
            continue
        for name, mean, sd, slope in (
            ("average_precision", baseline.average_precision, baseline.average_precision_sd, baseline.average_precision_per_day),
            ("recall_at_budget", baseline.recall_at_budget, baseline.recall_at_budget_sd, baseline.recall_at_budget_per_day),
        ):
            rows.append({
                "label_age_days": int(age), "metric": name, "days": len(records),
                "model_age_days": "-" if baseline.age_range_days is None else "{:.0f}-{:.0f} (mean {:.0f})".format(*baseline.age_range_days, baseline.reference_age_days),
                "mean": round(mean, 4), "sd": round(sd, 4), "per_week_of_age": round(7 * slope, 4),
            })  # fmt: skip
    return {
        "expected_performance": dg.MetadataValue.json(expected),
        "expected_performance_model_test_start": str(test_start),
        **({"expected_performance_summary": frame_table(pd.DataFrame(rows))} if rows else {}),
    }


def gate_policy_record(policy, run_tags) -> dict[str, object]:
    """Which policy made this decision: the gate's own values, and the retraining policy that
    requested the run (a sensor's retrain request carries it as a run tag), when one did."""
    import dataclasses

    from fraudshield_pipeline.resources.policy import POLICY_TAG

    requested = run_tags.get(POLICY_TAG)
    return {"gate_policy": dataclasses.asdict(policy), **({"retrain_policy": json.loads(requested)} if requested else {})}


def registry_champion(registry: ModelRegistry) -> str | None:
    current = registry.version_for_alias(CHAMPION)
    return current.version if current else None
