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
    share_threshold: float | None = None  # the day's calibrated threshold; None: the trigger's own


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
    limits = [share_threshold if o.share_threshold is None else o.share_threshold for o in recent]
    limit = f"{limits[-1]:.2f}" + ("" if len(set(limits)) == 1 else f" (from {min(limits):.2f})")
    drifted = [o.share_drifted >= t or o.prediction_drifted for o, t in zip(recent, limits, strict=True)]
    if all(drifted):
        by_features = all(o.share_drifted >= t for o, t in zip(recent, limits, strict=True))
        cause = f"drifted share >= {limit}" if by_features else "feature or prediction drift"
        return TriggerDecision(True, f"{cause} for {consecutive} consecutive partitions ({shares})")
    return TriggerDecision(False, f"drifted share below {limit} in recent partitions ({shares})")


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
    n_fraud: int | None = None  # frauds reported for the day when measured: how much evidence the day holds
    # Days from the scoring model's test-window start to this day: how old the model was. A
    # champion is first judged ~2 weeks after its test week starts and ages from there.
    model_age_days: float | None = None


def performance_trigger(
    observations: Sequence[PerformanceObservation],
    min_average_precision: float = 0.3,
    min_recall_at_budget: float = 0.4,
    window: int = 3,
) -> TriggerDecision:
    """Fire when the champion's rolling matured-label metrics fall below their floors.

    The rolling mean over `window` matured days smooths single bad days (few frauds a day). Days
    without a reported fraud have no metric and are skipped (`is_measured`): a NaN in the mean
    would compare False with every floor, and a low-fraud portfolio would never fire.
    """
    recent = [o for o in observations if is_measured(o)][-window:]
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


# --- Calibration: thresholds from the champion's own stable behaviour -------------------------


def upper_quantile(values: Sequence[float], false_alarm_rate: float) -> float:
    """The value a stable day exceeds with probability about `false_alarm_rate`.

    The empirical (1 - rate) quantile, taken at an observed value (never interpolated down). With n
    reference days the smallest rate it can honour is 1/(n + 1) (a new stable day beats the maximum of n
    exchangeable days with that probability): below it, the maximum is the answer and the README says so.
    """
    ordered = sorted(float(v) for v in values)
    if not ordered:
        raise ValueError("no reference values to calibrate on")
    import math

    rank = min(len(ordered), math.ceil((1 - false_alarm_rate) * (len(ordered) + 1)))
    return ordered[max(rank, 1) - 1]


def cusum_limit(false_alarm_rate: float, k: float = 0.5) -> float:
    """The one-sided CUSUM limit h whose in-control average run length is 1 / false_alarm_rate.

    Siegmund's approximation for standard normal increments with slack k:
    ARL0 = (exp(2 k b) - 2 k b - 1) / (2 k^2), b = h + 1.166; solved for h by bisection.
    """
    import math

    target = 1 / false_alarm_rate

    def arl0(h: float) -> float:
        b = h + 1.166
        return b * b if k == 0 else (math.exp(2 * k * b) - 2 * k * b - 1) / (2 * k * k)

    low, high = 0.0, 50.0
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if arl0(mid) < target else (low, mid)
    return round(high, 3)


@dataclass(frozen=True)
class PerformanceBaseline:
    """What the champion achieves on its own stable days: mean and spread of each daily metric."""

    days: tuple[str, ...]
    average_precision: float
    average_precision_sd: float
    recall_at_budget: float
    recall_at_budget_sd: float
    n_fraud: float | None = None  # mean reported frauds per baseline day
    # How the expectation follows the model's age (`aged_performance_baseline`): the means hold at
    # `reference_age_days`, each metric moves by its slope per day of age (never upward), within
    # the ages measured (`age_range_days`; outside them, the nearest end). None: one flat expectation.
    reference_age_days: float | None = None
    age_range_days: tuple[float, float] | None = None
    average_precision_per_day: float = 0.0
    recall_at_budget_per_day: float = 0.0

    def expected(self, observation: PerformanceObservation) -> tuple[float, float]:
        """(AP, recall at budget) expected of a model as old as the one that scored `observation`."""
        if self.age_range_days is None or self.reference_age_days is None or observation.model_age_days is None:
            return self.average_precision, self.recall_at_budget
        low, high = self.age_range_days
        shift = min(max(observation.model_age_days, low), high) - self.reference_age_days
        return (self.average_precision + self.average_precision_per_day * shift,
                self.recall_at_budget + self.recall_at_budget_per_day * shift)

    def evidence_scale(self, observation: PerformanceObservation) -> float:
        """How much wider a day's metric scatters than a baseline day's: sqrt(baseline frauds / day's frauds).

        A daily AP or recall is an average over the day's reported frauds, so its variance shrinks
        as 1/n: a day with few frauds moves the CUSUM less, a busy day more. Aggregates evidence
        over days in a small portfolio instead of letting one thin day count as a full one.
        """
        if not self.n_fraud or observation.n_fraud is None:
            return 1.0
        return (self.n_fraud / max(observation.n_fraud, 1)) ** 0.5

    def describe(self) -> str:
        ages = ""
        if self.age_range_days is not None:
            ages = (f" at model age {self.reference_age_days:.0f} d, per week of age AP {7 * self.average_precision_per_day:+.3f}, "
                    f"recall {7 * self.recall_at_budget_per_day:+.3f} (ages {self.age_range_days[0]:.0f}-{self.age_range_days[1]:.0f} d measured)")
        return (f"expected AP {self.average_precision:.3f}±{self.average_precision_sd:.3f}, recall "
                f"{self.recall_at_budget:.3f}±{self.recall_at_budget_sd:.3f}{ages} ({self.days[0]}..{self.days[-1]})")


def aged_performance_baseline(
    observations: Sequence[PerformanceObservation], min_days: int, min_sd_fraction: float = 0.1, min_age_span_days: float = 7.0
) -> PerformanceBaseline | None:
    """An expectation that follows the model's age, from days scored by models of known ages.

    The backtest's folds, each scored on its own test week and on the weeks after it, show how a
    recipe's models fare as they age in this portfolio. Each metric gets a least-squares line over
    the model's age, its slope capped at 0 (ageing is never expected to help), its spread the
    residuals' (with `performance_baseline`'s floors). A champion is then judged against what a
    model of its own age achieved, not against a younger one: where the portfolio ages models, an
    ordinary older week is no alarm, and a change that breaks the trend still is. Beyond the ages
    measured the nearest end holds: no extrapolation. Without a spread of ages of at least
    `min_age_span_days`, the flat `performance_baseline` of every measured day.
    """
    import statistics

    measured = [o for o in observations if is_measured(o)]
    if len(measured) < min_days:
        return None
    aged = [o for o in measured if o.model_age_days is not None]
    flat = performance_baseline(measured, len(measured), min_sd_fraction)
    if len(aged) < len(measured) or max(o.model_age_days for o in aged) - min(o.model_age_days for o in aged) < min_age_span_days:
        return flat
    ages = [float(o.model_age_days) for o in aged]
    mean_age = statistics.fmean(ages)
    spread = sum((a - mean_age) ** 2 for a in ages)

    def line(values: list[float], floor_sd: float) -> tuple[float, float, float]:
        mean = statistics.fmean(values)
        slope = min(0.0, sum((a - mean_age) * (v - mean) for a, v in zip(ages, values, strict=True)) / spread)
        residuals = [v - slope * (a - mean_age) for a, v in zip(ages, values, strict=True)]
        return mean, slope, max(statistics.stdev(residuals), floor_sd)

    ap, ap_slope, ap_sd = line([o.average_precision for o in aged], min_sd_fraction * abs(flat.average_precision))
    recall_floor = max(min_sd_fraction * abs(flat.recall_at_budget), _binomial_sd(flat.recall_at_budget, flat.n_fraud))
    recall, recall_slope, recall_sd = line([o.recall_at_budget for o in aged], recall_floor)
    return PerformanceBaseline(
        flat.days, ap, max(ap_sd, 1e-3), recall, max(recall_sd, 1e-3), flat.n_fraud,
        reference_age_days=mean_age, age_range_days=(min(ages), max(ages)),
        average_precision_per_day=ap_slope, recall_at_budget_per_day=recall_slope,
    )


def _binomial_sd(p: float, n_fraud: float | None) -> float:
    """The sampling error of a recall measured on `n_fraud` frauds a day."""
    import math

    p = min(max(p, 0.0), 1.0)
    return math.sqrt(p * (1 - p) / n_fraud) if n_fraud else 0.0


def performance_baseline(
    observations: Sequence[PerformanceObservation], days: int, min_sd_fraction: float = 0.1
) -> PerformanceBaseline | None:
    """The champion's first `days` measured days as its expectation; None until it has them.

    The spread is floored at `min_sd_fraction` of the mean: a few lucky days with the same AP would
    otherwise make any ordinary day look like a collapse. Recall's spread is also floored at its
    binomial sampling error over the baseline's mean reported frauds per day: seven days cannot
    show less scatter than that many frauds allow. Days without a reported fraud (no metric) are
    skipped.
    """
    import statistics

    first = [o for o in observations if is_measured(o)][:days]
    if len(first) < days:
        return None
    counts = [o.n_fraud for o in first if o.n_fraud is not None]
    n_fraud = statistics.fmean(counts) if len(counts) == len(first) else None

    def stats(values: list[float], floor: float = 0.0) -> tuple[float, float]:
        mean = statistics.fmean(values)
        return mean, max(statistics.stdev(values), min_sd_fraction * abs(mean), floor, 1e-3)

    ap, ap_sd = stats([o.average_precision for o in first])
    recall_values = [o.recall_at_budget for o in first]
    recall, recall_sd = stats(recall_values, _binomial_sd(statistics.fmean(recall_values), n_fraud))
    return PerformanceBaseline(tuple(o.partition for o in first), ap, ap_sd, recall, recall_sd, n_fraud)


def is_measured(observation: PerformanceObservation) -> bool:
    """A day with both metrics (a day without a reported fraud has none, and says nothing)."""
    return observation.average_precision == observation.average_precision and (
        observation.recall_at_budget == observation.recall_at_budget
    )


def cusum(deficits: Sequence[float], k: float) -> list[float]:
    """One-sided CUSUM of standardized deficits: S_t = max(0, S_{t-1} + z_t - k)."""
    path, s = [], 0.0
    for z in deficits:
        s = max(0.0, s + z - k)
        path.append(s)
    return path


def performance_cusums(
    observations: Sequence[PerformanceObservation], baseline: PerformanceBaseline, k: float
) -> tuple[list[PerformanceObservation], list[float], list[float]]:
    """The days judged after the baseline and, day by day, the AP and recall CUSUMs over them.

    The paths, not only their ends: how close a stable portfolio came to the limit is the margin a
    benchmark reports (`benchmarks/monitoring_seeds.py`).
    """
    after = [o for o in observations if o.partition > baseline.days[-1] and is_measured(o)]
    expected = [baseline.expected(o) for o in after]
    ap = cusum([(e[0] - o.average_precision) / (baseline.average_precision_sd * baseline.evidence_scale(o))
                for o, e in zip(after, expected, strict=True)], k)
    recall = cusum([(e[1] - o.recall_at_budget) / (baseline.recall_at_budget_sd * baseline.evidence_scale(o))
                    for o, e in zip(after, expected, strict=True)], k)
    return after, ap, recall


def cusum_performance_trigger(
    observations: Sequence[PerformanceObservation], baseline: PerformanceBaseline | None, k: float, h: float
) -> TriggerDecision:
    """Fire when the champion's daily AP or recall falls below its own expectation, sequentially.

    Each day after the baseline adds its shortfall in standard deviations minus the slack k, the
    standard deviation widened for a day with fewer reported frauds than the baseline's days
    (`PerformanceBaseline.evidence_scale`); one bad day in a small portfolio adds little, a real
    drop crosses h within days. Days without a reported fraud are skipped.
    """
    if baseline is None:
        return TriggerDecision(False, f"only {len(observations)} measured day(s): building the champion's baseline")
    after, ap, recall = performance_cusums(observations, baseline, k)
    if not after:
        return TriggerDecision(False, f"baseline set ({baseline.describe()}); no day judged yet")
    span = f"{after[0].partition}..{after[-1].partition}"
    state = f"CUSUM AP {ap[-1]:.2f}, recall {recall[-1]:.2f} (limit {h:.2f}) over {span}; {baseline.describe()}"
    if ap[-1] > h or recall[-1] > h:
        return TriggerDecision(True, f"performance below the champion's own expectation: {state}")
    return TriggerDecision(False, f"performance holds: {state}")


# --- Labels as they arrive ---------------------------------------------------------------------


def reported_share(delays_days: Sequence[float], age_days: float) -> float:
    """Share of frauds reported within `age_days` after their day ended (empirical delay curve)."""
    if not delays_days:
        return 0.0
    return sum(d <= age_days for d in delays_days) / len(delays_days)


def judging_age(delays_days: Sequence[float], min_share: float, max_age: int) -> int:
    """The first whole age (days after a day ends) by which `min_share` of its frauds are reported."""
    for age in range(max_age + 1):
        if reported_share(delays_days, age) >= min_share:
            return age
    return max_age


# --- Undo a bad promotion ----------------------------------------------------------------------


@dataclass(frozen=True)
class ShadowComparison:
    partition: str
    new_average_precision: float
    previous_average_precision: float
    new_recall_at_budget: float
    previous_recall_at_budget: float


def rollback_trigger(
    days: Sequence[ShadowComparison], k: float, h: float, min_days: int = 3, min_sd: float = 0.02
) -> TriggerDecision:
    """Fire when the new champion is clearly worse than the previous one on the same days.

    Paired daily differences (previous minus new, same transactions and labels) standardized by their
    own spread (floored at `min_sd`), accumulated by the same one-sided CUSUM as the performance trigger.
    Days without a fraud have no AP or recall (NaN) and say nothing: they are skipped, as the
    performance trigger skips them (a NaN made `statistics.stdev` raise, or the CUSUM never fire).
    """
    import math
    import statistics

    figures = [f"{who}_{metric}" for who in ("new", "previous") for metric in ("average_precision", "recall_at_budget")]
    days = [d for d in days if all(math.isfinite(getattr(d, name)) for name in figures)]
    if len(days) < min_days:
        return TriggerDecision(False, f"only {len(days)} shadow day(s) judged, need {min_days}")
    decisions = []
    for metric in ("average_precision", "recall_at_budget"):
        diffs = [getattr(d, f"previous_{metric}") - getattr(d, f"new_{metric}") for d in days]
        sd = max(statistics.stdev(diffs), min_sd)
        path = cusum([x / sd for x in diffs], k)
        decisions.append((metric, statistics.fmean(diffs), path[-1]))
    state = "; ".join(f"{m}: previous - new {mean:+.3f}/day, CUSUM {s:.2f}" for m, mean, s in decisions)
    span = f"{days[0].partition}..{days[-1].partition}"
    if any(s > h and mean > 0 for _, mean, s in decisions):
        return TriggerDecision(True, f"new champion worse than the previous over {span} (limit {h:.2f}): {state}")
    return TriggerDecision(False, f"new champion holds against the previous over {span} (limit {h:.2f}): {state}")
