"""One user column to one canonical column: ids, amounts, timestamps, flags, categories.

A *few* values that do not parse (at most ``max(1, share x non-blank values)``, and at least one
value parses) leave their row with a landing rule (``amount:unparseable``, ``amount:finite``,
``event_timestamp:unparseable`` ...) and the raw text as it was in the file, for the contract to
quarantine; more mean the column was retyped and the file fails (`LandingError`, rule
``retyped``). Blank values stay blank (None / NaN / NaT) for the contract's not-null rules.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain.contracts import MAX_ID_LENGTH
from fraudshield_pipeline.domain.landing.errors import RULE_RETYPED, LandingError
from fraudshield_pipeline.domain.landing.mapping import EPOCH_MS, EPOCH_S, ISO, CsvOptions, TimestampSpec

UNPARSEABLE_FLAG = -1  # is_fraud of a label whose flag is blank: the contract quarantines it
_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n"})
_DST_GAP = pd.Timedelta(hours=1)  # a wall time skipped when summer time starts: written by a clock not yet moved
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")  # scientific notation: what can overflow a float
_AWARE_SUFFIX = re.compile(r"[T ]\S*?(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")  # a time, then Z or an offset


class Problems:
    """Per row of one file: the first landing rule that failed and the raw text it failed on."""

    def __init__(self, n_rows: int):
        self.rule = np.full(n_rows, None, dtype=object)
        self.raw = np.full(n_rows, None, dtype=object)

    def add(self, mask: np.ndarray, rule: str, raw: pd.Series) -> None:
        fresh = mask & pd.isna(self.rule)
        if fresh.any():
            self.rule[fresh] = rule
            self.raw[fresh] = raw.to_numpy(dtype=object)[fresh]


class Column:
    """One user column on its way to a canonical column, for error messages and problems."""

    def __init__(self, frame: pd.DataFrame, file: str, canonical: str, user: str, share: float, problems: Problems):
        self.series, self.file, self.canonical, self.user, self.share = frame[user], file, canonical, user, share
        self.problems = problems

    def fail(self, rule: str, detail: str) -> NoReturn:
        raise LandingError(self.file, rule, detail, column=self.user, canonical=self.canonical)

    def tolerate(self, failed: np.ndarray, blank: np.ndarray, strings: pd.Series, what: str, hint: str = "", rule: str = "unparseable") -> None:
        """A few unparseable values leave their rows with a rule and the raw text; many mean retyped."""
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
        self.problems.add(failed, f"{self.canonical}:{rule}", strings)


def strings(series: pd.Series) -> pd.Series:
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


def blank(texts: pd.Series) -> np.ndarray:
    return (texts.isna() | texts.str.strip().eq("")).to_numpy(dtype=bool)


def map_values(texts: pd.Series, table: Mapping[str, Any] | None) -> pd.Series:
    if not table:
        return texts
    codes, uniques = pd.factorize(texts)
    mapped = np.array([table.get(u, u) for u in uniques], dtype=object)
    out = mapped[np.maximum(codes, 0)] if len(uniques) else np.empty(len(texts), dtype=object)
    out[codes < 0] = None
    return pd.Series(out, index=texts.index, dtype=object)


@functools.cache
def invisible() -> str:
    """Every Unicode format character (category Cf: zero-width spaces and joiners, direction marks
    and isolates, the soft hyphen, byte-order marks ...): invisible, and kept by str.strip()."""
    return "".join(c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c) == "Cf")


@functools.cache
def _invisible_run() -> re.Pattern[str]:
    chars = re.escape(invisible())
    return re.compile(rf"^[\s{chars}]+|[\s{chars}]+$")


def trimmed(texts: pd.Series) -> pd.Series:
    """Spaces and invisible format characters around a value removed; a value of them only is blank (None)."""
    if not len(texts) or texts.isna().all():
        return texts
    out = texts.str.strip()
    if out.str.contains(f"[{re.escape(invisible())}]", regex=True, na=False).any():
        out = out.str.replace(_invisible_run(), "", regex=True)
    return out.where(out.notna() & out.ne(""), None)


def ids(col: Column) -> pd.Series:
    """Ids as text, trimmed (" T7" and "T7" are one transaction); blank ids stay None for the contract;
    an id over MAX_ID_LENGTH characters (a swallowed line, an attack) leaves with its raw text."""
    if pd.api.types.is_float_dtype(col.series.dtype):
        values = col.series.to_numpy(dtype=float, na_value=np.nan)
        if np.any(np.abs(values[np.isfinite(values)]) >= 2**53):
            col.fail(RULE_RETYPED, "holds ids as floating-point numbers above 2**53, where digits are lost and ids merge: write ids as integers or text")
    texts = strings(col.series)
    out = trimmed(texts)
    if len(out):
        col.problems.add((out.str.len() > MAX_ID_LENGTH).to_numpy(dtype=bool), f"{col.canonical}:length_at_most({MAX_ID_LENGTH})", texts)
    return out


def categories(col: Column, table: Mapping[str, Any] | None) -> pd.Series:
    return map_values(trimmed(strings(col.series)), table)


def amounts(col: Column, options: CsvOptions, max_amount: float) -> pd.Series:
    series = col.series
    if pd.api.types.is_bool_dtype(series.dtype):
        col.fail(RULE_RETYPED, "holds booleans, not amounts: the column looks retyped")
    texts = strings(series)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.astype("float64")
    else:
        empty = blank(texts)
        text = texts.str.strip() if len(texts) else texts
        if options.thousands:
            text = text.str.replace(options.thousands, "", regex=False)
        if options.decimal != ".":
            text = text.str.replace(options.decimal, ".", regex=False)
        values = pd.to_numeric(text, errors="coerce").astype("float64") if len(text) else pd.Series(dtype="float64", index=series.index)
        failed = ~empty & values.isna().to_numpy()
        if failed.any():  # a number past float's range (1e309) is a number, infinite: amount:finite, not unparseable
            values[failed] = [_overflowing(t) for t in text[failed]]
            failed = ~empty & values.isna().to_numpy()
        hint = ""
        if failed.any() and options.decimal == "." and texts[failed].str.fullmatch(r"\s*-?[\d.]*\d,\d+\s*").mean() > 0.5:
            hint = "; the values use a decimal comma: set csv.decimal: ','"
        col.tolerate(failed, empty, texts, "numbers", hint)
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    col.problems.add(np.isinf(numbers), f"{col.canonical}:finite", texts)
    col.problems.add(np.isfinite(numbers) & (numbers > max_amount), f"{col.canonical}:at_most_max_amount", texts)
    return values


def _overflowing(text: str) -> float:
    """±inf for a decimal number too large for a float (Python's own reading), else NaN."""
    if not _DECIMAL.fullmatch(text or ""):
        return np.nan
    number = float(text)
    return number if np.isinf(number) else np.nan


def _localize(values: pd.Series, tz: str) -> pd.Series:
    """Naive wall times in `tz` to UTC; see the package docstring for daylight-saving gaps and folds."""
    try:
        local = values.dt.tz_localize(tz, ambiguous="raise", nonexistent=_DST_GAP)
    except Exception:  # a wall time repeated when summer time ends
        try:
            local = values.dt.tz_localize(tz, ambiguous="infer", nonexistent=_DST_GAP)
        except Exception:
            local = values.dt.tz_localize(tz, ambiguous=np.ones(len(values), dtype=bool), nonexistent=_DST_GAP)
    return local.dt.tz_convert("UTC")


def _epochs(col: Column, numbers: pd.Series, unit: str, failed_before: np.ndarray, empty: np.ndarray, texts: pd.Series) -> pd.Series:
    finite = numbers[np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))]
    if len(finite):
        median = float(finite.abs().median())
        if unit == "s" and median > 1e11:
            col.fail(RULE_RETYPED, f"values look like epoch milliseconds (median {median:.0f}), not epoch_seconds: set timestamp.format: epoch_millis")
        if unit == "ms" and 0 < median < 1e11:
            col.fail(RULE_RETYPED, f"values look like epoch seconds (median {median:.0f}), not epoch_millis: set timestamp.format: epoch_seconds")
    ok = np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan)) & (numbers.abs() < (9.2e12 if unit == "ms" else 9.2e9)).to_numpy()
    numbers = numbers.where(ok)
    if len(finite) and np.all(finite == np.round(finite)):
        numbers = numbers.round().astype("Int64")  # exact integer arithmetic for milliseconds
    values = pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce")
    failed = failed_before | (~empty & values.isna().to_numpy())
    col.tolerate(failed, empty, texts, f"{'epoch seconds' if unit == 's' else 'epoch milliseconds'}")
    return values


def timestamps(col: Column, spec: TimestampSpec) -> pd.Series:
    series = col.series
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.as_unit("us")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return _localize(series, spec.timezone).dt.as_unit("us")
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "date":
        example = series.dropna().iloc[0]
        col.fail(
            RULE_RETYPED,
            f"holds dates without a time of day (e.g. {example.isoformat()}; a Parquet date32/date64 column): "
            "the features and the label-delay rules need the time of day, so export a timestamp column",
        )
    fmt = spec.format
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    if numeric and fmt not in (EPOCH_S, EPOCH_MS):
        col.fail(RULE_RETYPED, f"holds numbers but timestamp.format is '{fmt}': set epoch_seconds or epoch_millis, or fix the column")
    unit = "s" if fmt == EPOCH_S else "ms"
    if numeric:
        empty = series.isna().to_numpy()
        return _epochs(col, series.astype("float64"), unit, np.zeros(len(series), bool), empty, strings(series)).dt.as_unit("us")
    texts = strings(series)
    empty = blank(texts)
    text = texts.str.strip() if len(texts) else texts.astype(object)
    if fmt in (EPOCH_S, EPOCH_MS):
        numbers = pd.to_numeric(text, errors="coerce").astype("float64") if len(text) else pd.Series(dtype="float64")
        failed = ~empty & numbers.isna().to_numpy()
        return _epochs(col, numbers, unit, failed, empty, texts).dt.as_unit("us")
    if fmt == ISO:
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
    failed = ~empty & values.isna().to_numpy()
    col.tolerate(failed, empty, texts, what, f"; timestamp.format is '{fmt}'")
    return values.dt.as_unit("us")


def flags(col: Column, table: Mapping[str, Any] | None) -> tuple[pd.Series, np.ndarray]:
    """is_fraud as int8 (-1 where blank or unparseable; the latter also get a landing rule) and the blank mask."""
    texts = strings(col.series)
    empty = blank(texts)
    codes, uniques = pd.factorize(texts)
    parsed = np.full(len(uniques), UNPARSEABLE_FLAG, dtype=np.int64)
    bad = np.zeros(len(uniques), dtype=bool)
    table = table or {}
    for i, raw in enumerate(uniques):
        word = str(table.get(raw, table.get(raw.strip(), raw))).strip().lower()
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
    col.tolerate(failed, empty, texts, "fraud flags (1/0, true/false, yes/no or a labels.values.is_fraud entry)")
    return pd.Series(out.astype(np.int8), index=col.series.index), empty
