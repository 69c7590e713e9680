"""The performance trigger's false alarms and detection delay in seconds, without Dagster.

    uv run python benchmarks/monitoring_domain.py [--world small|default|second] [--label-delay lognormal:2:1.0]
        [--monitored-days 30] [--no-change]

The slow scenarios (benchmarks/monitoring.py, defs/test_scenarios.py) run every stage through
Dagster and take many minutes; this drives the same domain functions over the same simulated
worlds directly, to iterate on the method: simulate 72 days (+ the monitored ones), build the
point-in-time features, train a champion on the time-forward window ending on day 72, then judge
each monitored day as `matured_performance` and `performance_retrain_sensor` do: at the age by
which half its frauds are expected to be reported (empirical delay curve of days at least 30 days
old), on the labels reported by then, with the default policy's CUSUM (baseline = the first 7
judged days, false-alarm rate 1/730 per metric). A fraud-strategy change starts on 2026-08-22
unless --no-change. The last line is JSON.
"""

import argparse
import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORLDS = {  # as fraudshield_pipeline.scenarios: SMALL_WORLD (tests), FRAUD_STRATEGY_WORLD, SECOND_WORLD
    "default": {"n_customers": 3000, "n_merchants": 300, "transactions_per_day": 1500},
    "small": {"n_customers": 6000, "n_merchants": 600, "transactions_per_day": 3000},
    "second": {"seed": 11, "n_customers": 12000, "n_merchants": 900, "transactions_per_day": 5000,
               "weekday_factors": (1.3, 1.0, 0.95, 0.95, 1.0, 0.9, 0.9), "minimal_columns": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=sorted(WORLDS), default="small")
    parser.add_argument("--label-delay", default="lognormal:2:1.0")
    parser.add_argument("--monitored-days", type=int, default=30)
    parser.add_argument("--no-change", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import pandas as pd

    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.features import build_features, model_feature_names
    from fraudshield_pipeline.domain.metrics import evaluate_scores
    from fraudshield_pipeline.domain.simulate import DriftKnobs, SimulationConfig, simulate_days
    from fraudshield_pipeline.domain.train import predict, train_xgboost
    from fraudshield_pipeline.domain.training_set import SPLIT, build_training_set, plan_window
    from fraudshield_pipeline.domain.triggers import (
        PerformanceObservation, cusum_limit, cusum_performance_trigger, judging_age, performance_baseline,
    )
    from fraudshield_pipeline.resources.policy import RetrainPolicy

    policy = RetrainPolicy()
    started = time.perf_counter()
    first, change = dt.date(2026, 6, 1), None if args.no_change else dt.date(2026, 8, 22)
    config = SimulationConfig(label_delay=args.label_delay, drift=DriftKnobs(fraud_strategy_change_start=change),
                              **WORLDS[args.world])
    n_days = 72 + args.monitored_days + 8
    simulated = simulate_days(config, [first + dt.timedelta(days=i) for i in range(n_days)])
    transactions, labels = simulated.transactions, simulated.labels
    start = dt.datetime.combine(first, dt.time(), dt.timezone.utc)
    as_of = start + dt.timedelta(days=72)
    features = build_features(transactions, labels, start, start + dt.timedelta(days=n_days))
    training = build_training_set(features[features[s.EVENT_TIMESTAMP] < as_of], labels[labels[s.REPORTED_AT] < as_of],
                                  plan_window(as_of))
    names = model_feature_names(training.columns)
    model = train_xgboost(training[training[SPLIT] == "train"], training[training[SPLIT] == "validation"], names,
                          {"tree_method": "hist", "nthread": 1})
    frauds = labels[labels[s.IS_FRAUD] == 1].copy()
    when = transactions.set_index(s.TRANSACTION_ID)[s.EVENT_TIMESTAMP]
    frauds["day_end"] = pd.to_datetime(frauds[s.TRANSACTION_ID].map(when)).dt.normalize() + pd.Timedelta(days=1)
    old = frauds[frauds["day_end"] <= pd.Timestamp(as_of) - pd.Timedelta(days=30)]
    delays = list(((old[s.REPORTED_AT] - old["day_end"]) / pd.Timedelta(days=1)).to_numpy())
    age = max(1, judging_age(delays, policy.min_reported_share, 30))
    features["day"] = pd.to_datetime(features[s.EVENT_TIMESTAMP]).dt.date
    limit = cusum_limit(policy.performance_false_alarm_rate, policy.cusum_k)
    observations, fired, reason, rows = [], None, None, []
    for offset in range(args.monitored_days):
        day = as_of.date() + dt.timedelta(days=offset)
        known_by = pd.Timestamp(as_of) + pd.Timedelta(days=offset + 1 + age)
        frame = features[features["day"] == day]
        known = frame[s.TRANSACTION_ID].isin(frauds[frauds[s.REPORTED_AT] < known_by][s.TRANSACTION_ID])
        metrics = evaluate_scores(frame.assign(score=predict(model.booster, frame), **{s.IS_FRAUD: known.astype(int)}),
                                  daily_budget=100)
        observations.append(PerformanceObservation(day.isoformat(), metrics["average_precision"],
                                                   metrics["recall_at_budget"], int(metrics["n_fraud"])))
        baseline = performance_baseline(observations, policy.performance_baseline_days, policy.min_sd_fraction)
        decision = cusum_performance_trigger(observations, baseline, policy.cusum_k, limit)
        today = day + dt.timedelta(days=age)  # the day the sensor sees this measurement
        rows.append([day.isoformat(), round(metrics["average_precision"], 3), round(metrics["recall_at_budget"], 3),
                     int(metrics["n_fraud"])])
        print(f"  {day}  AP {rows[-1][1]:.3f}  recall at budget {rows[-1][2]:.3f}  reported frauds {rows[-1][3]:3d}  "
              f"(judged {today}){'  <- strategy change' if day == change else ''}")
        if decision.fire and fired is None:
            fired, reason = today, decision.reason
    false_alarm = fired is not None and (change is None or fired < change)
    delay = (fired - change).days if fired and change and not false_alarm else None
    print(f"  judged at label age {age} d; performance trigger fired on {fired}: delay {delay} day(s); {reason}")
    print(json.dumps({"benchmark": "monitoring_domain", "world": args.world, "label_delay": args.label_delay,
                      "change_day": str(change), "monitored_days": args.monitored_days, "judging_age_days": age,
                      "fired_day": str(fired), "false_alarm": false_alarm, "detection_delay_days": delay,
                      "total_seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
