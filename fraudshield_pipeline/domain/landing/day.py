"""One partition day of a landing zone: its files found, read, accounted for and made canonical."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import (
    EXPECTED_LABEL_DTYPES,
    EXPECTED_TRANSACTION_DTYPES,
    LANDING_RULE,
    PROVENANCE_COLUMNS,
    PROVENANCE_DTYPES,
    RAW_VALUE,
    SOURCE_FILE,
    SOURCE_LINE,
)
from fraudshield_pipeline.domain.landing import parsing as p
from fraudshield_pipeline.domain.landing.times import date_and_time, timestamps
from fraudshield_pipeline.domain.landing.accounting import RawTable, read_csv, read_parquet
from fraudshield_pipeline.domain.landing.errors import (
    RULE_MALFORMED,
    RULE_NAME_CASE,
    RULE_NO_FILE,
    RULE_UNREADABLE,
    LandingError,
    MappingError,
    missing_column,
)
from fraudshield_pipeline.domain.landing.mapping import EVENT_TIME, MAPPING_FILE, MAX_MAPPING_BYTES, FeedMapping, LabelsFromTransactions, LandingMapping, load_mapping
from fraudshield_pipeline.domain.landing.readers import FileReader, HashingReader, confined, glob_regex


class LandingDay(NamedTuple):
    transactions: pd.DataFrame  # canonical columns (schema order, mapped optional ones only), then PROVENANCE_COLUMNS
    labels: pd.DataFrame  # all of schema.LABEL_COLUMNS, then PROVENANCE_COLUMNS
    files: list[str]  # every file read, transactions first (names relative to the landing root)
    unknown_columns: dict[str, list[str]]  # file -> its columns the mapping does not reference
    file_hashes: dict[str, str]  # file -> sha256 prefix of the bytes read, for lineage
    records: dict[str, int]  # file -> records counted independently of the parser (= rows out)


def read_mapping(files: FileReader, name: str = MAPPING_FILE) -> LandingMapping:
    """`load_mapping` of the mapping file at the landing root."""
    try:  # at most the cap + 1 byte: a larger file is refused just below, before decoding
        data = HashingReader(files).read_bytes(confined(name), MAX_MAPPING_BYTES)
    except LandingError as error:
        raise MappingError(f"{name}: {error.detail}") from error
    except (FileNotFoundError, KeyError) as error:
        raise MappingError(f"{name}: no mapping file in the landing zone") from error
    except (OSError, ValueError) as error:  # a link loop, an unreachable store, an invalid location
        raise MappingError(f"{name}: could not be read ({type(error).__name__})") from error
    if len(data) > MAX_MAPPING_BYTES:
        raise MappingError(f"{name}: larger than {MAX_MAPPING_BYTES:,} bytes: a mapping file is a page of YAML")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MappingError(f"{name}: not UTF-8 text ({error})") from error
    return load_mapping(text, source=name)


def read_day(files: FileReader, mapping: LandingMapping, day: dt.date) -> LandingDay:
    """The canonical transactions and labels of one (UTC) partition day, with the file and line of
    each row. Raises `LandingError` on schema drift or damage past the tolerated shares; every
    record in a file comes out as one row (kept, or marked for quarantine)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    files = HashingReader(files)
    feed, inline = mapping.transactions, mapping.labels_from_transactions
    tx_names = _match(files, feed, day, "transaction")
    tx_frames, label_frames, unknown, records = [], [], {}, {}
    for name in tx_names:
        wanted = dict(feed.columns) | (inline.columns if inline is not None else {})
        table = _read(files, name, feed, "transactions", mapping, wanted, unknown)
        records[name] = table.records
        try:
            problems = _problems(table)
            transactions = _canonical_transactions(table.frame, name, feed, mapping.max_unparseable_share, problems)
            tx_frames.append(_with_provenance(transactions, name, table.lines, problems))
            if inline is not None:
                label_frames.append(_labels_from_transactions(table, transactions, name, inline, mapping.max_unparseable_share))
        except LandingError:
            raise
        except Exception as error:  # a bug or an input no rule foresaw: still named, never bare
            raise LandingError(name, RULE_UNREADABLE, f"could not be read ({type(error).__name__})") from error
    transactions = _concat(tx_frames, _empty(EXPECTED_TRANSACTION_DTYPES, [c for c in s.TRANSACTION_COLUMNS if c in feed.columns]))

    label_names: list[str] = []
    if mapping.labels is not None:
        label_feed = mapping.labels
        label_names = _match(files, label_feed, day, "label")
        for name in label_names:
            table = _read(files, name, label_feed, "labels", mapping, label_feed.columns, unknown)
            records[name] = table.records
            try:
                problems = _problems(table)
                labels = _canonical_labels(table.frame, name, label_feed, mapping.max_unparseable_share, problems)
                label_frames.append(_with_provenance(labels, name, table.lines, problems))
            except LandingError:
                raise
            except Exception as error:
                raise LandingError(name, RULE_UNREADABLE, f"could not be read ({type(error).__name__})") from error
    labels = _concat(label_frames, _empty(EXPECTED_LABEL_DTYPES, s.LABEL_COLUMNS))
    return LandingDay(transactions, labels, tx_names + label_names, unknown, files.hashes, records)


def _match(files: FileReader, feed: FeedMapping, day: dt.date, what: str) -> list[str]:
    pattern = feed.pattern(day)
    prefix = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    regex = glob_regex(pattern)
    try:
        listed = sorted(files.list_files(prefix))
    except OSError as error:  # permissions, a network error: named, never bare
        raise LandingError(pattern, RULE_UNREADABLE, f"could not list the landing zone ({type(error).__name__})") from error
    names = [n for n in listed if regex.match(n)]
    # A file of the day whose name differs only in case after the path's fixed prefix (2026-09-01-b.CSV
    # beside 2026-09-01.csv) would be skipped in silence, its records lost: refused, naming it.
    folded = re.compile(regex.pattern, re.IGNORECASE)
    near = [n for n in listed if n not in names and folded.match(n)]
    if near:
        raise LandingError(
            near[0], RULE_NAME_CASE,
            f"looks like a {what} file for {day.isoformat()} but matches '{pattern}' only when case is ignored: rename it, "
            "or write the path with its case (or with a class such as [cC][sS][vV])",
        )  # fmt: skip
    if not names and feed.required:
        folder = prefix.rpartition("/")[0]
        nearby = sorted(files.list_files(f"{folder}/" if folder else ""))[:5]
        seen = f"; files under '{folder or '.'}/' include {nearby}" if nearby else f"; no files under '{folder or '.'}/'"
        raise LandingError(pattern, RULE_NO_FILE, f"no {what} file for {day.isoformat()} matching '{pattern}'{seen}")
    return names


def _read(files, name: str, feed: FeedMapping, section: str, mapping: LandingMapping, wanted: Mapping[str, str], unknown) -> RawTable:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as error:  # a local name of bytes that are no UTF-8: it could not be recorded as lineage
        shown = name.encode("utf-8", "backslashreplace").decode()
        raise LandingError(shown, RULE_UNREADABLE, "refused: the file name is not UTF-8 text; rename the file") from error
    try:  # never more than the cap: a file larger than it is refused whole (compressed data is smaller)
        data = files.read_bytes(name, mapping.max_decompressed_bytes)
    except (OSError, KeyError, UnicodeError) as error:
        raise LandingError(name, RULE_UNREADABLE, f"could not be read ({type(error).__name__})") from error
    try:
        if feed.format == "parquet":
            table = read_parquet(data, name, section, dict(wanted), mapping.max_decompressed_bytes)
        else:
            table = read_csv(data, name, feed.csv, section, wanted, mapping.max_malformed_share, mapping.max_decompressed_bytes)
    except LandingError:
        raise
    except Exception as error:
        raise LandingError(name, RULE_UNREADABLE, f"could not be read ({type(error).__name__})") from error
    present = list(table.frame.columns)
    for canonical, user in wanted.items():
        if user not in table.frame.columns:
            raise missing_column(name, user, canonical, present)
    known = set(wanted.values()) | set(feed.ignore)
    extra = [c for c in present if c not in known]
    if extra:
        unknown[name] = extra
    return table


def _problems(table: RawTable) -> p.Problems:
    problems = p.Problems(len(table.frame))
    raw = pd.Series(table.raw, dtype=object)
    for rule in pd.unique(table.rules[pd.notna(table.rules)]):
        problems.add(table.rules == rule, str(rule), raw)
    return problems


def _with_provenance(frame: pd.DataFrame, name: str, lines: np.ndarray, problems: p.Problems) -> pd.DataFrame:
    if len(frame) != len(lines):  # an invariant: records in = rows out
        raise LandingError(name, RULE_MALFORMED, f"{len(lines)} records counted but {len(frame)} rows built")
    return frame.assign(**{
        SOURCE_FILE: pd.Series([name] * len(frame), dtype=object),
        SOURCE_LINE: lines.astype(np.int64),
        LANDING_RULE: pd.Series(problems.rule, dtype=object),
        RAW_VALUE: pd.Series(problems.raw, dtype=object),
    })  # fmt: skip


def _empty(dtypes: Mapping[str, str], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype={**dtypes, **PROVENANCE_DTYPES}[c]) for c in [*columns, *PROVENANCE_COLUMNS]})


def _concat(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    if not frames:
        return empty
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _canonical_transactions(raw: pd.DataFrame, name: str, feed: FeedMapping, share: float, problems: p.Problems) -> pd.DataFrame:
    out = {}
    for canonical in (c for c in s.TRANSACTION_COLUMNS if c in feed.columns):
        col = p.Column(raw, name, canonical, feed.columns[canonical], share, problems)
        if canonical in (s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID):
            out[canonical] = p.ids(col)
        elif canonical == s.EVENT_TIMESTAMP and EVENT_TIME in feed.columns:
            out[canonical] = timestamps(date_and_time(col, raw, feed.columns[EVENT_TIME]), feed.timestamp, joined=True)
        elif canonical == s.EVENT_TIMESTAMP:
            out[canonical] = timestamps(col, feed.timestamp)
        elif canonical == s.AMOUNT:
            out[canonical] = p.amounts(col, feed.csv, feed.max_amount, feed.amount_sign)
        else:
            out[canonical] = p.categories(col, feed.values.get(canonical))
    return _frame(out, EXPECTED_TRANSACTION_DTYPES)


def _canonical_labels(raw: pd.DataFrame, name: str, feed: FeedMapping, share: float, problems: p.Problems) -> pd.DataFrame:
    def column(canonical: str) -> p.Column:
        return p.Column(raw, name, canonical, feed.columns[canonical], share, problems)

    is_fraud, _ = p.flags(column(s.IS_FRAUD), feed.values.get(s.IS_FRAUD))
    out = {
        s.TRANSACTION_ID: p.ids(column(s.TRANSACTION_ID)),
        s.IS_FRAUD: is_fraud,
        s.REPORTED_AT: timestamps(column(s.REPORTED_AT), feed.timestamp),
        s.FRAUD_SCENARIO: p.categories(column(s.FRAUD_SCENARIO), feed.values.get(s.FRAUD_SCENARIO))
        if s.FRAUD_SCENARIO in feed.columns
        else pd.Series([None] * len(raw), index=raw.index, dtype=object),
    }
    return _frame(out, EXPECTED_LABEL_DTYPES)


def _labels_from_transactions(table: RawTable, transactions: pd.DataFrame, name: str, inline: LabelsFromTransactions, share: float) -> pd.DataFrame:
    """One label per transaction row whose flag is not blank (a blank flag means: not labelled).

    A genuine flag with a blank report time (feeds date their chargebacks, not the transactions no one
    disputed) is no report either, unless `delay_days` dates it: genuine is what an unreported
    transaction already is, and a label without a time would only fill the quarantine."""
    raw, problems = table.frame, p.Problems(len(table.frame))

    def column(canonical: str) -> p.Column:
        return p.Column(raw, name, canonical, inline.columns[canonical], share, problems)

    is_fraud, empty = p.flags(column(s.IS_FRAUD), inline.values.get(s.IS_FRAUD))
    if s.REPORTED_AT in inline.columns:
        reported = timestamps(column(s.REPORTED_AT), inline.timestamp)
    else:
        reported = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    if inline.delay_days is not None:
        fallback = transactions[s.EVENT_TIMESTAMP] + pd.Timedelta(days=inline.delay_days)
        reported = reported.where(reported.notna(), fallback.dt.as_unit("us"))
    scenario = (
        p.categories(column(s.FRAUD_SCENARIO), inline.values.get(s.FRAUD_SCENARIO))
        if s.FRAUD_SCENARIO in inline.columns
        else pd.Series([None] * len(raw), index=raw.index, dtype=object)
    )
    out = {s.TRANSACTION_ID: transactions[s.TRANSACTION_ID], s.IS_FRAUD: is_fraud, s.REPORTED_AT: reported, s.FRAUD_SCENARIO: scenario}
    labels = _with_provenance(_frame(out, EXPECTED_LABEL_DTYPES), name, table.lines, problems)
    unreported = np.zeros(len(raw), dtype=bool)
    if s.REPORTED_AT in inline.columns and inline.delay_days is None:
        unreported = (is_fraud == 0).to_numpy(dtype=bool) & p.blank(p.strings(raw[inline.columns[s.REPORTED_AT]]))
    return labels[~(empty | unreported)].reset_index(drop=True)


def _frame(columns: dict[str, pd.Series], dtypes: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame({k: pd.Series(v).reset_index(drop=True) for k, v in columns.items()})
    for column, series in frame.items():
        if str(series.dtype) != dtypes[column]:
            frame[column] = series.astype(dtypes[column])
    return frame
