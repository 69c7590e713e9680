"""Why a day's rows were quarantined, and the way out: the words a failed quarantine check uses.

A rate alone ("80.2% quarantined > 5.0%") sends an operator hunting through the quarantine
table. The rules that dominate name the cause, and most causes have one fix, in the mapping or in
how the feed is written: a file per local day instead of per UTC day, values not mapped onto the
canonical vocabulary, a chargeback feed written per report day instead of per transaction day.
Plain functions over counts (and the quarantined rows, for the offending values); the snapshot
checks report them. Every text here is bounded: a few rules, a few values, a few days.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from fraudshield_pipeline.domain import schema as s

TOP_RULES = 3  # rules named per day
TOP_VALUES = 5  # offending values named per rule
MAX_DAYS = 5  # failing days named with their rules; the rest are counted
MAX_VALUE_CHARS = 24

OUTSIDE_DAY = f"{s.EVENT_TIMESTAMP}:inside_partition_day"
UNKNOWN_TRANSACTION = f"{s.TRANSACTION_ID}:references_known_transaction"
NEGATIVE_AMOUNT = f"{s.AMOUNT}:greater_than_or_equal_to(0)"  # the contract's amount >= 0
# The canonical vocabularies an `isin` rule holds a column to (domain/schema.py, the contracts').
ALLOWED_VALUES: dict[str, tuple] = {s.MERCHANT_CATEGORY: s.MERCHANT_CATEGORIES, s.CHANNEL: s.CHANNELS, s.IS_FRAUD: (0, 1)}
QUARANTINE_TABLE = {"transactions": "quarantined_transactions", "labels": "quarantined_labels"}


def short_rule(rule: str) -> str:
    """`merchant_category:isin(['grocery', ...])` -> `merchant_category:isin`: the list is named once, in the advice."""
    column, _, check = rule.partition(":")
    return f"{column}:isin" if check.startswith("isin(") else rule[:80]


def top_rules(rule_counts: Mapping[str, int], top: int = TOP_RULES) -> list[tuple[str, int]]:
    """The day's most frequent rules, most frequent first (ties by name: a stable text)."""
    return sorted(((str(r), int(n)) for r, n in rule_counts.items()), key=lambda rn: (-rn[1], rn[0]))[:top]


def offending_values(quarantine: pd.DataFrame | None, rule: str, top: int = TOP_VALUES) -> str:
    """The most frequent values of the rule's column among its quarantined rows: `grocery_pos 230, misc_net 200`."""
    column = rule.partition(":")[0]
    if quarantine is None or not len(quarantine) or column not in quarantine.columns or "failed_rule" not in quarantine:
        return ""
    values = quarantine.loc[quarantine["failed_rule"] == rule, column].astype(str).value_counts().head(top)
    return ", ".join(f"{_clip(v)} {n}" for v, n in values.items())


def way_out(rule: str, table: str = "transactions") -> str:
    """What to change for one rule's family, in the operator's terms (the mapping, the feed's layout)."""
    column, _, check = rule.partition(":")
    if rule == OUTSIDE_DAY:
        return ("each file must hold one UTC day (README: 'one UTC day per file'); a file written per local day puts the "
                "hours across UTC midnight outside its day: export files split at UTC midnight, and check the mapping's "
                "timezone (naive times are read in it)")  # fmt: skip
    if check.startswith("isin"):
        allowed = ", ".join(str(v) for v in ALLOWED_VALUES.get(column, ())) or check
        return f"{column} must be one of {allowed}: map your values onto them with the mapping's values: ({table}.values.{column})"
    if rule == NEGATIVE_AMOUNT:
        return f"{amount_sign_advice(None)}; {_rows_of(rule, table)}"
    if rule == UNKNOWN_TRANSACTION:
        return ("a label file must hold the labels of that day's transactions (by transaction day, not report day): "
                "re-key the chargeback feed by its transaction's UTC day (join it to the transactions on transaction_id "
                "and write each label into the file of the transaction's date), or give the labels as columns of the "
                "transaction files (labels.from_transactions)")  # fmt: skip
    return _rows_of(rule, table)


def _rows_of(rule: str, table: str) -> str:
    return f"see the rows of {QUARANTINE_TABLE.get(table, table)} whose failed_rule is '{short_rule(rule)}' (source_file, source_line)"


def transaction_advice(amount_sign: str | None) -> dict[str, str]:
    """`explain_quarantine`'s advice for a transaction feed whose mapping's amount_sign is known."""
    return {NEGATIVE_AMOUNT: f"{amount_sign_advice(amount_sign)}; {_rows_of(NEGATIVE_AMOUNT, 'transactions')}"}


def amount_sign_advice(sign: str | None) -> str:
    """Amounts below zero, in the words of the feed's `transactions.amount_sign` (None: a source without a mapping).

    A bank account's or card statement's export writes each purchase (a debit) below zero: a whole day
    then fails amount >= 0, and the way out is the mapping's sign, not the feed. With amount_sign
    negative the amounts were negated on reading: those below zero were positive in the file (credits,
    refunds, reversals), and a day of them means the feed writes purchases positive after all."""
    negative = ("if most of the file's amounts are below zero, the feed writes purchases as negative amounts (a bank "
                "account's debits, a card statement): set transactions.amount_sign: negative in mapping.yaml")  # fmt: skip
    positive = ("with transactions.amount_sign: negative the amounts are negated on reading, so these were positive in "
                "the file (credits, refunds, reversals: not purchases); if most of the file's amounts are positive, the "
                "feed writes purchases as positive amounts: set transactions.amount_sign: positive")  # fmt: skip
    if sign == "negative":
        return positive
    if sign == "positive":
        return negative + " (it says positive now)"
    return f"{negative}; {positive}"


def day_rules(rule_counts: Mapping[str, int], quarantine: pd.DataFrame | None = None, table: str = "transactions") -> str:
    """`merchant_category:isin 1310 (grocery_pos 230, ...); amount:... 4`: the top rules of one day."""
    parts = []
    for rule, n in top_rules(rule_counts):
        values = offending_values(quarantine, rule) if rule.partition(":")[2].startswith("isin") else ""
        parts.append(f"{short_rule(rule)} {n}" + (f" ({values})" if values else ""))
    rest = sum(rule_counts.values()) - sum(n for _, n in top_rules(rule_counts))
    return "; ".join(parts) + (f"; {rest} more under other rules" if rest > 0 else "")


def explain_quarantine(
    failing: Mapping[str, tuple[float, Mapping[str, int], pd.DataFrame | None]],
    limit: float,
    limit_name: str,
    table: str = "transactions",
    advice: Mapping[str, str] | None = None,
) -> str:
    """The failed check's description: each failing day's share and top rules, then one way out per rule family.

    `failing`: day -> (quarantined share, rule counts, quarantined rows or None). `advice`: a way
    out that replaces `way_out` for a rule (the caller knows more: the labels' transactions were
    themselves quarantined). The first MAX_DAYS days are named with their rules, the rest counted.
    """
    days = sorted(failing)
    lines = [f"{d}: {failing[d][0]:.1%} of {table} quarantined > {limit:.1%} ({limit_name}): {day_rules(failing[d][1], failing[d][2], table)}"
             for d in days[:MAX_DAYS]]  # fmt: skip
    if len(days) > MAX_DAYS:
        lines.append(f"and {len(days) - MAX_DAYS} more days over the limit ({days[MAX_DAYS]}..{days[-1]})")
    rules: list[str] = []
    for day in days:
        for rule, _ in top_rules(failing[day][1]):
            family = short_rule(rule)
            if family not in [short_rule(r) for r in rules]:
                rules.append(rule)
    outs = [f"{short_rule(r)}: {(advice or {}).get(short_rule(r)) or way_out(r, table)}" for r in rules[:TOP_RULES]]
    return ("; ".join(lines) + ". Way out: " + " | ".join(outs) + f". The rows are in {QUARANTINE_TABLE.get(table, table)} "
            "with failed_rule, source_file and source_line; fix the feed or the mapping and materialize the days again")  # fmt: skip


def labels_of_quarantined_transactions(label_quarantine: pd.DataFrame, transaction_quarantine: pd.DataFrame) -> int:
    """Labels quarantined as unknown whose transaction was itself quarantined that day: the transactions' fault, not the feed's keying."""
    if not len(label_quarantine) or not len(transaction_quarantine) or s.TRANSACTION_ID not in transaction_quarantine:
        return 0
    unknown = label_quarantine.loc[label_quarantine["failed_rule"] == UNKNOWN_TRANSACTION, s.TRANSACTION_ID]
    return int(unknown.isin(transaction_quarantine[s.TRANSACTION_ID]).sum())


def _clip(value: str) -> str:
    text = value.encode("unicode_escape").decode("ascii")  # a control character never reaches the log as itself
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."
