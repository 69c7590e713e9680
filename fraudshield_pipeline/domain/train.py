"""XGBoost training: imbalance-aware, seeded, and fitted on the whole train window.

`fit_on_window` is the one training recipe (the pipeline's challenger and every backtest fold):
the number of boosting rounds and the alert threshold are chosen on a time-ordered validation
split (the last part of the window), then the model is refitted on the whole window with that
number of rounds. `model_matrix` is the single conversion from feature rows to model input, used
by training, evaluation, batch scoring and online serving alike.
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
SPW_EXPONENT = "scale_pos_weight_exponent"
_CATEGORICAL = {f.name for f in FEATURES if f.dtype == "category"}

# Defaults for data we have not seen: small windows (7 days hold ~100 frauds), rare positives.
# Measured on three worlds unlike each other (benchmarks/evaluation.py; README "Training"):
# the former learning rate 0.1 with early stopping on validation AP after 30 flat rounds
# stopped at 5-14 trees on some 7-day windows, because a validation part of ~20 frauds makes AP
# jump by a fraud at a time and its first peak is noise. Hence: a smaller learning rate
# (each tree matters less, so more of them, a smoother curve), stopping on validation log loss
# (every row contributes, not only the ranks of ~20 frauds), more patience, and a floor on the
# number of rounds.
DEFAULT_PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "max_depth": 6,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
    "max_cat_to_onehot": 1,
    # Not an XGBoost parameter: scale_pos_weight = (negatives / positives) ** exponent, computed on
    # the window trained on. Recorded instead of the weight, so a recipe replays on another window.
    SPW_EXPONENT: 0.5,
}
# How the number of rounds is chosen (`fit_on_window`, and every search trial alike).
MAX_ROUNDS = 1000
EARLY_STOPPING_ROUNDS = 50  # patience: 50 rounds at learning rate 0.05 = 2.5 "units" of shrinkage
MIN_ROUNDS = 50  # a floor: early stopping on a small validation part cannot collapse to a few trees
# Metrics XGBoost maximises; every other eval metric (logloss, error, ...) is minimised.
MAXIMISED_METRICS = ("auc", "aucpr", "map", "ndcg", "pre")


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
    rounds: int = 0  # boosting rounds of the final booster
    # How rounds and threshold were chosen: the split's bounds and sizes (see `fit_on_window`).
    validation: dict[str, object] = field(default_factory=dict)
    # What replays this fit on another window: `fit_on_window(rows, names, compute, **recipe)`.
    recipe: dict[str, object] = field(default_factory=dict)


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
    """Early-stopped on `validation` and kept that way (no refit): for callers that hold their own split.

    The pipeline's recipe is `fit_on_window`, which also trains on the validation part.
    """
    import xgboost as xgb

    from fraudshield_pipeline.domain.metrics import optimal_threshold

    categories = vocabularies(train, feature_names)
    positives = int(train[s.IS_FRAUD].sum())
    if positives == 0 or int(validation[s.IS_FRAUD].sum()) == 0:
        raise ValueError(
            f"cannot train: {positives} fraud cases in train and {int(validation[s.IS_FRAUD].sum())} in validation; "
            "widen the training window or wait for labels to mature"
        )
    params = xgboost_params(train[s.IS_FRAUD], compute_params, overrides, seed)
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
    _store_contract(booster, feature_names, categories, threshold)
    return TrainedModel(booster, list(feature_names), categories, float(threshold), best, params, device=device, rounds=best + 1)


def xgboost_params(
    labels: pd.Series,
    compute_params: Mapping[str, object],
    params: Mapping[str, object] | None = None,
    seed: int = 7,
) -> dict:
    """DEFAULT_PARAMS under `params` (recipe parameters), with the class weight resolved on `labels`.

    The weight is (negatives / positives) ** exponent: 0.5 (the default) halves the imbalance on a
    log scale, enough for the trees to find the rare class without inflating every fraud-like
    score; an explicit `scale_pos_weight` in `params` wins.
    """
    merged = {**DEFAULT_PARAMS, **compute_params, "seed": seed, **(params or {})}
    exponent = float(merged.pop(SPW_EXPONENT))
    if "scale_pos_weight" not in (params or {}):
        positives = int(labels.sum())
        merged["scale_pos_weight"] = float(((len(labels) - positives) / max(positives, 1)) ** exponent)
    return merged


def split_window(
    window_rows: pd.DataFrame, validation_fraction: float = 0.2, validation_start: object | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """(fit part, validation part, cutoff): the validation part is every row at or after the cutoff.

    The cutoff is `validation_start` when given (the training set's own plan), else the point at
    `1 - validation_fraction` of the rows' time span: a split in time, never a shuffle, so the
    rounds and threshold are chosen on days after the ones they were fitted on, as in production.
    """
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    times = window_rows[s.EVENT_TIMESTAMP]
    if validation_start is None:
        first, last = times.min(), times.max()
        cutoff = first + (last - first) * (1 - validation_fraction)
    else:
        cutoff = pd.Timestamp(validation_start)
    late = (times >= cutoff).to_numpy()
    return window_rows[~late], window_rows[late], cutoff


def require_fraud_in_parts(fit: pd.DataFrame, validation: pd.DataFrame, cutoff: pd.Timestamp, action: str) -> None:
    """Raises ValueError naming the part of the split without a reported fraud, and what to change:
    the fit and the search alike (frauds all on one day can leave either side without one)."""
    for part, rows in (("fit part", fit), ("validation part", validation)):
        if len(rows) == 0 or int(rows[s.IS_FRAUD].sum()) == 0:
            span = f"{rows[s.EVENT_TIMESTAMP].min()} .. {rows[s.EVENT_TIMESTAMP].max()}" if len(rows) else "empty"
            raise ValueError(
                f"cannot {action}: the train window's {part} ({span}, {len(rows)} rows, split at {cutoff}) holds no "
                "reported fraud; widen the train window, move it back so its labels have matured, or wait for labels"
            )


def chosen_rounds(early_stopped, min_rounds: int) -> int:
    """The recipe's rule for the number of rounds, in `fit_on_window` and every search trial alike:
    the early-stopped best round, but at least `min_rounds` (never more than were trained)."""
    return min(max(int(early_stopped.best_iteration) + 1, min_rounds), early_stopped.num_boosted_rounds())


def fit_on_window(
    window_rows: pd.DataFrame,
    feature_names: Sequence[str],
    compute_params: Mapping[str, object],
    *,
    params: Mapping[str, object] | None = None,
    validation_fraction: float = 0.2,
    validation_start: object | None = None,
    seed: int = 7,
    max_rounds: int = MAX_ROUNDS,
    early_stopping_rounds: int = EARLY_STOPPING_ROUNDS,
    min_rounds: int = MIN_ROUNDS,
) -> TrainedModel:
    """The training recipe: choose rounds and threshold on the window's last part, refit on all of it.

    1. Split the train window in time (`split_window`): fit part, then validation part.
    2. Train on the fit part, early-stopped on the validation part (the params' `eval_metric`,
       log loss by default, `early_stopping_rounds` without improvement): the best round, but at
       least `min_rounds`, fixes the number of rounds; the F1-optimal threshold on the validation
       scores fixes the alert threshold; the validation metrics are those of this out-of-time
       model. Why log loss, a floor and patience: see DEFAULT_PARAMS.
    3. Refit on the whole window (fit + validation) with exactly that number of rounds and the
       same parameters and class weight, so the newest days, the closest to what the model will
       score, are trained on. The threshold carries over: same parameters and weight, so the same
       probability scale.
    Nothing outside `window_rows` is read: the test window never influences any choice.
    Raises ValueError naming the part without frauds (labels not matured, window too short).
    """
    import xgboost as xgb

    from fraudshield_pipeline.domain.metrics import optimal_threshold

    window_rows = time_ordered(window_rows)
    fit, validation, cutoff = split_window(window_rows, validation_fraction, validation_start)
    require_fraud_in_parts(fit, validation, cutoff, "train")
    categories = vocabularies(window_rows, feature_names)
    resolved = xgboost_params(window_rows[s.IS_FRAUD], compute_params, params, seed)
    dfit = xgb.DMatrix(model_matrix(fit, feature_names, categories), label=fit[s.IS_FRAUD], enable_categorical=True)
    dvalid = xgb.DMatrix(model_matrix(validation, feature_names, categories), label=validation[s.IS_FRAUD], enable_categorical=True)
    chooser = xgb.train(
        resolved, dfit, num_boost_round=max_rounds, evals=[(dvalid, "validation")],
        early_stopping_rounds=early_stopping_rounds, verbose_eval=False,
    )
    rounds = chosen_rounds(chooser, min_rounds)
    valid_scores = chooser[:rounds].predict(dvalid)
    y_valid = validation[s.IS_FRAUD].to_numpy()
    threshold = float(optimal_threshold(y_valid, valid_scores))
    booster = _fit_rounds(window_rows, feature_names, categories, resolved, rounds, threshold)
    return TrainedModel(
        booster,
        list(feature_names),
        categories,
        threshold,
        rounds - 1,
        resolved,
        validation_metrics=validation_scores(y_valid, valid_scores, threshold),
        device=trained_on(booster),
        rounds=rounds,
        validation={
            "cutoff": cutoff.isoformat(),
            "fraction": validation_fraction,
            "fit_rows": len(fit),
            "fit_fraud": int(fit[s.IS_FRAUD].sum()),
            "validation_rows": len(validation),
            "validation_fraud": int(y_valid.sum()),
            "window_rows": len(window_rows),
        },
        recipe={
            "params": {**DEFAULT_PARAMS, **(params or {})},
            "validation_fraction": validation_fraction,
            "seed": seed,
            "max_rounds": max_rounds,
            "early_stopping_rounds": early_stopping_rounds,
            "min_rounds": min_rounds,
        },
    )


def refit_on_window(
    window_rows: pd.DataFrame,
    feature_names: Sequence[str],
    compute_params: Mapping[str, object],
    *,
    rounds: int,
    threshold: float,
    params: Mapping[str, object] | None = None,
    seed: int = 7,
):
    """Step 3 of `fit_on_window` alone: the whole window, a number of rounds and a threshold already chosen.

    What the rolling backtest replays on earlier weeks (`backtest.fit_recipe`): the recipe's
    parameters *and* the rounds and threshold it chose on its own window, one fit per week instead
    of choosing again (an early-stopped fit, then the refit: about twice the trees). Raises
    ValueError when the window holds no reported fraud.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    window_rows = time_ordered(window_rows)
    if int(window_rows[s.IS_FRAUD].sum()) == 0:
        raise ValueError(f"cannot train: the train window ({len(window_rows)} rows) holds no reported fraud")
    categories = vocabularies(window_rows, feature_names)
    resolved = xgboost_params(window_rows[s.IS_FRAUD], compute_params, params, seed)
    return _fit_rounds(window_rows, feature_names, categories, resolved, rounds, threshold)


def time_ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """One order for every caller (subsampling draws by row position): the same rows, the same model."""
    order = [c for c in (s.EVENT_TIMESTAMP, s.TRANSACTION_ID) if c in rows.columns]
    return rows.sort_values(order, kind="stable")


def _fit_rounds(rows: pd.DataFrame, feature_names: Sequence[str], categories: Mapping[str, list[str]], resolved: Mapping[str, object], rounds: int, threshold: float):
    import xgboost as xgb

    matrix = xgb.DMatrix(model_matrix(rows, feature_names, categories), label=rows[s.IS_FRAUD], enable_categorical=True)
    booster = xgb.train(dict(resolved), matrix, num_boost_round=rounds, verbose_eval=False)
    _store_contract(booster, feature_names, categories, threshold)
    return booster


def training_fingerprint(**parts: object) -> str:
    """One short hash of everything that decides a model: data version, code version, recipe request.

    Equal fingerprints mean a retrain would redo the same work; the registry reuses the version.
    """
    import hashlib

    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def validation_scores(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Average precision, ROC AUC, and precision/recall/alert rate at the chosen threshold."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    alerts = scores >= threshold
    caught = int((alerts & (y == 1)).sum())
    return {
        "average_precision": float(average_precision_score(y, scores)),
        "roc_auc": float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else float("nan"),
        "precision": caught / int(alerts.sum()) if alerts.any() else float("nan"),
        "recall": caught / int(y.sum()),
        "alert_rate": float(alerts.mean()),
    }


def _store_contract(booster, feature_names: Sequence[str], categories: Mapping[str, list[str]], threshold: float) -> None:
    booster.set_attr(
        **{
            CATEGORY_ATTR: json.dumps(categories),
            FEATURES_ATTR: json.dumps(list(feature_names)),
            THRESHOLD_ATTR: repr(float(threshold)),
        }
    )


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
