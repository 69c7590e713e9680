"""Scoring a model on the time-forward holdout: metrics, slices and inference latency."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.metrics import known_compromised_mask
from fraudshield_pipeline.domain.slices import AMOUNT_BAND, amount_band, slice_metrics
from fraudshield_pipeline.domain.promotion import Scorecard
from fraudshield_pipeline.domain.protocol import judge_slices, protocol_metrics, scenario_metrics

CUSTOMER_HISTORY = "customer_history"
# Attribute slices (both classes present); fraud scenarios are reported by `scenario_metrics`.
SLICE_COLUMNS = (s.MERCHANT_CATEGORY, AMOUNT_BAND, s.CHANNEL, CUSTOMER_HISTORY)


class WindowWithoutFraudError(ValueError):
    """A train or test window holds no fraud: every metric would be NaN, so nothing can be judged."""


def require_frauds(
    frame: pd.DataFrame, split_column: str, window: dict[str, str] | None = None, suggested_maturity_days: int | None = None
) -> None:
    """Fails with what to change when the train or the test split has no fraud label.

    The usual cause is labels that are not yet reported: a label counts only when it was reported
    before ``as_of``, and chargebacks arrive days after the transaction. With ``maturity_days: 0``
    the test window ends at ``as_of`` and its frauds have had no time to be reported. The advice
    names the portfolio's own figure (`suggested_maturity_days`: the age by which most of its
    frauds are reported, from its delay curve, as training_set computes it), never the demo's.
    """
    window = window or {}
    for split, starts, ends, advice in (
        ("test", "test_start", "test_end", _maturity_advice(window, suggested_maturity_days)),
        ("train", "train_start", "train_end", "widen train_days, move the window (as_of) to a period with reported fraud, "
         "or check that validated_labels holds the labels of those days"),
    ):
        rows = frame[frame[split_column].isin(["train", "validation"] if split == "train" else ["test"])]
        if len(rows) and int(rows[s.IS_FRAUD].sum()) == 0:
            span = (
                f"{window.get(starts, rows[s.EVENT_TIMESTAMP].min())} to {window.get(ends, rows[s.EVENT_TIMESTAMP].max())}"
            )
            raise WindowWithoutFraudError(
                f"the {split} window ({span}) holds {len(rows)} transactions and 0 frauds: a label counts only once "
                f"reported before as_of ({window.get('as_of', 'the window end')}), so its fraud labels are reported after "
                f"as_of or missing; every metric would be NaN. To fix: {advice}."
            )


def _maturity_advice(window: dict[str, str], suggested: int | None) -> str:
    """What to set maturity_days to: the portfolio's own figure when its delay curve gives one."""
    now = ""
    if window.get("as_of") and window.get("test_end"):
        days = (pd.Timestamp(window["as_of"]) - pd.Timestamp(window["test_end"])) / pd.Timedelta(days=1)
        now = f" (now {days:g})"
        if suggested is not None and suggested <= days:
            return (f"this portfolio's frauds are mostly reported within {suggested} days, and maturity_days is already "
                    f"{days:g}: check that validated_labels holds the test days' labels (label_quarantine_rate), or set as_of later")  # fmt: skip
    if suggested is not None:
        return (f"raise training_set's maturity_days to {suggested}{now}, the age by which this portfolio's frauds are "
                "reported (its own report delays: training_set's test_labels_mature check), or set as_of later")  # fmt: skip
    return (f"raise training_set's maturity_days{now} to at least this portfolio's report delay (training_set's "
            "test_labels_mature check suggests one once labels old enough to be complete exist), or set as_of later, so the test "
            "window's chargebacks are in")  # fmt: skip


def prepare_holdout(test: pd.DataFrame) -> pd.DataFrame:
    """Adds the derived slice columns: amount band, and new vs known card (no 30-day history)."""
    extra = {AMOUNT_BAND: amount_band(test[s.AMOUNT])}
    if "customer_tx_count_30d" in test.columns:
        extra[CUSTOMER_HISTORY] = np.where(test["customer_tx_count_30d"] == 0, "new", "known")
    return test.assign(**extra)


@dataclass(frozen=True)
class ScoredModel:
    scorecard: Scorecard
    scores: np.ndarray
    threshold: float


def score_model(
    version: str,
    booster,
    holdout: pd.DataFrame,
    daily_budget: int = 100,
    k: int = 100,
    first_reports: pd.DataFrame | None = None,
    min_slice_frauds: int = 20,
    min_slice_genuine: int = 100,
) -> ScoredModel:
    """Scores the holdout and computes both test sets' metrics (see `domain.protocol`).

    Slices and scenarios are measured on the protocol set (known-compromised cards removed),
    the same rows as the gate's main metric.
    """
    from fraudshield_pipeline.domain.train import model_contract, predict

    threshold = model_contract(booster)[2]
    scores = predict(booster, holdout)
    return score_frame(version, holdout.assign(score=scores), threshold, daily_budget, k, first_reports, min_slice_frauds, min_slice_genuine)


def score_frame(
    version: str,
    scored: pd.DataFrame,
    threshold: float,
    daily_budget: int = 100,
    k: int = 100,
    first_reports: pd.DataFrame | None = None,
    min_slice_frauds: int = 20,
    min_slice_genuine: int = 100,
) -> ScoredModel:
    """`score_model` for rows that already carry a ``score`` column (backtests, benchmarks)."""
    metrics = protocol_metrics(scored, first_reports, threshold, daily_budget, k)
    kept = scored[~known_compromised_mask(scored, first_reports)] if first_reports is not None else scored
    slices = judge_slices(
        slice_metrics(kept, [c for c in SLICE_COLUMNS if c in kept.columns], threshold=threshold), min_slice_frauds, min_slice_genuine
    )
    scenarios = scenario_metrics(kept, threshold, daily_budget, min_slice_frauds)
    return ScoredModel(Scorecard(version, metrics, slices, scenarios), scored["score"].to_numpy(), threshold)


def inference_latency(booster, rows: pd.DataFrame, single_calls: int = 200, batch_size: int = 1000) -> dict[str, float]:
    """p50/p99 milliseconds for one-row calls (the online path) and for batches."""
    from fraudshield_pipeline.domain.train import predict

    def timed(frame: pd.DataFrame) -> float:
        started = time.perf_counter()
        predict(booster, frame)
        return (time.perf_counter() - started) * 1000

    sample = rows.head(max(single_calls, batch_size))
    single = [timed(sample.iloc[[i % len(sample)]]) for i in range(single_calls)]
    batches = [timed(sample.head(batch_size)) for _ in range(10)]
    return {
        "latency_single_p50_ms": float(np.percentile(single, 50)),
        "latency_single_p99_ms": float(np.percentile(single, 99)),
        f"latency_batch{batch_size}_p50_ms": float(np.percentile(batches, 50)),
        f"latency_batch{batch_size}_p99_ms": float(np.percentile(batches, 99)),
    }
