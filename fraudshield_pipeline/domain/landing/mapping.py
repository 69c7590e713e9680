"""``mapping.yaml`` loaded: the runtime `LandingMapping`, and errors that name the key.

`load_mapping` validates the file with the pydantic models of ``models.py`` and turns it into
frozen dataclasses with the defaults resolved (a label feed inherits the transactions'
timestamp format and time zone). Errors are `MappingError` naming the key path
(``mapping.yaml: transactions.columns.amout is not a known key (known: ...); did you mean
'amount'?``); pydantic's own messages are translated once, in `_message`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from fraudshield_pipeline.domain.contracts import DEFAULT_MAX_AMOUNT
from fraudshield_pipeline.domain.landing.errors import MappingError, suggest
from fraudshield_pipeline.domain.landing.models import (
    DEFAULT_MAX_DECOMPRESSED_MB,
    DEFAULT_MAX_MALFORMED_SHARE,
    DEFAULT_MAX_UNPARSEABLE_SHARE,
    EPOCH_MS,
    EPOCH_S,
    EPOCH_UNITS,
    ISO,
    CsvModel,
    MappingFile,
    _Feed,
    mapping_json_schema,
)

__all__ = ["EPOCH_MS", "EPOCH_S", "EPOCH_UNITS", "EVENT_TIME", "ISO", "MAPPING_FILE", "MappingFile", "load_mapping", "mapping_json_schema"]

MAPPING_FILE = "mapping.yaml"
EVENT_TIME = "event_time"  # transactions.columns: the time of day in a column of its own, beside the date in event_timestamp


# --- errors ------------------------------------------------------------------------------------
def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: Any = MappingFile
    for part in loc:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None
        annotation, model = fields[part].annotation, None
        for candidate in (annotation, *get_args(annotation), *(a for g in get_args(annotation) for a in get_args(g))):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
    return model


def _message(error: dict[str, Any]) -> tuple[str, str]:
    """(key path, message) of one pydantic error, in this module's wording."""
    loc = tuple(str(p) for p in error["loc"])
    kind, text = error["type"], str(error.get("msg", ""))
    if kind == "extra_forbidden":
        known = list(getattr(_model_at(loc[:-1]), "model_fields", {}))
        return ".".join(loc), f"is not a known key (known: {', '.join(known)}){suggest(loc[-1], known)}"
    if kind == "missing" or (error.get("input", "") is None and kind != "value_error"):
        return ".".join(loc), "is required"
    if kind == "value_error":
        text = text.removeprefix("Value error, ")
        if text.startswith("@"):
            key, _, text = text[1:].partition("@")
            loc = (*loc, key)
        return ".".join(loc), text
    if kind in ("model_type", "dict_type"):
        return ".".join(loc), f"must be a mapping, got {error.get('input')!r}"
    return ".".join(loc), f"{text[0].lower()}{text[1:]}, got {error.get('input')!r}"


# --- runtime form ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimestampSpec:
    """How a feed writes its timestamps: ``iso`` | an epoch format (`EPOCH_UNITS`) | a strftime pattern."""

    format: str = ISO
    timezone: str = "UTC"  # for naive values; aware values are converted to UTC
    origin: dt.datetime | None = None  # epoch formats: what the numbers count from (UTC); None = 1970-01-01


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str | None = None
    multiline: bool = False  # quoted line breaks allowed: records are then counted by a strict CSV reader
    skip_lines: int = 0  # physical lines before the header (a preamble): not records; line numbers stay physical


@dataclass(frozen=True)
class FeedMapping:
    """One kind of file: the transactions, or a separate label feed."""

    path: str
    format: str
    columns: dict[str, str]  # canonical column -> the user's column (mapped columns only)
    timestamp: TimestampSpec = TimestampSpec()
    csv: CsvOptions = CsvOptions()
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    required: bool = True
    max_amount: float = DEFAULT_MAX_AMOUNT
    amount_sign: str = "positive"  # "negative": purchases are written below zero and negated on reading

    def pattern(self, day: dt.date) -> str:
        return self.path.format(date=day)


@dataclass(frozen=True)
class LabelsFromTransactions:
    """Labels carried as columns of the transaction files."""

    columns: dict[str, str]
    timestamp: TimestampSpec
    delay_days: float | None = None
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class LandingMapping:
    transactions: FeedMapping
    labels: FeedMapping | None = None
    labels_from_transactions: LabelsFromTransactions | None = None
    max_unparseable_share: float = DEFAULT_MAX_UNPARSEABLE_SHARE
    version: int = 1
    source: str = MAPPING_FILE
    max_malformed_share: float = DEFAULT_MAX_MALFORMED_SHARE
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_MB * 2**20


def _mapped(model: BaseModel | None) -> dict[str, Any]:
    return {k: v for k, v in (model.model_dump() if model is not None else {}).items() if v not in (None, {})}


def _spec(feed: _Feed, default: TimestampSpec | None) -> TimestampSpec:
    """The feed's timestamp spec; a label feed without one inherits the transactions' format and origin."""
    timezone = feed.timezone or (default.timezone if default else "UTC")
    if feed.timestamp is None:
        return TimestampSpec(default.format, timezone, default.origin) if default else TimestampSpec(ISO, timezone)
    origin = None
    if feed.timestamp.origin is not None:  # validated ISO; a naive origin is UTC, like the epoch itself
        origin = dt.datetime.fromisoformat(feed.timestamp.origin)
        origin = origin.replace(tzinfo=dt.timezone.utc) if origin.tzinfo is None else origin.astimezone(dt.timezone.utc)
    return TimestampSpec(feed.timestamp.format, timezone, origin)


def _csv(model: CsvModel) -> CsvOptions:
    return CsvOptions(**model.model_dump())


MAX_MAPPING_BYTES = 1 << 20  # a mapping is a page of YAML; a megabyte is damage or an attack
MAX_SHOWN = 300  # characters of a bad value or YAML error quoted back: an error never grows with the input


class _Loader(yaml.SafeLoader):
    """YAML where only true/false are booleans: `yes`, `no`, `on`, `off` stay strings (common user values),
    and without aliases: nested `*refs` let a few lines stand for a billion values (a "billion laughs")."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a mapping file: write the value out", mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:  # a second `amount:` would silently win over the first
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key '{key}' appears twice in one section", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_mapping(text: str, source: str = MAPPING_FILE) -> LandingMapping:
    """Parses and validates a mapping.yaml (see `MappingFile`, and data/examples/landing/ for a
    commented example); errors are `MappingError` naming the key."""
    if len(text) > MAX_MAPPING_BYTES:
        raise MappingError(f"{source}: {len(text):,} characters: a mapping file is at most {MAX_MAPPING_BYTES:,}")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise MappingError(f"{source}: invalid YAML: {str(error)[:MAX_SHOWN]}") from error
    except RecursionError as error:  # a few kilobytes of [[[[...]]]]
        raise MappingError(f"{source}: invalid YAML: nested too deeply") from error
    if data is not None and not isinstance(data, dict):
        raise MappingError(f"{source}: must be a mapping, got {type(data).__name__}")
    try:
        model = MappingFile.model_validate({str(k): v for k, v in (data or {}).items()})
    except ValidationError as errors:
        key, message = _message(errors.errors()[0])
        message = message if len(message) <= MAX_SHOWN else f"{message[:MAX_SHOWN]}... ({len(message):,} characters)"
        raise MappingError(f"{source}: {key} {message}") from None
    tx, lb = model.transactions, model.labels
    transactions = FeedMapping(
        path=tx.path, format=tx.format, columns=_mapped(tx.columns), timestamp=_spec(tx, None), csv=_csv(tx.csv),
        values=_mapped(tx.values), ignore=tuple(tx.ignore), max_amount=tx.max_amount, amount_sign=tx.amount_sign,
    )  # fmt: skip
    labels = inline = None
    if lb.from_transactions is not None:
        inline = LabelsFromTransactions(_mapped(lb.from_transactions), _spec(lb, transactions.timestamp), lb.delay_days, _mapped(lb.values))
    else:
        labels = FeedMapping(
            path=lb.path, format=lb.format, columns=_mapped(lb.columns), timestamp=_spec(lb, transactions.timestamp),
            csv=_csv(lb.csv), values=_mapped(lb.values), ignore=tuple(lb.ignore), required=lb.required,
        )  # fmt: skip
    return LandingMapping(
        transactions, labels, inline, model.max_unparseable_share, model.version, source,
        model.max_malformed_share, int(model.max_decompressed_mb * 2**20),
    )  # fmt: skip
