"""Contract validation throughput (issue target: at least 1M rows/s on this machine).

    uv run python benchmarks/validation.py [--rows 1000000] [--bad-share 0.001]

One simulated day of N transactions, with a share of rows broken in several ways so the
quarantine path is exercised too; validated three times after a warm-up. The last line is JSON.
"""

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bad-share", type=float, default=0.001)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    from fraudshield_pipeline.domain import schema as s
    from fraudshield_pipeline.domain.contracts import validate_transactions
    from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_day

    day = dt.date(2026, 9, 3)
    config = SimulationConfig(n_customers=max(1000, args.rows // 20), n_merchants=max(100, args.rows // 200), transactions_per_day=args.rows)
    transactions = simulate_day(config, day).transactions
    rng = np.random.default_rng(0)
    bad = rng.choice(len(transactions), int(len(transactions) * args.bad_share), replace=False)
    thirds = np.array_split(bad, 3)
    transactions.loc[thirds[0], s.AMOUNT] = -1.0
    transactions.loc[thirds[1], s.MERCHANT_CATEGORY] = "5411"
    transactions.loc[thirds[2], s.EVENT_TIMESTAMP] = transactions[s.EVENT_TIMESTAMP].iloc[0] - dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    end = start + dt.timedelta(days=1)

    validate_transactions(transactions.head(1000), start, end, "warm-up")  # builds the pandera schema once
    timings = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        outcome = validate_transactions(transactions, start, end, "benchmark")
        timings.append(time.perf_counter() - started)
    seconds = statistics.median(timings)
    rate = len(transactions) / seconds
    print(f"{len(transactions):,} rows: kept {len(outcome.valid):,}, quarantined {len(outcome.quarantine):,} "
          f"({outcome.rule_counts})")
    print(f"median {seconds:.3f} s over {args.repeats} runs -> {rate:,.0f} rows/s")
    print(json.dumps({"benchmark": "validation", "rows": len(transactions), "quarantined": len(outcome.quarantine),
                      "seconds": round(seconds, 3), "rows_per_second": round(rate), "target_rows_per_second": 1_000_000,
                      "met_target": rate >= 1_000_000, "rows_accounted": outcome.rows_accounted}))


if __name__ == "__main__":
    main()
