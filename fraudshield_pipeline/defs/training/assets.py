"""The time-forward training set and the XGBoost model trained on it (tracked in MLflow)."""


import datetime as dt
import json
import os
from collections import Counter

import dagster as dg
import pandas as pd
from pydantic import Field

from fraudshield_pipeline.defs.metadata import frame_table, rounded, table_schema, top_features_table
from fraudshield_pipeline.defs.partitions import day_start
from fraudshield_pipeline.resources.compute import TrainingCompute, training_op_tags
from fraudshield_pipeline.resources.quality_policy import DataQualityPolicy
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
    min_test_reported_share: float = Field(
        default=0.9, gt=0, le=1,
        description="Share of the test window's frauds expected reported by as_of (the portfolio's own report delays) "
        "below which the test_labels_mature check warns that the test metrics undercount fraud.",
    )
    min_validation_frauds: int = Field(
        default=20, ge=1, description="Reported frauds in the validation part below which enough_fraud warns: the alert "
        "threshold and the number of rounds are chosen on them.",
    )  # fmt: skip


@dg.asset(
    group_name="training",
    kinds={"duckdb", "parquet"},
    deps=["transaction_features", "validated_labels"],
    check_specs=[
        dg.AssetCheckSpec("test_labels_mature", asset="training_set", description="Most of the test window's frauds are "
                          "reported by as_of, by the portfolio's own report delays (else the test metrics undercount fraud)."),
        dg.AssetCheckSpec("enough_fraud", asset="training_set", description="Enough reported frauds in the validation part "
                          "to choose the alert threshold and the rounds on."),
    ],
)
def training_set(context: dg.AssetExecutionContext, config: TrainingWindowConfig, storage: ArtifactStore, quality: DataQualityPolicy):
    """Feature rows of the train and test windows, labelled with what was known at the window's end."""
    from fraudshield_pipeline.defs.monitoring.performance import COMPLETE_AFTER_DAYS, label_delays
    from fraudshield_pipeline.domain.features import lookback_days
    from fraudshield_pipeline.domain.training_set import SPLIT, build_training_set, label_maturity, plan_window, split_summary
    from fraudshield_pipeline.domain.versioning import combine_hashes, content_hash

    materialized = storage.partitions("transaction_features")
    if not materialized:
        raise dg.Failure("transaction_features has no materialized partitions: materialize the features first")
    as_of = day_start(config.as_of) if config.as_of else day_start(materialized[-1]) + dt.timedelta(days=1)
    window = plan_window(as_of, config.train_days, config.gap_days, config.test_days, config.maturity_days, config.validation_fraction)
    days = [d.isoformat() for d in window.days()]
    if (as_of - window.train_start).days > quality.id_horizon_days:
        raise dg.Failure(
            f"the window spans {(as_of - window.train_start).days} days (train {window.train_start:%Y-%m-%d} to as_of "
            f"{as_of:%Y-%m-%d}), more than the quality policy's id_horizon_days ({quality.id_horizon_days}) within which "
            "transaction ids are checked unique: labels join transactions by id, so raise id_horizon_days "
            "(FRAUDSHIELD_ID_HORIZON_DAYS) to cover the window, or shorten train_days"
        )
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
    train_days = [d for d in labels_days if d < window.train_end.date().isoformat()]
    late = _frauds_reported_after(storage, train_days, as_of)
    unlabelled = bool((summary.fillna(0).loc[["train", "validation"], "fraud"] == 0).any())  # only then is the quarantine read
    _refuse_without_fraud(summary, late, window, config, _quarantined_label_rules(storage, window) if unlabelled else {})
    maturity = label_maturity(label_delays(storage, storage.partitions("validated_labels"), as_of), window,
                              config.min_test_reported_share, COMPLETE_AFTER_DAYS)  # fmt: skip
    maturity_note = maturity.describe(config.maturity_days)
    if not maturity.mature:
        context.log.warning(f"test_labels_mature: {maturity_note}")
    validation_frauds = int(summary.fillna(0).loc["validation", "fraud"])
    enough = validation_frauds >= config.min_validation_frauds
    fraud_note = (f"{validation_frauds} reported frauds in the validation part (at least {config.min_validation_frauds} wanted): "
                  + ("enough" if enough else "the alert threshold and the rounds rest on too few; widen train_days or raise "
                     "validation_fraction"))  # fmt: skip
    if not enough:
        context.log.warning(f"enough_fraud: {fraud_note}")
    yield dg.Output(
        frame,
        data_version=dg.DataVersion(combine_hashes([content_hash(frame)])),
        metadata={
            "window": dg.MetadataValue.json(window.to_metadata()),
            "splits": frame_table(summary),
            "feature_partitions": dg.MetadataValue.json([days[0], days[-1]]),
            "feature_history_complete": history_complete,
            "test_labels_expected_reported_share": maturity.expected_reported_share,
            "suggested_maturity_days": maturity.suggested_maturity_days,  # the evaluation's advice names this portfolio's figure
            "train_frauds_reported_after_as_of": late,
            "content_hash": content_hash(frame),
            "dagster/column_schema": table_schema(frame),
        },
    )
    yield dg.AssetCheckResult(
        check_name="test_labels_mature", passed=maturity.mature, severity=dg.AssetCheckSeverity.WARN, description=maturity_note,
        metadata={"expected_reported_share": maturity.expected_reported_share, "suggested_maturity_days": maturity.suggested_maturity_days,
                  "delay_curve_frauds": maturity.delay_curve_frauds},
    )  # fmt: skip
    yield dg.AssetCheckResult(
        check_name="enough_fraud", passed=enough, severity=dg.AssetCheckSeverity.WARN, description=fraud_note,
        metadata={"validation_frauds": validation_frauds, "min_validation_frauds": config.min_validation_frauds},
    )


def _frauds_reported_after(storage: ArtifactStore, days: list[str], as_of: dt.datetime) -> int:
    """Frauds of these days that the label feed reports only after `as_of`: in the data, not yet known."""
    from fraudshield_pipeline.domain import schema as s

    if not days:
        return 0
    labels = storage.read_tables([table_key("validated_labels", d) for d in days]).to_pandas()
    return int(((labels[s.IS_FRAUD] == 1) & (labels[s.REPORTED_AT] >= as_of)).sum())


def _quarantined_label_rules(storage: ArtifactStore, window) -> dict[str, int]:
    """Rule counts of the labels quarantined on the train window's days (quarantined_labels)."""
    start, end = f"{window.train_start:%Y-%m-%d}", f"{window.train_end:%Y-%m-%d}"
    days = [d for d in storage.partitions("quarantined_labels") if start <= d < end]
    if not days:
        return {}
    # One column per day: empty days' quarantines may type their other columns differently.
    return dict(Counter(
        str(rule) for day in days
        for rule in storage.read_table(table_key("quarantined_labels", day), columns=["failed_rule"]).column("failed_rule").to_pylist()
    ))  # fmt: skip


def _refuse_without_fraud(summary: pd.DataFrame, late: int, window, config: TrainingWindowConfig,
                          quarantined: dict[str, int] | None = None) -> None:
    """No reported fraud to learn from: say which of three causes it is, and what to change.

    Labels that were delivered but quarantined (`quarantined`: rule counts of the train window's
    days) are named first: "labels not delivered" would send the operator to the wrong place.
    """  # fmt: skip
    from fraudshield_pipeline.domain.quarantine import short_rule, top_rules, way_out

    for part in ("train", "validation"):
        if summary.fillna(0).loc[part, "fraud"] > 0:
            continue
        span = f"{window.train_start:%Y-%m-%d}..{window.train_end:%Y-%m-%d}, as_of {window.as_of:%Y-%m-%d}"
        if late:
            cause = (f"the label feed does hold {late} frauds of the train window, but reports them only after as_of: move the "
                     f"window back (training_set's gap_days, now {config.gap_days}, or as_of) or wait for the labels")
        elif quarantined:
            (rule, count), total = top_rules(quarantined, 1)[0], sum(quarantined.values())
            cause = (f"the labels of the train window's days were delivered but quarantined: {total} labels in quarantined_labels, "
                     f"{count} of them as {short_rule(rule)}; {way_out(rule, 'labels')}; then materialize those days again")
        else:
            cause = ("the label feed holds no fraud for the train window's days at all: check that labels are delivered "
                     f"(the labels mapping, is_fraud values) or widen train_days (now {config.train_days})")
        raise dg.Failure(f"cannot train: the train window's {part} part ({span}) holds no reported fraud; {cause}")


class TrainedModelConfig(dg.Config):
    """How the challenger is fitted; the window itself is training_set's."""

    search_trials: int = Field(
        default=0, ge=0, description="Optuna trials (hyperparameter search) before the refit; 0: the default parameters."
    )
    search_timeout_s: float = Field(default=60.0, gt=0, description="Wall-clock bound of the search, checked between trials.")
    seed: int = Field(default=7, description="Seeds XGBoost's subsampling and the search's sampler.")


@dg.asset(
    group_name="training",
    kinds={"xgboost", "mlflow"},
    ins={"training_set": dg.AssetIn()},
    op_tags=training_op_tags(os.environ.get("FRAUDSHIELD_TRAINING_DEVICE", "cpu")),
)
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainedModelConfig,
    training_set: pd.DataFrame,
    compute: TrainingCompute,
    registry: ModelRegistry,
    storage: ArtifactStore,
) -> dg.MaterializeResult:
    """XGBoost fitted on the whole train window (rounds and threshold chosen on its last part); the challenger."""
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.features import model_feature_names
    from fraudshield_pipeline.domain.provenance import code_version
    from fraudshield_pipeline.domain.train import DEFAULT_PARAMS, training_fingerprint
    from fraudshield_pipeline.domain.training_set import SPLIT, TEST, VALIDATION
    from fraudshield_pipeline.domain.versioning import content_hash

    train = training_set[training_set[SPLIT] != TEST]  # the whole train window: fit part + validation part
    validation = train[train[SPLIT] == VALIDATION]
    feature_names = model_feature_names(training_set.columns)
    # The training set's own plan places the cutoff (TrainingWindowConfig.validation_fraction).
    cutoff = validation[s.EVENT_TIMESTAMP].min() if len(validation) else None
    data_version = content_hash(training_set)
    search = {"trials": config.search_trials, "timeout_s": config.search_timeout_s} if config.search_trials else None
    fingerprint = training_fingerprint(
        training_set_version=data_version, code_version=code_version(), base_params=DEFAULT_PARAMS, search=search,
        seed=config.seed, validation_start=cutoff, features=feature_names,
    )
    existing = registry.find_version({"training_fingerprint": fingerprint})
    if existing is not None:
        return reuse_version(context, registry, existing, fingerprint)
    return fit_and_register(context, config, train, cutoff, feature_names, data_version, fingerprint, compute, registry, storage)


def reuse_version(context: dg.AssetExecutionContext, registry: ModelRegistry, existing, fingerprint: str) -> dg.MaterializeResult:
    """Same data, code and parameters as a registered version: point the challenger at it, train nothing."""
    if CHALLENGER not in existing.aliases:
        registry.set_alias(CHALLENGER, existing.version)
    context.log.info(f"unchanged retrain: version {existing.version} was trained on the same data, code and parameters; reused")
    tags = existing.tags
    return dg.MaterializeResult(
        metadata={
            "model_name": registry.model_name,
            "model_version": existing.version,
            "reused_version": True,
            "training_fingerprint": fingerprint,
            "mlflow_run_id": existing.run_id,
            "mlflow_run": dg.MetadataValue.text(registry.run_url(existing.run_id)),
            "training_set_version": tags.get("training_set_version", ""),
            **{key: _number(tags[key]) for key in ("rounds", "threshold") if key in tags},
            **({"trained_until": tags["trained_until"]} if "trained_until" in tags else {}),
        }
    )


def fit_and_register(
    context: dg.AssetExecutionContext,
    config: TrainedModelConfig,
    train: pd.DataFrame,
    cutoff,
    feature_names: list[str],
    data_version: str,
    fingerprint: str,
    compute: TrainingCompute,
    registry: ModelRegistry,
    storage: ArtifactStore,
) -> dg.MaterializeResult:
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.provenance import code_version, lockfile_hash
    from fraudshield_pipeline.domain.train import fit_on_window, model_matrix, predict
    from fraudshield_pipeline.domain.tuning import search_params

    searched = None
    try:
        if config.search_trials:
            searched = search_params(
                train, feature_names, compute.xgboost_params(), trials=config.search_trials,
                timeout_s=config.search_timeout_s, validation_start=cutoff, seed=config.seed,
            )
            context.log.info(f"hyperparameter search: {searched.summary()}")
        model = fit_on_window(
            train, feature_names, compute.xgboost_params(), params=searched.params if searched else None,
            validation_start=cutoff, seed=config.seed,
        )
    except ValueError as error:
        raise dg.Failure(str(error)) from error
    if not model.device.startswith(compute.device):
        context.log.warning(
            f"training asked for device={compute.device} but XGBoost ran on {model.device}: no GPU was visible "
            "on this node (check the GPU capacity provider / node placement of the training step)"
        )
    metrics = model.validation_metrics
    validation = train[train[s.EVENT_TIMESTAMP] >= pd.Timestamp(model.validation["cutoff"])]
    trained_until = train[s.EVENT_TIMESTAMP].max().date().isoformat()
    window = {"train_start": str(train[s.EVENT_TIMESTAMP].min()), "train_end": str(train[s.EVENT_TIMESTAMP].max())}
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
            "searched": searched is not None,
        },
        metrics={
            **{f"validation_{k}": v for k, v in metrics.items() if v == v},
            **({f"search_{k}": v for k, v in searched.summary().items()} if searched else {}),
        },
        tags={
            "dagster_run_id": context.run.run_id,
            "training_set_version": data_version,
            "code_version": code_version(),
            "lockfile_sha256": lockfile_hash(),
            "training_device": model.device,
            "training_fingerprint": fingerprint,
            "recipe": json.dumps(model.recipe, sort_keys=True),
            "rounds": str(model.rounds),
            "threshold": repr(model.threshold),
            "trained_until": trained_until,
            **({"searched_params": json.dumps(searched.params, sort_keys=True)} if searched else {}),
            **window,
        },
        inputs={
            "training": (train, storage.uri(table_key("training_set")), data_version),
            "validation": (validation, storage.uri(table_key("training_set")), data_version),
        },
    )
    if searched:
        registry.log_child_runs(registered.run_id, searched.trials)
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
            "reused_version": False,
            "training_fingerprint": fingerprint,
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
            "trained_until": trained_until,
            "train_fraud": int(train[s.IS_FRAUD].sum()),
            **({"search": dg.MetadataValue.json({**searched.summary(), "params": searched.params})} if searched else {}),
        }
    )


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value
