"""Real servers on loopback for the production-profile tests: PostgreSQL (with TLS), Redis, MLflow.

Each one starts on 127.0.0.1 and a free port, in a private temporary directory, and is stopped
(and its directory removed) by `stop()`. The session fixtures in conftest.py own their lifetime.
`.ci/run` installs Debian's `postgresql` and `redis-server`; elsewhere `missing()` names what
is absent so a fixture can skip with that reason.
"""

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MLFLOW_SERVER_SCRIPT = REPO_ROOT / "terraform" / "modules" / "compute" / "templates" / "mlflow_server.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 60.0, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {_tail(log)}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s: {_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-3000:] if log and log.exists() else ""


def _stop_process_group(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM to the group this module started (the server and its workers), then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def postgres_bin_dir() -> Path | None:
    """Debian's PostgreSQL binaries (newest major first), or initdb on PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb and shutil.which("pg_ctl") else None


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def missing() -> dict[str, str]:
    """Server binaries this machine lacks, with what installs them."""
    absent = {}
    if postgres_bin_dir() is None:
        absent["postgres"] = "PostgreSQL binaries (initdb, pg_ctl): apt-get install postgresql"
    if shutil.which("redis-server") is None:
        absent["redis"] = "redis-server: apt-get install redis-server"
    if shutil.which("openssl") is None:
        absent["openssl"] = "openssl (the test PostgreSQL serves TLS, as RDS does): apt-get install openssl"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists("postgres")):
        absent["runuser"] = "runuser and the postgres user (PostgreSQL refuses to run as root): apt-get install util-linux postgresql"
    return absent


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster that requires a password and offers TLS, like the RDS one."""

    user: str = "fraudshield"
    database: str = "dagster"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    port: int = 0
    root: Path | None = None
    _owner: str | None = None

    def _run(self, *args: str) -> None:
        # initdb and postgres refuse to run as root: as root, run them as Debian's postgres user.
        prefix = ["runuser", "-u", self._owner, "--"] if self._owner else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True, cwd=self.root)

    def start(self) -> "PostgresServer":
        bin_dir = postgres_bin_dir()
        assert bin_dir is not None, missing()
        self.root = Path(tempfile.mkdtemp(prefix="fraudshield-pg-"))
        self.port = free_port()
        data = self.root / "data"
        (self.root / "pwfile").write_text(self.password + "\n")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-keyout", str(self.root / "server.key"), "-out", str(self.root / "server.crt")],
            check=True, capture_output=True,
        )  # fmt: skip
        os.chmod(self.root / "server.key", 0o600)
        if os.geteuid() == 0:
            self._owner = "postgres"
            for path in [self.root, *self.root.iterdir()]:
                shutil.chown(path, self._owner, self._owner)
        self._run(str(bin_dir / "initdb"), "-D", str(data), "-U", self.user, f"--pwfile={self.root / 'pwfile'}",
                  "-A", "scram-sha-256", "-E", "UTF8", "--no-sync")  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
            f"-c ssl=on -c ssl_cert_file={self.root / 'server.crt'} -c ssl_key_file={self.root / 'server.key'} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "postgres.log"), "-o", options, "-w", "-t", "60", "start")
        self.create_database(self.database)
        return self

    def connect(self, database: str = "postgres"):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname=database, sslmode="require")

    def create_database(self, name: str) -> None:
        conn = self.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()

    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables the production instance and the MLflow server read."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.database,
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    def stop(self) -> None:
        if self.root is None:
            return
        bin_dir = postgres_bin_dir()
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._run(str(bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


@dataclass
class RedisServer:
    """redis-server on loopback, without persistence."""

    port: int = 0
    process: subprocess.Popen | None = None
    root: Path | None = None

    def start(self) -> "RedisServer":
        self.root = Path(tempfile.mkdtemp(prefix="fraudshield-redis-"))
        self.port = free_port()
        log = self.root / "redis.log"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--logfile", str(log)],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for_port(self.port, self.process, timeout=20, log=log)
        return self

    @property
    def url(self) -> str:
        """Feast's Redis connection string (host:port)."""
        return f"127.0.0.1:{self.port}"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port)

    def stop(self) -> None:
        if self.process is not None:
            _stop_process_group(self.process)
            self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


MODEL_NAME = "fraudshield-fraud-xgb"
# The registered models the server creates and grants on: the feature-row model and its service model.
MODEL_NAMES = (MODEL_NAME, f"{MODEL_NAME}-service")
DB_BOOTSTRAP_SCRIPT = MLFLOW_SERVER_SCRIPT.parent / "db_bootstrap.py"


def _password() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class MlflowUsers:
    """The MLflow server's users, with random passwords: admin, pipeline (EDIT), scoring (READ)."""

    admin: tuple[str, str] = field(default_factory=lambda: ("mlflow-admin", _password()))
    pipeline: tuple[str, str] = field(default_factory=lambda: ("fraudshield-pipeline", _password()))
    scoring: tuple[str, str] = field(default_factory=lambda: ("fraudshield-scoring", _password()))

    def server_env(self) -> dict[str, str]:
        """What the mlflow task gets from Secrets Manager (terraform/pipeline.tf, mlflow_server_*)."""
        return {
            "MLFLOW_AUTH_ADMIN_USERNAME": self.admin[0],
            "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin[1],
            "FRAUDSHIELD_MLFLOW_PIPELINE_USERNAME": self.pipeline[0],
            "FRAUDSHIELD_MLFLOW_PIPELINE_PASSWORD": self.pipeline[1],
            "FRAUDSHIELD_MLFLOW_SCORING_USERNAME": self.scoring[0],
            "FRAUDSHIELD_MLFLOW_SCORING_PASSWORD": self.scoring[1],
        }

    def client_env(self, user: str) -> dict[str, str]:
        """MLflow's client variables for `user` (pipeline, scoring or admin)."""
        username, password = getattr(self, user)
        return {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password}


def bootstrap_database(postgres: "PostgresServer", roles: dict[str, tuple[str, str]], databases: dict[str, str]) -> None:
    """The deployment's db_bootstrap.py against `postgres`: roles (dagster, mlflow) -> (name, password),
    databases: DAGSTER_DB_NAME, MLFLOW_DB_NAME, MLFLOW_AUTH_DB_NAME."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DAGSTER_", "MLFLOW_"))},
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(postgres.port),
        "DB_MASTER_USERNAME": postgres.user,
        "DB_MASTER_PASSWORD": postgres.password,
        "DAGSTER_DB_USERNAME": roles["dagster"][0],
        "DAGSTER_DB_PASSWORD": roles["dagster"][1],
        "MLFLOW_DB_USERNAME": roles["mlflow"][0],
        "MLFLOW_DB_PASSWORD": roles["mlflow"][1],
        **databases,
    }
    subprocess.run([sys.executable, str(DB_BOOTSTRAP_SCRIPT)], env=env, check=True, capture_output=True, text=True, timeout=120)


@dataclass
class MlflowServer:
    """The deployment's MLflow launcher (terraform/.../mlflow_server.py) on loopback, with the basic-auth app.

    With `postgres`: db_bootstrap.py first creates MLflow's own role and its databases `mlflow`
    and `mlflow_auth` (the master user only bootstraps), and the server logs in as that role over
    TLS. Without: sqlite stores under `backend_dir`. Artifacts: `artifact_root` (s3://... or a
    directory), written by clients directly, as in production. Clients authenticate with
    `users.client_env("pipeline" | "scoring")`.
    """

    postgres: PostgresServer | None
    artifact_root: str
    aws_env: dict[str, str]
    backend_dir: Path | None = None
    users: MlflowUsers = field(default_factory=MlflowUsers)
    port: int = 0
    process: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _store_env(self) -> dict[str, str]:
        if self.postgres is None:
            assert self.backend_dir is not None, "sqlite stores need backend_dir"
            return {
                "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{self.backend_dir / 'mlflow.db'}",
                "MLFLOW_AUTH_DATABASE_URI": f"sqlite:///{self.backend_dir / 'mlflow_auth.db'}",
            }
        role = ("mlflow_app", _password())
        bootstrap_database(
            self.postgres,
            {"dagster": ("dagster_app", _password()), "mlflow": role},
            {"DAGSTER_DB_NAME": self.postgres.database, "MLFLOW_DB_NAME": "mlflow", "MLFLOW_AUTH_DB_NAME": "mlflow_auth"},
        )
        return {
            "MLFLOW_DB_HOST": "127.0.0.1",
            "MLFLOW_DB_PORT": str(self.postgres.port),
            "MLFLOW_DB_USER": role[0],
            "MLFLOW_DB_PASSWORD": role[1],
        }

    def start(self, timeout: float = 180.0) -> "MlflowServer":
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="fraudshield-mlflow-", suffix=".log")[1])
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DAGSTER_PG_", "FRAUDSHIELD_"))},
            **self._store_env(),
            **self.users.server_env(),
            **self.aws_env,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "FRAUDSHIELD_MLFLOW_ARTIFACT_LOCATION": self.artifact_root,
            "FRAUDSHIELD_MLFLOW_MODELS": ",".join(MODEL_NAMES),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(32),
            "MLFLOW_HOST": "127.0.0.1",
            "MLFLOW_PORT": str(self.port),
            "MLFLOW_WORKERS": "1",
        }
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(MLFLOW_SERVER_SCRIPT)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.process.returncode}: {_tail(self.log)}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                error = TimeoutError(f"mlflow server not healthy after {timeout} s: {_tail(self.log)}")
                self.stop()  # no fixture will: it never got the server
                raise error
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None:
            _stop_process_group(self.process)
            self.process = None
        if self.log is not None:
            self.log.unlink(missing_ok=True)
            self.log = None
