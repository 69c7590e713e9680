"""A user's own files in a landing zone, read into the canonical schema (``schema.py``).

The landing zone is a folder or an object-store prefix holding daily files plus a small
``mapping.yaml`` that says where a day's files are, how they are encoded and which of the
user's columns is which canonical column. This module knows nothing about where the bytes
live: it reads them through a `FileReader` (``list_files(prefix)`` and ``read_bytes(name)``,
names relative to the landing root, ``/``-separated). `DictFileReader`, `LocalDirReader` and
`S3PrefixReader` are provided; any object with those two methods works.

    mapping = load_mapping(files.read_bytes("mapping.yaml").decode("utf-8"))   # or read_mapping(files)
    day = read_day(files, mapping, datetime.date(2026, 9, 3))
    day.transactions, day.labels, day.files, day.unknown_columns
    transactions, labels, files_read, unknown = day                           # a NamedTuple

What it guarantees (and what it leaves to ``contracts.py``):

* output frames carry exactly the canonical columns and dtypes of ``contracts.EXPECTED_*``:
  ids and categoricals as ``object`` strings, timestamps ``datetime64[us, UTC]``, ``amount``
  float64, ``is_fraud`` int8; optional transaction columns only when mapped; labels always
  have all of ``schema.LABEL_COLUMNS`` (``fraud_scenario`` all None when unmapped);
* schema drift fails loudly with `LandingError` (a ``contracts.SchemaContractError``) that
  names the file, the user's column, the canonical column and the rule (`RULES`): a missing
  mapped column, a retyped column (most values no longer parse), a wrong CSV delimiter, an
  undecodable or corrupt file, no file for the day;
* rows are never dropped here: a *few* unparseable values (at most ``max(1, share x
  non-blank values)`` of a column, ``share`` = ``max_unparseable_share``, 1% by default, and
  at least one value parses) stay in their row as NaN / NaT / ``is_fraud = -1``, which the
  contract then quarantines with its rule. Blank values stay blank (None / NaN / NaT; a blank
  ``is_fraud`` in a label feed becomes -1), for the contract to quarantine;
* ids are always read as strings (a CSV id ``00123`` keeps its zeros);
* columns present in a file but not referenced by the mapping (nor listed under ``ignore``)
  are reported, never fatal: ``LandingDay.unknown_columns`` maps file name -> its unknown
  columns (files without any are left out).

Timestamps: ``{date}`` in a ``path`` is the partition day (ISO, or ``{date:%Y%m%d}`` for any
strftime form); the files of a day must hold the events of that *UTC* day (the snapshot
contract quarantines events outside it). Naive timestamps are localized to the feed's
``timezone`` (ambiguous wall times at the end of summer time are inferred from the row order
when possible, otherwise taken as the first, summer-time occurrence; non-existent ones at its
start are moved an hour forward, as written by a clock not yet put forward), aware ones are converted to UTC.

Pure: pandas, pyarrow and PyYAML only (no Dagster).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import difflib
import gzip
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import (
    EXPECTED_LABEL_DTYPES,
    EXPECTED_TRANSACTION_DTYPES,
    REQUIRED_LABEL_COLUMNS,
    SchemaContractError,
)

__all__ = [
    "MAPPING_FILE",
    "RULES",
    "CsvOptions",
    "DictFileReader",
    "FeedMapping",
    "FileReader",
    "LabelsFromTransactions",
    "LandingDay",
    "LandingError",
    "LandingMapping",
    "LocalDirReader",
    "MappingError",
    "S3PrefixReader",
    "TimestampSpec",
    "load_mapping",
    "read_day",
    "read_mapping",
]

MAPPING_FILE = "mapping.yaml"
DEFAULT_MAX_UNPARSEABLE_SHARE = 0.01
UNPARSEABLE_FLAG = -1  # is_fraud of a label whose flag is blank or unparseable: the contract quarantines it

# The rules a LandingError can name (its `rule` attribute, and "[rule]" in its message).
RULE_NO_FILE = "no_file"
RULE_MISSING_COLUMN = "missing_column"
RULE_RETYPED = "retyped"
RULE_DELIMITER = "delimiter"
RULE_ENCODING = "encoding"
RULE_UNREADABLE = "unreadable_file"
RULES = (RULE_NO_FILE, RULE_MISSING_COLUMN, RULE_RETYPED, RULE_DELIMITER, RULE_ENCODING, RULE_UNREADABLE)

_ISO, _EPOCH_S, _EPOCH_MS = "iso", "epoch_seconds", "epoch_millis"
_FORMATS = ("csv", "parquet")
_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n"})
_DELIMITER_CANDIDATES = (";", "\t", ",", "|")
_DST_GAP = pd.Timedelta(hours=1)  # a wall time skipped when summer time starts: written by a clock not yet moved
_AWARE_SUFFIX = re.compile(r"[T ]\S*?(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")  # a time, then Z or an offset


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
class LandingError(SchemaContractError):
    """A landing file breaks the mapping. ``str(error)`` reads
    ``"<file>: [<rule>] column '<user column>' (canonical '<canonical>'): <detail>"``."""

    def __init__(self, file: str, rule: str, detail: str, column: str | None = None, canonical: str | None = None):
        self.file, self.rule, self.column, self.canonical, self.detail = file, rule, column, canonical, detail
        where = f"column '{column}' (canonical '{canonical}'): " if column is not None else ""
        super().__init__(f"{file}: [{rule}] {where}{detail}")


class MappingError(SchemaContractError):
    """``mapping.yaml`` itself is invalid; the message names the key, e.g. ``transactions.columns.amount``."""


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------
@runtime_checkable
class FileReader(Protocol):
    """The landing zone's files, by name relative to its root ('/'-separated)."""

    def list_files(self, prefix: str) -> list[str]:
        """Every file whose name starts with `prefix` (recursively; any order)."""
        ...

    def read_bytes(self, name: str) -> bytes: ...


class DictFileReader:
    """An in-memory landing zone: name -> bytes (tests, examples)."""

    def __init__(self, files: Mapping[str, bytes | str]):
        self.files = {k: v.encode("utf-8") if isinstance(v, str) else v for k, v in files.items()}

    def list_files(self, prefix: str) -> list[str]:
        return sorted(name for name in self.files if name.startswith(prefix))

    def read_bytes(self, name: str) -> bytes:
        return self.files[name]


class LocalDirReader:
    """A landing zone in a local folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def list_files(self, prefix: str) -> list[str]:
        folder = self.root / prefix.rpartition("/")[0] if "/" in prefix else self.root
        if not folder.is_dir():
            return []
        names = (p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())
        return sorted(n for n in names if n.startswith(prefix))

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


class S3PrefixReader:
    """A landing zone under ``s3://bucket/prefix/``, through a boto3-style S3 client (duck-typed:
    ``get_paginator("list_objects_v2")`` and ``get_object``; boto3 is not imported here)."""

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client, self.bucket = client, bucket
        self.root = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    def list_files(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys = (
            o["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.root + prefix)
            for o in page.get("Contents", [])
        )
        return sorted(k[len(self.root) :] for k in keys if not k.endswith("/"))

    def read_bytes(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self.root + name)["Body"].read()


# ---------------------------------------------------------------------------------------------
# The mapping
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimestampSpec:
    """How a feed writes its timestamps: ``iso`` | ``epoch_seconds`` | ``epoch_millis`` | a strftime pattern."""

    format: str = _ISO
    timezone: str = "UTC"  # for naive values; aware values are converted to UTC


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    encoding: str = "utf-8"  # a UTF-8 byte-order mark is always skipped
    decimal: str = "."  # the decimal separator of numbers ("," for 12,50)
    thousands: str | None = None  # a thousands separator to remove ("." for 1.234,50)


@dataclass(frozen=True)
class FeedMapping:
    """One kind of file: the transactions, or a separate label feed."""

    path: str  # glob relative to the landing root with {date}
    format: str  # csv | parquet
    columns: dict[str, str]  # canonical column -> the user's column (mapped columns only)
    timestamp: TimestampSpec = TimestampSpec()
    csv: CsvOptions = CsvOptions()
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # canonical column -> {user value: canonical value}
    ignore: tuple[str, ...] = ()  # user columns known to be unused: not reported as unknown
    required: bool = True  # False: a day without a file reads as empty (label feeds only)

    def pattern(self, day: dt.date) -> str:
        return self.path.format(date=day)


@dataclass(frozen=True)
class LabelsFromTransactions:
    """Labels carried as columns of the transaction files."""

    columns: dict[str, str]  # is_fraud (required), reported_at, fraud_scenario -> the user's column
    timestamp: TimestampSpec  # of the reported_at column
    delay_days: float | None = None  # reported_at = event time + delay_days where reported_at is blank or unmapped
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class LandingMapping:
    transactions: FeedMapping
    labels: FeedMapping | None = None  # a separate label feed ...
    labels_from_transactions: LabelsFromTransactions | None = None  # ... or labels in the transaction files
    max_unparseable_share: float = DEFAULT_MAX_UNPARSEABLE_SHARE
    version: int = 1
    source: str = MAPPING_FILE  # named in error messages


class _Loader(yaml.SafeLoader):
    """YAML where only true/false are booleans: `yes`, `no`, `on`, `off`, `Y`, `N` stay strings
    (they are common user values in value maps)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Keys:
    """Reads one YAML mapping, naming the key path in every error."""

    def __init__(self, source: str, path: str, value: Any, allowed: Sequence[str]):
        self.source, self.path = source, path
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {type(value).__name__}")
        self.data = {str(k): v for k, v in value.items()}
        for key in self.data:
            if key not in allowed:
                self.fail(self.key(key), f"is not a known key (known: {', '.join(allowed)}){_suggest(key, allowed)}")

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, key: str, message: str) -> NoReturn:
        raise MappingError(f"{self.source}: {key} {message}")

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    def string(self, name: str, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(self.key(name), "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(self.key(name), f"must be a string, got {value!r}")
        return str(value)

    def text(self, name: str, default: str | None = None) -> str:
        """A string value; required when there is no default."""
        value = self.string(name, required=default is None)
        return default if value is None else value  # type: ignore[return-value]


def _check_timezone(keys: _Keys, name: str, tz: str) -> str:
    try:
        pd.Timestamp("2026-01-01").tz_localize(tz)
    except Exception:
        keys.fail(keys.key(name), f"'{tz}' is not a known time zone (an IANA name such as 'UTC' or 'Europe/Amsterdam')")
    return tz


def _timestamp_spec(keys: _Keys, default: TimestampSpec | None) -> TimestampSpec:
    value = keys.get("timestamp")
    if value is None:
        fmt = default.format if default else _ISO
    elif isinstance(value, str):
        fmt = value
    else:
        sub = _Keys(keys.source, keys.key("timestamp"), value, ("format",))
        fmt = sub.text("format")
    if fmt not in (_ISO, _EPOCH_S, _EPOCH_MS) and "%" not in fmt:
        keys.fail(keys.key("timestamp.format"), f"'{fmt}' is not iso, epoch_seconds, epoch_millis or a strftime pattern such as '%d/%m/%Y %H:%M'")
    tz = keys.text("timezone", default.timezone if default else "UTC")
    return TimestampSpec(fmt, _check_timezone(keys, "timezone", tz))


def _csv_options(keys: _Keys) -> CsvOptions:
    value = keys.get("csv")
    if value is None:
        return CsvOptions()
    sub = _Keys(keys.source, keys.key("csv"), value, ("delimiter", "encoding", "decimal", "thousands"))
    delimiter = sub.text("delimiter", ",")
    delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter)
    if len(delimiter) != 1:
        sub.fail(sub.key("delimiter"), f"must be one character (or 'tab'), got {delimiter!r}")
    encoding = sub.text("encoding", "utf-8")
    try:
        codecs.lookup(encoding)
    except LookupError:
        sub.fail(sub.key("encoding"), f"'{encoding}' is not a known encoding")
    decimal = sub.text("decimal", ".")
    thousands = sub.string("thousands")
    if len(decimal) != 1 or (thousands is not None and len(thousands) != 1) or decimal == thousands:
        sub.fail(sub.key("decimal"), "and csv.thousands must be single, different characters")
    return CsvOptions(delimiter, encoding, decimal, thousands)


def _columns(keys: _Keys, name: str, canonical: Sequence[str], required: Sequence[str]) -> dict[str, str]:
    sub = _Keys(keys.source, keys.key(name), keys.get(name, {}) if keys.get(name) is not None else {}, canonical)
    columns = {}
    for column in canonical:
        user = sub.string(column, required=column in required)
        if user is not None:
            columns[column] = user
    return columns


def _values(keys: _Keys, allowed: Sequence[str]) -> dict[str, dict[str, Any]]:
    value = keys.get("values")
    if value is None:
        return {}
    sub = _Keys(keys.source, keys.key("values"), value, allowed)
    out = {}
    for column, table in sub.data.items():
        if not isinstance(table, dict):
            sub.fail(sub.key(column), "must map the user's values to canonical values")
        out[column] = {str(k): v for k, v in table.items()}
    return out


def _path_and_format(keys: _Keys) -> tuple[str, str]:
    path = keys.text("path")
    try:
        path.format(date=dt.date(2026, 9, 3))
    except (KeyError, IndexError, ValueError) as error:
        keys.fail(keys.key("path"), f"'{path}' has an unknown placeholder ({error}); use {{date}} or {{date:%Y%m%d}}")
    if "{date" not in path:
        keys.fail(keys.key("path"), f"'{path}' must contain {{date}} (the partition day), or every day reads the same files")
    fmt: str | None = keys.string("format")
    if fmt is None:
        suffix = path.lower().rstrip("*").rsplit(".", 1)[-1]
        fmt = {"csv": "csv", "gz": "csv", "txt": "csv", "parquet": "parquet", "pq": "parquet"}.get(suffix)
        if fmt is None:
            keys.fail(keys.key("format"), "is required (csv or parquet): it cannot be told from the path")
    if fmt not in _FORMATS:
        keys.fail(keys.key("format"), f"'{fmt}' is not one of {', '.join(_FORMATS)}")
    return path, fmt


def _ignore(keys: _Keys) -> tuple[str, ...]:
    value = keys.get("ignore") or []
    if not isinstance(value, list):
        keys.fail(keys.key("ignore"), "must be a list of column names")
    return tuple(str(v) for v in value)


def _fraud_values(keys: _Keys, values: dict[str, dict[str, Any]]) -> None:
    for user, canonical in values.get(s.IS_FRAUD, {}).items():
        if canonical not in (0, 1) or isinstance(canonical, bool):
            keys.fail(keys.key(f"values.{s.IS_FRAUD}.{user}"), f"must be 0 or 1, got {canonical!r}")


def load_mapping(text: str, source: str = MAPPING_FILE) -> LandingMapping:
    """Parses and validates a mapping.yaml; errors are `MappingError` naming the key.

    Keys (see data/examples/landing/mapping.yaml for a commented example)::

        version: 1                          # optional, only 1
        max_unparseable_share: 0.01         # optional, see the module docstring
        transactions:
          path: "transactions/{date}*.csv"  # required; glob with {date} or {date:%Y%m%d}
          format: csv                       # csv | parquet; default from the path's extension
          csv: {delimiter: ",", encoding: utf-8, decimal: ".", thousands: null}   # optional
          columns: {<canonical>: <user column> | null, ...}  # the five required ones must be mapped
          timestamp: {format: iso}          # iso | epoch_seconds | epoch_millis | strftime pattern
          timezone: UTC                     # for naive timestamps
          values: {channel | merchant_category | country: {<user value>: <canonical value>}}
          ignore: [<user column>, ...]      # present but unused: not reported as unknown
        labels:                             # required: a separate feed ...
          path, format, csv, columns (transaction_id, is_fraud, reported_at required; fraud_scenario),
          timestamp, timezone (default: the transactions'), ignore, values (is_fraud: {<v>: 0|1},
          fraud_scenario), required: true   # false: a day without a label file reads as no labels
        labels:                             # ... or labels inside the transaction files
          from_transactions: {is_fraud: <col>, reported_at: <col>, fraud_scenario: <col>}
          delay_days: 7                     # reported_at = event time + 7 days where it is blank/unmapped
          timestamp, timezone, values       # as above; timestamp defaults to the transactions'
    """
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise MappingError(f"{source}: invalid YAML: {error}") from error
    top = _Keys(source, "", data if data is not None else {}, ("version", "transactions", "labels", "max_unparseable_share"))
    version = top.get("version", 1)
    if version != 1:
        top.fail("version", f"{version!r} is not supported (only 1)")
    share = top.get("max_unparseable_share", DEFAULT_MAX_UNPARSEABLE_SHARE)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        top.fail("max_unparseable_share", f"must be a number in [0, 1), got {share!r}")

    if top.get("transactions") is None:
        top.fail("transactions", "is required")
    tx = _Keys(source, "transactions", top.get("transactions"), ("path", "format", "csv", "columns", "timestamp", "timezone", "values", "ignore"))
    path, fmt = _path_and_format(tx)
    if tx.get("columns") is None:
        tx.fail("transactions.columns", "is required")
    transactions = FeedMapping(
        path=path,
        format=fmt,
        columns=_columns(tx, "columns", s.TRANSACTION_COLUMNS, s.REQUIRED_TRANSACTION_COLUMNS),
        timestamp=_timestamp_spec(tx, None),
        csv=_csv_options(tx),
        values=_values(tx, (s.MERCHANT_CATEGORY, s.CHANNEL, s.COUNTRY)),
        ignore=_ignore(tx),
    )

    if top.get("labels") is None:
        top.fail("labels", "is required: either labels.path (a separate label feed) or labels.from_transactions")
    lb = _Keys(
        source,
        "labels",
        top.get("labels"),
        ("path", "format", "csv", "columns", "timestamp", "timezone", "values", "ignore", "required", "from_transactions", "delay_days"),
    )
    label_values = _values(lb, (s.IS_FRAUD, s.FRAUD_SCENARIO))
    _fraud_values(lb, label_values)
    labels = from_transactions = None
    if lb.get("from_transactions") is not None:
        for key in ("path", "format", "csv", "columns", "ignore", "required"):
            if key in lb.data:
                lb.fail(f"labels.{key}", "cannot be combined with labels.from_transactions (labels come from the transaction files)")
        columns = _columns(lb, "from_transactions", (s.IS_FRAUD, s.REPORTED_AT, s.FRAUD_SCENARIO), (s.IS_FRAUD,))
        delay = lb.get("delay_days")
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0):
            lb.fail("labels.delay_days", f"must be a number of days >= 0, got {delay!r}")
        if s.REPORTED_AT not in columns and delay is None:
            lb.fail("labels.from_transactions.reported_at", "is required unless labels.delay_days is given")
        from_transactions = LabelsFromTransactions(
            columns=columns,
            timestamp=_timestamp_spec(lb, transactions.timestamp),
            delay_days=float(delay) if delay is not None else None,
            values=label_values,
        )
    else:
        if "delay_days" in lb.data:
            lb.fail("labels.delay_days", "applies only with labels.from_transactions (a separate feed needs its reported_at column)")
        if lb.get("path") is None:
            lb.fail("labels.path", "is required (or labels.from_transactions for labels inside the transaction files)")
        if lb.get("columns") is None:
            lb.fail("labels.columns", "is required")
        required = lb.get("required", True)
        if not isinstance(required, bool):
            lb.fail("labels.required", f"must be true or false, got {required!r}")
        label_path, label_format = _path_and_format(lb)
        labels = FeedMapping(
            path=label_path,
            format=label_format,
            columns=_columns(lb, "columns", s.LABEL_COLUMNS, REQUIRED_LABEL_COLUMNS),
            timestamp=_timestamp_spec(lb, transactions.timestamp),
            csv=_csv_options(lb),
            values=label_values,
            ignore=_ignore(lb),
            required=required,
        )
    return LandingMapping(transactions, labels, from_transactions, float(share), int(version), source)


def read_mapping(files: FileReader, name: str = MAPPING_FILE) -> LandingMapping:
    """`load_mapping` of the mapping file at the landing root."""
    try:
        data = files.read_bytes(name)
    except (FileNotFoundError, KeyError) as error:
        raise MappingError(f"{name}: no mapping file in the landing zone") from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MappingError(f"{name}: not UTF-8 text ({error})") from error
    return load_mapping(text, source=name)


# ---------------------------------------------------------------------------------------------
# Reading a day
# ---------------------------------------------------------------------------------------------
class LandingDay(NamedTuple):
    transactions: pd.DataFrame  # canonical; columns in schema.TRANSACTION_COLUMNS order, mapped optional ones only
    labels: pd.DataFrame  # canonical; all of schema.LABEL_COLUMNS
    files: list[str]  # every file read, transactions first (names relative to the landing root)
    unknown_columns: dict[str, list[str]]  # file -> its columns the mapping does not reference
    file_hashes: dict[str, str]  # file -> sha256 prefix of the bytes read, for lineage


def read_day(files: FileReader, mapping: LandingMapping, day: dt.date) -> LandingDay:
    """The canonical transactions and labels of one (UTC) partition day, the files read and the
    unknown columns per file. Raises `LandingError` on schema drift; never drops a row."""
    if isinstance(day, dt.datetime):
        day = day.date()
    files = _HashingReader(files)
    share = mapping.max_unparseable_share
    feed, inline = mapping.transactions, mapping.labels_from_transactions
    tx_names = _match(files, feed, day, "transaction")
    tx_frames: list[pd.DataFrame] = []
    label_frames: list[pd.DataFrame] = []
    unknown: dict[str, list[str]] = {}
    for name in tx_names:
        raw = _read_file(files, name, feed, "transactions")
        wanted = dict(feed.columns)
        if inline is not None:
            wanted.update(inline.columns)
        _require_columns(raw, name, wanted)
        _note_unknown(unknown, name, raw, list(wanted.values()) + list(feed.ignore))
        transactions = _canonical_transactions(raw, name, feed, share)
        tx_frames.append(transactions)
        if inline is not None:
            label_frames.append(_labels_from_transactions(raw, transactions, name, inline, share))
    transactions = _concat(tx_frames, _empty(EXPECTED_TRANSACTION_DTYPES, _transaction_columns(feed)))

    label_names: list[str] = []
    if mapping.labels is not None:
        label_feed = mapping.labels
        label_names = _match(files, label_feed, day, "label")
        for name in label_names:
            raw = _read_file(files, name, label_feed, "labels")
            _require_columns(raw, name, label_feed.columns)
            _note_unknown(unknown, name, raw, list(label_feed.columns.values()) + list(label_feed.ignore))
            label_frames.append(_canonical_labels(raw, name, label_feed, share))
    labels = _concat(label_frames, _empty(EXPECTED_LABEL_DTYPES, s.LABEL_COLUMNS))
    return LandingDay(transactions, labels, tx_names + label_names, unknown, files.hashes)


class _HashingReader:
    """Passes reads through and remembers each file's content hash: lineage without a second read."""

    def __init__(self, files: FileReader):
        self._files = files
        self.hashes: dict[str, str] = {}

    def list_files(self, prefix: str) -> list[str]:
        return self._files.list_files(prefix)

    def read_bytes(self, name: str) -> bytes:
        data = self._files.read_bytes(name)
        self.hashes[name] = hashlib.sha256(data).hexdigest()[:16]
        return data


# --- files -----------------------------------------------------------------------------------
def _glob_regex(pattern: str) -> re.Pattern[str]:
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


def _match(files: FileReader, feed: FeedMapping, day: dt.date, what: str) -> list[str]:
    pattern = feed.pattern(day)
    prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    regex = _glob_regex(pattern)
    names = sorted(n for n in files.list_files(prefix) if regex.match(n))
    if not names and feed.required:
        folder = prefix.rpartition("/")[0]
        nearby = sorted(files.list_files(f"{folder}/" if folder else ""))[:5]
        seen = f"; files under '{folder or '.'}/' include {nearby}" if nearby else f"; no files under '{folder or '.'}/'"
        raise LandingError(pattern, RULE_NO_FILE, f"no {what} file for {day.isoformat()} matching '{pattern}'{seen}")
    return names


def _read_file(files: FileReader, name: str, feed: FeedMapping, section: str) -> pd.DataFrame:
    data = files.read_bytes(name)
    if feed.format == "parquet":
        return _read_parquet(data, name, section)
    return _read_csv(data, name, feed.csv, section, n_columns=len(feed.columns))


def _read_csv(data: bytes, name: str, options: CsvOptions, section: str, n_columns: int) -> pd.DataFrame:
    if data[:4] == b"PAR1":
        raise LandingError(name, RULE_UNREADABLE, f"the file is Parquet but {section}.format is csv")
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated gzip: {error}") from error
    encoding = options.encoding
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        raise LandingError(
            name,
            RULE_ENCODING,
            f"not valid {options.encoding} (byte {data[error.start:error.start + 1]!r} at offset {error.start}); "
            f"set {section}.csv.encoding to the file's encoding (e.g. 'cp1252' or 'latin-1')",
        ) from error
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise LandingError(name, RULE_UNREADABLE, "the file is empty: not even a header row")
    header_line = text.splitlines()[0]
    header = next(csv.reader([header_line], delimiter=options.delimiter), [])
    if len(header) <= 1 < n_columns:
        counts = {d: header_line.count(d) for d in _DELIMITER_CANDIDATES if d != options.delimiter}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            raise LandingError(
                name,
                RULE_DELIMITER,
                f"the header is a single column {header_line[:80]!r} with {section}.csv.delimiter {options.delimiter!r}; "
                f"the file looks {best!r}-delimited: set {section}.csv.delimiter: {best!r}",
            )
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=options.delimiter,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise LandingError(name, RULE_UNREADABLE, f"malformed CSV: {error}") from error
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_parquet(data: bytes, name: str, section: str) -> pd.DataFrame:
    if not data:
        raise LandingError(name, RULE_UNREADABLE, "the file is empty (0 bytes): not Parquet")
    if data[:4] != b"PAR1":
        looks = "CSV/text" if data[:200].isascii() and b"\n" in data[:4096] else "not Parquet"
        raise LandingError(name, RULE_UNREADABLE, f"the file is {looks} (no Parquet header) but {section}.format is parquet")
    if data[-4:] != b"PAR1":
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated Parquet: {len(data)} bytes and no footer")
    try:
        frame = pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError, ValueError, EOFError) as error:
        raise LandingError(name, RULE_UNREADABLE, f"corrupt or truncated Parquet: {str(error).strip()}") from error
    if not isinstance(frame.index, pd.RangeIndex):  # an index stored by pandas is a column of the user's
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _require_columns(frame: pd.DataFrame, name: str, wanted: Mapping[str, str]) -> None:
    present = list(frame.columns)
    for canonical, user in wanted.items():
        if user not in frame.columns:
            raise LandingError(
                name,
                RULE_MISSING_COLUMN,
                f"'{user}' is not in the file; columns present: {present}{_suggest(user, present)}",
                column=user,
                canonical=canonical,
            )


def _note_unknown(unknown: dict[str, list[str]], name: str, frame: pd.DataFrame, known: Iterable[str]) -> None:
    known = set(known)
    extra = [c for c in frame.columns if c not in known]
    if extra:
        unknown[name] = extra


def _transaction_columns(feed: FeedMapping) -> list[str]:
    return [c for c in s.TRANSACTION_COLUMNS if c in feed.columns]


def _empty(dtypes: Mapping[str, str], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in columns})


def _concat(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    if not frames:
        return empty
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


# --- columns ---------------------------------------------------------------------------------
class _Column:
    """One user column on its way to a canonical column, for error messages."""

    def __init__(self, frame: pd.DataFrame, file: str, canonical: str, user: str, share: float):
        self.series, self.file, self.canonical, self.user, self.share = frame[user], file, canonical, user, share

    def fail(self, rule: str, detail: str) -> NoReturn:
        raise LandingError(self.file, rule, detail, column=self.user, canonical=self.canonical)

    def tolerate(self, failed: np.ndarray, blank: np.ndarray, strings: pd.Series, what: str, hint: str = "") -> None:
        """A few unparseable values stay in their rows (NaN/NaT) for the contract; many mean retyped."""
        n_bad = int(failed.sum())
        if not n_bad:
            return
        n_values = int((~blank).sum())
        allowed = max(1, int(self.share * n_values))
        if n_bad > allowed or n_bad == n_values:
            examples = list(dict.fromkeys(strings[failed].head(50)))[:3]
            self.fail(
                RULE_RETYPED,
                f"{n_bad} of {n_values} non-blank values are not {what} (e.g. {examples}); "
                f"more than the {allowed} tolerated ({self.share:.0%}): the column looks retyped{hint}",
            )


def _strings(series: pd.Series) -> pd.Series:
    """Object strings (None for missing), whatever the column's type in the file."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        if series.isna().any():  # nullable integers
            return series.astype(object).map(lambda v: None if pd.isna(v) else str(v))
        return series.astype(str).astype(object)
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if len(finite) and np.all(finite == np.round(finite)) and np.abs(finite).max() < 2**53:
            series = series.astype("Int64")  # ids written as floats: 123.0 -> "123"
        return series.astype(object).map(lambda v: None if pd.isna(v) else str(v))
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("string", "empty"):
        out = series.astype(object)
        return out.where(out.notna(), None) if out.hasnans else out
    return series.map(lambda v: None if v is None or (not isinstance(v, str | bytes) and pd.isna(v)) else (v.decode() if isinstance(v, bytes) else str(v))).astype(object)


def _blank(strings: pd.Series) -> np.ndarray:
    return (strings.isna() | strings.str.strip().eq("")).to_numpy(dtype=bool)


def _map_values(strings: pd.Series, table: Mapping[str, Any] | None) -> pd.Series:
    if not table:
        return strings
    codes, uniques = pd.factorize(strings)
    mapped = np.array([table.get(u, u) for u in uniques], dtype=object)
    out = mapped[np.maximum(codes, 0)] if len(uniques) else np.empty(len(strings), dtype=object)
    out[codes < 0] = None
    return pd.Series(out, index=strings.index, dtype=object)


def _ids(col: _Column) -> pd.Series:
    return _strings(col.series)


def _categories(col: _Column, table: Mapping[str, Any] | None) -> pd.Series:
    strings = _strings(col.series)
    if len(strings) and not strings.isna().all():
        strings = strings.str.strip().where(strings.notna(), None)
        strings = strings.where(strings.ne(""), None)
    return _map_values(strings, table)


def _amounts(col: _Column, options: CsvOptions) -> pd.Series:
    series = col.series
    if pd.api.types.is_bool_dtype(series.dtype):
        col.fail(RULE_RETYPED, "holds booleans, not amounts: the column looks retyped")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    strings = _strings(series)
    blank = _blank(strings)
    text = strings.str.strip() if len(strings) else strings
    if options.thousands:
        text = text.str.replace(options.thousands, "", regex=False)
    if options.decimal != ".":
        text = text.str.replace(options.decimal, ".", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype("float64") if len(text) else pd.Series(dtype="float64", index=series.index)
    failed = ~blank & values.isna().to_numpy()
    hint = ""
    if failed.any() and options.decimal == "." and strings[failed].str.fullmatch(r"\s*-?[\d.]*\d,\d+\s*").mean() > 0.5:
        hint = "; the values use a decimal comma: set csv.decimal: ','"
    col.tolerate(failed, blank, strings, "numbers", hint)
    return values


def _to_us_utc(values: pd.Series) -> pd.Series:
    return values.dt.as_unit("us")


def _localize(values: pd.Series, tz: str) -> pd.Series:
    """Naive wall times in `tz` to UTC; see the module docstring for daylight-saving gaps and folds."""
    try:
        local = values.dt.tz_localize(tz, ambiguous="raise", nonexistent=_DST_GAP)
    except Exception:  # a wall time repeated when summer time ends
        try:
            local = values.dt.tz_localize(tz, ambiguous="infer", nonexistent=_DST_GAP)
        except Exception:
            local = values.dt.tz_localize(tz, ambiguous=np.ones(len(values), dtype=bool), nonexistent=_DST_GAP)
    return local.dt.tz_convert("UTC")


def _epochs(col: _Column, numbers: pd.Series, unit: str, failed_before: np.ndarray, blank: np.ndarray, strings: pd.Series) -> pd.Series:
    finite = numbers[np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))]
    if len(finite):
        median = float(finite.abs().median())
        if unit == "s" and median > 1e11:
            col.fail(RULE_RETYPED, f"values look like epoch milliseconds (median {median:.0f}), not epoch_seconds: set timestamp.format: epoch_millis")
        if unit == "ms" and 0 < median < 1e11:
            col.fail(RULE_RETYPED, f"values look like epoch seconds (median {median:.0f}), not epoch_millis: set timestamp.format: epoch_seconds")
    if len(finite) and np.all(finite == np.round(finite)):
        numbers = numbers.astype("Int64")  # exact integer arithmetic for milliseconds
    values = pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")
    failed = failed_before | (~blank & values.isna().to_numpy())
    col.tolerate(failed, blank, strings, f"{'epoch seconds' if unit == 's' else 'epoch milliseconds'}")
    return values


def _timestamps(col: _Column, spec: TimestampSpec) -> pd.Series:
    series = col.series
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return _to_us_utc(series.dt.tz_convert("UTC"))
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return _to_us_utc(_localize(series, spec.timezone))
    fmt = spec.format
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    if numeric and fmt not in (_EPOCH_S, _EPOCH_MS):
        col.fail(RULE_RETYPED, f"holds numbers but timestamp.format is '{fmt}': set epoch_seconds or epoch_millis, or fix the column")
    if numeric:
        blank = series.isna().to_numpy()
        strings = series.astype(str)
        return _to_us_utc(_epochs(col, series.astype("float64"), "s" if fmt == _EPOCH_S else "ms", np.zeros(len(series), bool), blank, strings))
    strings = _strings(series)
    blank = _blank(strings)
    text = strings.str.strip() if len(strings) else strings.astype(object)
    if fmt in (_EPOCH_S, _EPOCH_MS):
        numbers = pd.to_numeric(text, errors="coerce").astype("float64") if len(text) else pd.Series(dtype="float64")
        failed = ~blank & numbers.isna().to_numpy()
        return _to_us_utc(_epochs(col, numbers, "s" if fmt == _EPOCH_S else "ms", failed, blank, strings))
    if fmt == _ISO:
        aware = text.str.contains(_AWARE_SUFFIX, na=False) if len(text) else pd.Series(dtype=bool)
        naive = _localize(pd.to_datetime(text.where(~aware, None), format="ISO8601", errors="coerce"), spec.timezone)
        if aware.any():
            zoned = pd.to_datetime(text.where(aware, None), format="ISO8601", utc=True, errors="coerce")
            values = zoned.dt.as_unit("us").where(aware, naive.dt.as_unit("us"))
        else:
            values = naive
        what = "ISO 8601 timestamps"
    else:
        zoned = "%z" in fmt or "%Z" in fmt
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=zoned)
        if not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
            parsed = pd.to_datetime(parsed, errors="coerce", utc=zoned)
        values = parsed if zoned else _localize(parsed, spec.timezone)
        what = f"timestamps in the format '{fmt}'"
    failed = ~blank & values.isna().to_numpy()
    col.tolerate(failed, blank, strings, what, f"; timestamp.format is '{fmt}'")
    return _to_us_utc(values)


def _flags(col: _Column, table: Mapping[str, Any] | None) -> tuple[pd.Series, np.ndarray]:
    """is_fraud as int8 (-1 where blank or unparseable) and the blank mask."""
    strings = _strings(col.series)
    blank = _blank(strings)
    codes, uniques = pd.factorize(strings)
    parsed = np.full(len(uniques), UNPARSEABLE_FLAG, dtype=np.int64)
    bad = np.zeros(len(uniques), dtype=bool)
    table = table or {}
    for i, raw in enumerate(uniques):
        value = table.get(raw, table.get(raw.strip(), raw))
        word = str(value).strip().lower()
        if word == "":
            continue
        if word in _TRUE_WORDS:
            parsed[i] = 1
        elif word in _FALSE_WORDS:
            parsed[i] = 0
        else:
            try:
                number = float(word)
            except ValueError:
                number = np.nan
            if np.isfinite(number) and number == round(number) and -128 <= number <= 127:
                parsed[i] = int(number)  # 2 stays 2: the contract's isin(0, 1) quarantines it
            else:
                bad[i] = True
    out = np.where(codes < 0, UNPARSEABLE_FLAG, parsed[np.maximum(codes, 0)] if len(uniques) else UNPARSEABLE_FLAG)
    failed = (codes >= 0) & (bad[np.maximum(codes, 0)] if len(uniques) else np.zeros(len(codes), bool))
    col.tolerate(failed, blank, strings, "fraud flags (1/0, true/false, yes/no or a labels.values.is_fraud entry)")
    return pd.Series(out.astype(np.int8), index=col.series.index), blank


def _canonical_transactions(raw: pd.DataFrame, name: str, feed: FeedMapping, share: float) -> pd.DataFrame:
    out = {}
    for canonical in _transaction_columns(feed):
        col = _Column(raw, name, canonical, feed.columns[canonical], share)
        if canonical in (s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID):
            out[canonical] = _ids(col)
        elif canonical == s.EVENT_TIMESTAMP:
            out[canonical] = _timestamps(col, feed.timestamp)
        elif canonical == s.AMOUNT:
            out[canonical] = _amounts(col, feed.csv)
        else:
            out[canonical] = _categories(col, feed.values.get(canonical))
    return _frame(out, EXPECTED_TRANSACTION_DTYPES, len(raw))


def _canonical_labels(raw: pd.DataFrame, name: str, feed: FeedMapping, share: float) -> pd.DataFrame:
    def column(canonical: str) -> _Column:
        return _Column(raw, name, canonical, feed.columns[canonical], share)

    is_fraud, _ = _flags(column(s.IS_FRAUD), feed.values.get(s.IS_FRAUD))
    out = {
        s.TRANSACTION_ID: _ids(column(s.TRANSACTION_ID)),
        s.IS_FRAUD: is_fraud,
        s.REPORTED_AT: _timestamps(column(s.REPORTED_AT), feed.timestamp),
        s.FRAUD_SCENARIO: _categories(column(s.FRAUD_SCENARIO), feed.values.get(s.FRAUD_SCENARIO))
        if s.FRAUD_SCENARIO in feed.columns
        else pd.Series([None] * len(raw), index=raw.index, dtype=object),
    }
    return _frame(out, EXPECTED_LABEL_DTYPES, len(raw))


def _labels_from_transactions(
    raw: pd.DataFrame, transactions: pd.DataFrame, name: str, inline: LabelsFromTransactions, share: float
) -> pd.DataFrame:
    """One label per transaction row whose flag is not blank (a blank flag means: not labelled)."""

    def column(canonical: str) -> _Column:
        return _Column(raw, name, canonical, inline.columns[canonical], share)

    is_fraud, blank = _flags(column(s.IS_FRAUD), inline.values.get(s.IS_FRAUD))
    labelled = ~blank
    if s.REPORTED_AT in inline.columns:
        reported = _timestamps(column(s.REPORTED_AT), inline.timestamp)
    else:
        reported = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    if inline.delay_days is not None:
        fallback = transactions[s.EVENT_TIMESTAMP] + pd.Timedelta(days=inline.delay_days)
        reported = reported.where(reported.notna(), fallback.dt.as_unit("us"))
    scenario = (
        _categories(column(s.FRAUD_SCENARIO), inline.values.get(s.FRAUD_SCENARIO))
        if s.FRAUD_SCENARIO in inline.columns
        else pd.Series([None] * len(raw), index=raw.index, dtype=object)
    )
    out = {
        s.TRANSACTION_ID: transactions[s.TRANSACTION_ID],
        s.IS_FRAUD: is_fraud,
        s.REPORTED_AT: reported,
        s.FRAUD_SCENARIO: scenario,
    }
    return _frame(out, EXPECTED_LABEL_DTYPES, len(raw))[labelled].reset_index(drop=True)


def _frame(columns: dict[str, pd.Series], dtypes: Mapping[str, str], n_rows: int) -> pd.DataFrame:
    frame = pd.DataFrame({k: pd.Series(v).reset_index(drop=True) for k, v in columns.items()})
    for column, series in frame.items():
        if str(series.dtype) != dtypes[column]:
            frame[column] = series.astype(dtypes[column])
    if len(frame) != n_rows:  # an invariant, not an input error
        raise AssertionError(f"landing read {n_rows} rows but built {len(frame)}")
    return frame
