"""The performance trigger over several draws of one scenario world: a rate, not one seeded run.

    uv run python benchmarks/monitoring_seeds.py [--world second] [--seeds 11,21,31,41,51] [--no-change]
        [--label-delay mixed] [--monitored-days 60] [--jobs 2] [--limits 6.75,14.53]

One seeded run says whether a stable stretch fired, not how often such a world fires: with the
default policy (one false alarm per 730 stable days per CUSUM, two CUSUMs) a calibrated trigger
still fires within 60 days about 15 % of the time. This runs `monitoring_domain.py` once per
seed (the same world's settings, another draw of its customers, merchants and fraud episodes),
then prints each draw's outcome and how close the days measured before the change (all of them,
without a change) came to the limit. The summary gives the lowest limit that would have kept every
draw's pre-change stretch quiet and the detection delays each draw would then have had: the
trade-off the policy's false-alarm rate sets, measured. The last line is JSON.
"""

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_one(seed: int, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(HERE / "monitoring_domain.py"), "--world", args.world, "--seed", str(seed),
               "--label-delay", args.label_delay, "--monitored-days", str(args.monitored_days)]
    done = subprocess.run(command + (["--no-change"] if args.no_change else []), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"seed {seed} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def first_crossing(result: dict, limit: float) -> int | None:
    """Days from the change to the day the sensor sees the first day since the change past `limit` (None: never)."""
    change = dt.date.fromisoformat(result["change_day"])
    return next(((dt.date.fromisoformat(judged) - change).days for day, judged, v in result["statistic"]
                 if v > limit and dt.date.fromisoformat(day) >= change), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="second", help="as monitoring_domain.py: small, default or second")
    parser.add_argument("--seeds", default="11,21,31,41,51")
    parser.add_argument("--label-delay", default="mixed", help="the simulator's default (mixed), as in the 60 stable days")
    parser.add_argument("--monitored-days", type=int, default=60)
    parser.add_argument("--no-change", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limits", default="", help="other limits h to report the detection delays at, e.g. the lowest "
                        "quiet limit of the same world's stable draws: 6.75,14.53")
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda seed: run_one(seed, args), seeds))
    limit = results[0]["limit"]
    print(f"{args.world} world, label delay {args.label_delay}, {'no change' if args.no_change else 'fraud strategy change on ' + results[0]['change_day']}, "
          f"{args.monitored_days} monitored days, limit h = {limit}")
    for r in results:
        outcome = "false alarm" if r["false_alarm"] else (f"caught after {r['detection_delay_days']} days" if r["detection_delay_days"] is not None else "quiet")
        print(f"  seed {r['seed']:>3}: fired {r['fired_day']:<10}  {outcome:<22} highest statistic before the change {r['max_statistic_before_change']:.2f}")
    quiet_limit = max(r["max_statistic_before_change"] for r in results)
    false_alarms = sum(r["false_alarm"] for r in results)
    summary = {"benchmark": "monitoring_seeds", "world": args.world, "label_delay": args.label_delay, "change": not args.no_change,
               "seeds": seeds, "limit": limit, "false_alarms": false_alarms,
               "detection_delays_days": [r["detection_delay_days"] for r in results],
               "lowest_quiet_limit": round(quiet_limit, 2)}
    print(f"  false alarms: {false_alarms} of {len(results)} draws; every pre-change stretch stays below h = {quiet_limit:.2f}")
    if not args.no_change:
        at_quiet = [first_crossing(r, quiet_limit) for r in results]
        summary["detection_delays_at_lowest_quiet_limit"] = at_quiet
        print(f"  detection delays at h = {limit}: {summary['detection_delays_days']}; at h = {quiet_limit:.2f}: {at_quiet}")
        others = {h: [first_crossing(r, float(h)) for r in results] for h in args.limits.split(",") if h}
        for h, delays in others.items():
            print(f"  detection delays at h = {h}: {delays}")
        if others:
            summary["detection_delays_at_limits"] = others
    summary["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
