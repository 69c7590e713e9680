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
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # tqdm bars between our lines
    for name in ("mlflow", "alembic", "feast", "evidently", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def demo(args: argparse.Namespace) -> int:
    home = _use_repo_instance()
    if not args.verbose:
        _quiet_libraries()
    if args.transactions_per_day:
        os.environ["FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY"] = str(args.transactions_per_day)
    first_day = _pin_partitions_start(args)
    import dagster as dg

    from fraudshield_pipeline.resources.profiles import build_resources, data_dir
    from fraudshield_pipeline.runner import run_pipeline

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
            asset_config={"evaluation_report": {"absolute_floor": args.absolute_floor}} if args.absolute_floor is not None else None,
            search_trials=args.search_trials,
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
    print(f"  evaluation report    {evaluation.get('report')}  (served by the MLflow UI)")
    print("\nOpen the Dagster UI on this same instance (these runs are listed under their jobs there),")
    print("with the MLflow UI beside it, which serves the drift and evaluation reports the asset pages link to:")
    print("  uv run fraudshield ui        # Dagster on http://127.0.0.1:3000, MLflow on http://127.0.0.1:5000")
    return 0


START_DATE_FILE = "partitions_start_date"  # under the data directory: the demo's first day, read by `fraudshield ui`


def _pin_partitions_start(args: argparse.Namespace) -> dt.date:
    """The demo's first day, which becomes the first daily partition (FRAUDSHIELD_START_DATE) unless
    that is set: the features read up to 37 days of history before each day, and a partition that
    exists but was never materialized is an error, while one before the partitions' start is
    simply absent. Remembered in the data directory so that `fraudshield ui` shows the same calendar.
    Set before anything imports `defs.partitions`, which reads it."""
    default = dt.date.fromisoformat(os.environ.get("FRAUDSHIELD_START_DATE", "2026-09-01"))
    first_day = dt.date.fromisoformat(args.start) if args.start else demo_start(args.days, default)
    if "FRAUDSHIELD_START_DATE" not in os.environ:
        os.environ["FRAUDSHIELD_START_DATE"] = first_day.isoformat()
        root = _data_root()
        root.mkdir(parents=True, exist_ok=True)
        (root / START_DATE_FILE).write_text(first_day.isoformat() + "\n")
    return first_day


def _data_root() -> Path:
    """profiles.data_dir's rule for the simulator, without importing Dagster into the launcher (seconds on 2 cores)."""
    return Path(os.environ.get("FRAUDSHIELD_DATA_DIR") or REPO_ROOT / "data").resolve()


def demo_start(days: int, partitions_start: dt.date, today: dt.date | None = None) -> dt.date:
    """The first simulated day, so that the last one is yesterday (UTC): the data is then as fresh
    as a nightly run leaves it, and the freshness policy and schedules judge it as they would in
    production. Never before the partitions' start date."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return max(partitions_start, today - dt.timedelta(days=days))


@contextlib.contextmanager
def _governance():
    """The registry and store of this environment (EnvVars resolved), and the Dagster instance
    whose `champion` asset holds the history of every alias decision."""
    import dagster as dg

    from fraudshield_pipeline.resources.profiles import build_resources

    if "DAGSTER_HOME" not in os.environ:
        _use_repo_instance()
    resources = build_resources(os.environ)
    with dg.build_resources({"registry": resources["registry"], "storage": resources["storage"]}) as built:
        with dg.DagsterInstance.get() as instance:
            yield built.registry, built.storage, instance


def promotions(args: argparse.Namespace) -> int:
    _quiet_libraries()
    with _governance() as (registry, _, instance):
        from fraudshield_pipeline.defs.governance.assets import champion_history

        return _print_history(registry, champion_history(instance), args.limit)


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
    with _governance() as (registry, storage, instance):
        return _rollback(registry, storage, instance, args)


def _rollback(registry, storage, instance, args: argparse.Namespace) -> int:
    from fraudshield_pipeline.defs.governance.assets import champion_history, record_champion_event
    from fraudshield_pipeline.domain.governance import previous_champion, rollback_record
    from fraudshield_pipeline.resources.registry import CHAMPION
    from fraudshield_pipeline.resources.storage import report_key

    current = registry.version_for_alias(CHAMPION)
    if current is None:
        print("no champion to roll back", file=sys.stderr)
        return 1
    target = args.to_version or previous_champion(champion_history(instance), current.version)
    if target is None:
        print(f"champion v{current.version} has no recorded predecessor; pass --to-version", file=sys.stderr)
        return 1
    registry.get_version(target)  # fails loudly for a version that does not exist
    registry.set_alias(CHAMPION, target)
    record = rollback_record(current.version, target, args.reason)
    storage.write_text(report_key("promotions", f"{record['decided_at']}_rollback_v{target}.json"), json.dumps(record, indent=2))
    registry.set_version_tags(current.version, {"promotion": f"rolled back to v{target}"})
    record_champion_event(instance, registry, record)  # the UI and the sensors read the champion here
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


# How long `fraudshield ui` gives its servers to stop after SIGTERM before it kills them.
STOP_GRACE_S = 10.0


def ui(args: argparse.Namespace) -> int:
    """Dagster's webserver and daemon (what `dagster dev` runs, without its deprecation notice) and,
    for a local MLflow store, the MLflow UI that serves every report the asset pages link to."""
    import signal
    import subprocess
    import time

    started = time.perf_counter()
    _use_repo_instance()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    pinned = _data_root() / START_DATE_FILE
    if "FRAUDSHIELD_START_DATE" not in env and pinned.exists():
        env["FRAUDSHIELD_START_DATE"] = pinned.read_text().strip()  # the calendar the demo materialized
    workspace = str(REPO_ROOT / "workspace.yaml")
    commands = {
        "dagster-webserver": [str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", args.host, "-p", str(args.port)],
        "dagster-daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
    }
    mlflow_url = None
    if not args.no_mlflow and not os.environ.get("MLFLOW_TRACKING_URI", "").startswith("http"):
        root = _data_root() / "mlflow"
        root.mkdir(parents=True, exist_ok=True)
        commands["mlflow ui"] = [
            str(bin_dir / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--host", args.host, "--port", str(args.mlflow_port), "--workers", "1",
        ]
        mlflow_url = f"http://{args.host}:{args.mlflow_port}"
    # The webserver (and the code server it spawns) first, alone: on 2 cores, starting the daemon
    # (with its own code server) and MLflow beside it roughly doubles the time until the UI
    # answers; they start the moment it does, and neither is needed to browse.
    processes = {"dagster-webserver": subprocess.Popen(commands.pop("dagster-webserver"), env=env, start_new_session=True)}

    def stop(*_):
        """SIGTERM to every server's process group, then SIGKILL to those still up after one shared
        grace period: bounded, so whoever stops this command (a supervisor, a test) never has to
        kill it mid-stop and orphan the servers, which run in sessions of their own."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan the servers
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in processes.values():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    signal.signal(signal.SIGTERM, stop)
    url = f"http://{args.host}:{args.port}"
    try:
        ready = _wait_loaded(url, processes["dagster-webserver"], args.timeout)
        processes.update({name: subprocess.Popen(command, env=env, start_new_session=True) for name, command in commands.items()})
        if ready:
            print(f"Dagster UI ready at {url} in {time.perf_counter() - started:.1f} s", flush=True)
            if mlflow_url:
                print(f"MLflow UI (runs, models, reports) at {mlflow_url}", flush=True)
        else:
            print(f"Dagster UI not ready after {args.timeout} s", file=sys.stderr, flush=True)
        while all(p.poll() is None for p in processes.values()):
            time.sleep(0.5)
        failed = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
        print(f"stopped: {failed}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


def _wait_loaded(url: str, webserver, timeout: float) -> bool:
    """Until the webserver answers GraphQL with the code location loaded (what a browser needs)."""
    import time
    import urllib.request

    query = json.dumps({"query": "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"}).encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and webserver.poll() is None:
        try:
            request = urllib.request.Request(f"{url}/graphql", data=query, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=2) as response:
                entries = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return True
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.2)
    return False


def serve(args: argparse.Namespace) -> int:
    """The scoring service behind the alias over HTTP: this package's lean front by default
    (`serving.server`), or `mlflow models serve` on the same registered model (`--server mlflow`)."""
    _use_repo_instance()
    if not args.verbose:
        _quiet_libraries()
    from fraudshield_pipeline.resources.profiles import build_resources
    from fraudshield_pipeline.serving.models import SERVICE_SUFFIX

    registry = build_resources(os.environ)["registry"].process_config_and_initialize()
    os.environ.setdefault("MLFLOW_TRACKING_URI", registry.tracking_uri)
    if args.metrics_port:
        os.environ["FRAUDSHIELD_SERVING_METRICS_PORT"] = str(args.metrics_port)
    uri = f"models:/{registry.model_name}{SERVICE_SUFFIX}@{args.alias}"
    print(f"serving {uri} on http://{args.host}:{args.port}/invocations ({args.server} server; restart after an alias move)", flush=True)
    if args.server == "fraudshield":
        from fraudshield_pipeline.serving.server import run

        run(uri, args.host, args.port)
        return 0
    # mlflow execs uvicorn through the shell: the venv's bin must be on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri, "--env-manager", "local",
               "-h", args.host, "-p", str(args.port), "--workers", "1"]  # fmt: skip
    os.execv(sys.executable, command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fraudshield", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="materialize the whole asset graph once on the embedded simulator")
    run.add_argument("--days", type=int, default=72, help="simulated days (default 72: 37 days of feature history before the training window)")
    run.add_argument("--start", help="first day, ISO date (default: the calendar ends yesterday, UTC, as a nightly run's would)")
    run.add_argument("--transactions-per-day", type=int, help="simulator volume (default 6000)")
    run.add_argument("--drift-days", type=int, default=3, help="newest days to measure drift on (default 3)")
    run.add_argument(
        "--search-trials", type=int, default=0,
        help="Optuna trials before training (default 0: the default recipe; the nightly retrain_job searches 20 trials)",
    )
    run.add_argument(
        "--absolute-floor", type=float,
        help="the promotion gate's average-precision floor for this run (default: evaluation_report's 0.30); a small "
        "world's first model can score below it, and without a champion nothing is monitored",
    )
    run.add_argument("--verbose", action="store_true", help="show Dagster's event log and library warnings")
    run.set_defaults(func=demo)
    dev = commands.add_parser("ui", help="open the Dagster UI (webserver + daemon) and the MLflow UI on the repository's instance")
    dev.add_argument("--host", default="127.0.0.1", help="address the UIs listen on (default 127.0.0.1: this machine only)")
    dev.add_argument("--port", type=int, default=3000, help="Dagster UI port (default 3000)")
    dev.add_argument("--mlflow-port", type=int, default=5000, help="MLflow UI port (default 5000; reports link there)")
    dev.add_argument("--no-mlflow", action="store_true", help="do not start the MLflow UI (e.g. a tracking server runs elsewhere)")
    dev.add_argument("--timeout", type=float, default=120, help="seconds to wait for the UI before reporting it not ready")
    dev.set_defaults(func=ui)
    listing = commands.add_parser("promotions", help="list every promotion, refusal and rollback, newest first")
    listing.add_argument("--limit", type=int, default=20, help="newest decisions shown (default 20)")
    listing.set_defaults(func=promotions)
    back = commands.add_parser("rollback", help="move the champion alias back to the previous champion")
    back.add_argument("--to-version", help="a specific registered version instead of the previous champion")
    back.add_argument("--reason", default="manual rollback", help="recorded with the rollback")
    back.set_defaults(func=rollback)
    server = commands.add_parser("serve", help="serve the champion's transaction scoring service over HTTP (MLflow's scoring protocol)")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    server.add_argument("--port", type=int, default=5080, help="HTTP port of /invocations (default 5080)")
    server.add_argument("--alias", default="champion", help="registry alias to serve, resolved at start (default champion)")
    server.add_argument("--metrics-port", type=int, help="also expose Prometheus metrics on this port at /metrics")
    server.add_argument(
        "--server", choices=("fraudshield", "mlflow"), default="fraudshield",
        help="HTTP front: fraudshield (default: lean, the same protocol, /metrics on the port too) or mlflow (mlflow models serve)",
    )  # fmt: skip
    server.add_argument("--verbose", action="store_true", help="show library warnings")
    server.set_defaults(func=serve)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
