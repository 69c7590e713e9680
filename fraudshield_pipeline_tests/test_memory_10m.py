"""10M transactions through the data contracts and the feature build, within 4 GB.

Runs the memory part of `benchmarks/features.py` in a process of its own, so that its peak RSS
is the figure (Linux's VmHWM: `ru_maxrss` would also carry this test process's own peak, which
the kernel keeps across fork and exec, and after the year backfill that is gigabytes): 10M simulated transactions over 100 days (100,000 a day) go day by
day through the same contracts as `validated_snapshots`, to parquet, then through the chunked
feature build and the training set's point-in-time join. Memory must stay under the target and
no row may be lost on the way.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TRANSACTIONS = 10_000_000
MEMORY_TARGET_MB = 4096


def test_ten_million_transactions_validate_and_build_features_within_4_gb():
    finished = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "features.py"), "--child", "big", "--big-rows", str(TRANSACTIONS), "--big-days", "100"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    print(json.dumps(figures, indent=1))

    # Nothing lost: every row in was kept or quarantined, every kept transaction has its features.
    assert figures["rows_in"] == figures["rows_kept"] + figures["rows_quarantined"]
    assert figures["transactions_kept"] >= 0.99 * TRANSACTIONS
    assert figures["transactions"] == figures["transactions_kept"]
    assert figures["training_set_rows"] > 0
    assert figures["peak_rss_mb"] < MEMORY_TARGET_MB, figures
