"""Detection quality by the field's protocol: three worlds, two train lengths, default vs searched.

    uv run python benchmarks/evaluation.py [--per-day 1500] [--trials 6] [--search-timeout-s 20]
        [--worlds simulator,minimal-column,handbook] [--train 7,56] [--no-backtest]

Worlds (modest sizes so the whole run takes minutes; real feeds are 10-1000x larger):
- simulator: the embedded simulator, every column;
- minimal-column: the simulator with only the required columns (ids, time, amount, labels),
  another seed and another fraud mix;
- handbook: a world shaped like the "Reproducible ML for Credit Card Fraud Detection" handbook's
  simulated data (`domain.worlds.handbook`): grid customers/terminals, other amount and fraud
  processes, required columns only. Not our simulator, so defaults fitted to it would show.
For each world one test week (after a 7-day gap as long as the label delay, labels matured 7
days) is scored by models trained with the pipeline's recipe (`fit_on_window`) on the 7 days and
on the 8 weeks before the gap, with the default parameters and with parameters from a bounded
Optuna search on the train window's own validation split. Figures on the test week:
ROC AUC, average precision and card precision@100 with known-compromised cards removed (cards
with a fraud reported before the test day, and cards already caught on earlier test days), and
AP on all test transactions for comparison. Also timed: the rolling backtest (4 weeks, champion
and challenger refit per week) on a demo-sized simulator world. The last line is JSON.

What these numbers are: one seeded run per cell on simulated data, comparable between cells of
this benchmark. What they are not: an estimate of quality on real data (the worlds' fraud
patterns are simulated), nor a confidence interval (one test week; the evaluation's backtest and
bootstrap give those).
"""

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIRST_DAY = dt.date(2026, 6, 1)
TRAIN_LENGTHS = {7: "7 days", 56: "8 weeks"}
GAP_DAYS, TEST_DAYS, MATURITY_DAYS = 7, 7, 7


def worlds(per_day: int) -> dict:
    from fraudshield_pipeline.domain.simulate import SimulationConfig
    from fraudshield_pipeline.domain.worlds.handbook import HandbookConfig

    rich = SimulationConfig(n_customers=max(2_000, per_day * 2), n_merchants=max(200, per_day // 5), transactions_per_day=per_day)
    # Another population and another fraud mix: fewer compromised terminals, more card testing
    # and takeovers, no optional columns.
    minimal = dataclasses.replace(
        rich, seed=31, minimal_columns=True, terminal_compromise_rate=0.0003, card_testing_rate=0.0006,
        account_takeover_rate=0.0002, large_amount_rate=0.0006,
    )
    # ~2 transactions per customer per day; terminals 2x customers, as in the handbook.
    handbook = HandbookConfig(seed=5, n_customers=max(500, per_day // 2), n_terminals=max(1_000, per_day))
    return {"simulator": rich, "minimal-column": minimal, "handbook": handbook}


def simulate(config, days: int):
    from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_days
    from fraudshield_pipeline.domain.worlds.handbook import simulate_handbook

    if isinstance(config, SimulationConfig):
        simulated = simulate_days(config, [FIRST_DAY + dt.timedelta(days=i) for i in range(days)])
    else:
        simulated = simulate_handbook(config, FIRST_DAY, days)
    return simulated.transactions, simulated.labels


def build(config, days: int, threads: int):
    from fraudshield_pipeline.domain.features import build_features

    transactions, labels = simulate(config, days)
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.timezone.utc)
    features = build_features(transactions, labels, start, start + dt.timedelta(days=days), threads=threads)
    return features, labels, transactions[["transaction_id", "customer_id"]]


def time_backtest(per_day: int, threads: int, weeks: int = 4) -> dict:
    """Seconds the rolling backtest adds to the evaluation on a simulator world, as the pipeline runs it.

    The challenger is trained on week 0 (the training asset's work, not timed) and the champion a
    week earlier with another recipe (max_depth 4); the backtest then refits both recipes, with the
    rounds and threshold each chose on its own window, on `weeks` weeks (14-day train): the
    challenger on weeks 1.., the champion on every week (`seconds`, an empty fold store). Then, as
    the weekly evaluation runs, with the folds kept (`domain.fold_store`): the same evaluation again
    (`rerun_seconds`), and a week later, the challenger promoted and a new one trained
    (`next_week_seconds`: the champion's recipe folds of weeks 1.. are last week's).
    """
    from fraudshield_pipeline.domain.backtest import CHALLENGER, CHAMPION, Recipe, fit_recipe, run_backtest
    from fraudshield_pipeline.domain.features import lookback_days, model_feature_names
    from fraudshield_pipeline.domain.fold_store import FoldStore
    from fraudshield_pipeline.domain.metrics import first_fraud_reports
    from fraudshield_pipeline.domain.simulate import SimulationConfig
    from fraudshield_pipeline.domain.train import fit_on_window
    from fraudshield_pipeline.domain.training_set import build_training_set, plan_window

    train_days = 14
    days = lookback_days() + train_days + GAP_DAYS + TEST_DAYS * (weeks + 1) + MATURITY_DAYS
    config = SimulationConfig(n_customers=20_000, transactions_per_day=per_day)
    features, labels, cards = build(config, days, threads)
    names = model_feature_names(features.columns)
    end = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=days), dt.time(), dt.timezone.utc)
    compute = {"tree_method": "hist", "nthread": threads}
    first_reports = first_fraud_reports(labels, cards)
    store: dict[str, bytes] = {}

    def window(as_of: dt.datetime):
        return lambda i, n=train_days: plan_window(as_of - dt.timedelta(days=i * TEST_DAYS), n, GAP_DAYS, TEST_DAYS, MATURITY_DAYS)

    def train_rows(planned):
        rows = build_training_set(features, labels, planned)
        return rows[rows["split"] != "test"]

    def recipe(name: str, model) -> Recipe:
        return Recipe(name, names, model.recipe, train_days, model.rounds, model.threshold)

    def evaluate(as_of: dt.datetime, challenger, champion) -> tuple[float, dict]:
        """The evaluation's backtest: the registered challenger remembered as its week-0 fold."""
        folds = FoldStore(store.get, store.__setitem__, compute)
        started = time.perf_counter()
        folds.remember(train_rows(window(as_of)(0)), challenger[0], challenger[1].booster)
        run_backtest(
            {CHALLENGER: challenger[0], CHAMPION: champion}, window(as_of),
            lambda planned: build_training_set(features, labels, planned),
            folds.wrap(lambda rows, r: fit_recipe(rows, r, compute)), weeks,
            first_reports=first_reports, known_models={(0, CHALLENGER): challenger[1].booster},
        )
        return round(time.perf_counter() - started, 1), folds.summary()

    as_of = end - dt.timedelta(days=TEST_DAYS)
    started = time.perf_counter()
    challenger = fit_on_window(train_rows(window(as_of)(0)), names, compute)
    champion = fit_on_window(train_rows(window(as_of)(1)), names, compute, params={"max_depth": 4})
    training_seconds = (time.perf_counter() - started) / 2
    seconds, fits = evaluate(as_of, (recipe("challenger", challenger), challenger), recipe("champion", champion))
    rerun_seconds, rerun_fits = evaluate(as_of, (recipe("challenger", challenger), challenger), recipe("champion", champion))
    newer = fit_on_window(train_rows(window(end)(0)), names, compute)  # next week's training, not timed
    next_seconds, next_fits = evaluate(end, (recipe("newer", newer), newer), recipe("promoted", challenger))
    return {
        "weeks": weeks, "per_day": per_day, "train_days": train_days, "models": 2,
        "rounds": {CHALLENGER: challenger.rounds, CHAMPION: champion.rounds, "next_challenger": newer.rounds},
        "training_seconds": round(training_seconds, 1),
        "seconds": seconds, "fits": fits,
        "rerun_seconds": rerun_seconds, "rerun_fits": rerun_fits,
        "next_week_seconds": next_seconds, "next_week_fits": next_fits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=1500, help="average transactions per simulated day")
    parser.add_argument("--trials", type=int, default=6, help="Optuna trials per search (0: no search)")
    parser.add_argument("--search-timeout-s", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--worlds", default="simulator,minimal-column,handbook")
    parser.add_argument("--train", default="7,56", help="train lengths in days")
    parser.add_argument("--no-backtest", action="store_true", help="skip timing the backtest on a demo-sized world")
    parser.add_argument("--backtest-per-day", type=int, default=6000, help="the demo profile's transactions per day")
    args = parser.parse_args()

    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.features import lookback_days, model_feature_names
    from fraudshield_pipeline.domain.metrics import first_fraud_reports
    from fraudshield_pipeline.domain.protocol import protocol_metrics
    from fraudshield_pipeline.domain.train import fit_on_window, predict
    from fraudshield_pipeline.domain.training_set import SPLIT, TEST, build_training_set, plan_window
    from fraudshield_pipeline.domain.tuning import search_params

    total_started = time.perf_counter()
    compute = {"tree_method": "hist", "nthread": args.threads}
    lengths = [int(x) for x in args.train.split(",")]
    chosen = {name: config for name, config in worlds(args.per_day).items() if name in args.worlds.split(",")}
    days = lookback_days() + max(lengths) + GAP_DAYS + TEST_DAYS + MATURITY_DAYS
    as_of = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=days), dt.time(), dt.timezone.utc)
    results = []
    print(f"worlds of ~{args.per_day} transactions/day; one seeded test week per cell; CP@100, AUC, AP with known-compromised cards removed")
    print(f"{'world':15} {'train':8} {'params':9} {'AUC':>6} {'AP':>6} {'CP@100':>7} {'AP(all)':>8} {'trees':>5} {'fit s':>6}", flush=True)
    for world, config in chosen.items():
        started = time.perf_counter()
        features, labels, cards = build(config, days, args.threads)
        first_reports = first_fraud_reports(labels, cards)
        names = model_feature_names(features.columns)
        build_s = time.perf_counter() - started
        for train_days in lengths:
            train_label = TRAIN_LENGTHS.get(train_days, f"{train_days} days")
            window = plan_window(as_of, train_days, GAP_DAYS, TEST_DAYS, MATURITY_DAYS)
            frame = build_training_set(features, labels, window)
            train, test = frame[frame[SPLIT] != TEST], frame[frame[SPLIT] == TEST]
            cutoff = train.loc[train[SPLIT] != "train", s.EVENT_TIMESTAMP].min()
            variants = {"default": None}
            if args.trials:
                searched = search_params(train, names, compute, trials=args.trials, timeout_s=args.search_timeout_s, validation_start=cutoff)
                variants["searched"] = searched.params
            for variant, params in variants.items():
                fit_started = time.perf_counter()
                model = fit_on_window(train, names, compute, params=params, validation_start=cutoff)
                fit_s = time.perf_counter() - fit_started
                scored = test.assign(score=predict(model.booster, test))
                m = protocol_metrics(scored, first_reports, model.threshold, daily_budget=100, k=100)
                row = {
                    "world": world, "train": train_label, "params": variant, "features": len(names),
                    "train_rows": len(train), "train_fraud": int(train[s.IS_FRAUD].sum()),
                    "test_rows": len(test), "test_fraud": int(test[s.IS_FRAUD].sum()),
                    "roc_auc": m["roc_auc"], "average_precision": m["average_precision"],
                    "card_precision_at_100": m["card_precision_at_100"],
                    "all_average_precision": m["all_average_precision"], "all_roc_auc": m["all_roc_auc"],
                    "all_card_precision_at_100": m["all_card_precision_at_100"],
                    "trees": model.rounds, "fit_seconds": round(fit_s, 2),
                    **({"searched_params": params} if params else {}),
                }
                results.append(row)
                print(
                    f"{world:15} {train_label:8} {variant:9} {row['roc_auc']:6.3f} {row['average_precision']:6.3f} "
                    f"{row['card_precision_at_100']:7.3f} {row['all_average_precision']:8.3f} {model.rounds:5d} {fit_s:6.1f}",
                    flush=True,
                )
        print(f"  ({world}: {len(features)} transactions, {int(labels[s.IS_FRAUD].sum())} frauds, {len(names)} features, built in {build_s:.0f} s)", flush=True)
    backtest = None
    if not args.no_backtest:
        backtest = time_backtest(args.backtest_per_day, args.threads)
        print(
            f"backtest: {backtest['weeks']} weeks x 2 models ({backtest['train_days']}-day train, {backtest['per_day']} transactions/day, "
            f"rounds {backtest['rounds']}): {backtest['seconds']} s {backtest['fits']}; the same evaluation again: {backtest['rerun_seconds']} s "
            f"{backtest['rerun_fits']}; a week later, the challenger promoted: {backtest['next_week_seconds']} s {backtest['next_week_fits']}; "
            f"one training of the pipeline: {backtest['training_seconds']} s"
        )
    rounded = [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in results]
    print(json.dumps({
        "benchmark": "evaluation", "per_day": args.per_day, "trials": args.trials, "protocol": "known-compromised cards removed",
        "results": rounded, "backtest": backtest, "seconds": round(time.perf_counter() - total_started, 1),
    }))


if __name__ == "__main__":
    main()
