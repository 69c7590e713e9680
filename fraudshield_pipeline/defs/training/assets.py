"""The time-forward training set and the XGBoost model trained on it (tracked in MLflow)."""


import datetime as dt
import json
import os

import dagster as dg
import pandas as pd
from pydantic import Field

from fraudshield_pipeline.defs.metadata import frame_table, rounded, table_schema, top_features_table
from fraudshield_pipeline.defs.partitions import day_start
from fraudshield_pipeline.resources.compute import TrainingCompute, training_op_tags
from fraudshield_pipeline.resources.registry import CHALLENGER, ModelRegistry
from fraudshield_pipeline.resources.storage import ArtifactStore, model_key, table_key

REFERENCE_ROWS = 20_000


class TrainingWindowConfig(dg.Config):
    """The time-based split; defaults suit the embedded simulator."""

    train_days: int = Field(default=14, ge=1)
    gap_days: int = Field(default=7, ge=0, description="As long as the label delay: labels not yet in at training time.")
    test_days: int = Field(default=7, ge=1)
    maturity_days: int = Field(default=7, ge=0, description="Test labels must be this old to count.")
    validation_fraction: float = Field(default=0.2, gt=0, lt=1, description="Last part of the train window where rounds and threshold are chosen; the model is then refitted on the whole window.")
    as_of: str | None = Field(default=None, description="ISO date the window ends; default: end of the newest feature partition.")


@dg.asset(group_name="training", kinds={"duckdb", "parquet"}, deps=["transaction_features", "validated_labels"])
def training_set(context: dg.AssetExecutionContext, config: TrainingWindowConfig, storage: ArtifactStore) -> dg.Output[pd.DataFrame]:
    """Feature rows of the train and test windows, labelled with what was known at the window's end."""
    from fraudshield_pipeline.domain.features import lookback_days
    from fraudshield_pipeline.domain.training_set import SPLIT, build_training_set, plan_window, split_summary
    from fraudshield_pipeline.domain.versioning import combine_hashes, content_hash

    materialized = storage.partitions("transaction_features")
    if not materialized:
        raise dg.Failure("transaction_features has no materialized partitions: materialize the features first")
    as_of = day_start(config.as_of) if config.as_of else day_start(materialized[-1]) + dt.timedelta(days=1)
    window = plan_window(as_of, config.train_days, config.gap_days, config.test_days, config.maturity_days, config.validation_fraction)
    days = [d.isoformat() for d in window.days()]
    # Features of a day are complete only once the lookback before it has been ingested.
    history_complete = dt.date.fromisoformat(materialized[0]) + dt.timedelta(days=lookback_days()) <= window.train_start.date()
    if not history_complete:
        context.log.warning(
            f"the training window starts {window.train_start:%Y-%m-%d}, within {lookback_days()} days of the first "
            f"feature partition {materialized[0]}: window features are incomplete there; ingest more history"
        )
    features = storage.read_tables([table_key("transaction_features", d) for d in days])  # Arrow: no pandas copy
    labels_days = [d for d in storage.partitions("validated_labels") if days[0] <= d < as_of.date().isoformat()]
    labels = storage.read_tables([table_key("validated_labels", d) for d in labels_days])
    frame = build_training_set(features, labels, window)
    summary = split_summary(frame)
    context.log.info(f"training set as of {as_of:%Y-%m-%d}:\n{summary}")
    if frame[SPLIT].eq("test").sum() == 0 or frame[SPLIT].eq("train").sum() == 0:
        raise dg.Failure(f"the window {window.to_metadata()} has no train or no test rows: materialize more days")
    return dg.Output(
        frame,
        data_version=dg.DataVersion(combine_hashes([content_hash(frame)])),
        metadata={
            "window": dg.MetadataValue.json(window.to_metadata()),
            "splits": frame_table(summary),
            "feature_partitions": dg.MetadataValue.json([days[0], days[-1]]),
            "feature_history_complete": history_complete,
            "content_hash": content_hash(frame),
            "dagster/column_schema": table_schema(frame),
        },
    )


@dg.asset(
    group_name="training",
    kinds={"xgboost", "mlflow"},
    ins={"training_set": dg.AssetIn()},
    op_tags=training_op_tags(os.environ.get("FRAUDSHIELD_TRAINING_DEVICE", "cpu")),
)
def trained_model(
    context: dg.AssetExecutionContext,
    training_set: pd.DataFrame,
    compute: TrainingCompute,
    registry: ModelRegistry,
    storage: ArtifactStore,
) -> dg.MaterializeResult:
    """XGBoost fitted on the whole train window (rounds and threshold chosen on its last part); the challenger."""
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.features import model_feature_names
    from fraudshield_pipeline.domain.provenance import code_version, lockfile_hash
    from fraudshield_pipeline.domain.train import fit_on_window, model_matrix, predict
    from fraudshield_pipeline.domain.training_set import SPLIT, TEST, VALIDATION
    from fraudshield_pipeline.domain.versioning import content_hash

    train = training_set[training_set[SPLIT] != TEST]  # the whole train window: fit part + validation part
    validation = train[train[SPLIT] == VALIDATION]
    feature_names = model_feature_names(training_set.columns)
    # The training set's own plan places the cutoff (TrainingWindowConfig.validation_fraction).
    cutoff = validation[s.EVENT_TIMESTAMP].min() if len(validation) else None
    try:
        model = fit_on_window(train, feature_names, compute.xgboost_params(), validation_start=cutoff)
    except ValueError as error:
        raise dg.Failure(str(error)) from error
    if not model.device.startswith(compute.device):
        context.log.warning(
            f"training asked for device={compute.device} but XGBoost ran on {model.device}: no GPU was visible "
            "on this node (check the GPU capacity provider / node placement of the training step)"
        )
    metrics = model.validation_metrics
    data_version = content_hash(training_set)
    window = {
        "train_start": str(train[s.EVENT_TIMESTAMP].min()),
        "train_end": str(train[s.EVENT_TIMESTAMP].max()),
    }
    registered = registry.log_training(
        run_name=f"train-{context.run.run_id[:8]}",
        booster=model.booster,
        example=model_matrix(validation.head(50), feature_names, model.categories),
        params={
            **model.params,
            "best_iteration": model.best_iteration,
            "rounds": model.rounds,
            "threshold": model.threshold,
            "validation_cutoff": model.validation["cutoff"],
            "features": feature_names,
        },
        metrics={f"validation_{k}": v for k, v in metrics.items() if v == v},
        tags={
            "dagster_run_id": context.run.run_id,
            "training_set_version": data_version,
            "code_version": code_version(),
            "lockfile_sha256": lockfile_hash(),
            "training_device": model.device,
            "recipe": json.dumps(model.recipe, sort_keys=True),
            **window,
        },
        inputs={
            "training": (train, storage.uri(table_key("training_set")), data_version),
            "validation": (validation, storage.uri(table_key("training_set")), data_version),
        },
    )
    # The champion's own training data is the drift reference; keep a sample beside the version.
    reference = train.sample(min(REFERENCE_ROWS, len(train)), random_state=7)
    reference = reference.assign(score=predict(model.booster, reference))
    storage.write_frame(model_key(registered.version, "drift_reference.parquet"), reference)
    # The alias is the pointer readers follow: moved last, once everything it points to exists.
    registry.set_alias(CHALLENGER, registered.version)
    return dg.MaterializeResult(
        metadata={
            "model_name": registered.name,
            "model_version": registered.version,
            "mlflow_run_id": registered.run_id,
            "mlflow_run": dg.MetadataValue.url(registry.run_url(registered.run_id)),
            "model_version_url": dg.MetadataValue.url(registry.version_url(registered.version)),
            "top_features": top_features_table(model.booster),
            "model_uri": registered.model_uri,
            "training_set_version": data_version,
            "best_iteration": model.best_iteration,
            "rounds": model.rounds,
            "threshold": rounded(model.threshold),
            "validation_split": dg.MetadataValue.json(model.validation),
            "device": model.device,
            "requested_device": compute.device,
            "validation_average_precision": rounded(metrics["average_precision"]),
            "validation_roc_auc": rounded(metrics["roc_auc"]),
            "train_rows": len(train),
            "trained_until": train[s.EVENT_TIMESTAMP].max().date().isoformat(),
            "train_fraud": int(train[s.IS_FRAUD].sum()),
        }
    )

