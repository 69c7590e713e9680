"""``mapping.yaml`` as pydantic models: validation and a JSON schema in one place.

The models (`MappingFile` and its parts) are the file's schema: `mapping_json_schema()` is what
``data/examples/landing/mapping.schema.json`` holds, for editors. ``mapping.py`` turns a valid
file into the runtime `LandingMapping` and pydantic's errors into messages naming the key.

Paths are confined to the landing root before anything is read: relative, ``/``-separated, inside
the root after normalisation, and ``{date}`` is the only placeholder, with only strftime codes in
its format (``{date:creds}`` or ``{date.__class__}`` are refused).
"""

from __future__ import annotations

import codecs
import datetime as dt
import posixpath
import re
import string
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import DEFAULT_MAX_AMOUNT, MAX_AMOUNT_CEILING, MAX_REPORT_DELAY_DAYS

DEFAULT_MAX_UNPARSEABLE_SHARE = 0.01
DEFAULT_MAX_MALFORMED_SHARE = 0.01
DEFAULT_MAX_DECOMPRESSED_MB = 1024
ISO, EPOCH_S, EPOCH_MS = "iso", "epoch_seconds", "epoch_millis"
# Numbers counted from an origin (the Unix epoch unless timestamp.origin says otherwise) -> their unit:
# hours (PaySim's `step`), seconds, milliseconds, microseconds and nanoseconds (Spark, BigQuery, Kafka).
EPOCH_UNITS = {"epoch_hours": "h", EPOCH_S: "s", EPOCH_MS: "ms", "epoch_micros": "us", "epoch_nanos": "ns"}
_HOUR_CODES = frozenset("HIXTRcs")  # strftime codes that carry the hour: %H %I, or a whole time (%X %T %R %c), or %s


def has_time_of_day(fmt: str) -> bool:
    return bool(_HOUR_CODES & set(re.findall(r"%-?(.)", fmt)))
FORMATS = ("csv", "parquet")
MAX_SKIP_LINES = 1000  # a preamble is a few lines of account and period; more is a wrong setting
_STRFTIME_SPEC = re.compile(r"(?:%-?[aAwdbBmyYHIpMSfzZjUWcxXGuV%]|[^%{}\\])*")
_SAMPLE_DAY = dt.date(2026, 9, 3)


def _at(key: str, text: str) -> ValueError:
    """An error for a sub-key of the model being validated (a model validator's loc is the model)."""
    return ValueError(f"@{key}@{text}")


# --- field types -------------------------------------------------------------------------------
def _name(value: Any) -> Any:
    """A column name: YAML may read `2024` or `1.5` as numbers; booleans and lists are errors."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a string, got {value!r}")
    return str(value)


def _required_name(value: Any) -> Any:
    if value is None:
        raise ValueError("is required")
    return _name(value)


def _value_map(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must map the user's values to canonical values")
    return {str(k): v for k, v in value.items()}


def _text_map(value: Any) -> Any:
    """A category's map: onto canonical values, which are text (`chip: 1` is a slip, not a category)."""
    table = _value_map(value)
    for user, canonical in table.items():
        if not isinstance(canonical, str):
            raise ValueError(f"must map '{user}' onto a canonical value (text), got {canonical!r}")
    return table


Name = Annotated[str | None, BeforeValidator(_name, json_schema_input_type=str | int | float | None)]
RequiredName = Annotated[str, BeforeValidator(_required_name, json_schema_input_type=str | int | float)]
ValueMap = Annotated[dict[str, Any], BeforeValidator(_value_map)]
TextMap = Annotated[dict[str, str], BeforeValidator(_text_map)]


def _share(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ValueError(f"must be a number in [0, 1), got {value!r}")
    return float(value)


def _timezone(value: Any) -> Any:
    import pandas as pd

    try:
        pd.Timestamp("2026-01-01").tz_localize(str(value))
    except Exception:
        raise ValueError(f"'{value}' is not a known time zone (an IANA name such as 'UTC' or 'Europe/Amsterdam')") from None
    return value


Share = Annotated[float, BeforeValidator(_share)]
TimeZone = Annotated[str | None, BeforeValidator(lambda v: v if v is None else _timezone(v))]


MAX_WILDCARDS = 4  # '*' per path: each is a regex group that can backtrack against a hostile name


def check_path(path: str) -> str:
    """The path template, normalised; refused unless it stays inside the landing root."""
    if "\\" in path or path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path) or "://" in path:
        raise ValueError(f"'{path}' must be relative to the landing root ('/'-separated, no drive, scheme or '~')")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise ValueError(f"{path!r} holds control characters")
    segments = path.split("/")
    if any(p == ".." and any(c in "*?[" for c in "".join(segments[:i])) for i, p in enumerate(segments)):
        raise ValueError(f"'{path}' has '..' after a wildcard: write the folder it means")
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(path) if name is not None]
    except ValueError as error:
        raise ValueError(f"'{path}' has an unknown placeholder ({error}); use {{date}} or {{date:%Y%m%d}}") from None
    for name, spec, conv in fields:
        if name != "date" or conv:
            raise ValueError(f"'{path}' has an unknown placeholder ({{{name}}}); use {{date}} or {{date:%Y%m%d}}")
        if spec and (not _STRFTIME_SPEC.fullmatch(spec) or "%" not in spec):
            raise ValueError(f"'{path}' has {{date:{spec}}}: a date format takes strftime codes only, e.g. {{date:%Y%m%d}}")
    if not fields:
        raise ValueError(f"'{path}' must contain {{date}} (the partition day), or every day reads the same files")
    if path.count("*") - 2 * path.count("**") > MAX_WILDCARDS or path.count("**") > 1:
        raise ValueError(f"'{path}' has more than {MAX_WILDCARDS} '*' or more than one '**': such a pattern takes "
                         "exponential time to match; write the folders out")  # fmt: skip
    normal = posixpath.normpath(path)
    expanded = normal.format(date=_SAMPLE_DAY)
    if ".." in expanded.split("/") or expanded.startswith("/"):  # {date:%Y/..} expands into a '..' of its own
        raise ValueError(f"'{path}' leaves the landing root: paths are relative to it and stay inside it")
    if expanded == normal.format(date=_SAMPLE_DAY + dt.timedelta(days=1)):
        raise ValueError(f"'{path}' names the same files every day: {{date}} needs the day in it (e.g. %d or %j)")
    return normal


# --- the file's models -------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvModel(_Model):
    """How a CSV feed is encoded."""

    delimiter: str = Field(",", description="One character, or 'tab'.")
    encoding: str = Field("utf-8", description="A Python codec name; a UTF-8 byte-order mark is skipped either way.")
    decimal: str = Field(".", description="Decimal separator of numbers (',' for 12,50).")
    thousands: str | None = Field(None, description="Thousands separator to remove ('.' for 1.234,50).")
    multiline: bool = Field(False, description="Quoted fields may hold line breaks; otherwise one record per line.")
    skip_lines: int = Field(
        0, ge=0, le=MAX_SKIP_LINES, strict=True,
        description="Physical lines before the header (a bank export's account and period lines): neither header nor records.",
    )  # fmt: skip

    @field_validator("delimiter", mode="before")
    @classmethod
    def _delimiter(cls, value: Any) -> Any:
        value = {"tab": "\t", "\\t": "\t"}.get(value, value)
        if not isinstance(value, str) or len(value) != 1:
            raise ValueError(f"must be one character (or 'tab'), got {value!r}")
        if value in '"\r\n\x00' or value.isalnum():
            raise ValueError(f"{value!r} cannot separate fields (a quote, a line break, a letter or a digit)")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"'{value}' is not a known encoding") from None
        return value

    @model_validator(mode="after")
    def _separators(self) -> CsvModel:
        if len(self.decimal) != 1 or (self.thousands is not None and len(self.thousands) != 1) or self.decimal == self.thousands:
            raise _at("decimal", "and csv.thousands must be single, different characters")
        return self


def _origin(value: Any) -> Any:
    """An instant as ISO text (YAML reads `2017-12-01` as a date: taken as text too); naive means UTC."""
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, dt.date) else value
    if not isinstance(text, str):
        raise ValueError(f"must be an ISO date or date and time such as '2017-12-01', got {value!r}")
    try:
        dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{text[:40]}' is not an ISO date or date and time such as '2017-12-01' or '2017-12-01T00:00:00Z'") from None
    return text.strip()


class TimestampModel(_Model):
    format: str = Field(
        ISO,
        description="iso | epoch_hours | epoch_seconds | epoch_millis | epoch_micros | epoch_nanos | a strftime pattern "
        "with the time of day, such as '%d/%m/%Y %H:%M'.",
    )
    origin: Annotated[str | None, BeforeValidator(_origin, json_schema_input_type=str | None)] = Field(
        None,
        description="epoch_* formats only: the instant the numbers count from, ISO (naive = UTC); default 1970-01-01 "
        "(e.g. 2017-12-01 for IEEE-CIS TransactionDT in seconds, the first hour for PaySim's step in hours).",
    )

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value != ISO and value not in EPOCH_UNITS and "%" not in value:
            raise ValueError(f"'{value}' is not iso, {', '.join(EPOCH_UNITS)} or a strftime pattern such as '%d/%m/%Y %H:%M'")
        return value

    @model_validator(mode="after")
    def _origin_for_epochs(self) -> TimestampModel:
        if self.origin is not None and self.format not in EPOCH_UNITS:
            raise _at("origin", f"applies only to the epoch formats ({', '.join(EPOCH_UNITS)}), not '{self.format}'")
        return self


Timestamp = Annotated[
    TimestampModel | None,
    BeforeValidator(lambda v: {"format": v} if isinstance(v, str) else v, json_schema_input_type=TimestampModel | str | None),
]


class TransactionColumns(_Model):
    """Canonical column -> the user's column (the five required ones must be mapped)."""

    transaction_id: RequiredName
    customer_id: RequiredName
    merchant_id: RequiredName
    event_timestamp: RequiredName
    event_time: Name = Field(None, description="Time of day in a column of its own: event_timestamp is then the date, and "
                                               "timestamp.format describes the two joined by one space ('%d.%m.%Y %H:%M:%S').")
    amount: RequiredName
    merchant_category: Name = None
    channel: Name = None
    country: Name = None


class LabelColumns(_Model):
    transaction_id: RequiredName
    is_fraud: RequiredName
    reported_at: RequiredName
    fraud_scenario: Name = None


class InlineLabelColumns(_Model):
    is_fraud: RequiredName
    reported_at: Name = None
    fraud_scenario: Name = None


class TransactionValues(_Model):
    """Per column: the user's value -> the canonical value (others pass through to the contract)."""

    merchant_category: TextMap = Field({}, description=f"Onto one of: {', '.join(s.MERCHANT_CATEGORIES)} (others are quarantined).")
    channel: TextMap = Field({}, description=f"Onto one of: {', '.join(s.CHANNELS)} (others are quarantined).")
    country: TextMap = Field({}, description="Onto a 2- or 3-letter country code (ISO 3166, e.g. NL).")


class LabelValues(_Model):
    is_fraud: ValueMap = {}
    fraud_scenario: TextMap = {}

    @field_validator("is_fraud")
    @classmethod
    def _flags(cls, table: dict[str, Any]) -> dict[str, Any]:
        for user, canonical in table.items():
            if canonical not in (0, 1) or isinstance(canonical, bool):
                raise _at(user, f"must be 0 or 1, got {canonical!r}")
        return table


class _Feed(_Model):
    path: str | None = Field(None, description="Glob relative to the landing root with {date} or {date:%Y%m%d}.")
    format: str | None = Field(None, description="csv | parquet; default from the path's extension.")
    csv: CsvModel = CsvModel()
    timestamp: Timestamp = None
    timezone: TimeZone = Field(None, description="Time zone of naive timestamps (aware ones are converted).")
    ignore: list[RequiredName] = Field([], description="Columns present but unused: not reported as unknown.")

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        return None if value is None else check_path(value)

    @model_validator(mode="after")
    def _format(self) -> _Feed:
        if self.path is None:
            return self
        fmt = self.format
        if fmt is None:
            suffix = self.path.lower().rstrip("*").rsplit(".", 1)[-1]
            fmt = {"csv": "csv", "gz": "csv", "txt": "csv", "parquet": "parquet", "pq": "parquet"}.get(suffix)
            if fmt is None:
                raise _at("format", "is required (csv or parquet): it cannot be told from the path")
            object.__setattr__(self, "format", fmt)
        if fmt not in FORMATS:
            raise _at("format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
        return self


class TransactionsModel(_Feed):
    path: str = Field(description="Glob relative to the landing root with {date} or {date:%Y%m%d}.")
    columns: TransactionColumns
    values: TransactionValues = TransactionValues()
    max_amount: float = Field(
        DEFAULT_MAX_AMOUNT, gt=0, le=MAX_AMOUNT_CEILING, allow_inf_nan=False,
        description="Larger amounts are quarantined (in the feed's currency); the snapshot contract applies this same bound.",
    )  # fmt: skip
    amount_sign: Literal["positive", "negative"] = Field("positive", description="negative: the feed writes purchases as "
        "negative amounts (a bank account's debits); each amount is negated, and a positive one (a credit) is quarantined.")  # fmt: skip

    @model_validator(mode="after")
    def _time_of_day(self) -> TransactionsModel:
        # A date alone would put every transaction at midnight: velocity features and the label-delay rules need the
        # time of day. (A report date alone is fine: a label feed's date means known by the end of that day.)
        fmt = self.timestamp.format if self.timestamp is not None else ISO
        split = self.columns.event_time is not None
        if split and fmt in EPOCH_UNITS:  # a count from an origin has no date text to join a time to
            raise _at("timestamp.format", f"'{fmt}' cannot take a separate columns.event_time: use iso or a strftime pattern "
                                          "for the date and the time joined by one space, e.g. '%d.%m.%Y %H:%M:%S'")  # fmt: skip
        if "%" in fmt and not has_time_of_day(fmt):
            joined = (f"; with columns.event_time it describes '{self.columns.event_timestamp}' and '{self.columns.event_time}' "
                      f"joined by one space, e.g. '{fmt} %H:%M:%S'") if split else ""  # fmt: skip
            raise _at("timestamp.format", f"'{fmt}' has no time of day (%H or %I): the features and the label-delay rules "
                                          "need it; map a column holding the date and the time, or the time of day as "
                                          f"columns.event_time{joined}")  # fmt: skip
        return self


class LabelsModel(_Feed):
    """Either a separate feed (path, columns, ...) or labels inside the transaction files."""

    columns: LabelColumns | None = None
    values: LabelValues = LabelValues()
    required: bool = Field(True, description="false: a day without a label file reads as no labels.")
    from_transactions: InlineLabelColumns | None = None
    delay_days: float | None = Field(None, description="reported_at = event time + delay where it is blank or unmapped.")

    @field_validator("delay_days", mode="before")
    @classmethod
    def _delay(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_REPORT_DELAY_DAYS):
            raise ValueError(f"must be a number of days from 0 to {MAX_REPORT_DELAY_DAYS}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> LabelsModel:
        if self.from_transactions is not None:
            for key in ("path", "format", "csv", "columns", "ignore", "required"):
                if key in self.model_fields_set:
                    raise _at(key, "cannot be combined with labels.from_transactions (labels come from the transaction files)")
            if self.from_transactions.reported_at is None and self.delay_days is None:
                raise _at("from_transactions.reported_at", "is required unless labels.delay_days is given")
            return self
        if self.delay_days is not None:
            raise _at("delay_days", "applies only with labels.from_transactions (a separate feed needs its reported_at column)")
        if self.path is None:
            raise _at("path", "is required (or labels.from_transactions for labels inside the transaction files)")
        if self.columns is None:
            raise _at("columns", "is required")
        return self


class MappingFile(_Model):
    """mapping.yaml: where a day's files are, how they are encoded, which column is which."""

    version: int = Field(1, description="Only 1.")
    transactions: TransactionsModel
    labels: LabelsModel
    max_unparseable_share: Share = Field(DEFAULT_MAX_UNPARSEABLE_SHARE, description="Per column, before the file is 'retyped'.")
    max_malformed_share: Share = Field(DEFAULT_MAX_MALFORMED_SHARE, description="Records quarantined as malformed before the file fails.")
    max_decompressed_mb: float = Field(
        DEFAULT_MAX_DECOMPRESSED_MB, gt=0, le=16_384, allow_inf_nan=False,
        description="Cap on a file's size, decompressed (gzip) or decoded (Parquet), in MiB (at most 16 GiB: one day's file).",
    )  # fmt: skip

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if value != 1 or isinstance(value, bool):
            raise ValueError(f"{value!r} is not supported (only 1)")
        return value


def mapping_json_schema() -> dict[str, Any]:
    """The JSON schema of mapping.yaml (data/examples/landing/mapping.schema.json), from the models."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "FraudShield landing mapping.yaml", **MappingFile.model_json_schema()}
