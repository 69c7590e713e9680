"""`fraudshield`: run the main job on the embedded defaults, open the UI, inspect the registry."""

import argparse
import contextlib
import datetime as dt
import json
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


def _quiet_libraries() -> None:
    """Keep the terminal to our progress lines; the Dagster event log still has everything."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    warnings.showwarning = lambda *args, **kwargs: None  # libraries re-enable filters inside their own code
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")  # read when mlflow configures its logger
    for name in ("mlflow", "alembic", "feast", "evidently", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def demo(args: argparse.Namespace) -> int:
    home = _use_repo_instance()
    if not args.verbose:
        _quiet_libraries()
    if args.transactions_per_day:
        os.environ["FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY"] = str(args.transactions_per_day)
    import dagster as dg

    from fraudshield_pipeline.defs.partitions import START_DATE
    from fraudshield_pipeline.resources.profiles import build_resources, data_dir
    from fraudshield_pipeline.runner import run_pipeline

    first_day = dt.date.fromisoformat(args.start or START_DATE)
    per_day = os.environ.get("FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY", "6000")
    print(f"FraudShield main job: {args.days} simulated days from {first_day} (~{per_day} transactions/day)")
    print(f"Dagster instance: {home}/dagster.yaml; data under {data_dir(os.environ)}\n")

    def started(stage) -> None:
        print(f"[{stage.name:>10}] materializing {', '.join(stage.assets)} ...", flush=True)

    def finished(result) -> None:
        print(f"[{result.name:>10}] done in {result.seconds:.1f} s (runs: {', '.join(r[:8] for r in result.run_ids)})")
        for asset, metadata in result.metadata.items():
            keys = [k for k in SUMMARY_KEYS if k in metadata and not (k == "dagster/row_count" and "range_row_count" in metadata)]
            if keys:
                print(f"{'':>13}{asset}: " + ", ".join(f"{k}={_fmt(metadata[k])}" for k in keys))
        sys.stdout.flush()

    with dg.DagsterInstance.get() as instance:
        results = run_pipeline(
            instance,
            build_resources(os.environ),
            first_day,
            args.days,
            args.drift_days,
            finished,
            started,
            console_log_level="DEBUG" if args.verbose else "WARNING",
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


@contextlib.contextmanager
def _governance():
    """The registry and store of this environment (EnvVars resolved), and the promotion history."""
    import dagster as dg

    from fraudshield_pipeline.resources.profiles import build_resources

    resources = build_resources(os.environ)
    with dg.build_resources({"registry": resources["registry"], "storage": resources["storage"]}) as built:
        history = [json.loads(built.storage.read_text(key)) for key in built.storage.list_keys("reports/promotions/")]
        yield built.registry, built.storage, history


def promotions(args: argparse.Namespace) -> int:
    _quiet_libraries()
    with _governance() as (registry, _, history):
        return _print_history(registry, history, args.limit)


def _print_history(registry, history, limit: int) -> int:
    from fraudshield_pipeline.domain.governance import history_table
    from fraudshield_pipeline.resources.registry import CHAMPION

    champion = registry.version_for_alias(CHAMPION)
    print(f"model {registry.model_name}: champion v{champion.version if champion else '-'}")
    for row in history_table(history)[:limit]:
        value = row["challenger_value"]
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        print(
            f"{row['decided_at']}  {row['action']:<9} v{row['model_version']:<4} champion "
            f"v{row['champion_before'] or '-'} -> v{row['champion_after'] or '-'}  {row['main_metric'] or ''} {shown}  {row['why']}"
        )
    return 0


def rollback(args: argparse.Namespace) -> int:
    """Moves the champion alias back to the version that held it before, and records why."""
    _quiet_libraries()
    with _governance() as (registry, storage, history):
        return _rollback(registry, storage, history, args)


def _rollback(registry, storage, history, args: argparse.Namespace) -> int:
    from fraudshield_pipeline.domain.governance import previous_champion, rollback_record
    from fraudshield_pipeline.resources.registry import CHAMPION
    from fraudshield_pipeline.resources.storage import report_key

    current = registry.version_for_alias(CHAMPION)
    if current is None:
        print("no champion to roll back", file=sys.stderr)
        return 1
    target = args.to_version or previous_champion(history, current.version)
    if target is None:
        print(f"champion v{current.version} has no recorded predecessor; pass --to-version", file=sys.stderr)
        return 1
    registry.get_version(target)  # fails loudly for a version that does not exist
    registry.set_alias(CHAMPION, target)
    record = rollback_record(current.version, target, args.reason)
    storage.write_text(report_key("promotions", f"{record['decided_at']}_rollback_v{target}.json"), json.dumps(record, indent=2))
    registry.set_version_tags(current.version, {"promotion": f"rolled back to v{target}"})
    print(f"champion: v{current.version} -> v{target} ({args.reason})")
    return 0


SUMMARY_KEYS = (
    "range_row_count",
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


def serve(args: argparse.Namespace) -> int:
    """`mlflow models serve` on the scoring service behind the alias: the same server, the same model."""
    _use_repo_instance()
    if not args.verbose:
        _quiet_libraries()
    from fraudshield_pipeline.resources.profiles import build_resources
    from fraudshield_pipeline.serving.models import SERVICE_SUFFIX

    registry = build_resources(os.environ)["registry"].process_config_and_initialize()
    os.environ.setdefault("MLFLOW_TRACKING_URI", registry.tracking_uri)
    if args.metrics_port:
        os.environ["FRAUDSHIELD_SERVING_METRICS_PORT"] = str(args.metrics_port)
    # mlflow execs uvicorn through the shell: the venv's bin must be on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    uri = f"models:/{registry.model_name}{SERVICE_SUFFIX}@{args.alias}"
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri, "--env-manager", "local",
               "-h", args.host, "-p", str(args.port), "--workers", "1"]  # fmt: skip
    print(f"serving {uri} on http://{args.host}:{args.port}/invocations (restart after an alias move)", flush=True)
    os.execv(sys.executable, command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fraudshield", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="materialize the whole asset graph once on the embedded simulator")
    run.add_argument("--days", type=int, default=72, help="simulated days (default 72: 37 days of feature history before the training window)")
    run.add_argument("--start", help="first day, ISO date (default: the partitions' start date)")
    run.add_argument("--transactions-per-day", type=int, help="simulator volume (default 6000)")
    run.add_argument("--drift-days", type=int, default=3, help="newest days to measure drift on (default 3)")
    run.add_argument("--verbose", action="store_true", help="show Dagster's event log and library warnings")
    run.set_defaults(func=demo)
    dev = commands.add_parser("ui", help="open the Dagster UI (dagster dev) on the repository's instance")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=ui)
    listing = commands.add_parser("promotions", help="list every promotion, refusal and rollback, newest first")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(func=promotions)
    back = commands.add_parser("rollback", help="move the champion alias back to the previous champion")
    back.add_argument("--to-version", help="a specific registered version instead of the previous champion")
    back.add_argument("--reason", default="manual rollback", help="recorded with the rollback")
    back.set_defaults(func=rollback)
    server = commands.add_parser("serve", help="serve the champion's transaction scoring service over HTTP (mlflow models serve)")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    server.add_argument("--port", type=int, default=5080, help="HTTP port of /invocations (default 5080)")
    server.add_argument("--alias", default="champion", help="registry alias to serve, resolved at start (default champion)")
    server.add_argument("--metrics-port", type=int, help="also expose Prometheus metrics on this port at /metrics")
    server.add_argument("--verbose", action="store_true", help="show library warnings")
    server.set_defaults(func=serve)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
