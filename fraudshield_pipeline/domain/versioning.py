"""Content addressing: the same rows give the same version, whatever the file encoding."""

from __future__ import annotations

import hashlib

import pandas as pd


def content_hash(frame: pd.DataFrame) -> str:
    """A short, stable hash of a frame's schema and values, in row order."""
    digest = hashlib.sha256()
    digest.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    if len(frame):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def combine_hashes(hashes: list[str]) -> str:
    """One version for a set of versions (e.g. all partitions a model was trained on)."""
    return hashlib.sha256("|".join(hashes).encode()).hexdigest()[:16]
