"""Data contracts for transactions and labels (pandera), with quarantine instead of loss.

Two kinds of failure, treated differently on purpose:
- schema drift (a missing, renamed or retyped column) fails loudly with `SchemaContractError`:
  it is a broken upstream, and turning it into NULLs is how features silently die;
- row-level violations (a negative amount, an unknown category, a duplicate id, ...) move the
  row to a quarantine table with the rule it broke. Rows in = rows kept + rows quarantined.

Bounds protect the stages downstream: an amount is finite, >= 0 (zero-value authorisations are
ordinary) and at most the source's ``max_amount`` (`DEFAULT_MAX_AMOUNT`); ids are non-blank (and,
from a landing zone, at most `MAX_ID_LENGTH` characters, checked where they are parsed); a label is not reported before its transaction happened, and two
labels of one transaction that disagree are both quarantined (``is_fraud:consistent_duplicates``). A landing zone (``landing/``) adds provenance columns (`PROVENANCE_COLUMNS`):
the file and line a row came from and, where parsing already failed there, the rule and the raw
text. Those rows are quarantined with that rule first, and the quarantine keeps the evidence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.id_checks import length_between, not_blank, well_formed_ids

CONTRACT_VERSION = "1.0.0"
QUARANTINE_RULE = "failed_rule"
QUARANTINE_COLUMN = "failed_column"
# The amount bound has one home: this contract. A source sets it (`TransactionSource.max_amount`;
# a landing zone's mapping.yaml `transactions.max_amount`, in the feed's currency), the snapshot
# passes it here, and the landing parser marks the same rows first only to keep their raw text.
DEFAULT_MAX_AMOUNT = 10_000_000.0  # in the feed's currency: generous, but far from float overflow in sums
MAX_AMOUNT_CEILING = 1e15  # no source may set a bound above this: sums of 1M such amounts stay finite
MAX_ID_LENGTH = 256  # an id longer than this is damage (a swallowed line), not an id: the landing parser quarantines it
# A label reported this long after its transaction is damage (a wrong year, a placeholder date), not
# a report: card schemes' chargeback windows end within 540 days. Quarantined, never waited for.
MAX_REPORT_DELAY_DAYS = 730

# Provenance of a landed row (absent for the simulator): kept in quarantine, dropped from valid rows.
SOURCE_FILE = "source_file"  # file name relative to the landing root
SOURCE_LINE = "source_line"  # CSV: physical line number (the header is line 1); Parquet: row number from 1
LANDING_RULE = "landing_rule"  # the rule the landing parser saw fail, e.g. "amount:unparseable", "malformed_record"
RAW_VALUE = "raw_value"  # the text as it was in the file (the whole line for a malformed record)
PROVENANCE_COLUMNS = (SOURCE_FILE, SOURCE_LINE, LANDING_RULE, RAW_VALUE)
PROVENANCE_DTYPES = {SOURCE_FILE: "object", SOURCE_LINE: "int64", LANDING_RULE: "object", RAW_VALUE: "object"}

_STRING = "object"
_TIMESTAMP = "datetime64[us, UTC]"
EXPECTED_TRANSACTION_DTYPES = {
    s.TRANSACTION_ID: _STRING,
    s.CUSTOMER_ID: _STRING,
    s.MERCHANT_ID: _STRING,
    s.EVENT_TIMESTAMP: _TIMESTAMP,
    s.AMOUNT: "float64",
    s.MERCHANT_CATEGORY: _STRING,
    s.CHANNEL: _STRING,
    s.COUNTRY: _STRING,
}
EXPECTED_LABEL_DTYPES = {
    s.TRANSACTION_ID: _STRING,
    s.IS_FRAUD: "int8",
    s.REPORTED_AT: _TIMESTAMP,
    s.FRAUD_SCENARIO: _STRING,
}
REQUIRED_LABEL_COLUMNS = (s.TRANSACTION_ID, s.IS_FRAUD, s.REPORTED_AT)


class SchemaContractError(ValueError):
    """A source's columns do not match the contract: the run must stop, naming what broke."""


# String columns are declared `object` here: check_columns has already proved (at C speed) that
# they hold only strings, so pandera need not test every value's type again in Python.
class TransactionContract(pa.DataFrameModel):
    transaction_id: object = pa.Field(nullable=False)
    customer_id: object = pa.Field(nullable=False)
    merchant_id: object = pa.Field(nullable=False)
    event_timestamp: pd.DatetimeTZDtype = pa.Field(nullable=False, dtype_kwargs={"unit": "us", "tz": "UTC"})
    amount: float = pa.Field(nullable=False, ge=0, lt=np.inf)
    merchant_category: object | None = pa.Field(nullable=False, isin=list(s.MERCHANT_CATEGORIES))
    channel: object | None = pa.Field(nullable=False, isin=list(s.CHANNELS))
    country: object | None = pa.Field(nullable=True)

    @pa.check("transaction_id", "customer_id", "merchant_id", name="not_empty")
    def _ids_not_empty(cls, series: pd.Series) -> pd.Series:
        return not_blank(series)

    @pa.check("transaction_id", "customer_id", "merchant_id", name=f"well_formed_id(at_most_{MAX_ID_LENGTH})")
    def _ids_well_formed(cls, series: pd.Series) -> pd.Series:
        return well_formed_ids(series, MAX_ID_LENGTH)

    @pa.check("country", name="length_between(2, 3)")
    def _country_code(cls, series: pd.Series) -> pd.Series:
        return length_between(series, 2, 3)

    class Config:
        strict = False  # unknown columns are reported by check_columns, not fatal
        coerce = False


class LabelContract(pa.DataFrameModel):
    transaction_id: object = pa.Field(nullable=False)
    is_fraud: np.int8 = pa.Field(nullable=False, isin=[0, 1])
    reported_at: pd.DatetimeTZDtype = pa.Field(nullable=False, dtype_kwargs={"unit": "us", "tz": "UTC"})
    fraud_scenario: object | None = pa.Field(nullable=True)

    @pa.check("transaction_id", name="not_empty")
    def _id_not_empty(cls, series: pd.Series) -> pd.Series:
        return not_blank(series)

    @pa.check("transaction_id", name=f"well_formed_id(at_most_{MAX_ID_LENGTH})")
    def _id_well_formed(cls, series: pd.Series) -> pd.Series:
        return well_formed_ids(series, MAX_ID_LENGTH)

    class Config:
        strict = False
        coerce = False


@dataclass(frozen=True)
class ValidationOutcome:
    valid: pd.DataFrame
    quarantine: pd.DataFrame  # the offending rows plus failed_rule and failed_column
    rows_in: int
    unknown_columns: tuple[str, ...] = ()
    rule_counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows_accounted(self) -> bool:
        return self.rows_in == len(self.valid) + len(self.quarantine)


def check_columns(
    frame: pd.DataFrame,
    expected: dict[str, str],
    required: Sequence[str],
    source: str,
) -> tuple[str, ...]:
    """Fail on a missing or retyped column before any row is touched; return unknown columns."""
    duplicated = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if duplicated:
        raise SchemaContractError(f"{source}: column '{duplicated[0]}' appears twice; the contract expects each column once")
    missing = [c for c in required if c not in frame.columns]
    unknown = tuple(c for c in frame.columns if c not in expected and c not in PROVENANCE_DTYPES)
    if missing:
        hint = f"; unexpected columns present: {list(unknown)} (renamed?)" if unknown else ""
        raise SchemaContractError(
            f"{source}: missing required column(s) {missing}; expected {[f'{c}: {expected[c]}' for c in missing]}{hint}"
        )
    for column, dtype in expected.items():
        if column not in frame.columns:
            continue
        actual = str(frame[column].dtype)
        if actual != dtype:
            raise SchemaContractError(f"{source}: column '{column}' has type {actual}; the contract expects {dtype}")
        if dtype == _STRING:
            inferred = pd.api.types.infer_dtype(frame[column], skipna=True)
            if inferred not in ("string", "empty"):
                raise SchemaContractError(
                    f"{source}: column '{column}' holds {inferred} values; the contract expects strings"
                )
    return unknown


def data_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that hold values: not a record the landing parser could not split (or a repeated
    header), whose empty row is quarantined as a whole (its columns' nulls are not the feed's)."""
    if LANDING_RULE not in frame.columns or not frame[LANDING_RULE].notna().any():
        return frame
    rules = frame[LANDING_RULE]
    return frame[~(rules.notna() & ~rules.astype(str).str.contains(":", regex=False)).to_numpy()]


def _landing_checks(frame: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """Rows the landing parser already failed, each with its own rule: they go first."""
    if LANDING_RULE not in frame.columns:
        return []
    rules = frame[LANDING_RULE]
    return [
        (str(rule), str(rule).partition(":")[0] if ":" in str(rule) else "record", (rules == rule).to_numpy())
        for rule in rules.dropna().unique()
    ]


@cache
def _schema(model: type[pa.DataFrameModel], columns: tuple[str, ...] | None = None) -> pa.DataFrameSchema:
    """The model's schema (restricted to `columns`), built once: `to_schema` costs ~8 ms a call,
    paid twice per day and table before."""
    schema = model.to_schema()
    return schema if columns is None else schema.select_columns(list(columns))


def _split_by_contract(
    frame: pd.DataFrame, model: type[pa.DataFrameModel], extra_checks: list[tuple[str, str, np.ndarray]]
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Run pandera lazily; every failing row goes to quarantine once, with its first failed rule.

    Valid rows lose the provenance columns (the validated schema is the canonical one); the
    quarantine always has them, None where the source has no files (the simulator)."""
    schema = _schema(model, tuple(c for c in _schema(model).columns if c in frame.columns))
    # Plain arrays (row i is frame row i): a masked assignment into a Series costs ~1 ms each.
    first_failure = np.full(len(frame), None, dtype=object)
    failed_column = np.full(len(frame), None, dtype=object)
    bad = np.zeros(len(frame), dtype=bool)
    for rule, column, mask in _landing_checks(frame) + extra_checks:
        hit = mask & ~bad
        first_failure[hit] = rule
        failed_column[hit] = column
        bad |= hit
    checked = frame[~bad] if bad.any() else frame
    try:
        schema.validate(checked, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        row_cases = cases[cases["index"].notna()]
        table_cases = cases[cases["index"].isna()]
        if len(table_cases):
            first = table_cases.iloc[0]
            raise SchemaContractError(
                f"column '{first['column']}' fails '{first['check']}' for the whole table: {first['failure_case']}"
            ) from errors
        first = row_cases.drop_duplicates("index", keep="first")
        rows = first["index"].astype("int64").to_numpy()
        fresh = ~bad[rows]
        rows, first = rows[fresh], first[fresh]
        first_failure[rows] = (first["column"].astype(str) + ":" + first["check"].astype(str)).to_numpy()
        failed_column[rows] = first["column"].astype(str).to_numpy()
        bad[rows] = True
    provenance = [c for c in PROVENANCE_COLUMNS if c in frame.columns]
    quarantine = frame[bad].copy() if bad.any() else frame.iloc[0:0].copy()
    for column in PROVENANCE_COLUMNS:
        if column not in quarantine.columns:
            quarantine[column] = pd.Series([None] * len(quarantine), index=quarantine.index, dtype=object)
    quarantine[QUARANTINE_RULE] = pd.Series(first_failure[bad], dtype=object).astype(str).to_numpy()
    quarantine[QUARANTINE_COLUMN] = pd.Series(failed_column[bad], dtype=object).astype(str).to_numpy()
    if not bad.any():  # the common case: no copy of a clean day
        return (frame.drop(columns=provenance) if provenance else frame), [quarantine]
    return frame[~bad].drop(columns=provenance).reset_index(drop=True), [quarantine]


def validate_transactions(
    frame: pd.DataFrame, day_start: dt.datetime, day_end: dt.datetime, source: str, max_amount: float = DEFAULT_MAX_AMOUNT
) -> ValidationOutcome:
    """Contract for one day of transactions from `source` (a file or simulator URI); amounts above
    `max_amount` are quarantined (a sum of absurd amounts is how `inf` reaches the features)."""
    unknown = check_columns(frame, EXPECTED_TRANSACTION_DTYPES, s.REQUIRED_TRANSACTION_COLUMNS, source)
    frame = _positional(frame)
    timestamps = frame[s.EVENT_TIMESTAMP]
    outside_day = (timestamps.isna() | (timestamps < day_start) | (timestamps >= day_end)).to_numpy()
    if not 0 < max_amount <= MAX_AMOUNT_CEILING:
        raise SchemaContractError(f"{source}: max_amount {max_amount!r} is not in (0, {MAX_AMOUNT_CEILING:g}]")
    duplicated = frame[s.TRANSACTION_ID].duplicated(keep="first").to_numpy()
    amounts = frame[s.AMOUNT].to_numpy(dtype=float, na_value=np.nan)
    too_large = np.isfinite(amounts) & (amounts > max_amount)  # inf keeps its own rule, less_than(inf)
    valid, quarantines = _split_by_contract(
        frame,
        TransactionContract,
        [
            (f"{s.EVENT_TIMESTAMP}:inside_partition_day", s.EVENT_TIMESTAMP, outside_day),
            (f"{s.AMOUNT}:at_most_max_amount", s.AMOUNT, too_large),
            (f"{s.TRANSACTION_ID}:unique", s.TRANSACTION_ID, duplicated),
        ],
    )
    return _outcome(valid, quarantines, len(frame), unknown)


def validate_labels(frame: pd.DataFrame, known_transactions: pd.Series | pd.DataFrame, source: str) -> ValidationOutcome:
    """Contract for a label feed: every label must reference a known, validated transaction.

    A transaction may have several reports (a chargeback, then the merchant's won representment):
    each that changes its label is kept (`label_history`); one that repeats the standing label is
    a duplicate, and two at the same instant that disagree are both quarantined.

    `known_transactions`: the validated ids, or the validated frame (ids and event times), which
    also quarantines a label reported before its transaction happened, or more than
    `MAX_REPORT_DELAY_DAYS` after it."""
    unknown = check_columns(frame, EXPECTED_LABEL_DTYPES, REQUIRED_LABEL_COLUMNS, source)
    frame = _positional(frame)
    if isinstance(known_transactions, pd.DataFrame):
        known_ids = known_transactions[s.TRANSACTION_ID]
        happened = frame[s.TRANSACTION_ID].map(
            known_transactions.drop_duplicates(s.TRANSACTION_ID).set_index(s.TRANSACTION_ID)[s.EVENT_TIMESTAMP]
        )
        if pd.api.types.is_datetime64_any_dtype(happened.dtype) and getattr(happened.dtype, "tz", None) is None:
            raise SchemaContractError(
                f"{source}: the known transactions' {s.EVENT_TIMESTAMP} has no time zone ({happened.dtype}); "
                "pass the validated snapshot, whose times are UTC"
            )
        if pd.api.types.is_datetime64_any_dtype(happened.dtype) and pd.api.types.is_datetime64_any_dtype(frame[s.REPORTED_AT].dtype):
            before = (frame[s.REPORTED_AT] < happened).fillna(False).to_numpy(dtype=bool)
            too_late = (frame[s.REPORTED_AT] > happened + pd.Timedelta(days=MAX_REPORT_DELAY_DAYS)).fillna(False).to_numpy(dtype=bool)
        else:  # no known transaction at all (every label is then unknown) or a retyped column (refused above)
            before = too_late = np.zeros(len(frame), dtype=bool)
    else:
        known_ids, before = known_transactions, np.zeros(len(frame), dtype=bool)
        too_late = before
    unknown_tx = (~frame[s.TRANSACTION_ID].isin(known_ids)).to_numpy()
    duplicated = conflicting = np.zeros(len(frame), dtype=bool)
    if frame[s.TRANSACTION_ID].duplicated().any():  # a label history: keep each report that changes the label
        from fraudshield_pipeline.domain.label_history import report_roles

        landed = frame[LANDING_RULE].isna().to_numpy() if LANDING_RULE in frame.columns else np.ones(len(frame), dtype=bool)
        duplicated, conflicting = report_roles(frame, ~unknown_tx & ~before & ~too_late & landed)
    valid, quarantines = _split_by_contract(
        frame,
        LabelContract,
        [
            (f"{s.TRANSACTION_ID}:references_known_transaction", s.TRANSACTION_ID, unknown_tx),
            (f"{s.REPORTED_AT}:not_before_transaction", s.REPORTED_AT, before),
            (f"{s.REPORTED_AT}:within_{MAX_REPORT_DELAY_DAYS}_days", s.REPORTED_AT, too_late),
            (f"{s.IS_FRAUD}:consistent_duplicates", s.IS_FRAUD, conflicting),
            (f"{s.TRANSACTION_ID}:unique", s.TRANSACTION_ID, duplicated),
        ],
    )
    return _outcome(valid, quarantines, len(frame), unknown)


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    """Row labels 0..n-1 (failure cases are reported by label); copies only when needed."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def _writable(quarantine: pd.DataFrame) -> pd.DataFrame:
    """The quarantine as Parquet can hold it: an id quarantined for text that is not UTF-8 (a lone
    surrogate) keeps its evidence escaped (`M\\ud800`) instead of failing the snapshot's write."""
    if not len(quarantine):
        return quarantine
    rules = quarantine[QUARANTINE_RULE].astype(str)
    for column in (s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID):
        hit = rules.str.startswith(f"{column}:well_formed_id").to_numpy()
        if column in quarantine.columns and hit.any():
            quarantine.loc[hit, column] = [
                v.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(v, str) else v for v in quarantine.loc[hit, column]
            ]
    return quarantine


def _outcome(valid: pd.DataFrame, quarantines: list[pd.DataFrame], rows_in: int, unknown: tuple[str, ...]) -> ValidationOutcome:
    quarantine = _writable(pd.concat(quarantines, ignore_index=True) if quarantines else valid.iloc[0:0])
    counts = quarantine[QUARANTINE_RULE].value_counts().to_dict() if len(quarantine) else {}
    outcome = ValidationOutcome(valid, quarantine, rows_in, unknown, {str(k): int(v) for k, v in counts.items()})
    if not outcome.rows_accounted:  # an invariant, not an input error: never lose a row silently
        raise AssertionError(f"rows in {rows_in} != kept {len(valid)} + quarantined {len(quarantine)}")
    return outcome
