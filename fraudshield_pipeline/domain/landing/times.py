"""One user column of times to UTC instants: ISO 8601, epoch numbers from an origin, strftime patterns.

What is refused or quarantined rather than guessed:

* a transaction date without a time of day (ISO ``2026-09-01``, a Parquet date32 column): every
  row would sit at midnight, and the velocity features and the label-delay rules need the time of
  day. A few such values are ``<column>:unparseable`` with their raw text; a column of them fails
  as ``retyped`` (a strftime pattern without an hour is refused when the mapping is loaded). A
  report date alone (``reported_at``) is no guess: reported during that day, it is read as the end
  of the day (the next local midnight), so a label is never known earlier than it was;
* a naive wall time in the hour repeated when summer time ends (02:00-03:00 twice in Europe): it
  is either of two instants an hour apart and nothing in the row says which (row order is no
  evidence: an export sorted by card is not sorted by time), so the row is quarantined with
  ``<column>:ambiguous_local_time`` and its raw text. A time with a UTC offset is never ambiguous.
  A wall time skipped when summer time starts (02:30 on the last Sunday of March in Europe) has a
  single reading, a clock not yet moved: it is read with the offset before the change;
* epoch numbers whose median falls outside 1990-2099 in the declared unit: the file fails naming
  the unit that fits (seconds written as milliseconds, micros as millis ...) or `timestamp.origin`;
* dates written as digits (bank, SAS and mainframe exports: ``20260903``, ``20260903140533``, often
  an int32/int64 Parquet column): under a strftime pattern an integer is the text of its digits, the
  same value a CSV holds; under iso or an epoch format (20260903 seconds is 1970-08-23) the file
  fails naming the pattern. Where the pattern puts digit codes side by side (``%Y%m%d``), a value of
  another length is unparseable: strptime splits ``2026093`` into 2026-09-03 and ``2026090314053``
  into 14:05:03 where a digit was lost anywhere (an integer drops a leading zero), so only the
  pattern's own length has one reading;
* a second of 60 or 61 under a strftime pattern (``23:59:60``): pandas would read the next minute, even
  the next day; it is unparseable with its raw text, as ISO 8601 has it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.landing.errors import RULE_RETYPED
from fraudshield_pipeline.domain.landing.mapping import EPOCH_UNITS, ISO, TimestampSpec
from fraudshield_pipeline.domain.landing.models import has_time_of_day
from fraudshield_pipeline.domain.landing.parsing import Column, blank, strings

AMBIGUOUS = "ambiguous_local_time"
NEEDS_TIME_OF_DAY = "the features and the label-delay rules need the time of day"
_DST_GAP = pd.Timedelta(hours=1)  # a wall time skipped when summer time starts: written by a clock not yet moved
_AWARE_SUFFIX = re.compile(r"[T ]\S*?(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")  # a time, then Z or an offset
_DATE_ALONE = len("2026-09-01")  # the longest ISO date without a time (20260901, 2026-09 are shorter)
_PLAUSIBLE = (pd.Timestamp("1990-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC"))
_NS = {"h": 3_600 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_WORDS = {"h": "hours", "s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
_MAX_NS = 9.2e18  # datetime64[ns] holds +-2**63 ns around 1970 (years 1677-2262)
_UNIX = pd.Timestamp("1970-01-01", tz="UTC")


def date_and_time(col: Column, frame: pd.DataFrame, time_column: str) -> Column:
    """The date column and the time-of-day column (`columns.event_time`) as one column of text, the
    two joined by one space, which `timestamp.format` describes: one parser, one time zone, one set of
    rules. A blank date or time leaves the other part alone in the text, which no format with both
    parses: `event_timestamp:unparseable` with what the file held (``'03.09.2026 '``); both blank is
    a blank timestamp, for the contract's not-null rule."""
    dates, clock = col.series, frame[time_column]
    if pd.api.types.is_datetime64_any_dtype(dates.dtype) and dates.dropna().eq(dates.dropna().dt.normalize()).all():
        dates = dates.dt.strftime("%Y-%m-%d")  # a Parquet date written as a timestamp at midnight: the date it means
    days, hours = strings(dates), strings(clock)
    empty = blank(days) & blank(hours)
    joined = (days.fillna("").astype(object).str.strip() + " " + hours.fillna("").astype(object).str.strip()) if len(days) else days
    label = f"{col.user} + {time_column}"
    together = pd.DataFrame({label: joined.where(~empty, None) if len(days) else joined.astype(object)}, index=frame.index)
    return Column(together, col.file, col.canonical, label, col.share, col.problems)


def timestamps(col: Column, spec: TimestampSpec, joined: bool = False) -> pd.Series:
    series = col.series
    # A report date alone (chargeback feeds often carry no time) means "reported during that day": read as the
    # end of it, the next local midnight, so a label is never known earlier than it was.
    end_of_day = col.canonical == s.REPORTED_AT
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.as_unit("us")
    if pd.api.types.is_datetime64_dtype(series.dtype):
        return _localize(col, series, spec.timezone, strings(series))[0].dt.as_unit("us")
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "date" and end_of_day:
        nights = pd.to_datetime(series, errors="coerce") + pd.Timedelta(days=1)
        return _localize(col, nights, spec.timezone, strings(series))[0].dt.as_unit("us")
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "date":
        example = series.dropna().iloc[0]
        col.fail(RULE_RETYPED, f"holds dates without a time of day (e.g. {example.isoformat()}; a Parquet date32/date64 column): "
                               f"{NEEDS_TIME_OF_DAY}, so export a timestamp column")  # fmt: skip
    fmt = spec.format
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
    if numeric and fmt not in EPOCH_UNITS and fmt != ISO and _whole(series):
        numeric = False  # digits under a strftime pattern: the text a CSV would hold (strings() writes no '.0')
    elif numeric and fmt not in EPOCH_UNITS:
        digits = digit_dates(strings(series)) if fmt == ISO else None
        col.fail(RULE_RETYPED, f"holds numbers but timestamp.format is '{fmt}': " + (
                 _digits_hint(col, digits) if digits else f"set one of {', '.join(EPOCH_UNITS)}, or fix the column"))  # fmt: skip
    if numeric:
        empty = series.isna().to_numpy()
        return _epochs(col, _exact(series), spec, np.zeros(len(series), bool), empty, strings(series)).dt.as_unit("us")
    texts = strings(series)
    empty = blank(texts)
    text = texts.str.strip() if len(texts) else texts.astype(object)
    if fmt in EPOCH_UNITS:
        numbers = pd.to_numeric(text, errors="coerce", dtype_backend="numpy_nullable") if len(text) else pd.Series(dtype="Float64")
        numbers = _exact(numbers) if pd.api.types.is_numeric_dtype(numbers.dtype) else pd.Series(np.nan, index=text.index)
        failed = ~empty & numbers.isna().to_numpy()
        return _epochs(col, numbers, spec, failed, empty, texts).dt.as_unit("us")
    date_only = np.zeros(len(text), dtype=bool)
    if fmt == ISO:
        aware = text.str.contains(_AWARE_SUFFIX, na=False) if len(text) else pd.Series(dtype=bool)
        parsed = pd.to_datetime(text.where(~aware, None), format="ISO8601", errors="coerce")
        if len(text):  # a date alone parses as midnight: not a time of this feed (with an hour, ISO takes 13+ characters)
            date_only = (parsed.notna() & text.str.len().le(_DATE_ALONE)).to_numpy(dtype=bool)
        if end_of_day and len(text):  # a whole day only: a month or a year ("2026-03") would be known up to a year early
            day = date_only & text.str.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{8}", na=False).to_numpy(dtype=bool)
            parsed, date_only = parsed.where(~day, parsed + pd.Timedelta(days=1)), date_only & ~day
        naive, ambiguous = _localize(col, parsed.where(~date_only), spec.timezone, texts)
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
        if (shape := _fixed_widths(fmt)) is not None and len(text):
            parsed = parsed.where(text.str.fullmatch(shape, na=False))
        if "%S" in fmt and len(text):
            parsed = parsed.where(~_leap_seconds(text, fmt, zoned))
        if end_of_day and not has_time_of_day(fmt):
            parsed = parsed + pd.Timedelta(days=1)
        values, ambiguous = (parsed, np.zeros(len(parsed), bool)) if zoned else _localize(col, parsed, spec.timezone, texts)
        what = f"timestamps in the format '{fmt}'"
    failed = ~empty & values.isna().to_numpy() & ~ambiguous
    hint = f"; timestamp.format is '{fmt}'" + (", for the date and columns.event_time joined by one space" if joined else "")
    if date_only.any() and 2 * date_only.sum() >= failed.sum():
        what, hint = "timestamps with a time of day", f"; they are dates without a time of day: {NEEDS_TIME_OF_DAY}, so export the date and time"
    elif failed.any() and (digits := digit_dates(text[~empty])) and digits != fmt:
        hint = f"; {_digits_hint(col, digits)}"
    col.tolerate(failed, empty, texts, what, hint)
    return values.dt.as_unit("us")


def _localize(col: Column, values: pd.Series, tz: str, texts: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Naive wall times in `tz` to UTC, and the mask of those in a repeated hour (NaT, quarantined)."""
    local = values.dt.tz_localize(tz, ambiguous="NaT", nonexistent=_DST_GAP)
    ambiguous = (local.isna() & values.notna()).to_numpy(dtype=bool)
    if ambiguous.any():
        col.problems.add(ambiguous, f"{col.canonical}:{AMBIGUOUS}", texts)
    return local.dt.tz_convert("UTC"), ambiguous


def _exact(numbers: pd.Series) -> pd.Series:
    """Int64 where every value is an integer (nanoseconds keep every digit), else float64."""
    if pd.api.types.is_integer_dtype(numbers.dtype):
        try:
            return numbers.astype("Int64")
        except (OverflowError, TypeError, ValueError):  # uint64 past int64: far outside any calendar anyway
            pass
    return numbers.astype("float64")


def _epochs(col: Column, numbers: pd.Series, spec: TimestampSpec, failed_before: np.ndarray, empty: np.ndarray, texts: pd.Series) -> pd.Series:
    """origin + number x unit, in integer nanoseconds where the numbers are integers."""
    unit, origin = EPOCH_UNITS[spec.format], pd.Timestamp(spec.origin) if spec.origin is not None else _UNIX
    floats = numbers.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(floats)
    if finite.any():
        _check_unit(col, spec.format, float(np.median(floats[finite])), origin, texts[~empty])
    with np.errstate(over="ignore", invalid="ignore"):  # 1e300 seconds: inf, out of range, unparseable
        ok = finite & (np.abs(floats * _NS[unit] + origin.value) < _MAX_NS) & (np.abs(floats) * _NS[unit] < _MAX_NS)
    ticks = np.zeros(len(floats), dtype=np.int64)
    if pd.api.types.is_integer_dtype(numbers.dtype):
        ticks[ok] = numbers.to_numpy(dtype=np.int64, na_value=0)[ok] * _NS[unit]
    else:
        ticks[ok] = np.round(floats[ok] * _NS[unit]).astype(np.int64)
    ticks[ok] += origin.value
    values = pd.Series(ticks.view("datetime64[ns]"), index=numbers.index).dt.tz_localize("UTC").where(ok)
    failed = failed_before | (~empty & ~ok)
    col.tolerate(failed, empty, texts, f"epoch {_WORDS[unit]}")
    return values


def _check_unit(col: Column, fmt: str, median: float, origin: pd.Timestamp, texts: pd.Series) -> None:
    """The median must fall in 1990-2099 in the declared unit; else the file fails naming the unit that fits,
    or the strftime pattern of dates written as digits (no epoch unit reads 20260903 as a day of 2026)."""

    def instant(candidate: str) -> pd.Timestamp | None:
        ns = median * _NS[EPOCH_UNITS[candidate]] + origin.value
        return pd.Timestamp(int(ns), tz="UTC") if abs(ns) < _MAX_NS else None

    lo, hi = _PLAUSIBLE
    declared = instant(fmt)
    if declared is not None and lo <= declared < hi:
        return
    since = "" if origin == _UNIX else f" since {origin.isoformat()}"
    gives = f"gives {declared:%Y-%m-%d}" if declared is not None else "is past the calendar"
    if digits := digit_dates(texts.str.strip()):
        col.fail(RULE_RETYPED, f"values are not {fmt}{since} (median {median:.0f} {gives}): {_digits_hint(col, digits)}")
    # Hours since 1970 are no export format (epoch_hours is for a declared origin), and IEEE-CIS offsets in
    # seconds (1-183 days) would read as 1990-2090 in hours: never suggested.
    fits = [f for f in EPOCH_UNITS if f not in (fmt, "epoch_hours") and (t := instant(f)) is not None and lo <= t < hi]
    if fits:
        word = _WORDS[EPOCH_UNITS[fits[0]]]
        col.fail(RULE_RETYPED, f"values look like epoch {word} (median {median:.0f} {gives} as {fmt}{since}), not {fmt}: "
                               f"set timestamp.format: {' or '.join(fits)}")  # fmt: skip
    col.fail(RULE_RETYPED, f"values do not look like {fmt}{since} (median {median:.0f} {gives}, and no epoch unit gives 1990-2099): "
                           "if they count from another instant than 1970-01-01 (IEEE-CIS TransactionDT), set timestamp.origin")  # fmt: skip


# By length; 12 digits (to the minute) are no plausible epoch in any unit (seconds: the year 8390, millis: 1976).
_DIGIT_DATES = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}
_DIGIT_EXAMPLES = {"%Y%m%d": "20260903", "%Y%m%d%H%M": "202609031405", "%Y%m%d%H%M%S": "20260903140533"}
_WIDTHS = {"Y": 4, "m": 2, "d": 2, "H": 2, "I": 2, "M": 2, "S": 2, "y": 2, "j": 3}


def digit_dates(texts: pd.Series) -> str | None:
    """'%Y%m%d', '%Y%m%d%H%M' or '%Y%m%d%H%M%S' where every value is such a date of 1990-2099 written as digits, else None:
    a hint only, so one value of another shape means no hint rather than a wrong one."""
    values = texts.dropna().astype(str)
    lengths = set(values.str.len())
    if not len(values) or len(lengths) != 1 or (pattern := _DIGIT_DATES.get(lengths.pop())) is None:
        return None
    if not values.str.fullmatch(r"(?:199\d|20\d\d)\d+").all():
        return None
    return pattern if pd.to_datetime(values, format=pattern, errors="coerce").notna().all() else None


def _digits_hint(col: Column, pattern: str) -> str:
    example = _DIGIT_EXAMPLES[pattern]
    if col.canonical == s.EVENT_TIMESTAMP and pattern == "%Y%m%d":  # the mapping refuses a transaction format without an hour
        return (f"the values look like dates written as digits ({example}) without a time of day: {NEEDS_TIME_OF_DAY}; export "
                "them with the time (20260903140533, timestamp.format: '%Y%m%d%H%M%S') or map the time of day as columns.event_time")  # fmt: skip
    return f"the values look like dates written as digits ({example}): set timestamp.format: '{pattern}'"


def _whole(series: pd.Series) -> bool:
    """Integers, or floats that are all whole (pandas reads an int column with nulls as float): digits, not numbers."""
    if pd.api.types.is_integer_dtype(series.dtype):
        return True
    values = series.to_numpy(dtype=float, na_value=np.nan)
    finite = values[~np.isnan(values)]
    return bool(np.isfinite(finite).all() and np.all(finite == np.round(finite)) and (np.abs(finite) < 2**53).all())


def _leap_seconds(text: pd.Series, fmt: str, zoned: bool) -> np.ndarray:
    """Values whose %S is 60 or 61: pandas rolls 23:59:60 into 00:00:00 of the next day, a partition day
    away, where ISO 8601 and Python's strptime refuse it. A leap second or a rounding bug, it is
    unparseable with its raw text, never moved. (A value that parses with the literal in place of %S held it.)"""
    out = np.zeros(len(text), dtype=bool)
    maybe = text.str.contains("6[01]", na=False).to_numpy(dtype=bool)
    for second in ("60", "61") if maybe.any() else ():
        literal = pd.to_datetime(text[maybe], format=fmt.replace("%S", second), errors="coerce", utc=zoned)
        out[np.flatnonzero(maybe)[pd.notna(literal).to_numpy(dtype=bool)]] = True
    return out


def _fixed_widths(fmt: str) -> str | None:
    """The regex a value must match where the pattern puts digit codes side by side (%Y%m%d): those take
    exactly their width, since strptime would split 2026093 somewhere; None where no codes touch."""
    if not re.search(r"%[YmdHIMSyj]%[YmdHIMSyj]", fmt) or re.search(r"%(?![YmdHIMSyj])", fmt):
        return None
    parts = re.split(r"(%[YmdHIMSyj])", fmt)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(re.escape(part))
            continue
        touching = (i > 1 and parts[i - 1] == "") or (i + 2 < len(parts) and parts[i + 1] == "")
        width = _WIDTHS[part[1]]
        out.append(rf"\d{{{width}}}" if touching else rf"\d{{1,{width}}}")
    return "".join(out)
