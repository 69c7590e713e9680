"""The performance trigger's false alarms and detection delay in seconds, without Dagster.

    uv run python benchmarks/monitoring_domain.py [--world small|default|second] [--label-delay lognormal:2:1.0]
        [--monitored-days 30] [--no-change] [--seed N] [--baseline first-days|backtest|backtest-lag2|backtest-own-week] [--fresh-as-of DATE]

The slow scenarios (benchmarks/monitoring.py, defs/test_scenarios.py) run every stage through
Dagster and take many minutes; this drives the same domain functions over the same simulated
worlds directly, to iterate on the method: simulate 72 days (+ the monitored ones), build the
point-in-time features, train a champion on the time-forward window ending on day 72, then judge
each monitored day as `matured_performance` and `performance_retrain_sensor` do: at the age by
which half its frauds are expected to be reported (empirical delay curve of days at least 30 days
old), on the labels reported by then, with the default policy's CUSUM (false-alarm rate 1/730 per
metric) against the champion's expectation: by default (as the policy's default) its first 7
judged days; `--baseline backtest`: its recipe's 4 backtest folds, each scored on its own test
week and every later one, measured the same way, each day with the fold's age, as
`evaluation_report` records it: an expectation that follows the champion's age
(`triggers.aged_performance_baseline`); `backtest-lag2`: the former flat one, folds only on the
weeks at least two weeks after their own; `backtest-own-week`: each fold on its own week, flat. A fraud-strategy change starts on 2026-08-22
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

# The scenario worlds, built from the same settings as the slow scenarios (environment variables of
# the simulator source): "default" = the tests' small world, "small" = FRAUD_STRATEGY_WORLD,
# "second" = SECOND_WORLD (half the fraud rate, Monday peak, required columns only).
WORLDS = {
    "default": {"FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "1500", "FRAUDSHIELD_SIM_CUSTOMERS": "3000", "FRAUDSHIELD_SIM_MERCHANTS": "300"},
    "small": "FRAUD_STRATEGY_WORLD",
    "second": "SECOND_WORLD",
}


def world_config(name: str, label_delay: str, change: dt.date | None, seed: int | None = None):
    from fraudshield_pipeline import scenarios
    from fraudshield_pipeline.resources.profiles import build_source

    env = WORLDS[name] if isinstance(WORLDS[name], dict) else getattr(scenarios, WORLDS[name])
    env = {**env, "FRAUDSHIELD_SIM_LABEL_DELAY": label_delay}
    if seed is not None:  # the same world's settings, another draw of it
        env["FRAUDSHIELD_SIM_SEED"] = str(seed)
    if change:
        env["FRAUDSHIELD_SIM_FRAUD_STRATEGY_CHANGE_START"] = change.isoformat()
    return build_source(env).config()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", choices=sorted(WORLDS), default="small")
    parser.add_argument("--label-delay", default="lognormal:2:1.0")
    parser.add_argument("--monitored-days", type=int, default=30)
    parser.add_argument("--no-change", action="store_true")
    parser.add_argument("--seed", type=int, help="another draw of the same world (default: the scenario's own seed)")
    parser.add_argument("--baseline", choices=("backtest", "backtest-lag2", "backtest-own-week", "first-days"), default="first-days",
                        help="the champion's expectation: its first 7 judged days (the policy's default), its recipe's backtest folds "
                        "on weeks 2+ weeks after their own (as evaluation_report records it), or each fold on its own week")
    parser.add_argument("--backtest-weeks", type=int, default=4)
    parser.add_argument("--fresh-as-of", help="also train a fresh model with this as_of and compare both on its test week")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    import pandas as pd

    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.features import build_features, model_feature_names
    from fraudshield_pipeline.domain.simulate import simulate_days
    from fraudshield_pipeline.domain.expected_performance import MODEL_TEST_START, daily_observations, expectation
    from fraudshield_pipeline.domain.train import fit_on_window, predict, refit_on_window
    from fraudshield_pipeline.domain.training_set import SPLIT, build_training_set, plan_window
    from fraudshield_pipeline.domain.triggers import (
        cusum_limit, cusum_performance_trigger, is_measured, judging_age, performance_baseline, performance_cusums,
    )
    from fraudshield_pipeline.resources.policy import RetrainPolicy

    policy = RetrainPolicy()
    started = time.perf_counter()
    first, change = dt.date(2026, 6, 1), None if args.no_change else dt.date(2026, 8, 22)
    config = world_config(args.world, args.label_delay, change, args.seed)
    n_days = 72 + args.monitored_days + 8
    simulated = simulate_days(config, [first + dt.timedelta(days=i) for i in range(n_days)])
    transactions, labels = simulated.transactions, simulated.labels
    start = dt.datetime.combine(first, dt.time(), dt.timezone.utc)
    as_of = start + dt.timedelta(days=72)
    features = build_features(transactions, labels, start, start + dt.timedelta(days=n_days))
    known_then = features[features[s.EVENT_TIMESTAMP] < as_of], labels[labels[s.REPORTED_AT] < as_of]
    training = build_training_set(*known_then, plan_window(as_of))
    names = model_feature_names(training.columns)
    compute = {"tree_method": "hist", "nthread": 2}
    model = fit_on_window(training[training[SPLIT] != "test"], names, compute)  # the pipeline's recipe
    frauds = labels[labels[s.IS_FRAUD] == 1].copy()
    when = transactions.set_index(s.TRANSACTION_ID)[s.EVENT_TIMESTAMP]
    frauds["day_end"] = pd.to_datetime(frauds[s.TRANSACTION_ID].map(when)).dt.normalize() + pd.Timedelta(days=1)
    old = frauds[frauds["day_end"] <= pd.Timestamp(as_of) - pd.Timedelta(days=30)]
    delays = list(((old[s.REPORTED_AT] - old["day_end"]) / pd.Timedelta(days=1)).to_numpy())
    age = max(1, judging_age(delays, policy.min_reported_share, 30))
    features["day"] = pd.to_datetime(features[s.EVENT_TIMESTAMP]).dt.date
    limit = cusum_limit(policy.performance_false_alarm_rate, policy.cusum_k)
    reported = labels[labels[s.IS_FRAUD] == 1]
    expected = []
    champion_test_start = plan_window(as_of).test_start
    if args.baseline.startswith("backtest"):  # as evaluation_report: the recipe refit on each earlier week, its test week measured
        boosters, tests, starts = {}, {}, {}
        for week in range(args.backtest_weeks):
            window = plan_window(as_of - dt.timedelta(days=7 * week))
            rows_w = build_training_set(*known_then, window)
            boosters[week] = model.booster if week == 0 else refit_on_window(
                rows_w[rows_w[SPLIT] != "test"], names, compute, rounds=model.rounds, threshold=model.threshold)
            tests[week], starts[week] = rows_w[rows_w[SPLIT] == "test"], window.test_start
        # backtest (as the pipeline): each fold on its own test week and every later one, each day
        # with the fold's age (an expectation that follows the champion's age); backtest-lag2: each
        # fold on the weeks at least two weeks after its own, flat; backtest-own-week: own week, flat.
        lag = {"backtest": 0, "backtest-lag2": 2}.get(args.baseline)
        pairs = [(w, w) for w in boosters] if lag is None else [(j, i) for j in boosters for i in tests if j - i >= lag]
        for j, i in pairs:
            rows_ji = tests[i].assign(**({MODEL_TEST_START: starts[j]} if args.baseline == "backtest" else {}))
            week_days = daily_observations(rows_ji, predict(boosters[j], tests[i]), reported[reported[s.REPORTED_AT] < as_of], age, 100)
            print(f"  fold {j} on week {i}: " + " ".join(f"{o.recall_at_budget:.2f}/{o.average_precision:.2f}/{o.n_fraud}" for o in week_days))
            expected = week_days + expected
        baseline = expectation(expected, policy.performance_baseline_days, policy.min_sd_fraction)
        print(f"  expectation from {args.backtest_weeks} backtest weeks: {baseline.describe()}")
    if args.fresh_as_of:
        fresh_at = dt.datetime.fromisoformat(args.fresh_as_of).replace(tzinfo=dt.timezone.utc)
        fresh_rows = build_training_set(features[features[s.EVENT_TIMESTAMP] < fresh_at], labels[labels[s.REPORTED_AT] < fresh_at], plan_window(fresh_at))
        fresh = fit_on_window(fresh_rows[fresh_rows[SPLIT] != "test"], names, compute)
        test = fresh_rows[fresh_rows[SPLIT] == "test"]
        frauds_then = reported[reported[s.REPORTED_AT] < fresh_at]
        for label, booster in (("champion", model.booster), ("fresh", fresh.booster)):
            days_ = [o for o in daily_observations(test, predict(booster, test), frauds_then, age, 100) if is_measured(o)]  # a day without fraud says nothing
            print(f"  {label} on {test[s.EVENT_TIMESTAMP].min():%Y-%m-%d}..: recall {sum(o.recall_at_budget for o in days_)/len(days_):.3f} "
                  f"AP {sum(o.average_precision for o in days_)/len(days_):.3f}")
    observations, fired, fired_measured, reason, rows = [], None, None, None, []
    for offset in range(args.monitored_days):
        day = as_of.date() + dt.timedelta(days=offset)
        frame = features[features["day"] == day]
        observations += daily_observations(frame.assign(**{MODEL_TEST_START: champion_test_start}), predict(model.booster, frame), reported, age, 100)
        metrics = vars(observations[-1])
        if args.baseline == "first-days":
            baseline = performance_baseline(observations, policy.performance_baseline_days, policy.min_sd_fraction)
        decision = cusum_performance_trigger(observations, baseline, policy.cusum_k, limit)
        today = day + dt.timedelta(days=age)  # the day the sensor sees this measurement
        rows.append([day.isoformat(), round(metrics["average_precision"], 3), round(metrics["recall_at_budget"], 3),
                     int(metrics["n_fraud"])])
        print(f"  {day}  AP {rows[-1][1]:.3f}  recall at budget {rows[-1][2]:.3f}  reported frauds {rows[-1][3]:3d}  "
              f"(judged {today}){'  <- strategy change' if day == change else ''}")
        if decision.fire and fired is None:
            fired, fired_measured, reason = today, day, decision.reason
    # The trigger's statistic day by day (the larger of its two CUSUMs), on the day the sensor sees it:
    # how close a stable stretch came to the limit, and what another limit would have done.
    path = []
    if baseline is not None:
        judged, ap_path, recall_path = performance_cusums(observations, baseline, policy.cusum_k)
        path = [[o.partition, (dt.date.fromisoformat(o.partition) + dt.timedelta(days=age)).isoformat(), round(max(a, r), 2)]
                for o, a, r in zip(judged, ap_path, recall_path, strict=True)]  # [day measured, day judged, statistic]
    before = [v for day, _, v in path if change is None or dt.date.fromisoformat(day) < change]
    false_alarm = fired is not None and (change is None or fired_measured < change)  # on a day measured before the change
    delay = (fired - change).days if fired and change and not false_alarm else None
    print(f"  judged at label age {age} d; performance trigger fired on {fired}: delay {delay} day(s); {reason}")
    print(json.dumps({"benchmark": "monitoring_domain", "world": args.world, "seed": config.seed, "label_delay": args.label_delay,
                      "change_day": str(change), "baseline": args.baseline, "monitored_days": args.monitored_days, "judging_age_days": age,
                      "fired_day": str(fired), "false_alarm": false_alarm, "detection_delay_days": delay, "limit": limit,
                      "max_statistic_before_change": max(before, default=0.0), "statistic": path,
                      "total_seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
