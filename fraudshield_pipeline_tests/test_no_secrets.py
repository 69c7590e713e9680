"""No secret in the repository, and none in what Dagster records of a run.

The repository is scanned with Yelp's detect-secrets (every detector except the entropy ones,
which flag lockfile hashes). Runs are given fake secrets through the environment variables a
deployment uses (AWS keys, a Redis URL and an MLflow URI with passwords, the Postgres password)
and everything the instance wrote (event log, run storage, compute logs) is searched for them.
"""

import os
import socket
import subprocess
import uuid
from pathlib import Path

import dagster as dg

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline_tests.instance_home import REPO_ROOT

# Documented non-secrets that look like one to a keyword scanner: moto's fake credentials and
# the name of the JSON key ECS reads from RDS's managed secret (terraform/pipeline.tf).
ALLOWED_VALUES = {"testing", "password"}


def scan(paths: list[str], root: Path) -> list[tuple[str, int, str]]:
    from detect_secrets import SecretsCollection
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import transient_settings

    plugins = [
        {"name": cls.__name__}
        for cls in get_mapping_from_secret_type_to_class().values()
        if "HighEntropy" not in cls.__name__ and cls.__name__ != "IPPublicDetector"
    ]
    found = []
    cwd = os.getcwd()
    os.chdir(root)
    try:
        with transient_settings({"plugins_used": plugins}):
            collection = SecretsCollection()
            for path in paths:
                collection.scan_file(path)
    finally:
        os.chdir(cwd)
    for filename, secrets in collection.data.items():
        for secret in secrets:
            if secret.secret_value not in ALLOWED_VALUES:
                found.append((filename, secret.line_number, secret.type))
    return found


def test_no_tracked_file_holds_a_secret():
    files = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert len(files) > 50
    assert scan(files, REPO_ROOT) == []


def test_the_scan_finds_planted_secrets(tmp_path: Path):
    # Fake values, each marked with detect-secrets' inline allowlist comment so that the
    # repository scan above passes; the files written from them carry no such comment.
    planted = {
        "aws.py": 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"\n',  # pragma: allowlist secret
        "key.pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n",  # pragma: allowlist secret
        "dagster.yaml": "storage:\n  postgres:\n    postgres_db:\n      password: hunter2-not-an-env-var\n",  # pragma: allowlist secret
        "settings.py": 'db_password = "hunter2-in-code"\n',  # pragma: allowlist secret
        "cache.env": "FRAUDSHIELD_REDIS_URL=redis://default:s3cretpw@cache.internal:6379/0\n",  # pragma: allowlist secret
        "token.txt": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8\n",
    }
    for name, text in planted.items():
        (tmp_path / name).write_text(text)
    found = {filename for filename, _, _ in scan(list(planted), tmp_path)}
    assert found == set(planted)
    # An environment reference is not a secret.
    (tmp_path / "ok.yaml").write_text("password:\n  env: DAGSTER_PG_PASSWORD\n")
    assert scan(["ok.yaml"], tmp_path) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_records_and_logs_never_show_secret_values(moto_s3, aws_test_env, tmp_path: Path, monkeypatch):
    from fraudshield_pipeline.runner import load_assets

    secrets = {name: f"fs-secret-{name.lower()}-{uuid.uuid4().hex[:12]}" for name in ("AWS", "REDIS", "MLFLOW", "PG")}
    bucket = moto_s3.create_bucket()
    env = {
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_STORAGE": "s3",
        "FRAUDSHIELD_S3_BUCKET": bucket,
        "AWS_ENDPOINT_URL": moto_s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": "AKIAFRAUDSHIELDTEST0",  # pragma: allowlist secret
        "AWS_SECRET_ACCESS_KEY": secrets["AWS"],
        "FRAUDSHIELD_ONLINE_STORE": "redis",
        "FRAUDSHIELD_REDIS_URL": f"redis://default:{secrets['REDIS']}@127.0.0.1:{closed_port()}/0",
        "MLFLOW_TRACKING_URI": f"http://fraudshield:{secrets['MLFLOW']}@127.0.0.1:{closed_port()}",
        "DAGSTER_PG_PASSWORD": secrets["PG"],
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "300",
    }
    for name in list(os.environ):
        if name.startswith(("FRAUDSHIELD_", "MLFLOW_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        resources = build_resources(env)
        ingest = dg.materialize(
            load_assets(), selection=["raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
                                      "quarantined_transactions", "quarantined_labels"],
            partition_key="2026-09-01", resources=resources, instance=instance,
        )
        assert ingest.success  # the S3 secret was used for real
        training = dg.materialize(  # fails on the unreachable MLflow, whose URI holds a password
            load_assets(), selection=["trained_model"], resources=resources, instance=instance, raise_on_error=False
        )
        assert not training.success
        runs = [ingest.run_id, training.run_id]
        records = "\n".join(str(record) for run_id in runs for record in instance.all_logs(run_id))
        run_rows = "\n".join(str(instance.get_run_by_id(run_id)) for run_id in runs)
    stored = {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
    compute_logs = [p for p in stored if p.suffix in (".out", ".err", ".complete")]
    assert compute_logs, sorted(str(p) for p in stored)[:20]

    # Positive controls: the scan sees the logs (the bucket name and the redacted MLflow URI are there).
    assert bucket in records and "http://fraudshield:***@127.0.0.1" in records
    for name, value in secrets.items():
        assert value not in records, f"{name} secret in the event log"
        assert value not in run_rows, f"{name} secret in the run record"
        leaked = [str(p) for p, data in stored.items() if value.encode() in data]
        assert leaked == [], f"{name} secret written to {leaked}"
