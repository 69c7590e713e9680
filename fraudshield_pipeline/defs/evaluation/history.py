"""What the evaluation reads beyond the training set: label history, earlier weeks, model recipes.

Thin storage/registry glue for `evaluation_report`; the decisions live in the domain modules.
"""

import datetime as dt
import json
import math
from dataclasses import replace as dataclass_replace

import dagster as dg
import pandas as pd

from fraudshield_pipeline.resources.storage import FOLDS_PREFIX, ArtifactStore, fold_key, table_key

FEATURES, LABELS = "transaction_features", "validated_labels"


def evaluation_window(context: dg.AssetExecutionContext, training_set: pd.DataFrame, storage: ArtifactStore) -> dict[str, str]:
    """The window training_set was built on (its recorded metadata), else derived from the rows.

    Derived: days are whole UTC days, ``as_of`` = the end of the newest labels partition (labels
    known then), as training_set itself defaults to.
    """
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.training_set import SPLIT, TEST

    event = context.instance.get_latest_materialization_event(dg.AssetKey("training_set"))
    recorded = event.asset_materialization.metadata.get("window") if event and event.asset_materialization else None
    if recorded is not None and isinstance(recorded.value, dict):
        return {k: str(v) for k, v in recorded.value.items()}
    times = training_set[s.EVENT_TIMESTAMP]
    test = training_set[SPLIT] == TEST
    day = pd.Timedelta(days=1)
    window = {
        "train_start": times[~test].min().floor("D"),
        "train_end": times[~test].max().floor("D") + day,
        "test_start": times[test].min().floor("D"),
        "test_end": times[test].max().floor("D") + day,
    }
    labelled = storage.partitions(LABELS)
    as_of = pd.Timestamp(labelled[-1], tz="UTC") + day if labelled else window["test_end"]
    return {**{k: v.isoformat() for k, v in window.items()}, "as_of": as_of.isoformat()}


def recorded_suggested_maturity(context: dg.AssetExecutionContext) -> int | None:
    """The maturity the portfolio's own report delays suggest, as training_set recorded it (None: too little history)."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey("training_set"))
    recorded = event.asset_materialization.metadata.get("suggested_maturity_days") if event and event.asset_materialization else None
    return int(recorded.value) if recorded is not None and isinstance(recorded.value, int | float) else None


def card_first_reports(storage: ArtifactStore) -> pd.DataFrame | None:
    """Each card's first fraud report, over every label and transaction partition in storage.

    A day's labels are matched with that day's transactions only (a label partition holds the
    labels of its day's transactions): over the whole history, a feed that recycles its ids after
    the quality policy's horizon would otherwise mark a second, innocent card compromised.
    """
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.metrics import first_fraud_reports

    label_days, feature_days = storage.partitions(LABELS), storage.partitions(FEATURES)
    if not label_days or not feature_days:
        return None
    days = sorted(set(label_days) & set(feature_days))
    per_day = [
        first_fraud_reports(
            storage.read_table(table_key(LABELS, d), columns=[s.TRANSACTION_ID, s.IS_FRAUD, s.REPORTED_AT]).to_pandas(),
            storage.read_table(table_key(FEATURES, d), columns=[s.TRANSACTION_ID, s.CUSTOMER_ID]).to_pandas(),
        )
        for d in days
    ]
    if not per_day:
        return first_fraud_reports(pd.DataFrame(columns=[s.TRANSACTION_ID, s.IS_FRAUD, s.REPORTED_AT]),
                                   pd.DataFrame(columns=[s.TRANSACTION_ID, s.CUSTOMER_ID]))  # fmt: skip
    return pd.concat(per_day, ignore_index=True).groupby(s.CUSTOMER_ID, sort=True)[s.REPORTED_AT].min().reset_index()


def window_loader(storage: ArtifactStore):
    """``load(window)``: that window's training set, built exactly as training_set builds it; None
    when one of its feature partitions is missing."""
    from fraudshield_pipeline.domain.training_set import build_training_set

    available = set(storage.partitions(FEATURES))
    label_days = storage.partitions(LABELS)

    def load(window) -> pd.DataFrame | None:
        days = [d.isoformat() for d in window.days()]
        if not set(days) <= available:
            return None
        features = storage.read_tables([table_key(FEATURES, d) for d in days])
        wanted = [d for d in label_days if days[0] <= d < window.as_of.date().isoformat()]
        labels = storage.read_tables([table_key(LABELS, d) for d in wanted])
        return build_training_set(features, labels, window)

    return load


def train_days_of(tags: dict[str, str], default: int) -> int:
    """The train window length a version recorded (tags train_start/train_end), in whole days."""
    try:
        start = pd.Timestamp(tags["train_start"]).floor("D")
        end = pd.Timestamp(tags["train_end"])
    except (KeyError, ValueError):
        return default
    days = math.ceil((end - start) / pd.Timedelta(days=1))
    return days if days >= 1 else default


def recipe_of(version, booster, default_train_days: int, replay_rounds: bool = True):
    """A registered version's recipe: its features, its recorded fit arguments (tag ``recipe``,
    defaults for versions trained before it existed), its recorded train window length, and
    (``replay_rounds``) the rounds and threshold its booster holds."""
    from fraudshield_pipeline.domain.backtest import Recipe
    from fraudshield_pipeline.domain.train import model_contract

    recorded = version.tags.get("recipe")
    fit_kwargs = json.loads(recorded) if recorded else {}
    names, _, threshold = model_contract(booster)
    return Recipe(
        version.version, names, fit_kwargs, train_days_of(dict(version.tags), default_train_days),
        rounds=booster.num_boosted_rounds() if replay_rounds else None, threshold=threshold if replay_rounds else None,
    )


def parse_window(window: dict[str, str]) -> dict[str, dt.datetime]:
    return {k: pd.Timestamp(v).to_pydatetime() for k, v in window.items() if k in ("train_start", "train_end", "test_start", "test_end", "as_of")}


def rolling_backtest(context, config, window, versions, boosters, storage: ArtifactStore, compute, first_reports, training_set, daily_budget: int):
    """Refits each model's recipe on ``config.backtest_weeks`` consecutive weeks (see `domain.backtest`), measured at ``daily_budget``."""
    import time

    from fraudshield_pipeline.domain.backtest import CHALLENGER, fit_recipe, run_backtest
    from fraudshield_pipeline.domain.fold_store import FoldStore
    from fraudshield_pipeline.domain.training_set import plan_window

    at = parse_window(window)
    day = dt.timedelta(days=1)
    test_days, gap_days = (at["test_end"] - at["test_start"]) // day, (at["test_start"] - at["train_end"]) // day
    maturity_days = max(0, (at["as_of"] - at["test_end"]) // day)
    challenger_days = max(1, (at["train_end"] - at["train_start"]) // day)
    recipes = {name: recipe_of(versions[name], boosters[name], challenger_days, config.backtest_replays_rounds) for name in versions}
    recipes[CHALLENGER] = dataclass_replace(recipes[CHALLENGER], train_days=challenger_days)  # the window it was trained on
    available = storage.partitions(FEATURES)
    first_day = dt.date.fromisoformat(available[0]) if available else at["train_start"].date()
    load_storage = window_loader(storage)

    def week_window(i: int, train_days: int):
        fraction = float(recipes[CHALLENGER].fit_kwargs.get("validation_fraction", 0.2))
        planned = plan_window(at["as_of"] - i * test_days * day, train_days, gap_days, test_days, maturity_days, fraction)
        return planned if planned.train_start.date() >= first_day or i == 0 else None

    def load(planned):
        if planned.test_end == at["test_end"] and planned.train_start == at["train_start"]:
            return training_set  # week 0 in the challenger's own window: the training set evaluated
        return load_storage(planned)

    compute_params = compute.xgboost_params()
    folds = FoldStore(
        read=lambda fingerprint: storage.read_bytes(fold_key(fingerprint)) if storage.exists(fold_key(fingerprint)) else None,
        write=lambda fingerprint, data: storage.write_bytes(fold_key(fingerprint), data),
        compute_params=compute_params,
    )
    # The registered challenger is its recipe's fold on its own window: next week's champion folds.
    folds.remember(training_set[training_set["split"] != "test"], recipes[CHALLENGER], boosters[CHALLENGER])
    fit = folds.wrap(lambda rows, recipe: fit_recipe(rows, recipe, compute_params))

    started = time.perf_counter()
    # Every fold also scored on the weeks after its own (aged_weeks=0): the champion's expectation by age.
    result = run_backtest(
        recipes, week_window, load, fit, config.backtest_weeks, first_reports=first_reports, daily_budget=daily_budget, aged_weeks=0,
        k=config.top_k_cards, known_models={(0, CHALLENGER): boosters[CHALLENGER]}, unit=config.bootstrap_unit, n_boot=config.bootstrap_draws,
        extra_metrics=("roc_auc", f"card_precision_at_{config.top_k_cards}", "fraud_value_caught_share"),
    )
    # A cache of one evaluation: what it did not use, no later evaluation can need.
    folds.prune(storage.list_keys(FOLDS_PREFIX), fold_key, storage.delete)
    result = dataclass_replace(result, fits=folds.summary())
    context.log.info(
        f"backtest: {len(result.weeks)} of {config.backtest_weeks} weeks in {time.perf_counter() - started:.1f} s"
        f" ({folds.fitted} folds fitted, {folds.reused} read from storage, {folds.pruned} unused pruned)"
        + (f"; skipped: {'; '.join(result.skipped)}" if result.skipped else "")
    )
    return result


def expected_performance(backtest, storage: ArtifactStore, window: dict[str, str], policy) -> dict[str, list[dict]]:
    """The challenger recipe's backtest folds on their own test week and every later one, each day
    with the fold's age (`backtest.aged_scores`), measured as monitored days will be: per label age
    (the age by which the policy's share of frauds is reported, and the evaluation's maturity), AP
    and recall at the policy's daily alert budget on the frauds reported by then (`domain.expected_performance`). The
    sensor fits the expectation by model age from them. Empty unless a fold was scored on a week as
    far after its own as the champion's first monitored days are after its test week."""
    from fraudshield_pipeline.defs.monitoring.performance import COMPLETE_AFTER_DAYS, label_delays
    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.expected_performance import as_records, daily_observations
    from fraudshield_pipeline.domain.triggers import judging_age

    at = parse_window(window)
    weeks = list(backtest.aged) if backtest else []
    # A champion is first judged once its test week's labels matured, (as_of - test_start) after its
    # test week: without a fold scored that much later, the expectation would hold younger models only.
    first_judged_weeks = max(1, math.ceil((at["as_of"] - at["test_start"]) / (at["test_end"] - at["test_start"])))
    if not weeks or max(int(w["fold"].iloc[0]) - int(w["week"].iloc[0]) for w in weeks) < first_judged_weeks:
        return {}
    rows = pd.concat(weeks, ignore_index=True)
    days = {d.date().isoformat() for d in pd.to_datetime(rows[s.EVENT_TIMESTAMP], utc=True).dt.floor("D")}
    all_label_days = storage.partitions(LABELS)
    label_days = [d for d in all_label_days if d in days]
    labels = storage.read_tables([table_key(LABELS, d) for d in label_days]).to_pandas() if label_days else pd.DataFrame(columns=[s.TRANSACTION_ID, s.IS_FRAUD, s.REPORTED_AT])
    # The history known at as_of: each day is then judged on the label state at its own age (label_history).
    frauds = labels[pd.to_datetime(labels[s.REPORTED_AT], utc=True) < pd.Timestamp(at["as_of"])]
    delays = label_delays(storage, all_label_days, at["as_of"])
    maturity = max(0, (at["as_of"] - at["test_end"]) // dt.timedelta(days=1))
    ages = {maturity} | ({max(1, judging_age(delays, policy.min_reported_share, COMPLETE_AFTER_DAYS))} if delays else set())
    # One observation per fold and day: a day scored by two folds is two expected days.
    return {
        str(age): as_records([o for frame in weeks for o in daily_observations(frame, frame["score"], frauds, age, policy.daily_alert_budget)])
        for age in sorted(ages) if age <= maturity
    }
