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
    prediction_drifted: bool = False  # the champion's scores, or a key feature, drifted


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


def matured_rows_since(
    counts: dict[str, int], trained_until: str | None, newest: str, maturity_days: int
) -> int:
    """Rows of days after the champion's training data whose labels have matured by `newest`."""
    import datetime as dt

    cutoff = (dt.date.fromisoformat(newest) - dt.timedelta(days=maturity_days)).isoformat()
    return sum(n for day, n in counts.items() if (trained_until is None or day > trained_until) and day <= cutoff)


def volume_trigger(new_labelled_rows: int, threshold: int = 100_000) -> TriggerDecision:
    """Fire when enough newly labelled transactions arrived since the champion was trained."""
    if new_labelled_rows >= threshold:
        return TriggerDecision(True, f"{new_labelled_rows} newly labelled transactions >= {threshold}")
    return TriggerDecision(False, f"{new_labelled_rows} newly labelled transactions < {threshold}")


@dataclass(frozen=True)
class PerformanceObservation:
    partition: str
    average_precision: float
    recall_at_budget: float


def performance_trigger(
    observations: Sequence[PerformanceObservation],
    min_average_precision: float = 0.3,
    min_recall_at_budget: float = 0.4,
    window: int = 3,
) -> TriggerDecision:
    """Fire when the champion's rolling matured-label metrics fall below their floors.

    The rolling mean over `window` matured days smooths single bad days (few frauds a day).
    """
    recent = list(observations)[-window:]
    if len(recent) < window:
        return TriggerDecision(False, f"only {len(recent)} matured day(s), need {window}")
    ap = sum(o.average_precision for o in recent) / window
    recall = sum(o.recall_at_budget for o in recent) / window
    span = f"{recent[0].partition}..{recent[-1].partition}"
    if ap < min_average_precision or recall < min_recall_at_budget:
        return TriggerDecision(
            True,
            f"matured-label performance {span}: average precision {ap:.3f} (floor {min_average_precision:.2f}), "
            f"recall at budget {recall:.3f} (floor {min_recall_at_budget:.2f})",
        )
    return TriggerDecision(False, f"matured-label performance {span} holds: AP {ap:.3f}, recall at budget {recall:.3f}")


def cooldown_remaining_hours(last_retrain_started: float | None, now: float, cooldown_hours: float) -> float:
    """Hours left before another retrain may be requested (0 when none ran recently)."""
    if last_retrain_started is None:
        return 0.0
    return max(0.0, cooldown_hours - (now - last_retrain_started) / 3600)
