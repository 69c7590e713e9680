"""`fraudshield`: run the main job on the embedded defaults, open the UI, inspect the registry."""

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _use_repo_instance() -> Path:
    """Point Dagster at the repository's dagster.yaml, so `dagster dev` sees the same runs."""
    os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT))
    os.chdir(REPO_ROOT)  # dagster.yaml's storage paths are relative to the repository
    (REPO_ROOT / "data").mkdir(exist_ok=True)
    return Path(os.environ["DAGSTER_HOME"])


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def demo(args: argparse.Namespace) -> int:
    home = _use_repo_instance()
    if args.transactions_per_day:
        os.environ["FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY"] = str(args.transactions_per_day)
    import dagster as dg

    from fraudshield_pipeline.defs.partitions import START_DATE
    from fraudshield_pipeline.resources.profiles import build_resources, data_dir
    from fraudshield_pipeline.runner import run_pipeline

    first_day = dt.date.fromisoformat(args.start or START_DATE)
    per_day = os.environ.get("FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY", "10000")
    print(f"FraudShield main job: {args.days} simulated days from {first_day} (~{per_day} transactions/day)")
    print(f"Dagster instance: {home}/dagster.yaml; data under {data_dir(os.environ)}\n")

    def started(stage) -> None:
        print(f"[{stage.name:>10}] materializing {', '.join(stage.assets)} ...", flush=True)

    def finished(result) -> None:
        print(f"[{result.name:>10}] done in {result.seconds:.1f} s (runs: {', '.join(r[:8] for r in result.run_ids)})")
        for asset, metadata in result.metadata.items():
            keys = [k for k in SUMMARY_KEYS if k in metadata]
            if keys:
                print(f"{'':>13}{asset}: " + ", ".join(f"{k}={_fmt(metadata[k])}" for k in keys))
        sys.stdout.flush()

    with dg.DagsterInstance.get() as instance:
        results = run_pipeline(
            instance, build_resources(os.environ), first_day, args.days, args.drift_days, finished, started
        )
    evaluation = next(r for r in results if r.name == "evaluation").metadata.get("evaluation_report", {})
    root = data_dir(os.environ)
    print("\nHeadline metrics on the time-forward test window:")
    for key in ("test_average_precision", "test_roc_auc", "test_card_precision_at_100", "test_recall_at_budget"):
        print(f"  {key:<28} {_fmt(evaluation.get(key))}")
    print(f"  champion version             {evaluation.get('champion_version')} (promoted now: {evaluation.get('promoted')})")
    print("\nResults:")
    print(f"  tables and reports   {root / 'store'}")
    print(f"  MLflow               {root / 'mlflow'}  (mlflow ui --backend-store-uri sqlite:///{root / 'mlflow' / 'mlflow.db'})")
    print(f"  Feast registry       {root / 'feast'}")
    print(f"  evaluation report    {evaluation.get('report')}")
    print("\nOpen the Dagster UI on this same instance (these runs are listed there):")
    print("  uv run fraudshield ui        # = DAGSTER_HOME=$PWD dagster dev -w workspace.yaml, on http://127.0.0.1:3000")
    return 0


SUMMARY_KEYS = (
    "dagster/row_count",
    "partitions",
    "max_quarantine_rate",
    "entities_written",
    "model_version",
    "validation_average_precision",
    "best_iteration",
    "promoted",
    "test_average_precision",
    "share_drifted",
    "prediction_drift_score",
)


def ui(args: argparse.Namespace) -> int:
    _use_repo_instance()
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    os.execv(sys.executable, command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fraudshield", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="materialize the whole asset graph once on the embedded simulator")
    run.add_argument("--days", type=int, default=42, help="simulated days (default 42)")
    run.add_argument("--start", help="first day, ISO date (default: the partitions' start date)")
    run.add_argument("--transactions-per-day", type=int, help="simulator volume (default 10000)")
    run.add_argument("--drift-days", type=int, default=3, help="newest days to measure drift on (default 3)")
    run.set_defaults(func=demo)
    dev = commands.add_parser("ui", help="open the Dagster UI (dagster dev) on the repository's instance")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=ui)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
