"""One user column to one canonical column: ids, amounts, flags, categories (timestamps: ``times``).

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
import pyarrow as pa
import pyarrow.compute as pc

from fraudshield_pipeline.domain.contracts import MAX_ID_LENGTH
from fraudshield_pipeline.domain.landing.errors import RULE_RETYPED, LandingError
from fraudshield_pipeline.domain.landing.mapping import CsvOptions

UNPARSEABLE_FLAG = -1  # is_fraud of a label whose flag is blank: the contract quarantines it
_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n"})
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")  # scientific notation: what can overflow a float


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
    out = _float_written(col, trimmed(texts))
    if len(out):
        col.problems.add((out.str.len() > MAX_ID_LENGTH).to_numpy(dtype=bool), f"{col.canonical}:length_at_most({MAX_ID_LENGTH})", texts)
    return out


_NUMERIC_ID = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SCIENTIFIC_ID = r"[+-]?\d(?:\.\d+)?[eE][+-]?\d+"
_ZERO_FRACTION = r"-?\d+\.0+"


def _float_written(col: Column, out: pd.Series) -> pd.Series:
    """Text ids written from a floating-point column, read as the Parquet reader reads float ids.

    pandas writes an id column holding a null as floats: `4000123412341234.0` one day and
    `4000123412341234` the next would be two cards. Where every id is an integer literal and some
    end in a zero fraction, the fraction goes; at or above 2**53 its digits may already be lost, and
    an id in scientific notation (`4.000123412341234e+18`) has lost them: the file fails as retyped.
    Text ids (`T1`, `C1231006815`, hex) are left as they are."""
    values = out.dropna()
    if not len(values) or not _NUMERIC_ID.fullmatch(values.iloc[0]):
        return out  # text ids (the first one tells) never pay for the scan below
    try:  # RE2 over Arrow: a tenth of Python's regex time on a million ids
        arrow = pa.array(values.to_numpy(dtype=object), type=pa.string())
    except (pa.ArrowException, UnicodeError):  # a lone surrogate: text, not a number
        return out

    def matching(pattern: str) -> np.ndarray:
        return pc.match_substring_regex(arrow, f"^(?:{pattern})$").to_numpy(zero_copy_only=False)

    if not matching(_NUMERIC_ID.pattern).all():
        return out
    scientific = matching(_SCIENTIFIC_ID)
    if scientific.any():
        col.fail(RULE_RETYPED, f"holds ids in scientific notation (e.g. '{values[scientific].iloc[0][:40]}'), written from a "
                               "floating-point column: digits are lost and ids merge; export the ids as integers or text")  # fmt: skip
    fraction = matching(_ZERO_FRACTION)
    if not fraction.any() or not (fraction | matching(r"-?\d+")).all():
        return out
    whole = pc.replace_substring_regex(arrow.filter(fraction), r"\.0+$", "")
    digits = pc.utf8_ltrim(pc.utf8_ltrim(whole, "-"), "0")  # |id| >= 2**53 = 9007199254740992 (16 digits)
    size = pc.utf8_length(digits)
    lost = pc.or_(pc.greater(size, 16), pc.and_(pc.equal(size, 16), pc.greater_equal(digits, str(2**53)))).to_numpy(zero_copy_only=False)
    if lost.any():
        col.fail(RULE_RETYPED, f"holds ids written from a floating-point column at or above 2**53 (e.g. '{values[fraction][lost].iloc[0][:40]}'), "
                               "where digits may be lost and ids merge: export the ids as integers or text")  # fmt: skip
    out = out.copy()
    out[values.index[fraction]] = whole.to_numpy(zero_copy_only=False)
    return out


def categories(col: Column, table: Mapping[str, Any] | None) -> pd.Series:
    return map_values(trimmed(strings(col.series)), table)


def amounts(col: Column, options: CsvOptions, max_amount: float, sign: str = "positive") -> pd.Series:
    """Amounts as floats; with `sign` "negative" (a feed writing purchases below zero) each is negated, and one
    that ends below zero (a credit in the file) reaches the contract's amount >= 0 rule, quarantined, never dropped."""
    series = col.series
    if pd.api.types.is_bool_dtype(series.dtype):
        col.fail(RULE_RETYPED, "holds booleans, not amounts: the column looks retyped")
    texts = strings(series)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.astype("float64")
    else:
        empty = blank(texts)
        raw = texts.str.strip() if len(texts) else texts
        marked, body = _accounting_negatives(raw, options)
        ambiguous = _ambiguous_separators(body, options)
        text = body
        if options.thousands:
            text = text.str.replace(options.thousands, "", regex=False)
        if options.decimal != ".":
            text = text.str.replace(options.decimal, ".", regex=False)
        values = pd.to_numeric(text, errors="coerce").astype("float64") if len(text) else pd.Series(dtype="float64", index=series.index)
        values[ambiguous] = np.nan
        failed = ~empty & values.isna().to_numpy()
        overflow = failed & ~ambiguous
        if overflow.any():  # a number past float's range (1e309) is a number, infinite: amount:finite, not unparseable
            values[overflow] = [_overflowing(t) for t in text[overflow]]
            failed = ~empty & values.isna().to_numpy()
        hint = _separator_hint(raw[failed], options) if failed.any() else ""
        col.tolerate(failed, empty, texts, "numbers", hint)
        if marked.any():
            values[marked] = 0.0 - values[marked]  # 0.0 - x: a (0.00) is zero, not -0.0
    if sign == "negative":
        values = 0.0 - values  # a zero stays zero; NaN stays blank or unparseable, with its rule
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    col.problems.add(np.isinf(numbers), f"{col.canonical}:finite", texts)
    col.problems.add(np.isfinite(numbers) & (numbers > max_amount), f"{col.canonical}:at_most_max_amount", texts)
    return values


def _accounting_negatives(raw: pd.Series, options: CsvOptions) -> tuple[np.ndarray, pd.Series]:
    """Accounting and ERP exports write a negative as `12,50-` or `(12.50)`: (those values, the number inside).

    Only an unsigned number (digits and the feed's separators) followed by one minus or inside one pair
    of parentheses; `12-50`, `-(1)`, `((1))` or `(-1)` stay what they are, unparseable. The number inside
    then meets the same separator rules as any other (`(1.234)` under a decimal comma stays ambiguous)."""
    candidates = raw.str[-1:].isin(["-", ")"]).to_numpy(dtype=bool) if len(raw) else np.zeros(0, dtype=bool)
    if not candidates.any():  # most feeds: one vectorised look at the last character
        return candidates, raw
    separators = re.escape(options.decimal + (options.thousands or ""))
    unsigned = rf"(?=\D*\d)[\d{separators}]+"
    found = raw[candidates].str.extract(rf"^(?:(?P<minus>{unsigned})-|\((?P<paren>{unsigned})\))$")
    inside = found["minus"].fillna(found["paren"]).reindex(raw.index)
    marked = inside.notna().to_numpy(dtype=bool)
    return marked, raw.where(~marked, inside) if marked.any() else raw


def _ambiguous_separators(raw: pd.Series, options: CsvOptions) -> np.ndarray:
    """Values whose separators could mean two numbers 1000x apart: never guessed, they are unparseable.

    With a decimal comma and no thousands '.', `1.234` is 1234 or 1.234; a thousands separator
    outside groups of three digits (`45,90` with csv.thousands ',') is a decimal one misdeclared."""
    out = np.zeros(len(raw), dtype=bool)
    if not len(raw):
        return out
    if options.decimal != "." and options.thousands != ".":
        out |= raw.str.contains(".", regex=False, na=False).to_numpy(dtype=bool)
    if options.thousands:
        has = raw.str.contains(options.thousands, regex=False, na=False).to_numpy(dtype=bool)
        if has.any():
            t, d = re.escape(options.thousands), re.escape(options.decimal)  # 1,234 or 12,34,567 (lakh), then decimals
            grouped = raw[has].str.fullmatch(rf"[+-]?\d{{1,3}}(?:{t}\d{{2,3}})*{t}\d{{3}}(?:{d}\d*)?", na=False).to_numpy(dtype=bool)
            out[np.flatnonzero(has)[~grouped]] = True
    return out


def _separator_hint(failed: pd.Series, options: CsvOptions) -> str:
    """What the separators in values that failed suggest, for the retyped error: each reading named, none guessed."""
    for mark, other in ((".", ","), (",", ".")):
        if options.decimal == mark or options.thousands == mark or failed.str.contains(mark, regex=False).mean() <= 0.5:
            continue
        holding = failed[failed.str.contains(mark, regex=False)]
        thousands = rf"[+-]?\d{{1,3}}(?:{re.escape(mark)}\d{{3}})+(?:{re.escape(other)}\d*)?"
        if holding.str.fullmatch(thousands).all():
            return f"; the values separate thousands with '{mark}' (1{mark}234): set csv.thousands: '{mark}'"
        return (f"; the values hold '{mark}', which is neither csv.decimal ('{options.decimal}') nor csv.thousands: set "
                f"csv.decimal: '{mark}' if it is the decimal separator (12{mark}50), or csv.thousands: '{mark}' if it separates thousands (1{mark}234)")  # fmt: skip
    if options.thousands and failed.str.contains(options.thousands, regex=False).mean() > 0.5:
        t = options.thousands
        return f"; the values hold csv.thousands '{t}' outside groups of three digits (e.g. 45{t}90): check csv.decimal and csv.thousands"
    return ""


def _overflowing(text: str) -> float:
    """±inf for a decimal number too large for a float (Python's own reading), else NaN."""
    if not _DECIMAL.fullmatch(text or ""):
        return np.nan
    number = float(text)
    return number if np.isinf(number) else np.nan


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
