"""What produced a model: the code commit and the locked environment."""

from __future__ import annotations

import hashlib
import subprocess
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@cache
def code_version() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        # Uncommitted edits to tracked files are part of the code: hash them, so that two runs of
        # different uncommitted code never share a version (an unchanged retrain reuses its model).
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--binary"], cwd=REPO_ROOT, capture_output=True, timeout=5, check=True
        ).stdout
        return f"{commit}-dirty-{hashlib.sha256(diff).hexdigest()[:12]}" if diff else commit
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version

        return f"fraudshield-pipeline=={version('fraudshield-pipeline')}"


@cache
def lockfile_hash() -> str:
    lockfile = REPO_ROOT / "uv.lock"
    return hashlib.sha256(lockfile.read_bytes()).hexdigest() if lockfile.exists() else "unknown"
