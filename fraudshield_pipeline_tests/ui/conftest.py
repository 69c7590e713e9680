"""The real Dagster UI for browser tests: `dagster dev` on loopback, and headless Debian Chromium.

`dagster_ui` starts `python -m dagster dev -w <repo>/workspace.yaml -h 127.0.0.1 -p <free port>`
from the repository root, the way a user does, but on a throwaway instance:
  - DAGSTER_HOME is a temporary folder holding a copy of the repository's dagster.yaml whose
    relative `data/...` storage paths are made absolute inside that folder (everything else,
    the queued run coordinator and its tag concurrency limit included, is kept as is);
  - FRAUDSHIELD_DATA_DIR points into the same temporary folder, the simulator is small and
    FRAUDSHIELD_START_DATE is UTC today minus `UI_DAYS`, so only that many daily partitions exist.
The whole process group is killed at teardown, and its log is attached to any failing test report.

`browser` is /usr/bin/chromium (Debian package `chromium`) driven by Playwright's Python API;
Playwright never downloads a browser. Without it the tests skip, or fail when CI is set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fraudshield_pipeline_tests.instance_home import instance_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCATION = "fraudshield_pipeline"
UI_DAYS = 40  # daily partitions in the test instance: enough for the 35-day training window
TRANSACTIONS_PER_DAY = 800
STARTUP_TIMEOUT_S = 120
LOG_TAIL_CHARS = 15_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class DagsterUI:
    """A running `dagster dev`: where it listens, its GraphQL API and its log."""

    base_url: str
    process: subprocess.Popen
    log_path: Path
    home: Path
    data_dir: Path
    start_date: dt.date

    def url(self, path: str) -> str:
        return self.base_url + path

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30) -> dict:
        """POSTs to /graphql (the API the UI itself uses) and returns `data`; raises on errors."""
        request = urllib.request.Request(
            self.url("/graphql"),
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {json.dumps(body['errors'])[:2000]}")
        return body["data"]

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(no dagster dev log: {error})"
        return text[-chars:]


def _stop_process_group(process: subprocess.Popen) -> None:
    """Ctrl-C to `dagster dev` (it stops its webserver, daemon and code servers), then SIGKILL
    for whatever is left of its process group (run workers included)."""
    pgid = process.pid  # start_new_session=True: the leader's pid is the group id
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=15)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _wait_until_loaded(ui: DagsterUI) -> None:
    """Until /server_info answers and the code location is LOADED (or fails to load)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    last = "no answer yet"
    server_up = False
    while time.monotonic() < deadline:
        if ui.process.poll() is not None:
            pytest.fail(f"dagster dev exited with {ui.process.returncode} during startup\n{ui.log_tail()}")
        try:
            if not server_up:
                with urllib.request.urlopen(ui.url("/server_info"), timeout=5) as response:
                    server_up = response.status == 200
                    last = f"/server_info: {response.status}"
            if server_up:
                data = ui.graphql(
                    """{ workspaceOrError { __typename
                           ... on Workspace { locationEntries { name loadStatus
                             locationOrLoadError { __typename ... on PythonError { message } } } }
                           ... on PythonError { message } } }""",
                    timeout=10,
                )
                workspace = data["workspaceOrError"]
                entries = {e["name"]: e for e in workspace.get("locationEntries", [])}
                entry = entries.get(LOCATION)
                last = f"workspace: {json.dumps(workspace)[:500]}"
                if entry and entry["loadStatus"] == "LOADED":
                    error = entry["locationOrLoadError"] or {}
                    if error.get("__typename") == "PythonError":
                        pytest.fail(f"code location {LOCATION} failed to load: {error['message']}\n{ui.log_tail()}")
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
            last = repr(error)
        time.sleep(1)
    pytest.fail(f"dagster dev not ready after {STARTUP_TIMEOUT_S} s (last: {last})\n{ui.log_tail()}")


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's /usr/bin/chromium (`apt-get install chromium`); never a Playwright download."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return str(CHROMIUM)


@contextlib.contextmanager
def running_dagster_dev(root: Path, start_date: dt.date, transactions_per_day: int, extra_env: dict | None = None) -> Iterator[DagsterUI]:
    """`dagster dev` (webserver + daemon) on a throwaway instance under `root`, stopped on exit."""
    home, data_dir = root / "dagster_home", root / "fraudshield_data"
    home.mkdir()
    data_dir.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(REPO_ROOT / "dagster.yaml", home))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FRAUDSHIELD_", "MLFLOW_"))}
    env.update(
        DAGSTER_HOME=str(home),
        FRAUDSHIELD_DATA_DIR=str(data_dir),
        FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY=str(transactions_per_day),
        FRAUDSHIELD_START_DATE=start_date.isoformat(),
        PYTHONUNBUFFERED="1",
        **(extra_env or {}),
    )
    port = _free_port()
    log_path = root / "dagster_dev.log"
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    ui = DagsterUI(f"http://127.0.0.1:{port}", process, log_path, home, data_dir, start_date)
    try:
        _wait_until_loaded(ui)
        yield ui
    finally:
        _stop_process_group(process)


@pytest.fixture(scope="module")
def dagster_ui(chromium_executable: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    start_date = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=UI_DAYS)
    with running_dagster_dev(tmp_path_factory.mktemp("dagster_ui"), start_date, TRANSACTIONS_PER_DAY) as ui:
        yield ui


@pytest.fixture(scope="module")
def browser(chromium_executable: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failing UI test's report carries the tail of the dagster dev log."""
    outcome = yield
    report = outcome.get_result()
    ui = getattr(item, "funcargs", {}).get("dagster_ui")
    if report.failed and isinstance(ui, DagsterUI):
        report.sections.append(("dagster dev log (tail)", ui.log_tail()))
