"""Daily drift of the features and of the champion's scores against its own training data."""

import dagster as dg
import pandas as pd

from fraudshield_pipeline.defs.metadata import NO_TRANSACTIONS, bar, frame_table, measured, rounded
from fraudshield_pipeline.defs.partitions import daily_partitions
from fraudshield_pipeline.resources.policy import RetrainPolicy
from fraudshield_pipeline.resources.registry import CHAMPION, ModelRegistry
from fraudshield_pipeline.resources.storage import ArtifactStore, model_key, report_key, table_key

DRIFT_SHARE = 0.5
# MLflow experiment of the daily drift reports: one run per day, the Evidently HTML its artifact,
# so the MLflow UI serves the report wherever the tracking server runs (local or deployed).
MONITORING_EXPERIMENT = "fraudshield-monitoring"
DRIFT_HTML = "drift_report.html"
CHART_COLUMNS = 12


@dg.asset(
    partitions_def=daily_partitions,
    # One run per day, so every day's drift numbers are its own metadata for the sensors.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    group_name="monitoring",
    kinds={"evidently"},
    ins={"transaction_features": dg.AssetIn()},
    deps=["evaluation_report"],
)
def drift_report(
    context: dg.AssetExecutionContext,
    transaction_features: pd.DataFrame,
    registry: ModelRegistry,
    storage: ArtifactStore,
    policy: RetrainPolicy,
) -> dg.MaterializeResult:
    """Evidently drift of the day's features and champion scores against the champion's training data."""
    from fraudshield_pipeline.domain.drift import compute_drift
    from fraudshield_pipeline.domain.train import model_contract, predict

    champion = registry.version_for_alias(CHAMPION)
    if champion is None:
        context.log.warning("no champion yet: drift is measured against the champion's training data")
        return dg.MaterializeResult(metadata={"status": "no_champion", "champion_version": "none"})
    if transaction_features.empty:
        return no_transactions(context, champion.version)
    booster = registry.load_booster(champion.version)
    feature_names, categories, _ = model_contract(booster)
    reference = storage.read_table(model_key(champion.version, "drift_reference.parquet")).to_pandas()
    current = transaction_features.assign(score=predict(booster, transaction_features))
    numerical = [n for n in feature_names if n not in categories]
    calibration = _calibration(storage, champion.version, reference, numerical, list(categories), policy, booster)
    summary, html = compute_drift(
        reference, current, numerical=numerical, categorical=list(categories), drift_share=DRIFT_SHARE,
        calendar=policy.calendar_features,
    )
    report_uri = storage.write_text(report_key("drift", f"{context.partition_key}.html"), html)
    run_id = registry.log_report_run(
        experiment_name=MONITORING_EXPERIMENT,
        run_name=f"drift-{context.partition_key}",
        texts={DRIFT_HTML: html},
        metrics={"share_drifted": summary.share_drifted, "prediction_drift_score": _prediction_score(summary)},
        tags={"dagster_run_id": context.run.run_id, "partition": context.partition_key, "champion_version": champion.version},
    )
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.url(registry.run_url(run_id, artifact=DRIFT_HTML)),
            "status": "measured",
            "champion_version": champion.version,
            "share_drifted": rounded(summary.share_drifted),
            "n_drifted": summary.n_drifted,
            "n_features": summary.n_features,
            "dataset_drift": summary.dataset_drift,
            "prediction_drift_score": measured(_prediction_score(summary)),
            "prediction_drifted": bool(summary.prediction and summary.prediction.drifted),
            "prediction_drift_method": summary.prediction.method if summary.prediction else None,
            "drifted_columns": dg.MetadataValue.json(summary.drifted_columns),
            "drift_by_feature": drift_chart(summary),
            "new_categories": dg.MetadataValue.json({k: v for k, v in summary.new_categories.items() if v}),
            "max_null_rate": rounded(max(summary.null_rates.values(), default=0.0)),
            "unmeasured_columns": dg.MetadataValue.json(summary.unmeasured),
            "calendar_drifted_columns": dg.MetadataValue.json([c.column for c in summary.calendar if c.drifted]),
            **_calibrated(summary, calibration),
            "rows": len(current),
            "mlflow_run": dg.MetadataValue.url(registry.run_url(run_id)),
            "report_file": dg.MetadataValue.path(report_uri),
        }
    )


def no_transactions(context: dg.AssetExecutionContext, champion_version: str) -> dg.MaterializeResult:
    """A day without a transaction (a holiday, an outage, a header-only file) has no distribution to
    compare: Evidently refuses an empty column, and a drift figure of nothing would be read as evidence.
    The day is recorded as such, its figures null; the drift sensor skips it."""
    context.log.warning(f"{context.partition_key} holds no transactions: no drift to measure, the day is no evidence")
    return dg.MaterializeResult(metadata={
        "status": NO_TRANSACTIONS, "champion_version": champion_version, "rows": 0, "share_drifted": None,
        "prediction_drift_score": None, "dataset_drift": None,
    })  # fmt: skip


def _prediction_score(summary) -> float:
    return summary.prediction.score if summary.prediction else float("nan")


def drift_chart(summary) -> dg.MetadataValue:
    """The most drifted features (and the score) as a table whose bar column is a small chart:
    each score over its own threshold, so 1.0 (half the bar) is the line between stable and drifted."""
    columns = list(summary.columns) + ([summary.prediction] if summary.prediction else [])
    top = sorted(columns, key=lambda c: c.score / max(c.threshold, 1e-9), reverse=True)[:CHART_COLUMNS]
    rows = pd.DataFrame(
        {
            "feature": [c.column for c in top],
            "drift": [bar(c.score / max(c.threshold, 1e-9), 2.0) for c in top],
            "score_over_threshold": [c.score / max(c.threshold, 1e-9) for c in top],
            "score": [c.score for c in top],
            "threshold": [c.threshold for c in top],
            "method": [c.method for c in top],
            "drifted": [bool(c.drifted) for c in top],
        }
    )
    return frame_table(
        rows,
        descriptions={
            "drift": "bar: score / threshold, full bar = 2x the threshold, half = the threshold",
            "score_over_threshold": "drift score / threshold: >= 1 drifted (p-value tests, the default on references of at most 1000 rows, as 1 - p)",
            "score": "drift score in the method's unit (normed Wasserstein distance, Jensen-Shannon distance, or 1 - p-value)",
        },
    )


def _calibration(storage, version, reference, numerical, categorical, policy, booster):
    """The champion's drift calibration, computed once per champion and policy, then read back.

    Judged days: the stable days just before the champion's training window (kept feature
    partitions), each against the whole reference as a new day is; without enough of them, the
    last days of the reference against its earlier days. Days whose feature windows were still
    filling are left out (`calibration_days`).
    """
    import json

    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.drift import DriftCalibration, calibrate_against, calibrate_drift, calibration_days
    from fraudshield_pipeline.domain.features import lookback_days
    from fraudshield_pipeline.domain.train import predict

    settings = ["earlier-full-history-days", policy.drift_false_alarm_rate, policy.drift_calibration_days, sorted(policy.calendar_features)]
    key = model_key(version, "drift_calibration.json")
    if storage.exists(key):
        cached = json.loads(storage.read_text(key))
        if cached.get("settings") == settings:
            return DriftCalibration(**cached["calibration"]) if cached["calibration"] else None
    first = str(pd.to_datetime(reference[s.EVENT_TIMESTAMP]).min().date()) if s.EVENT_TIMESTAMP in reference else ""
    earlier = calibration_days(storage.partitions("transaction_features"), first, policy.drift_calibration_days, lookback_days())
    if first and len(earlier) == policy.drift_calibration_days:
        frames = {}
        for day in earlier:
            frame = storage.read_table(table_key("transaction_features", day)).to_pandas()
            frames[day] = frame.assign(score=predict(booster, frame))
        calibration = calibrate_against(
            reference, frames, numerical, categorical, policy.calendar_features, policy.drift_false_alarm_rate
        )
    else:
        calibration = calibrate_drift(
            reference, s.EVENT_TIMESTAMP, numerical, categorical, policy.calendar_features,
            policy.drift_false_alarm_rate, policy.drift_calibration_days,
        )
    payload = {"settings": settings, "calibration": calibration.to_dict() if calibration else None}
    storage.write_text(key, json.dumps(payload))
    return calibration


def _calibrated(summary, calibration) -> dict[str, object]:
    """The day's thresholds from the champion's own stable days, for the drift sensor to judge with."""
    from fraudshield_pipeline.domain.drift import beyond_calibration

    if calibration is None:
        return {"calibration": "none (reference spans too few days): the policy's fallback thresholds apply"}
    return {
        "calibrated_share_threshold": round(calibration.share_threshold, 4),
        "calibrated_prediction_threshold": measured(calibration.prediction_threshold, 4),
        "beyond_calibration_columns": dg.MetadataValue.json(beyond_calibration(summary, calibration)),
        "calibration_false_alarm_rate": round(calibration.achieved_rate, 4),
        "calibration_days": f"{calibration.days[0]}..{calibration.days[-1]}",
    }
