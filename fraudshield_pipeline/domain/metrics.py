"""Fraud-detection evaluation metrics for a scored holdout: ranking, threshold, budget and card
metrics, the known-compromised filter, and the threshold choice. Per-slice metrics (amount
bands, categories) live in `domain.slices`, the field's protocol in `domain.protocol`.

Pure domain code: pandas/numpy only at import time. scikit-learn is imported *inside* the
functions that need it, so importing this module (and hence loading the Dagster code location)
stays fast.

A *scored frame* has at least these columns:

- ``schema.CUSTOMER_ID``: the card;
- ``schema.EVENT_TIMESTAMP``: UTC ``datetime64`` (tz-aware values are converted to UTC, naive
  values are taken to be UTC already);
- ``schema.IS_FRAUD``: 0/1 label;
- ``SCORE`` (``"score"``): the model's probability of fraud.

Conventions shared by every function here:

- an alert is raised when ``score >= threshold`` (the same convention as
  ``sklearn.metrics.precision_recall_curve``, so ``optimal_threshold`` round-trips);
- "a day" is a UTC calendar day of ``EVENT_TIMESTAMP``;
- ranking ties are broken deterministically (stable sort on descending score, then input order
  for transactions and card id for cards).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema

SCORE = "score"

NAN = float("nan")


# --- helpers -----------------------------------------------------------------------------------


def _as_labels(y_true: Any) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        y = y.reshape(-1)
    if y.size and pd.isna(y).any():
        raise ValueError("labels contain missing values")
    y = y.astype(int)
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1")
    return y


def _as_scores(score: Any) -> np.ndarray:
    s = np.asarray(score, dtype=float).reshape(-1)
    if s.size and np.isnan(s).any():
        raise ValueError("scores contain NaN")
    return s


def _check_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"scored frame is missing columns: {missing}")


def _utc_day(timestamps: pd.Series) -> pd.Series:
    """The UTC calendar day (tz-naive midnight) of each timestamp."""
    ts = timestamps
    if not pd.api.types.is_datetime64_any_dtype(ts):
        ts = pd.to_datetime(ts, utc=True)
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.dt.floor("D")


def _binary_ranking_metrics(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """(roc_auc, average_precision), NaN for each when only one class is present."""
    if y.size == 0 or np.unique(y).size < 2:
        return NAN, NAN
    from sklearn.metrics import average_precision_score, roc_auc_score

    return float(roc_auc_score(y, s)), float(average_precision_score(y, s))


# --- point metrics -----------------------------------------------------------------------------


def threshold_metrics(y_true: Any, score: Any, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 when alerting on ``score >= threshold``.

    Zero-division safe: an undefined ratio (no alerts, no fraud) is 0.0.
    """
    y = _as_labels(y_true)
    s = _as_scores(score)
    if y.shape != s.shape:
        raise ValueError(f"y_true and score differ in length: {y.size} != {s.size}")
    pred = s >= threshold
    positive = y == 1
    tp = int(np.sum(pred & positive))
    fp = int(np.sum(pred & ~positive))
    fn = int(np.sum(~pred & positive))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def recall_at_daily_budget(frame: pd.DataFrame, budget: int) -> float:
    """Share of all fraudulent transactions caught by a fixed daily investigation budget.

    Each UTC day, the ``budget`` highest-scored transactions of that day are alerted (all of
    them when the day has fewer). Returns alerted fraud / all fraud, NaN when the frame holds
    no fraud.
    """
    _check_columns(frame, (schema.EVENT_TIMESTAMP, schema.IS_FRAUD, SCORE))
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    y = _as_labels(frame[schema.IS_FRAUD])
    n_fraud = int(y.sum())
    if n_fraud == 0:
        return NAN
    work = pd.DataFrame(
        {
            "day": _utc_day(frame[schema.EVENT_TIMESTAMP]).to_numpy(),
            "score": _as_scores(frame[SCORE]),
            "y": y,
        }
    )
    work = work.sort_values("score", ascending=False, kind="mergesort")
    rank_in_day = work.groupby("day", sort=False).cumcount()
    alerted = work.loc[rank_in_day < budget, "y"]
    return float(alerted.sum() / n_fraud)


def card_precision_at_k(
    frame: pd.DataFrame,
    k: int = 100,
    remove_known_compromised: bool = True,
    first_reports: pd.DataFrame | None = None,
) -> float:
    """Mean daily card precision top-k (Fraud Detection Handbook, Le Borgne et al.).

    For each UTC day (in order):

    1. drop the transactions of cards already found compromised on an earlier day (when
       ``remove_known_compromised``): a true positive in an earlier day's top k;
    2. aggregate to cards: a card's score is its max score that day, its label the max label
       (compromised if any of its transactions that day is fraud);
    3. rank cards by score (ties: card id ascending), take the top ``k``;
    4. precision = compromised cards in the top k / ``k``.

    The mean over every day present in ``frame`` is returned (a day left with no cards after the
    removal counts as 0.0, as in the handbook's implementation). NaN for an empty frame.

    The denominator is always ``k``, as in the handbook, *including* days with fewer than ``k``
    cards: such a day cannot reach 1.0 (3 cards, all compromised, k=100 -> 0.03). This keeps the
    metric a statement about a fixed daily investigation capacity of ``k`` cards.

    ``first_reports`` (from ``first_fraud_reports``: card -> when its first fraud was
    *reported*) adds the field's other removal: on each day, a card whose first fraud report came
    before the start of that day is blocked in production and never ranked, whichever window
    (train, gap, test) the reported fraud belongs to. A card reported during the day still counts
    that day and is dropped from the next day on.
    """
    _check_columns(frame, (schema.CUSTOMER_ID, schema.EVENT_TIMESTAMP, schema.IS_FRAUD, SCORE))
    if k <= 0:
        raise ValueError(f"k must be > 0, got {k}")
    if len(frame) == 0:
        return NAN
    work = pd.DataFrame(
        {
            "day": _utc_day(frame[schema.EVENT_TIMESTAMP]).to_numpy(),
            "card": frame[schema.CUSTOMER_ID].to_numpy(),
            "score": _as_scores(frame[SCORE]),
            "y": _as_labels(frame[schema.IS_FRAUD]),
        }
    )
    if first_reports is not None:
        work = work[~_reported_before_day(work["card"], work["day"], first_reports)]
        days_present = sorted(_utc_day(frame[schema.EVENT_TIMESTAMP]).unique())
    else:
        days_present = sorted(work["day"].unique())
    # One aggregation to (day, card) rows, sorted by day then card: removing a card's rows before
    # or after aggregating is the same, so each day only filters, ranks and takes its top k.
    cards = work.groupby(["day", "card"], sort=True).agg(score=("score", "max"), y=("y", "max")).reset_index()
    codes = pd.factorize(cards["card"], sort=True)[0]  # ascending card order: the tie-break
    rows_of_day, scores, labels = cards.groupby("day", sort=False).indices, cards["score"].to_numpy(float), cards["y"].to_numpy()
    known = np.zeros(int(codes.max()) + 1 if len(codes) else 0, dtype=bool)
    daily: list[float] = []
    for day in days_present:
        rows = rows_of_day.get(day, slice(0, 0))
        day_codes, day_scores, day_labels = codes[rows], scores[rows], labels[rows]
        if remove_known_compromised:
            keep = ~known[day_codes]
            day_codes, day_scores, day_labels = day_codes[keep], day_scores[keep], day_labels[keep]
        top = np.lexsort((day_codes, -day_scores))[:k]  # score descending, then card ascending
        detected = day_codes[top][day_labels[top] == 1]
        daily.append(len(detected) / k)
        if remove_known_compromised:
            known[detected] = True
    return float(np.mean(daily))


def first_fraud_reports(labels: pd.DataFrame, transactions: pd.DataFrame) -> pd.DataFrame:
    """When each card was first *reported* compromised: one row per card with a fraud label.

    ``labels`` holds ``transaction_id``, ``is_fraud``, ``reported_at`` (every label known, train,
    gap and test periods alike); ``transactions`` maps ``transaction_id`` to ``customer_id`` (the
    card). Returns columns ``customer_id``, ``reported_at`` (UTC, tz-naive), the earliest report.
    Labels whose transaction is not in ``transactions`` are ignored (their card is unknown).
    """
    _check_columns(labels, (schema.TRANSACTION_ID, schema.IS_FRAUD, schema.REPORTED_AT))
    _check_columns(transactions, (schema.TRANSACTION_ID, schema.CUSTOMER_ID))
    fraud = labels.loc[_as_labels(labels[schema.IS_FRAUD]) == 1, [schema.TRANSACTION_ID, schema.REPORTED_AT]]
    cards = transactions[[schema.TRANSACTION_ID, schema.CUSTOMER_ID]].drop_duplicates(schema.TRANSACTION_ID)
    joined = fraud.merge(cards, on=schema.TRANSACTION_ID, how="inner")
    joined[schema.REPORTED_AT] = _utc_naive(joined[schema.REPORTED_AT])
    first = joined.groupby(schema.CUSTOMER_ID, sort=True)[schema.REPORTED_AT].min()
    return first.reset_index()


def known_compromised_mask(frame: pd.DataFrame, first_reports: pd.DataFrame) -> np.ndarray:
    """True for rows whose card had a fraud reported before the start of the row's UTC day."""
    _check_columns(frame, (schema.CUSTOMER_ID, schema.EVENT_TIMESTAMP))
    return _reported_before_day(
        pd.Series(frame[schema.CUSTOMER_ID].to_numpy()), pd.Series(_utc_day(frame[schema.EVENT_TIMESTAMP]).to_numpy()), first_reports
    )


def _utc_naive(timestamps: pd.Series) -> pd.Series:
    ts = timestamps if pd.api.types.is_datetime64_any_dtype(timestamps) else pd.to_datetime(timestamps, utc=True)
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.astype("datetime64[us]")


def _reported_before_day(cards: pd.Series, days: pd.Series, first_reports: pd.DataFrame) -> np.ndarray:
    _check_columns(first_reports, (schema.CUSTOMER_ID, schema.REPORTED_AT))
    reported = pd.Series(
        _utc_naive(first_reports[schema.REPORTED_AT]).to_numpy(), index=first_reports[schema.CUSTOMER_ID].to_numpy()
    )
    reported = reported[~reported.index.duplicated(keep="first")]
    when = pd.Series(cards.to_numpy()).map(reported)
    day_start = pd.Series(days.to_numpy()).astype("datetime64[us]")
    return (when.notna() & (when.to_numpy() < day_start.to_numpy())).to_numpy(dtype=bool)


# --- the full report ---------------------------------------------------------------------------


def evaluate_scores(
    frame: pd.DataFrame, threshold: float = 0.5, daily_budget: int = 100, k: int = 100
) -> dict[str, float]:
    """Every holdout metric, as floats.

    Keys: ``roc_auc``, ``average_precision``, ``precision``, ``recall``, ``f1`` (at
    ``threshold``), ``recall_at_budget`` (``daily_budget`` alerts per UTC day),
    ``card_precision_at_{k}``, ``brier``, ``n_transactions``, ``n_fraud``, ``fraud_rate``.

    When only one class is present ``roc_auc`` and ``average_precision`` are NaN (no exception);
    ``recall_at_budget`` is NaN without fraud; an empty frame gives NaN for every rate.
    """
    _check_columns(frame, (schema.CUSTOMER_ID, schema.EVENT_TIMESTAMP, schema.IS_FRAUD, SCORE))
    y = _as_labels(frame[schema.IS_FRAUD])
    s = _as_scores(frame[SCORE])
    n = int(y.size)
    n_fraud = int(y.sum())
    roc_auc, average_precision = _binary_ranking_metrics(y, s)
    point = threshold_metrics(y, s, threshold)
    return {
        "roc_auc": roc_auc,
        "average_precision": average_precision,
        "precision": point["precision"],
        "recall": point["recall"],
        "f1": point["f1"],
        "recall_at_budget": recall_at_daily_budget(frame, daily_budget),
        f"card_precision_at_{k}": card_precision_at_k(frame, k=k),
        "brier": float(np.mean((s - y) ** 2)) if n else NAN,
        "n_transactions": float(n),
        "n_fraud": float(n_fraud),
        "fraud_rate": float(n_fraud / n) if n else NAN,
    }


# --- threshold choice --------------------------------------------------------------------------


def optimal_threshold(y_true: Any, score: Any, metric: str = "f1") -> float:
    """The threshold maximising ``metric`` (only ``"f1"``) on a validation set.

    The returned value is one of the observed scores and is meant for ``score >= threshold``.
    Among equally good thresholds the highest is returned (fewest alerts). Raises ValueError
    when the validation set has no fraud (F1 is then 0 everywhere) or is empty.
    """
    if metric != "f1":
        raise ValueError(f"unsupported metric {metric!r}; only 'f1' is supported")
    y = _as_labels(y_true)
    s = _as_scores(score)
    if y.shape != s.shape:
        raise ValueError(f"y_true and score differ in length: {y.size} != {s.size}")
    if y.size == 0 or y.sum() == 0:
        raise ValueError("cannot choose a threshold: the validation set holds no fraud")
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, s)
    # the last (precision, recall) pair is (1, 0) and has no threshold
    precision, recall = precision[:-1], recall[:-1]
    denominator = precision + recall
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(denominator > 0, 2 * precision * recall / denominator, 0.0)
    best = float(np.max(f1))
    # thresholds are increasing: the last index reaching the best F1 is the highest threshold
    candidates = np.flatnonzero(np.isclose(f1, best, rtol=0.0, atol=1e-12))
    chosen = float(thresholds[candidates[-1]])
    if not math.isfinite(chosen):
        raise ValueError("optimal threshold is not finite")
    return chosen
