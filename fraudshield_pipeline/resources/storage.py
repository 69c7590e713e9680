"""Where tables and reports live: a local directory or an S3 prefix, behind one interface.

The S3 store lives in `s3_storage` so that dagster-aws (slow to import) loads only when chosen.

This module is the one place that knows storage keys. Writes are atomic from a reader's point
of view: a local file is written under a temporary name and renamed; an S3 PUT is atomic. A
table is serialized completely before its first byte is published, so a writer that fails
midway leaves the previous version in place. Every object is self-contained (no object needs
another to be read); where outputs belong together, the pointer is written last: a snapshot is
stored before the materialization that names it is recorded.
"""


import io
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field

PARQUET_COMPRESSION = "zstd"


def table_key(table: str, partition: str | None = None) -> str:
    """Storage key of a table, or of one daily partition of it."""
    return f"tables/{table}/{partition}.parquet" if partition else f"tables/{table}/data.parquet"


def report_key(kind: str, name: str) -> str:
    """Storage key of a human-facing report (drift HTML, evaluation markdown, model card)."""
    return f"reports/{kind}/{name}"


def snapshot_key(table: str, partition: str, content_hash: str) -> str:
    """Immutable, content-addressed copy of one partition's version."""
    return f"snapshots/{table}/{partition}/{content_hash}.parquet"


def model_key(version: str, name: str) -> str:
    """Storage key of a file that belongs to one registered model version (e.g. its drift reference)."""
    return f"models/v{version}/{name}"


class MissingPartitionsError(FileNotFoundError):
    """Raised when a reader asks for partitions that were never materialized."""


class ArtifactStoreError(OSError):
    """A storage operation failed for good (after the backend's own retries); names the object."""


class ArtifactStore(dg.ConfigurableResource, ABC):
    """Blob storage for parquet tables and reports; subclasses differ only in where bytes go."""

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> str: ...

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    def write_table(self, key: str, table: pa.Table) -> str:
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression=PARQUET_COMPRESSION)
        return self.write_bytes(key, buffer.getvalue())

    def read_table(self, key: str, columns: Sequence[str] | None = None) -> pa.Table:
        return pq.read_table(io.BytesIO(self.read_bytes(key)), columns=columns)

    def write_frame(self, key: str, frame: pd.DataFrame) -> str:
        return self.write_table(key, pa.Table.from_pandas(frame, preserve_index=False))

    def read_tables(self, keys: Sequence[str]) -> pa.Table:
        """Concatenate tables; fails loudly, naming every missing key, rather than skip any."""
        missing = [k for k in keys if not self.exists(k)]
        if missing:
            raise MissingPartitionsError(
                f"{len(missing)} of {len(keys)} requested tables are missing from {self.uri('')}: "
                + ", ".join(missing[:10])
                + (" ..." if len(missing) > 10 else "")
            )
        tables = [self.read_table(k) for k in keys]
        if not tables:
            raise MissingPartitionsError("no tables requested")
        return pa.concat_tables(tables, promote_options="default")

    def write_text(self, key: str, text: str) -> str:
        return self.write_bytes(key, text.encode("utf-8"))

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def partitions(self, table: str) -> list[str]:
        """Partition keys materialized for a table, sorted."""
        prefix = f"tables/{table}/"
        names = (k[len(prefix) :] for k in self.list_keys(prefix))
        return sorted(n.removesuffix(".parquet") for n in names if n != "data.parquet")


class LocalArtifactStore(ArtifactStore):
    """Files under a local directory (the embedded default: `data/store`)."""

    base_dir: str = Field(description="Root directory of the store.")

    def _path(self, key: str) -> Path:
        return Path(self.base_dir) / key

    def uri(self, key: str) -> str:
        return str(self._path(key).resolve())

    def write_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.uri(key)

    def write_table(self, key: str, table: pa.Table) -> str:
        # Stream straight to disk: no second in-memory copy of a large table.
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp, compression=PARQUET_COMPRESSION)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.uri(key)

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def read_table(self, key: str, columns: Sequence[str] | None = None) -> pa.Table:
        return pq.read_table(self._path(key), columns=columns)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        root = Path(self.base_dir)
        start = root / prefix
        # A prefix is a string prefix, as on S3: "tables/raw" also matches "tables/raw_labels/...".
        directory = start if start.is_dir() and (not prefix or prefix.endswith("/")) else start.parent
        if not directory.is_dir():
            return []
        return sorted(
            p.relative_to(root).as_posix()
            for p in directory.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.relative_to(root).as_posix().startswith(prefix)
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
