"""A user's own files in a landing zone, read into the canonical schema (``schema.py``).

The landing zone is a folder or an object-store prefix holding daily files plus a small
``mapping.yaml`` that says where a day's files are, how they are encoded and which of the
user's columns is which canonical column. The package:

* ``mapping``: the file as pydantic models (its JSON schema: data/examples/landing/mapping.schema.json);
* ``readers``: the bytes, through ``pyarrow.fs`` (local, S3, fsspec), confined to the landing root;
* ``accounting``: bytes to records, counted independently of the parser;
* ``header``: where a CSV's header line is (after ``csv.skip_lines``) and its column names;
* ``parsing``: one user column to one canonical column (ids, amounts, flags, categories);
* ``times``: one column of times to UTC instants (ISO, epoch numbers from an origin, strftime), or a
  date and a time-of-day column joined (``columns.event_time``);
* ``day``: `read_day`, the orchestration.

    mapping = read_mapping(files)                   # or load_mapping(text)
    day = read_day(files, mapping, datetime.date(2026, 9, 3))
    day.transactions, day.labels, day.files, day.unknown_columns, day.file_hashes, day.records

What it guarantees (and what it leaves to ``contracts.py``):

* records in = rows out: every record of every file becomes one row (see ``accounting``); a
  record that cannot be split is a row with the rule ``malformed_record`` and its raw line (a
  copy of the header inside the file: ``repeated_header``);
* every row carries its provenance (`contracts.PROVENANCE_COLUMNS`): the file, the line (CSV)
  or row number (Parquet), and where a value failed here, the rule (``amount:unparseable``,
  ``event_timestamp:unparseable``, ``amount:finite``, ``amount:at_most_max_amount`` ...) and the
  raw text as it was in the file. The contract quarantines those rows with that rule;
* canonical columns and dtypes of ``contracts.EXPECTED_*``: ids (text trimmed of spaces and
  zero-width characters; blank ids None)
  and categoricals as ``object`` strings, timestamps ``datetime64[us, UTC]``, ``amount`` float64,
  ``is_fraud`` int8 (-1 where blank); optional transaction columns only when mapped;
* schema drift and damage past the tolerated shares fail with `LandingError` (a
  ``contracts.SchemaContractError``) naming the file, the user's column, the canonical column
  and the rule (`RULES`); no other exception escapes `read_day`;
* nothing outside the landing root is read: mapping paths are checked before any read, and
  every reader refuses names that leave the root;
* columns present in a file but not referenced by the mapping (nor listed under ``ignore``)
  are reported in ``unknown_columns``, never fatal.

Timestamps: ``{date}`` in a ``path`` is the partition day (ISO, or ``{date:%Y%m%d}`` with strftime
codes only); the files of a day hold the events of that *UTC* day. Naive timestamps are
localized to the feed's ``timezone``; one in the hour repeated when summer time ends is either
of two instants an hour apart and is quarantined (``<column>:ambiguous_local_time``, its raw
text kept), never inferred from row order; one skipped when summer time starts is read with the
offset before the change (the clock not yet moved, its only reading). Aware ones are converted
to UTC. A date without a time of day is refused (see ``times``).

Pure: pandas, pyarrow, pydantic and PyYAML only (no Dagster).
"""

from fraudshield_pipeline.domain.landing.day import LandingDay, read_day, read_mapping
from fraudshield_pipeline.domain.landing.errors import RULES, LandingError, MappingError
from fraudshield_pipeline.domain.landing.mapping import (
    MAPPING_FILE,
    CsvOptions,
    FeedMapping,
    LabelsFromTransactions,
    LandingMapping,
    MappingFile,
    TimestampSpec,
    load_mapping,
    mapping_json_schema,
)
from fraudshield_pipeline.domain.landing.readers import (
    DictFileReader,
    FileReader,
    FsReader,
    LocalDirReader,
    S3PrefixReader,
    open_landing,
)

__all__ = [
    "MAPPING_FILE",
    "RULES",
    "CsvOptions",
    "DictFileReader",
    "FeedMapping",
    "FileReader",
    "FsReader",
    "LabelsFromTransactions",
    "LandingDay",
    "LandingError",
    "LandingMapping",
    "LocalDirReader",
    "MappingError",
    "MappingFile",
    "S3PrefixReader",
    "TimestampSpec",
    "load_mapping",
    "mapping_json_schema",
    "open_landing",
    "read_day",
    "read_mapping",
]
