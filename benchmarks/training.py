"""Training and evaluation time on N simulated transactions, with the pipeline's recipe (issue target: training < 30 s on CPU).

    uv run python benchmarks/training.py [--rows 1000000] [--days 72] [--device cuda]

Simulates N transactions, builds the point-in-time features and the time-forward training set
(not timed), then times XGBoost training with early stopping and the holdout evaluation.
The last line is JSON.

For a GPU machine: `--save-training-set F` writes the built set (parquet) here, `--training-set F
--device cuda --save-model DIR` trains there from it and writes the booster in XGBoost's own
format plus its holdout scores, so a CPU can load the model and check it scores the same.
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=72)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="TrainingCompute.device")
    parser.add_argument("--training-set", help="train from this training-set parquet instead of simulating")
    parser.add_argument("--save-training-set", help="write the built training set to this parquet file")
    parser.add_argument("--save-model", help="write model.ubj and holdout_scores.parquet to this folder")
    args = parser.parse_args()

    import pandas as pd

    from fraudshield_pipeline.domain.evaluate import inference_latency, prepare_holdout, score_model
    from fraudshield_pipeline.domain.features import build_features, model_feature_names
    from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_days
    from fraudshield_pipeline.domain.train import fit_on_window
    from fraudshield_pipeline.domain.training_set import SPLIT, build_training_set, plan_window

    if args.training_set:
        training_set = pd.read_parquet(args.training_set)
        transactions_count = None  # simulated elsewhere
    else:
        config = SimulationConfig(
            n_customers=max(2_000, args.rows // 20), n_merchants=max(200, args.rows // 200), transactions_per_day=args.rows // args.days
        )
        first = dt.date(2026, 9, 1)
        simulated = simulate_days(config, [first + dt.timedelta(days=i) for i in range(args.days)])
        transactions, labels = simulated.transactions, simulated.labels
        start = dt.datetime.combine(first, dt.time(), dt.timezone.utc)
        end = start + dt.timedelta(days=args.days)
        features = build_features(transactions, labels, start, end)
        training_set = build_training_set(features, labels, plan_window(end))
        transactions_count = len(transactions)
        if args.save_training_set:
            training_set.to_parquet(args.save_training_set, index=False, compression="zstd")
    train, validation = (training_set[training_set[SPLIT] == name] for name in ("train", "validation"))
    names = model_feature_names(training_set.columns)
    source = f"{transactions_count:,} transactions" if transactions_count else f"training set from {args.training_set}"
    print(f"{source}; training set {len(training_set):,} rows "
          f"(train {len(train):,}, validation {len(validation):,}), {len(names)} features, {args.device}, {args.threads} threads")

    started = time.perf_counter()
    # The recipe `trained_model` runs (`fit_on_window`): rounds and threshold chosen on the window's
    # time-ordered last part, then a refit on the whole window with that many rounds.
    model = fit_on_window(
        training_set[training_set[SPLIT] != "test"], names, {"device": args.device, "tree_method": "hist", "nthread": args.threads}
    )
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    holdout = prepare_holdout(training_set[training_set[SPLIT] == "test"])
    scored = score_model("bench", model.booster, holdout)
    evaluate_seconds = time.perf_counter() - started
    latency = inference_latency(model.booster, holdout)
    if args.save_model:
        folder = Path(args.save_model)
        folder.mkdir(parents=True, exist_ok=True)
        model.booster.save_model(folder / "model.ubj")
        pd.DataFrame({"transaction_id": holdout["transaction_id"].to_numpy(), "score": scored.scores}).to_parquet(folder / "holdout_scores.parquet")
    metrics = scored.scorecard.metrics
    print(f"  training    {train_seconds:6.1f} s  ({model.rounds} trees: early-stopped choice, then the refit)")
    print(f"  evaluation  {evaluate_seconds:6.1f} s  on {len(holdout):,} test rows")
    print(f"  test average precision {metrics['average_precision']:.4f}, card precision@100 {metrics['card_precision_at_100']:.4f}")
    print(f"  latency: single row p50 {latency['latency_single_p50_ms']:.2f} ms, p99 {latency['latency_single_p99_ms']:.2f} ms")
    print(
        json.dumps(
            {
                "benchmark": "training",
                "rows": transactions_count,
                "device": args.device,
                "xgboost_device": model.device,  # where it really ran (no GPU visible: the CPU)
                "train_rows": len(train),
                "train_seconds": round(train_seconds, 2),
                "evaluate_seconds": round(evaluate_seconds, 2),
                "trees": model.rounds,
                "target_train_seconds": 30,
                "met_target": train_seconds < 30,
                "test_average_precision": round(float(metrics["average_precision"]), 4),
                **{k: round(v, 3) for k, v in latency.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
