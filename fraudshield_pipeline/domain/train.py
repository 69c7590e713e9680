"""XGBoost training on a time-ordered split: imbalance-aware, early-stopped, seeded.

`model_matrix` is the single conversion from feature rows to model input, used by training,
evaluation, batch scoring and online serving alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import FEATURES

CATEGORY_ATTR = "fraudshield_categories"
FEATURES_ATTR = "fraudshield_features"
THRESHOLD_ATTR = "fraudshield_threshold"
_CATEGORICAL = {f.name for f in FEATURES if f.dtype == "category"}

DEFAULT_PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "aucpr",
    "max_depth": 6,
    "learning_rate": 0.1,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
    "max_cat_to_onehot": 1,
}


@dataclass
class TrainedModel:
    booster: object  # xgboost.Booster
    feature_names: list[str]
    categories: dict[str, list[str]]
    threshold: float
    best_iteration: int
    params: dict = field(default_factory=dict)
    validation_metrics: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"  # where XGBoost actually trained, e.g. "cuda:0"


def vocabularies(frame: pd.DataFrame, feature_names: Sequence[str]) -> dict[str, list[str]]:
    """The categories seen in training; anything else is treated as missing when scoring."""
    return {
        name: sorted(frame[name].dropna().astype(str).unique().tolist())
        for name in feature_names
        if name in _CATEGORICAL
    }


def model_matrix(frame: pd.DataFrame, feature_names: Sequence[str], categories: Mapping[str, list[str]]) -> pd.DataFrame:
    """Model input: float32 numerics, and categoricals over the vocabulary seen in training."""
    numeric = [name for name in feature_names if name not in categories]
    values = frame[numeric].to_numpy(dtype="float32", na_value=np.nan)
    matrix = pd.DataFrame(values, columns=numeric, index=frame.index, copy=False)
    for name, vocabulary in categories.items():
        matrix[name] = pd.Categorical(frame[name].to_numpy(dtype=object), categories=vocabulary)
    return matrix[list(feature_names)]


def model_vector(features: Mapping[str, object], feature_names: Sequence[str], categories: Mapping[str, list[str]]) -> np.ndarray:
    """`model_matrix` for one row, without pandas (the online path's microseconds matter).

    Categoricals become their code in the training vocabulary, exactly as `pd.Categorical`
    encodes them in `model_matrix`; unseen or missing values are NaN (missing) in both.
    """
    row = np.empty((1, len(feature_names)), dtype=np.float32)
    for i, name in enumerate(feature_names):
        value = features.get(name)
        if name in categories:
            vocabulary = categories[name]
            row[0, i] = vocabulary.index(value) if value in vocabulary else np.nan
        else:
            row[0, i] = np.nan if value is None else value
    return row


def train_xgboost(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    feature_names: Sequence[str],
    compute_params: Mapping[str, object],
    seed: int = 7,
    max_rounds: int = 400,
    early_stopping_rounds: int = 30,
    overrides: Mapping[str, object] | None = None,
) -> TrainedModel:
    import xgboost as xgb

    from fraudshield_pipeline.domain.metrics import optimal_threshold

    categories = vocabularies(train, feature_names)
    positives = int(train[s.IS_FRAUD].sum())
    if positives == 0 or int(validation[s.IS_FRAUD].sum()) == 0:
        raise ValueError(
            f"cannot train: {positives} fraud cases in train and {int(validation[s.IS_FRAUD].sum())} in validation; "
            "widen the training window or wait for labels to mature"
        )
    params = {
        **DEFAULT_PARAMS,
        **compute_params,
        "seed": seed,
        "scale_pos_weight": float(np.sqrt((len(train) - positives) / positives)),
        **(overrides or {}),
    }
    dtrain = xgb.DMatrix(model_matrix(train, feature_names, categories), label=train[s.IS_FRAUD], enable_categorical=True)
    dvalid = xgb.DMatrix(model_matrix(validation, feature_names, categories), label=validation[s.IS_FRAUD], enable_categorical=True)
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=max_rounds,
        evals=[(dvalid, "validation")],
        early_stopping_rounds=early_stopping_rounds,
        verbose_eval=False,
    )
    device = trained_on(booster)
    best = int(booster.best_iteration)
    booster = booster[: best + 1]  # keep only the trees early stopping chose
    valid_scores = booster.predict(dvalid)
    threshold = optimal_threshold(validation[s.IS_FRAUD].to_numpy(), valid_scores)
    booster.set_attr(
        **{
            CATEGORY_ATTR: json.dumps(categories),
            FEATURES_ATTR: json.dumps(list(feature_names)),
            THRESHOLD_ATTR: repr(float(threshold)),
        }
    )
    return TrainedModel(booster, list(feature_names), categories, float(threshold), best, params, device=device)


def trained_on(booster) -> str:
    """The device XGBoost ran on: asked for CUDA on a node without a GPU, it trains on the CPU
    with only a warning, so the request alone says nothing about where training happened."""
    return json.loads(booster.save_config())["learner"]["generic_param"]["device"]


def model_contract(booster) -> tuple[list[str], dict[str, list[str]], float]:
    """Feature names, vocabularies and threshold stored inside the model file itself."""
    return (
        json.loads(booster.attr(FEATURES_ATTR)),
        json.loads(booster.attr(CATEGORY_ATTR)),
        float(booster.attr(THRESHOLD_ATTR)),
    )


def predict(booster, frame: pd.DataFrame) -> np.ndarray:
    """Fraud probabilities for feature rows, using the contract stored in the model."""
    names, categories, _ = model_contract(booster)
    return booster.inplace_predict(model_matrix(frame, names, categories))
