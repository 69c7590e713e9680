"""Time the transaction simulator on 1,000,000 transactions (100 days x 10,000 per day).

    .venv/bin/python benchmarks/simulate.py [--days 100] [--per-day 10000]

Prints a few figures and, as the last line, one line of JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fraudshield_pipeline.domain import schema  # noqa: E402
from fraudshield_pipeline.domain.simulate import (  # noqa: E402
    SimulationConfig,
    clear_caches,
    simulate_day,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--per-day", type=int, default=10_000)
    parser.add_argument("--start", type=datetime.date.fromisoformat, default="2026-09-01")
    args = parser.parse_args()

    config = SimulationConfig(transactions_per_day=args.per_day)
    clear_caches()  # time a cold start, population included
    rows = labels = 0
    scenarios: dict[str, int] = {}
    day_seconds = []
    started = time.perf_counter()
    for i in range(args.days):
        t0 = time.perf_counter()
        sim = simulate_day(config, args.start + datetime.timedelta(days=i))
        day_seconds.append(time.perf_counter() - t0)
        rows += len(sim.transactions)
        labels += len(sim.labels)
        for name, count in sim.labels[schema.FRAUD_SCENARIO].value_counts().items():
            scenarios[name] = scenarios.get(name, 0) + int(count)
    seconds = time.perf_counter() - started

    print(f"config: {config.n_customers} customers, {config.n_merchants} merchants, "
          f"{config.transactions_per_day}/day x {args.days} days")  # fmt: skip
    print(f"first day (population build included): {day_seconds[0] * 1000:.1f} ms")
    later = sorted(day_seconds[1:]) or day_seconds
    print(f"per day afterwards: median {later[len(later) // 2] * 1000:.1f} ms, "
          f"max {later[-1] * 1000:.1f} ms")  # fmt: skip
    print(f"transactions: {rows:,}  labels: {labels:,}  fraud rate: {labels / max(rows, 1):.4%}")
    print("scenarios: " + ", ".join(f"{k}={v}" for k, v in sorted(scenarios.items())))
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": round(seconds, 3),
                "rows_per_second": round(rows / seconds),
            }
        )
    )


if __name__ == "__main__":
    main()
