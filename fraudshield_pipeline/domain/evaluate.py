"""Scoring a model on the time-forward holdout: metrics, slices and inference latency."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.metrics import AMOUNT_BAND, amount_band, evaluate_scores, slice_metrics
from fraudshield_pipeline.domain.promotion import Scorecard

CUSTOMER_HISTORY = "customer_history"
SLICE_COLUMNS = (s.MERCHANT_CATEGORY, AMOUNT_BAND, s.CHANNEL, CUSTOMER_HISTORY, s.FRAUD_SCENARIO)


def prepare_holdout(test: pd.DataFrame) -> pd.DataFrame:
    """Adds the derived slice columns: amount band, and new vs known card (no 30-day history)."""
    return test.assign(
        **{
            AMOUNT_BAND: amount_band(test[s.AMOUNT]),
            CUSTOMER_HISTORY: np.where(test["customer_tx_count_30d"] == 0, "new", "known"),
        }
    )


@dataclass(frozen=True)
class ScoredModel:
    scorecard: Scorecard
    scores: np.ndarray
    threshold: float


def score_model(version: str, booster, holdout: pd.DataFrame, daily_budget: int = 100, k: int = 100) -> ScoredModel:
    from fraudshield_pipeline.domain.train import model_contract, predict

    threshold = model_contract(booster)[2]
    scores = predict(booster, holdout)
    scored = holdout.assign(score=scores)
    metrics = evaluate_scores(scored, threshold=threshold, daily_budget=daily_budget, k=k)
    slices = slice_metrics(scored, [c for c in SLICE_COLUMNS if c in holdout.columns], threshold=threshold)
    return ScoredModel(Scorecard(version, metrics, slices), scores, threshold)


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
