"""The two errors of the landing zone, and the rules a `LandingError` can name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from fraudshield_pipeline.domain.contracts import SchemaContractError

# The rules a LandingError can name (its `rule` attribute, and "[rule]" in its message).
RULE_NO_FILE = "no_file"
RULE_MISSING_COLUMN = "missing_column"
RULE_DUPLICATE_COLUMN = "duplicate_column"
RULE_RETYPED = "retyped"
RULE_DELIMITER = "delimiter"
RULE_ENCODING = "encoding"
RULE_UNREADABLE = "unreadable_file"
RULE_MALFORMED = "malformed_record"  # also a quarantine rule: one record the strict reader could not split
RULE_REPEATED_HEADER = "repeated_header"  # a quarantine rule only: a copy of the header inside the file (concatenated exports)
RULE_TOO_LARGE = "too_large"
RULE_OUTSIDE_ROOT = "outside_root"
RULE_NAME_CASE = "file_name_case"  # a day's file whose name matches the path only when case is ignored (.CSV)
RULES = (
    RULE_NO_FILE,
    RULE_MISSING_COLUMN,
    RULE_DUPLICATE_COLUMN,
    RULE_RETYPED,
    RULE_DELIMITER,
    RULE_ENCODING,
    RULE_UNREADABLE,
    RULE_MALFORMED,
    RULE_TOO_LARGE,
    RULE_OUTSIDE_ROOT,
    RULE_NAME_CASE,
)


class LandingError(SchemaContractError):
    """A landing file breaks the mapping. ``str(error)`` reads
    ``"<file>: [<rule>] column '<user column>' (canonical '<canonical>'): <detail>"``."""

    def __init__(self, file: str, rule: str, detail: str, column: str | None = None, canonical: str | None = None):
        self.file, self.rule, self.column, self.canonical, self.detail = file, rule, column, canonical, detail
        named = f" (canonical '{canonical}')" if canonical is not None else ""
        where = f"column '{column}'{named}: " if column is not None else ""
        super().__init__(f"{file}: [{rule}] {where}{detail}")


class MappingError(SchemaContractError):
    """``mapping.yaml`` itself is invalid; the message names the key, e.g. ``transactions.columns.amount``."""


def suggest(word: str, choices: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the closest choice, or ""."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""


def missing_column(file: str, user: str, canonical: str, present: list[str], hint: str = "", line: int | None = None) -> LandingError:
    """The `missing_column` error, one wording for every reader: the columns present (at most 30,
    long names cut) and the closest name, so a renamed column is found without opening the file."""
    shown = [c if len(c) <= 40 else f"{c[:37]}..." for c in present[:30]] + ([f"... {len(present) - 30} more"] if len(present) > 30 else [])
    where = "the file" if line is None else f"the header (line {line})"
    detail = f"'{user}' is not in {where}; columns present: {shown}{suggest(user, present)}{hint}"
    return LandingError(file, RULE_MISSING_COLUMN, detail, column=user, canonical=canonical)
