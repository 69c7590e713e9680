"""Point-in-time features: DuckDB vs Feast, memory at 10M transactions, online scoring latency.

    uv run python benchmarks/features.py [--rows 1000000] [--big-rows 10000000] [--skip-big]

Side by side, in one run:
1. At N transactions: the feature build, then the training set (DuckDB ASOF point-in-time join
   of every transaction to the feature views) against Feast's own `get_historical_features` on
   the same definitions and the same entity rows (every transaction); values compared one by one.
   Feast gets them in calls of --feast-batch-rows (100k): its TTL join needs tens of GB for a
   million rows in one call.
   Targets: at least 50x faster, identical values.
2. At 10M transactions (own process, so its peak memory is its own): simulated days through the
   data contracts to parquet, the chunked feature build and the training set. Target: peak RSS
   under 4 GB.
3. Online scoring of single transactions through FraudScorer (Feast online store + XGBoost
   model): p50/p99 over 2,000 calls. Target: p99 under 5 ms.
The last line is JSON.
"""

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIRST_DAY = dt.date(2026, 6, 1)
UTC = dt.timezone.utc


def simulate_to_parquet(rows: int, days: int, root: Path) -> tuple[list[str], list[str], dict]:
    """Simulated days through the data contracts, straight to parquet: one file a day, never all in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fraudshield_pipeline.domain.contracts import validate_labels, validate_transactions
    from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_day

    config = SimulationConfig(
        n_customers=max(2_000, rows // 20), n_merchants=max(200, rows // 500), transactions_per_day=rows // days
    )
    (root / "transactions").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    tx_files, label_files = [], []
    stats = {"rows_in": 0, "rows_kept": 0, "rows_quarantined": 0, "transactions_kept": 0, "validate_seconds": 0.0}
    for i in range(days):
        day_date = FIRST_DAY + dt.timedelta(days=i)
        day = simulate_day(config, day_date)
        started = time.perf_counter()
        start = dt.datetime.combine(day_date, dt.time(), UTC)
        transactions = validate_transactions(day.transactions, start, start + dt.timedelta(days=1), f"simulator://{day_date}")
        # As in validated_snapshots: a day's labels must reference that day's validated transactions.
        labels = validate_labels(day.labels, transactions.valid["transaction_id"], f"simulator://{day_date}/labels")
        stats["validate_seconds"] += time.perf_counter() - started
        for outcome in (transactions, labels):
            assert outcome.rows_accounted
            stats["rows_in"] += outcome.rows_in
            stats["rows_kept"] += len(outcome.valid)
            stats["rows_quarantined"] += len(outcome.quarantine)
        stats["transactions_kept"] += len(transactions.valid)
        tx_files.append(str(root / "transactions" / f"{i:04d}.parquet"))
        label_files.append(str(root / "labels" / f"{i:04d}.parquet"))
        pq.write_table(pa.Table.from_pandas(transactions.valid, preserve_index=False), tx_files[-1])
        pq.write_table(pa.Table.from_pandas(labels.valid, preserve_index=False), label_files[-1])
    stats["validate_seconds"] = round(stats["validate_seconds"], 2)
    return tx_files, label_files, stats


def peak_rss_mb() -> int:
    """This process's own peak RSS.

    Linux's VmHWM belongs to the process image since its exec; `ru_maxrss` also carries the
    parent's peak at the fork (the kernel keeps it across exec), so a child started by a large
    test process would report the parent's memory as its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def build(rows: int, days: int, root: Path, threads: int | None) -> dict:
    """Simulate, build features (chunked) and the training set; the timed core of part 1 and 2."""
    import duckdb

    from fraudshield_pipeline.domain.features import write_features_to_parquet
    from fraudshield_pipeline.domain.training_set import build_training_set, plan_window

    started = time.perf_counter()
    tx_files, label_files, validation = simulate_to_parquet(rows, days, root)
    simulate_seconds = time.perf_counter() - started - validation["validate_seconds"]
    rss_after_validation = peak_rss_mb()
    started = time.perf_counter()
    written = write_features_to_parquet(tx_files, label_files, FIRST_DAY, days, str(root / "tables" / "transaction_features"), threads=threads)
    feature_seconds = time.perf_counter() - started
    rss_after_features = peak_rss_mb()
    started = time.perf_counter()
    # DuckDB scans the feature files itself (pruning to the window by row-group statistics) and
    # spills past its limit: only the training set itself lands in Python's memory.
    as_of = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=days), dt.time(), UTC)
    window = plan_window(as_of)
    con = duckdb.connect()
    labels = con.sql(f"SELECT * FROM read_parquet('{root}/labels/*.parquet')").to_arrow_table()
    con.close()
    training_set = build_training_set(f"{root}/tables/transaction_features/*.parquet", labels, window, memory_limit="1GB")
    training_seconds = time.perf_counter() - started
    return {
        "transactions": sum(written.values()),
        "simulate_seconds": round(simulate_seconds, 2),
        **validation,
        "feature_build_seconds": round(feature_seconds, 2),
        "training_set_seconds": round(training_seconds, 2),
        "training_set_rows": len(training_set),
        "peak_rss_mb_validation": rss_after_validation,
        "peak_rss_mb_features": rss_after_features,
        "peak_rss_mb_training_set": peak_rss_mb(),
    }


def big_child(args) -> None:
    """Part 2, run in its own process: its peak RSS is the figure."""
    with tempfile.TemporaryDirectory() as tmp:
        result = build(args.big_rows, args.big_days, Path(tmp), args.threads)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def feast_child(args) -> None:
    """Feast's historical retrieval of the given entity rows, in its own process (memory-hungry)."""
    import pandas as pd

    from fraudshield_pipeline.feature_repo import historical_refs
    from fraudshield_pipeline.resources.feature_store import FeastFeatureStore

    root = Path(args.feast_root)
    entity_rows = pd.read_parquet(root / "entity_rows.parquet")
    store = FeastFeatureStore(repo_dir=str(root / "feast"), tables_uri=str(root / "tables"))
    store.apply()
    columns = pd.read_parquet(next((root / "tables" / "transaction_features").glob("*.parquet"))).columns
    refs = historical_refs(columns)
    started = time.perf_counter()
    # One call per batch: a single call for a million entity rows needs tens of GB (its TTL join).
    frames = [
        store.historical_features(entity_rows.iloc[i : i + args.feast_batch_rows], refs)
        for i in range(0, len(entity_rows), args.feast_batch_rows)
    ]
    seconds = time.perf_counter() - started
    pd.concat(frames, ignore_index=True).to_parquet(root / "feast_result.parquet")
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


def run_child(*extra: str) -> dict:
    completed = subprocess.run([sys.executable, __file__, *extra], capture_output=True, text=True)
    if completed.returncode != 0:
        return {"error": (completed.stderr or completed.stdout).strip().splitlines()[-1:] or [f"exit {completed.returncode}"]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def compare(ours, theirs, names) -> tuple[bool, int]:
    import numpy as np

    key = ["transaction_id", "event_timestamp"]
    ours, theirs = ours.sort_values(key).reset_index(drop=True), theirs.sort_values(key).reset_index(drop=True)
    if len(ours) != len(theirs):
        return False, -1
    mismatches = 0
    for name in names:
        left, right = ours[name], theirs[name]
        if left.dtype == object or right.dtype == object:
            mismatches += int((left.fillna("<null>").astype(str) != right.fillna("<null>").astype(str)).sum())
        else:
            a, b = left.to_numpy(float), right.to_numpy(float)
            mismatches += int((~((a == b) | (np.isnan(a) & np.isnan(b)))).sum())
    return mismatches == 0, mismatches


def online_latency(root: Path, calls: int = 2_000) -> dict:
    """FraudScorer on a Feast sqlite online store written as of the last day, a quick XGBoost model."""
    import numpy as np
    import pandas as pd

    from fraudshield_pipeline.domain.features import model_feature_names
    from fraudshield_pipeline.domain.online import entity_states
    from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_day
    from fraudshield_pipeline.domain.train import train_xgboost
    from fraudshield_pipeline.feature_repo import state_tables
    from fraudshield_pipeline.resources.feature_store import FeastFeatureStore
    from fraudshield_pipeline.serving import FraudScorer

    features = pd.read_parquet(root / "tables" / "transaction_features")
    transactions = pd.read_parquet(root / "transactions")
    labels = pd.read_parquet(root / "labels")
    days = transactions["event_timestamp"].dt.normalize().nunique()
    as_of = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=days), dt.time(), UTC)
    train = features.merge(labels[["transaction_id", "is_fraud"]].drop_duplicates("transaction_id"), how="left", on="transaction_id")
    train["is_fraud"] = train["is_fraud"].fillna(0).astype(int)
    cut = train["event_timestamp"].quantile(0.8)
    model = train_xgboost(
        train[train["event_timestamp"] < cut], train[train["event_timestamp"] >= cut], model_feature_names(features.columns),
        {"tree_method": "hist"}, max_rounds=100,
    )
    store = FeastFeatureStore(repo_dir=str(root / "feast_online"), tables_uri=str(root / "tables"))
    store.apply()
    store.write_state(state_tables(*entity_states(transactions, labels, as_of), as_of))
    config = SimulationConfig(n_customers=max(2_000, len(transactions) // 20), n_merchants=max(200, len(transactions) // 500), transactions_per_day=len(transactions) // days)
    arriving = simulate_day(config, as_of.date()).transactions.head(calls).to_dict("records")
    scorer = FraudScorer(store, model.booster, "benchmark")
    for tx in arriving[:50]:
        scorer.score(tx)  # warm-up
    timings = []
    for tx in arriving:
        started = time.perf_counter()
        scorer.score(tx)
        timings.append((time.perf_counter() - started) * 1000)
    # With reasons: every transaction explained (threshold 0, so each is an alert), the worst case.
    scorer.threshold = 0.0
    explained = []
    for tx in arriving:
        started = time.perf_counter()
        decision = scorer.score(tx)
        explained.append((time.perf_counter() - started) * 1000)
        assert len(decision.reasons) == 3
    return {
        "online_p50_ms": round(float(np.percentile(timings, 50)), 3),
        "online_p99_ms": round(float(np.percentile(timings, 99)), 3),
        "online_calls": len(timings),
        "online_with_reasons_p50_ms": round(float(np.percentile(explained, 50)), 3),
        "online_with_reasons_p99_ms": round(float(np.percentile(explained, 99)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--big-days", type=int, default=100)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-feast", action="store_true", help="leave out the (slow) Feast comparison")
    parser.add_argument("--feast-entity-rows", type=int, default=10**12, help="entity rows for the comparison (default: all)")
    parser.add_argument("--feast-batch-rows", type=int, default=100_000, help="entity rows per Feast call")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--child", choices=["big", "feast"], help="run one part alone in this process; prints its figures as JSON (the slow memory test runs 'big')")
    parser.add_argument("--feast-root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "big":
        return big_child(args)
    if args.child == "feast":
        return feast_child(args)

    import pandas as pd

    from fraudshield_pipeline.domain.features import KEY_COLUMNS
    from fraudshield_pipeline.domain.point_in_time import point_in_time_join
    from fraudshield_pipeline.feature_repo import historical_refs

    report: dict[str, object] = {"benchmark": "features", "rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        report.update(build(args.rows, args.days, root, args.threads))
        print(f"1. {report['transactions']:,} transactions: feature build {report['feature_build_seconds']} s, "
              f"training set {report['training_set_seconds']} s ({report['training_set_rows']:,} rows)")
        import pyarrow.parquet as pq

        features_path = root / "tables" / "transaction_features"
        features = pq.read_table(features_path)
        all_rows = features.select(list(KEY_COLUMNS)).to_pandas()
        # Both sides get the same entity rows: every transaction (or --feast-entity-rows of them).
        entity_rows = all_rows if args.feast_entity_rows >= len(all_rows) else all_rows.sample(args.feast_entity_rows, random_state=7)
        entity_rows.to_parquet(root / "entity_rows.parquet")
        started = time.perf_counter()  # from the parquet files, as Feast starts from them too
        ours = point_in_time_join(entity_rows, pq.read_table(features_path))
        duckdb_seconds = time.perf_counter() - started
        feast = (
            {"error": ["skipped (--skip-feast)"]}
            if args.skip_feast
            else run_child("--child", "feast", "--feast-root", str(root), "--feast-batch-rows", str(args.feast_batch_rows))
        )
        names = [ref.split(":")[1] for ref in historical_refs(features.column_names)]
        if "error" in feast:
            identical, mismatches, speedup = False, -1, None
            print(f"   Feast historical retrieval failed: {feast['error']}")
        else:
            theirs = pd.read_parquet(root / "feast_result.parquet")
            identical, mismatches = compare(ours, theirs, names)
            speedup = feast["seconds"] / duckdb_seconds
            print(f"   point-in-time join of {len(entity_rows):,} entity rows x {len(names)} features: "
                  f"DuckDB ASOF {duckdb_seconds:.2f} s, Feast get_historical_features {feast['seconds']:.1f} s "
                  f"(peak {feast['peak_rss_mb']} MB): {speedup:.0f}x, identical={identical} ({mismatches} mismatches)")
        report.update(
            {
                "pit_entity_rows": len(entity_rows),
                "duckdb_pit_seconds": round(duckdb_seconds, 3),
                "feast_seconds": None if "error" in feast else round(feast["seconds"], 2),
                "feast_peak_rss_mb": feast.get("peak_rss_mb"),
                "speedup_vs_feast": None if speedup is None else round(speedup, 1),
                "identical": identical,
                "mismatches": mismatches,
            }
        )
        report.update(online_latency(root))
        print(f"3. online scoring of single transactions: p50 {report['online_p50_ms']} ms, p99 {report['online_p99_ms']} ms")
        print(f"   with reason codes on every one: p50 {report['online_with_reasons_p50_ms']} ms, p99 {report['online_with_reasons_p99_ms']} ms (target p99 < 2 ms)")
    if not args.skip_big:
        big = run_child("--child", "big", "--big-rows", str(args.big_rows), "--big-days", str(args.big_days),
                        *(["--threads", str(args.threads)] if args.threads else []))
        if "error" in big:
            print(f"2. {args.big_rows:,} transactions failed: {big['error']}")
        else:
            print(f"2. {big['transactions']:,} transactions: validation {big['validate_seconds']} s, feature build {big['feature_build_seconds']} s, training set "
                  f"{big['training_set_seconds']} s ({big['training_set_rows']:,} rows), peak RSS {big['peak_rss_mb']} MB")
        report.update({"big_" + k: v for k, v in big.items() if k != "peak_rss_mb"})
        report["peak_rss_mb"] = big.get("peak_rss_mb")
    report.update(
        {
            "target_speedup": 50,
            "target_peak_rss_mb": 4096,
            "target_online_p99_ms": 5,
            "met_targets": bool(
                report.get("speedup_vs_feast") and report["speedup_vs_feast"] >= 50 and report["identical"]
                and report["online_p99_ms"] < 5 and (args.skip_big or (report.get("peak_rss_mb") or 1e9) < 4096)
            ),
        }
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
