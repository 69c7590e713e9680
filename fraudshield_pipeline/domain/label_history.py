"""A transaction's label is a history of reports, and what counts is the latest one before a moment.

A chargeback is filed (fraud), and weeks later the merchant wins the representment (not fraud);
or a transaction first confirmed genuine is later reported as fraud. Keeping only one of the two
reports, or quarantining both, would train on a label that was never true at the time, or lose a
fraud. So the validated labels keep each report that changes a transaction's label, and every
reader asks for the label as known at its own cut-off: the training set at its `as_of`, a feature
at its transaction's day, matured performance at its measurement, the online state at its time.

Pure pandas; the DuckDB readers (features, training set, online state) express the same rule in
SQL: the latest report before the cut-off, ``arg_max(is_fraud, reported_at)``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s


def report_roles(frame: pd.DataFrame, eligible: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(repeats, contradictions) among a label feed's rows, as boolean masks in the frame's order.

    A contradiction: two reports of one transaction at the same instant that disagree (neither
    can be the later one). A repeat: a report that says what the transaction's standing label
    already says (a re-sent file, a second confirmation): it changes nothing, and is kept out of
    the history as a duplicate. Every other report changes the label and is kept.
    Only `eligible` rows take part (by default those with an id, a time and a 0/1 flag): a report
    another rule quarantines (dated before its transaction, a blank flag) is no standing label,
    and a valid report must never be filed as its repeat or its contradiction.
    """
    ids, flags, times = frame[s.TRANSACTION_ID], frame[s.IS_FRAUD], frame[s.REPORTED_AT]
    usable = ids.notna().to_numpy() & times.notna().to_numpy() & flags.isin([0, 1]).to_numpy()
    if eligible is not None:
        usable &= eligible
    rows = np.flatnonzero(usable)
    part = frame.iloc[rows].assign(_row=rows)
    contradicted = part.groupby([s.TRANSACTION_ID, s.REPORTED_AT])[s.IS_FRAUD].transform("nunique").to_numpy() > 1
    contradictions = np.zeros(len(frame), dtype=bool)
    contradictions[rows[contradicted]] = True
    ordered = part[~contradicted].sort_values([s.TRANSACTION_ID, s.REPORTED_AT, "_row"], kind="stable")
    standing = ordered.groupby(s.TRANSACTION_ID)[s.IS_FRAUD].shift()
    repeats = np.zeros(len(frame), dtype=bool)
    repeats[ordered["_row"].to_numpy()[(ordered[s.IS_FRAUD] == standing).to_numpy()]] = True
    return repeats, contradictions


def labels_as_of(labels: pd.DataFrame, as_of: dt.datetime | pd.Timestamp) -> pd.DataFrame:
    """Each transaction's label as known just before `as_of`: its latest report reported before it."""
    known = labels[pd.to_datetime(labels[s.REPORTED_AT], utc=True) < pd.Timestamp(as_of)]
    return known.sort_values([s.REPORTED_AT], kind="stable").drop_duplicates(s.TRANSACTION_ID, keep="last")


def frauds_as_of(labels: pd.DataFrame, as_of: dt.datetime | pd.Timestamp) -> pd.DataFrame:
    """The transactions known as fraud just before `as_of`, each with the report that made it so."""
    state = labels_as_of(labels, as_of)
    return state[state[s.IS_FRAUD] == 1]
