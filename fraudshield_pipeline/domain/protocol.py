"""The evaluation protocol a fraud team signs: two test sets, scenario recall and money.

Pure domain code (pandas/numpy; scikit-learn only inside `metrics`). Built on `metrics`:

- **"all test transactions"**: every row of the test window, as scored;
- **"known-compromised cards removed"** (the protocol set, the literature's): each test day
  drops the rows of cards with a fraud *reported* before the start of that day, train- and
  gap-period frauds included. In production such a card is blocked, so catching it again is no
  detection. The removal depends on the labels only, never on a model, so challenger and
  champion are compared on exactly the same rows. Card precision@k additionally drops, per day,
  the cards already caught in the top k of earlier test days (that part depends on the model).

`protocol_metrics` returns one flat dict: the protocol set's figures under the plain names
(``average_precision``, ``roc_auc``, ``card_precision_at_100``, ...; the gate's numbers) and the
all-transactions figures under the same names prefixed ``all_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema
from fraudshield_pipeline.domain.metrics import (
    NAN,
    SCORE,
    _as_labels,
    _as_scores,
    _check_columns,
    _utc_day,
    card_precision_at_k,
    evaluate_scores,
    known_compromised_mask,
)

ALL_SET = "all test transactions"
PROTOCOL_SET = "known-compromised cards removed"
ALL_PREFIX = "all_"
TOO_SMALL = "too small to judge"
JUDGED = "judged"
SCENARIO_COLUMNS = ("scenario", "n_fraud", "fraud_value", "recall_at_budget", "recall_at_threshold", "status")


def daily_alerts(frame: pd.DataFrame, budget: int) -> np.ndarray:
    """True for the ``budget`` highest-scored rows of each UTC day (ties: input order)."""
    _check_columns(frame, (schema.EVENT_TIMESTAMP, SCORE))
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    work = pd.DataFrame({"day": _utc_day(frame[schema.EVENT_TIMESTAMP]).to_numpy(), "score": _as_scores(frame[SCORE])})
    order = work.sort_values("score", ascending=False, kind="mergesort")
    rank = order.groupby("day", sort=False).cumcount()
    alerted = np.zeros(len(frame), dtype=bool)
    alerted[order.index[rank.to_numpy() < budget].to_numpy()] = True
    return alerted


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index(drop=True)


def value_at_daily_budget(frame: pd.DataFrame, budget: int) -> dict[str, float]:
    """Money view of a daily alert budget: fraud value in the top ``budget`` alerts of each day.

    ``fraud_value_caught`` (sum of the amounts of alerted frauds), ``fraud_value_missed`` (the
    rest of the fraud value), ``fraud_value_caught_share`` (caught / all fraud value; NaN when
    the frame holds no fraud value).
    """
    frame = _positional(frame)
    _check_columns(frame, (schema.AMOUNT, schema.IS_FRAUD))
    y = _as_labels(frame[schema.IS_FRAUD]) == 1
    amount = pd.to_numeric(frame[schema.AMOUNT], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    alerted = daily_alerts(frame, budget)
    total = float(amount[y].sum())
    caught = float(amount[y & alerted].sum())
    return {
        "fraud_value_caught": caught,
        "fraud_value_missed": total - caught,
        "fraud_value_caught_share": caught / total if total > 0 else NAN,
    }


def scenario_metrics(frame: pd.DataFrame, threshold: float, budget: int, min_frauds: int = 20) -> pd.DataFrame:
    """Per fraud scenario: number of frauds, their value, recall at the daily budget and at the threshold.

    Only fraud rows carry a scenario, so AP or AUC inside a scenario is meaningless (all
    positives); recall is what a scenario can say: which share of its frauds the analysts would
    see. The budget's alerts are ranked over *all* rows of the day (genuine ones compete), as in
    production. A scenario with fewer than ``min_frauds`` frauds gets status "too small to
    judge" (its recall moves by more than 1/min_frauds per fraud) and stays out of the gate.
    """
    frame = _positional(frame)
    _check_columns(frame, (schema.IS_FRAUD, SCORE, schema.EVENT_TIMESTAMP))
    rows: list[dict[str, Any]] = []
    if schema.FRAUD_SCENARIO in frame.columns:
        y = _as_labels(frame[schema.IS_FRAUD]) == 1
        s = _as_scores(frame[SCORE])
        alerted = daily_alerts(frame, budget)
        amount = (
            pd.to_numeric(frame[schema.AMOUNT], errors="coerce").fillna(0.0).to_numpy(dtype=float)
            if schema.AMOUNT in frame.columns
            else np.zeros(len(frame))
        )
        scenario = frame[schema.FRAUD_SCENARIO].astype(object).where(frame[schema.FRAUD_SCENARIO].notna(), "<unknown>")
        for name in sorted(scenario[y].unique(), key=str):
            rows_of = y & (scenario.to_numpy() == name)
            n = int(rows_of.sum())
            rows.append(
                {
                    "scenario": str(name),
                    "n_fraud": n,
                    "fraud_value": float(amount[rows_of].sum()),
                    "recall_at_budget": float(alerted[rows_of].sum() / n),
                    "recall_at_threshold": float((s[rows_of] >= threshold).sum() / n),
                    "status": JUDGED if n >= min_frauds else TOO_SMALL,
                }
            )
    return pd.DataFrame(rows, columns=list(SCENARIO_COLUMNS)).astype(
        {"scenario": object, "n_fraud": "int64", "fraud_value": float, "recall_at_budget": float, "recall_at_threshold": float, "status": object}
    )


def judge_slices(slices: pd.DataFrame, min_frauds: int = 20, min_genuine: int = 100) -> pd.DataFrame:
    """Adds ``n_genuine`` and ``status`` to a `slice_metrics` frame.

    A slice is judged (may enter the gate) only with at least ``min_frauds`` frauds *and*
    ``min_genuine`` genuine rows: AP and AUC need both classes, and below those counts one
    transaction moves them by more than the gate's tolerance. Others are "too small to judge".
    """
    out = slices.copy()
    out["n_genuine"] = (out["n"] - out["n_fraud"]).astype("int64")
    enough = (out["n_fraud"] >= min_frauds) & (out["n_genuine"] >= min_genuine)
    out["status"] = np.where(enough, JUDGED, TOO_SMALL).astype(object)
    return out


def protocol_metrics(
    frame: pd.DataFrame,
    first_reports: pd.DataFrame | None,
    threshold: float,
    daily_budget: int = 100,
    k: int = 100,
) -> dict[str, float]:
    """Both test sets' figures in one flat dict (see the module docstring for the names).

    Also ``n_known_compromised_removed`` (rows dropped) and the value metrics of
    `value_at_daily_budget` for both sets. ``first_reports`` None means no fraud was reported
    before the test window (nothing to remove but cards caught on earlier test days).
    """
    frame = _positional(frame)
    removed = known_compromised_mask(frame, first_reports) if first_reports is not None else np.zeros(len(frame), bool)
    kept = frame[~removed]
    out: dict[str, float] = {}
    for prefix, rows in (("", kept), (ALL_PREFIX, frame)):
        metrics = evaluate_scores(rows, threshold=threshold, daily_budget=daily_budget, k=k)
        if schema.AMOUNT in rows.columns:
            metrics.update(value_at_daily_budget(rows, daily_budget))
        out.update({f"{prefix}{name}": value for name, value in metrics.items()})
    # card precision by the field's protocol: the days of the whole window, reports included
    out[f"card_precision_at_{k}"] = card_precision_at_k(frame, k=k, first_reports=first_reports) if len(frame) else NAN
    out["n_known_compromised_removed"] = float(removed.sum())
    return out
