"""A CSV file's header line: where it is, and how it splits into the user's column names.

A bank export often starts with a preamble (``Account;NL91...``, ``Period;...``, a blank line)
that ``csv.skip_lines`` passes over. When that setting is missing or off, the line read as the
header lacks the mapped columns and every record looks malformed; the line that does hold them
all, among the file's first `HEADER_SEARCH_LINES`, is named with the setting that reaches it,
before any record is counted, so the error says what to change rather than "malformed".
"""

from __future__ import annotations

import csv
from collections.abc import Mapping

from fraudshield_pipeline.domain.landing.errors import RULE_DELIMITER, RULE_DUPLICATE_COLUMN, RULE_MALFORMED, LandingError, missing_column
from fraudshield_pipeline.domain.landing.mapping import CsvOptions

HEADER_SEARCH_LINES = 50  # a preamble is a few lines; the header is looked for no further
_DELIMITER_CANDIDATES = (";", "\t", ",", "|")


def _names(line: str, delimiter: str) -> list[str] | None:
    try:
        return [h.strip() for h in next(csv.reader([line], delimiter=delimiter, strict=True), [])]
    except csv.Error:
        return None


def check_header_line(lines: list[str], at: int, name: str, options: CsvOptions, section: str, wanted: Mapping[str, str]) -> None:
    """Fails naming the line that looks like the header when the line at `at` lacks a mapped column
    and another of the first lines holds them all; otherwise leaves the usual checks to run."""
    present = [n for n in _names(lines[at], options.delimiter) or () if n]
    users = list(dict.fromkeys(wanted.values()))
    absent = [u for u in users if u not in present]
    if not absent:
        return
    for i, line in enumerate(lines[:HEADER_SEARCH_LINES]):
        holds_all = i != at and set(users) <= set(_names(line, options.delimiter) or ())
        if holds_all and not _records_between(lines, at + 1, i, len(users), options.delimiter):
            canonical = next(c for c, u in wanted.items() if u == absent[0])
            hint = f"; the header looks like line {i + 1}: set {section}.csv.skip_lines: {i}"
            raise missing_column(name, absent[0], canonical, present, hint, line=at + 1)


def _records_between(lines: list[str], start: int, stop: int, n_mapped: int, delimiter: str) -> bool:
    """Whether a line in [start, stop) splits into at least `n_mapped` fields: it could hold every mapped
    column, a record rather than preamble (account and period lines hold a field or two).

    The hint's skip_lines passes over every line before the header it names. Below the line read as
    the header, such lines are records (today's header drifted, and an older export's header follows
    them in a concatenated file): skipped, they would be neither rows nor quarantined, so no hint is
    given and the missing column is the error. A preamble line as wide only costs the hint."""
    return any(len(_names(line, delimiter) or ()) >= n_mapped for line in lines[start:stop] if line.strip())


def parse_header(line: str, number: int, name: str, options: CsvOptions, section: str, n_mapped: int) -> list[str]:
    """The header's column names, trimmed; refused when it is no CSV, one column in another delimiter, or names one twice."""
    try:
        header = next(csv.reader([line], delimiter=options.delimiter, strict=True), [])
    except csv.Error as error:
        raise LandingError(name, RULE_MALFORMED, f"the header (line {number}) is not valid CSV: {error}") from error
    if len(header) <= 1 < n_mapped:
        counts = {d: line.count(d) for d in _DELIMITER_CANDIDATES if d != options.delimiter}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            raise LandingError(
                name,
                RULE_DELIMITER,
                f"the header is a single column {line[:80]!r} with {section}.csv.delimiter {options.delimiter!r}; "
                f"the file looks {best!r}-delimited: set {section}.csv.delimiter: {best!r}",
            )
    names = [h.strip() or f"unnamed_{i + 1}" for i, h in enumerate(header)]
    seen: set[str] = set()
    for raw, stripped in zip(header, names, strict=True):
        if stripped in seen:
            raise LandingError(
                name, RULE_DUPLICATE_COLUMN, f"the header names '{stripped}' twice (as {raw!r}, after trimming spaces)", column=stripped
            )
        seen.add(stripped)
    return names
