"""When to retrain: pure decisions over recorded evidence, so sensors stay thin and testable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TriggerDecision:
    fire: bool
    reason: str


@dataclass(frozen=True)
class DriftObservation:
    partition: str
    share_drifted: float
    prediction_drifted: bool = False


def drift_trigger(
    observations: Sequence[DriftObservation], share_threshold: float = 0.3, consecutive: int = 2
) -> TriggerDecision:
    """Fire when the newest `consecutive` partitions all drifted beyond the threshold.

    One noisy day is not enough; a sustained shift is. Observations are in partition order.
    """
    if consecutive < 1:
        raise ValueError("consecutive must be >= 1")
    recent = list(observations)[-consecutive:]
    shares = ", ".join(f"{o.partition}={o.share_drifted:.2f}" for o in recent)
    if len(recent) < consecutive:
        return TriggerDecision(False, f"only {len(recent)} drift report(s), need {consecutive} consecutive: {shares}")
    drifted = [o.share_drifted >= share_threshold or o.prediction_drifted for o in recent]
    if all(drifted):
        by_features = all(o.share_drifted >= share_threshold for o in recent)
        cause = f"drifted share >= {share_threshold:.2f}" if by_features else "feature or prediction drift"
        return TriggerDecision(True, f"{cause} for {consecutive} consecutive partitions ({shares})")
    return TriggerDecision(False, f"drifted share below {share_threshold:.2f} in recent partitions ({shares})")


def volume_trigger(new_labelled_rows: int, threshold: int = 100_000) -> TriggerDecision:
    """Fire when enough newly labelled transactions arrived since the champion was trained."""
    if new_labelled_rows >= threshold:
        return TriggerDecision(True, f"{new_labelled_rows} newly labelled transactions >= {threshold}")
    return TriggerDecision(False, f"{new_labelled_rows} newly labelled transactions < {threshold}")
