"""A bounded Optuna search over the XGBoost parameters that matter on imbalanced fraud data.

Scored exactly where `fit_on_window` chooses its rounds and threshold: trained on the train
window's fit part, early-stopped on its validation part by the recipe's rule (the eval metric,
log loss by default, the patience and the floor of rounds), and scored by average precision on
that part, the last part of the window in time. On a 7-day window that part holds ~20 frauds, so
a search there can pick parameters that only suit those frauds (measured: README, Benchmarks);
it is sounder on long windows. The test window is never seen. The first trial is the default
recipe, so the search returns the defaults unless something beats them on validation.
The search returns recipe parameters (`fit_on_window(..., params=result.params)`) and one record
per trial for the caller to log (the registry logs them as nested MLflow runs): no tracking here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.train import (
    DEFAULT_PARAMS,
    EARLY_STOPPING_ROUNDS,
    MAX_ROUNDS,
    MAXIMISED_METRICS,
    MIN_ROUNDS,
    SPW_EXPONENT,
    chosen_rounds,
    model_matrix,
    require_fraud_in_parts,
    split_window,
    vocabularies,
    xgboost_params,
)

# (low, high, log scale) per parameter; integers where both bounds are ints.
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "max_depth": (2, 8, False),
    "learning_rate": (0.02, 0.3, True),
    "min_child_weight": (0.5, 50.0, True),  # in hessian units: how many (weighted) cases a leaf needs
    "subsample": (0.5, 1.0, False),
    "colsample_bytree": (0.4, 1.0, False),
    SPW_EXPONENT: (0.0, 1.0, False),  # 0: no reweighting; 1: fully balanced classes
    "reg_lambda": (0.1, 30.0, True),
    "reg_alpha": (1e-3, 10.0, True),
    "gamma": (1e-3, 5.0, True),
}

_XGBOOST_DEFAULTS = {"reg_lambda": 1.0, "reg_alpha": 0.0, "gamma": 0.0}


@dataclass
class SearchResult:
    params: dict[str, object]  # recipe parameters: DEFAULT_PARAMS overridden by the best trial
    best_value: float  # validation average precision of the best trial
    default_value: float  # same for the default recipe (trial 0)
    seconds: float
    trials: list[dict[str, object]] = field(default_factory=list)  # one record per trial, for logging

    def summary(self) -> dict[str, object]:
        states = [t["status"] for t in self.trials]
        return {
            "trials": len(self.trials),
            "completed": states.count("FINISHED"),
            "pruned": states.count("KILLED"),
            "failed": states.count("FAILED"),
            "seconds": round(self.seconds, 2),
            "best_validation_average_precision": round(self.best_value, 6),
            "default_validation_average_precision": round(self.default_value, 6),
        }


def search_params(
    window_rows: pd.DataFrame,
    feature_names: Sequence[str],
    compute_params: Mapping[str, object],
    *,
    trials: int = 20,
    timeout_s: float = 60.0,
    base_params: Mapping[str, object] | None = None,
    validation_fraction: float = 0.2,
    validation_start: object | None = None,
    seed: int = 7,
    max_rounds: int = MAX_ROUNDS,
    early_stopping_rounds: int = EARLY_STOPPING_ROUNDS,
    min_rounds: int = MIN_ROUNDS,
) -> SearchResult:
    """At most `trials` trials and about `timeout_s` seconds (checked between trials)."""
    import optuna
    import xgboost as xgb
    from sklearn.metrics import average_precision_score

    if trials < 1:
        raise ValueError("a search needs at least one trial")
    order = [c for c in (s.EVENT_TIMESTAMP, s.TRANSACTION_ID) if c in window_rows.columns]
    window_rows = window_rows.sort_values(order, kind="stable")
    fit, validation, cutoff = split_window(window_rows, validation_fraction, validation_start)
    require_fraud_in_parts(fit, validation, cutoff, "search")
    categories = vocabularies(window_rows, feature_names)
    dfit = xgb.DMatrix(model_matrix(fit, feature_names, categories), label=fit[s.IS_FRAUD], enable_categorical=True)
    dvalid = xgb.DMatrix(model_matrix(validation, feature_names, categories), label=validation[s.IS_FRAUD], enable_categorical=True)
    y_valid = validation[s.IS_FRAUD].to_numpy()
    base = {**DEFAULT_PARAMS, **(base_params or {})}
    records: list[dict[str, object]] = []

    def objective(trial: optuna.Trial) -> float:
        started = time.time()
        chosen = {name: _suggest(trial, name, *bounds) for name, bounds in SEARCH_SPACE.items()}
        record: dict[str, object] = {"run_name": f"trial-{trial.number}", "params": chosen, "start_ms": int(started * 1000)}
        records.append(record)
        try:
            params = xgboost_params(window_rows[s.IS_FRAUD], compute_params, {**base, **chosen}, seed)
            booster = xgb.train(
                params, dfit, num_boost_round=max_rounds, evals=[(dvalid, "validation")],
                early_stopping_rounds=early_stopping_rounds, verbose_eval=False, callbacks=[_Pruning(trial)],
            )
            rounds = chosen_rounds(booster, min_rounds)
            value = float(average_precision_score(y_valid, booster[:rounds].predict(dvalid)))
        except optuna.TrialPruned:
            record.update(status="KILLED", end_ms=int(time.time() * 1000))
            raise
        except Exception:
            record.update(status="FAILED", end_ms=int(time.time() * 1000))
            raise
        record.update(status="FINISHED", end_ms=int(time.time() * 1000), metrics={"validation_average_precision": value, "rounds": rounds})
        return value

    started = time.monotonic()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, trials)),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=30),
    )
    # Trial 0 is the default recipe (XGBoost's own defaults where the recipe sets none; a zero
    # penalty is enqueued as the log-scale range's lowest value, a negligible penalty).
    defaults = {**_XGBOOST_DEFAULTS, **base}
    study.enqueue_trial({name: _clip(defaults[name], *SEARCH_SPACE[name][:2]) for name in SEARCH_SPACE})
    study.optimize(objective, n_trials=trials, timeout=timeout_s, catch=(xgb.core.XGBoostError,))
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not finished:
        raise ValueError("the search completed no trial within its budget: raise search_timeout_s or search_trials")
    best = max(finished, key=lambda t: t.value)
    default = study.trials[0]
    default_value = float(default.value) if default.state == optuna.trial.TrialState.COMPLETE else float("nan")
    params = {**base, **best.params} if best.number != 0 else dict(base)
    return SearchResult(params, float(best.value), default_value, time.monotonic() - started, records)


def _suggest(trial, name: str, low: float, high: float, log: bool):
    if isinstance(low, int) and isinstance(high, int):
        return trial.suggest_int(name, low, high, log=log)
    return trial.suggest_float(name, low, high, log=log)


def _clip(value, low, high):
    return min(max(value, low), high)


class _Pruning:
    """Reports the validation metric every 10 rounds (negated when XGBoost minimises it, as the
    study maximises); stops a trial the pruner gives up on."""

    def __new__(cls, trial):
        import xgboost as xgb

        class Callback(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log) -> bool:
                if epoch % 10 == 9:
                    name, values = list(evals_log["validation"].items())[-1]
                    sign = 1.0 if name.split("@")[0] in MAXIMISED_METRICS else -1.0
                    trial.report(sign * float(values[-1]), epoch)
                    if trial.should_prune():
                        import optuna

                        raise optuna.TrialPruned(f"pruned at round {epoch + 1}")
                return False

        return Callback()
