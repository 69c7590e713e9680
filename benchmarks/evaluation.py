"""Detection quality by the field's protocol: two simulated worlds, two train lengths, default vs searched.

    uv run python benchmarks/evaluation.py [--per-day 2000] [--trials 8] [--search-timeout-s 30]

Worlds: the embedded simulator (every column), and a minimal-column world (ids, time, amount,
labels only; another seed and another fraud mix, so that nothing here is fitted to one world).
For each world one test week (after a 7-day gap as long as the label delay, labels matured 7
days) is scored by models trained with the pipeline's recipe (`fit_on_window`) on the 7 days and
on the 8 weeks before the gap, with the default parameters and with parameters from a bounded
Optuna search on the train window's own validation split. Figures on the test week:
ROC AUC, average precision and card precision@100 with known-compromised cards removed (cards
with a fraud reported before the test day, and cards already caught on earlier test days), and
AP on all test transactions for comparison. The last line is JSON.

What these numbers are: one seeded run per cell on simulated data, comparable between cells of
this benchmark. What they are not: an estimate of quality on real data (the simulator's fraud
patterns are ours), nor a confidence interval (one test week; the evaluation's backtest and
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
TRAIN_LENGTHS = {"7 days": 7, "8 weeks": 56}
GAP_DAYS, TEST_DAYS, MATURITY_DAYS = 7, 7, 7


def worlds(per_day: int) -> dict:
    from fraudshield_pipeline.domain.simulate import SimulationConfig

    rich = SimulationConfig(n_customers=max(2_000, per_day * 2), n_merchants=max(200, per_day // 5), transactions_per_day=per_day)
    # Another population and another fraud mix: fewer compromised terminals, more card testing
    # and takeovers, no optional columns.
    minimal = dataclasses.replace(
        rich, seed=31, minimal_columns=True, terminal_compromise_rate=0.0003, card_testing_rate=0.0006,
        account_takeover_rate=0.0002, large_amount_rate=0.0006,
    )
    return {"simulator": rich, "minimal-column": minimal}


def build(config, days: int):
    import pandas as pd

    from fraudshield_pipeline.domain.features import build_features
    from fraudshield_pipeline.domain.simulate import simulate_days

    simulated = simulate_days(config, [FIRST_DAY + dt.timedelta(days=i) for i in range(days)])
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.timezone.utc)
    features = build_features(simulated.transactions, simulated.labels, start, start + dt.timedelta(days=days))
    return features, simulated.labels, simulated.transactions[["transaction_id", "customer_id"]].pipe(pd.DataFrame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=2000, help="average transactions per simulated day")
    parser.add_argument("--trials", type=int, default=8, help="Optuna trials per search (0: no search)")
    parser.add_argument("--search-timeout-s", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.features import lookback_days, model_feature_names
    from fraudshield_pipeline.domain.metrics import first_fraud_reports
    from fraudshield_pipeline.domain.protocol import protocol_metrics
    from fraudshield_pipeline.domain.train import fit_on_window, predict
    from fraudshield_pipeline.domain.training_set import SPLIT, TEST, build_training_set, plan_window
    from fraudshield_pipeline.domain.tuning import search_params

    compute = {"tree_method": "hist", "nthread": args.threads}
    days = lookback_days() + max(TRAIN_LENGTHS.values()) + GAP_DAYS + TEST_DAYS + MATURITY_DAYS
    as_of = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=days), dt.time(), dt.timezone.utc)
    results = []
    print(f"{'world':15} {'train':8} {'params':9} {'AUC':>6} {'AP':>6} {'CP@100':>7} {'AP(all)':>8} {'trees':>5} {'fit s':>6}", flush=True)
    for world, config in worlds(args.per_day).items():
        started = time.perf_counter()
        features, labels, cards = build(config, days)
        first_reports = first_fraud_reports(labels, cards)
        names = model_feature_names(features.columns)
        build_s = time.perf_counter() - started
        for train_label, train_days in TRAIN_LENGTHS.items():
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
        print(f"  ({world}: {len(features)} transactions, {len(names)} features, built in {build_s:.0f} s)")
    rounded = [{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in results]
    print(json.dumps({"benchmark": "evaluation", "per_day": args.per_day, "trials": args.trials, "protocol": "known-compromised cards removed", "results": rounded}))


if __name__ == "__main__":
    main()
