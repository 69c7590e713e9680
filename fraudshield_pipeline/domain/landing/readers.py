"""Where the landing zone's bytes live: any `pyarrow.fs` filesystem under a root, confined to it.

A reader lists and reads files by name relative to the landing root (``/``-separated), reading
at most one byte more than the caller's limit (a huge file, a device: never read whole). `FsReader`
wraps a `pyarrow.fs.FileSystem` (local, S3, or anything fsspec supports through
`pyarrow.fs.PyFileSystem(FSSpecHandler(...))`); `open_landing(uri)` picks one from a URI.
`DictFileReader` is an in-memory zone for tests and examples; any object with ``list_files`` and
``read_bytes`` works.

Confinement is checked twice: the mapping refuses paths that leave the root (``mapping.py``),
and every reader refuses a name that is absolute, holds a ``..`` segment or (locally) resolves
through a link to outside the root, before any byte is read. A local listing never descends into
a linked folder (a link to ``/`` or a loop would otherwise list the whole disk).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import os
import posixpath
import re
import stat
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import pyarrow.fs as pafs

from fraudshield_pipeline.domain.landing.errors import RULE_OUTSIDE_ROOT, RULE_UNREADABLE, LandingError


@runtime_checkable
class FileReader(Protocol):
    """The landing zone's files, by name relative to its root ('/'-separated)."""

    def list_files(self, prefix: str) -> list[str]:
        """Every file whose name starts with `prefix` (recursively; any order)."""
        ...

    def read_bytes(self, name: str, limit: int | None = None) -> bytes:
        """The file's bytes; with `limit`, at most `limit` + 1 of them (enough to tell it is too large)."""
        ...


def confined(name: str) -> str:
    """`name` if it is a plain relative name inside the root; `LandingError` otherwise (nothing read)."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts or re.match(r"^[A-Za-z]:", name):
        raise LandingError(name, RULE_OUTSIDE_ROOT, "refused: names are relative to the landing root and stay inside it")
    return posixpath.normpath(name)


class DictFileReader:
    """An in-memory landing zone: name -> bytes (tests, examples)."""

    def __init__(self, files: Mapping[str, bytes | str], times: Mapping[str, dt.datetime] | None = None):
        self.files = {k: v.encode("utf-8") if isinstance(v, str) else v for k, v in files.items()}
        self.times = dict(times or {})

    def list_files(self, prefix: str) -> list[str]:
        return sorted(name for name in self.files if name.startswith(prefix))

    def modified(self, name: str) -> dt.datetime | None:
        """When the file last changed: `times` (tests), else unknown."""
        return self.times.get(confined(name))

    def read_bytes(self, name: str, limit: int | None = None) -> bytes:
        data = self.files[confined(name)]
        return data if limit is None else data[: limit + 1]


class FsReader:
    """A landing zone under `root` on a `pyarrow.fs` filesystem."""

    def __init__(self, filesystem: pafs.FileSystem, root: str):
        self.root = root.rstrip("/")
        self.fs = pafs.SubTreeFileSystem(self.root, filesystem) if self.root else filesystem
        self._local = isinstance(filesystem, pafs.LocalFileSystem)

    def list_files(self, prefix: str) -> list[str]:
        folder = prefix.rpartition("/")[0]
        if folder:
            confined(folder)
        if self._local:  # never through a linked folder: a link to / or a loop would list the whole disk
            return sorted(n for n in self._walk(folder) if n.startswith(prefix))
        selector = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except (FileNotFoundError, NotADirectoryError):
            return []
        names = (info.path.lstrip("/") for info in infos if info.type == pafs.FileType.File)
        return sorted(n for n in names if n.startswith(prefix))

    def modified(self, name: str) -> dt.datetime | None:
        """When the file last changed (UTC): the local file's mtime, an object's LastModified."""
        info = self.fs.get_file_info(confined(name))
        if info.type != pafs.FileType.File or info.mtime is None:
            return None
        return info.mtime if info.mtime.tzinfo else info.mtime.replace(tzinfo=dt.timezone.utc)

    def _walk(self, folder: str) -> list[str]:
        top = os.path.join(self.root, folder) if folder else self.root
        self._inside(top, folder or ".")  # os.walk follows its top folder even when it is a link
        names = []
        for here, _, files in os.walk(top, followlinks=False):
            rel = os.path.relpath(here, self.root).replace(os.sep, "/")
            names.extend(f if rel == "." else f"{rel}/{f}" for f in files)
        return names

    def _inside(self, path: str, name: str) -> None:
        real, root = os.path.realpath(path), os.path.realpath(self.root)
        if os.path.commonpath([real, root]) != root:
            raise LandingError(name, RULE_OUTSIDE_ROOT, "refused: a link that leads outside the landing root")

    def read_bytes(self, name: str, limit: int | None = None) -> bytes:
        name = confined(name)
        if self._local:
            path = os.path.join(self.root, name)
            self._inside(path, name)
            if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO blocks forever, a device never ends
                raise LandingError(name, RULE_UNREADABLE, "refused: not a regular file (a pipe, socket or device)")
        with self.fs.open_input_stream(name, compression=None) as stream:  # .gz is decompressed later, with a cap
            return stream.read() if limit is None else _read_at_most(stream, limit + 1)


def _read_at_most(stream, size: int, chunk: int = 8 << 20) -> bytes:
    """Up to `size` bytes, a chunk at a time: `read(size)` would allocate all of `size` up front."""
    parts, total = [], 0
    while total < size:
        part = stream.read(min(chunk, size - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


class LocalDirReader(FsReader):
    """A landing zone in a local folder."""

    def __init__(self, root: str | os.PathLike[str]):
        super().__init__(pafs.LocalFileSystem(), os.path.abspath(os.fspath(root)))


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class S3PrefixReader(FsReader):
    """A landing zone under ``s3://bucket/prefix/`` through `pyarrow.fs.S3FileSystem`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        session_token: str | None = None,
    ):
        prefix = prefix.strip("/")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket:  # s3://../victim would be normalised into another bucket
            raise LandingError(f"s3://{bucket}", RULE_OUTSIDE_ROOT, "refused: not an S3 bucket name (3-63 lowercase letters, digits, '.' or '-')")
        if prefix:
            confined(prefix)
        options: dict = {"region": region} if region else {}
        if endpoint_url:
            scheme, _, host = endpoint_url.partition("://")
            options.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
        if access_key and secret_key:
            options.update(access_key=access_key, secret_key=secret_key, session_token=session_token)
        super().__init__(pafs.S3FileSystem(**options), f"{bucket}/{prefix}" if prefix else bucket)


def open_landing(uri: str, **s3_options) -> FsReader:
    """A reader for a landing root: a local folder, ``s3://bucket/prefix`` (`S3PrefixReader`
    keywords in `s3_options`), or any other fsspec URL (through pyarrow's fsspec handler)."""
    if uri.startswith("s3://"):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return S3PrefixReader(bucket, prefix, **s3_options)
    if "://" not in uri or uri.startswith("file://"):
        return LocalDirReader(uri.removeprefix("file://"))
    import fsspec

    filesystem, root = fsspec.core.url_to_fs(uri)
    return FsReader(pafs.PyFileSystem(pafs.FSSpecHandler(filesystem)), root)


class HashingReader:
    """Passes reads through and remembers each file's content hash: lineage without a second read."""

    def __init__(self, files: FileReader):
        self._files = files
        self.hashes: dict[str, str] = {}
        # a reader of one's own may take only a name: it is read whole, and the cap checked after
        self._bounded = "limit" in inspect.signature(files.read_bytes).parameters

    def list_files(self, prefix: str) -> list[str]:
        return self._files.list_files(prefix)

    def read_bytes(self, name: str, limit: int | None = None) -> bytes:
        data = self._files.read_bytes(confined(name), limit) if self._bounded else self._files.read_bytes(confined(name))
        self.hashes[name] = file_hash(data)
        return data


def file_hash(data: bytes) -> str:
    """A file's content hash as lineage records it (`source_file_hashes`), and the late-files check compares."""
    return hashlib.sha256(data).hexdigest()[:16]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """`*` and `?` stay within one path segment, `**` crosses them, `[...]` is a character class."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")
