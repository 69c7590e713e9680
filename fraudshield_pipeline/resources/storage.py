"""Where tables and reports live: a local directory or an S3 prefix, behind one interface.

The S3 store lives in `s3_storage` so that dagster-aws (slow to import) loads only when chosen.

This module is the one place that knows storage keys. Writes are atomic from a reader's point
of view: a local file is written under a temporary name and renamed; an S3 PUT is atomic. A
table is serialized completely before its first byte is published, so a writer that fails
midway leaves the previous version in place. Every object is self-contained (no object needs
another to be read); where outputs belong together, the pointer is written last: a snapshot is
stored before the materialization that names it is recorded.

A validated table is its snapshot: `publish_snapshot` writes the bytes once under their content
address (`snapshots/<table>/<day>/<hash>.parquet`, never rewritten) and publishes the table's
current name as the same file (a hard link locally; S3 has no links, so there it is a second PUT
of the same serialized bytes). Nothing in this module writes a file in place (every write goes to
a temporary name and is renamed over the old one), so a snapshot never changes once published.

A store may be claimed by one data source (`source`): the first table write records it in
`source.json`, and a write on behalf of another source is refused, naming both, rather than
mixing two sources' days in one set of tables.
"""


import io
import json
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, PrivateAttr

PARQUET_COMPRESSION = "zstd"


def table_key(table: str, partition: str | None = None) -> str:
    """Storage key of a table, or of one daily partition of it."""
    return f"tables/{table}/{partition}.parquet" if partition else f"tables/{table}/data.parquet"


def report_key(kind: str, name: str) -> str:
    """Storage key of a human-facing report (drift HTML, evaluation markdown, model card)."""
    return f"reports/{kind}/{name}"


SOURCE_KEY = "source.json"


def snapshot_key(table: str, partition: str, content_hash: str) -> str:
    """Immutable, content-addressed version of one partition (the same file as its table when current)."""
    return f"snapshots/{table}/{partition}/{content_hash}.parquet"


FOLDS_PREFIX = "backtest_folds/"


def fold_key(fingerprint: str) -> str:
    """A rolling-backtest fold's booster (`domain.fold_store`): a cache, safe to delete."""
    return f"{FOLDS_PREFIX}{fingerprint}.ubj"


def model_key(version: str, name: str) -> str:
    """Storage key of a file that belongs to one registered model version (e.g. its drift reference)."""
    return f"models/v{version}/{name}"


class MissingPartitionsError(FileNotFoundError):
    """Raised when a reader asks for partitions that were never materialized."""


class ArtifactStoreError(OSError):
    """A storage operation failed for good (after the backend's own retries); names the object."""


class SourceMismatchError(ValueError):
    """A store that holds one source's tables was asked to write another source's."""


class ArtifactStore(dg.ConfigurableResource, ABC):
    """Blob storage for parquet tables and reports; subclasses differ only in where bytes go."""

    source: str | None = Field(
        default=None,
        description="The data source whose tables this store holds (e.g. 'simulator'); another source's writes are refused.",
    )
    _source_state: str | None = PrivateAttr(default=None)  # None, checked, recorded

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

    def publish_snapshot(self, key: str, snapshot: str, table: pa.Table) -> str:
        """Stores `table` once under its content address `snapshot` and publishes it as `key`.

        An existing snapshot is kept as it is (same key, same content): re-running the same input
        writes no new version. Serialized once; the snapshot is complete before `key` changes.
        """
        if self.exists(snapshot):
            data = self.read_bytes(snapshot)
        else:
            buffer = io.BytesIO()
            pq.write_table(table, buffer, compression=PARQUET_COMPRESSION)
            data = buffer.getvalue()
            self.write_bytes(snapshot, data)
        return self.write_bytes(key, data)

    def check_source(self) -> None:
        """Refuses, naming both, to write for a source other than the one whose tables the store holds.

        Read once per store instance; `record_source` marks a new store after its first table write
        (a read, then a write: a fault on the first table's write is reported as that table's).
        """
        if self.source is None or self._source_state:
            return
        held = json.loads(self.read_text(SOURCE_KEY)).get("source") if self.exists(SOURCE_KEY) else None
        if held not in (None, self.source):
            raise SourceMismatchError(
                f"{self.uri('')} holds the tables of source '{held}'; this run reads '{self.source}'. "
                "Two sources never share a store: leave FRAUDSHIELD_DATA_DIR unset (each source then gets "
                "its own directory under data/) or point it at another directory or S3 prefix."
            )
        self._source_state = "recorded" if held else "checked"

    def record_source(self) -> None:
        if self.source is not None and self._source_state == "checked":
            self.write_text(SOURCE_KEY, json.dumps({"source": self.source}))
            self._source_state = "recorded"

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

    def publish_snapshot(self, key: str, snapshot: str, table: pa.Table) -> str:
        """As the base class, with the table's current name a hard link to its snapshot: one write, no second copy."""
        source = self._path(snapshot)
        if not source.is_file():
            self.write_table(snapshot, table)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{os.urandom(6).hex()}.tmp"
        try:
            try:
                os.link(source, tmp)
            except OSError:  # a filesystem without hard links: a copy, still published by rename
                shutil.copyfile(source, tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
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
