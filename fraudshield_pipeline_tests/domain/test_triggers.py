import pytest

from fraudshield_pipeline.domain.triggers import DriftObservation, drift_trigger, volume_trigger


def obs(*shares):
    return [DriftObservation(f"2026-10-{i + 1:02d}", share) for i, share in enumerate(shares)]


@pytest.mark.parametrize(
    ("shares", "consecutive", "fire"),
    [
        ((0.1, 0.5, 0.5), 2, True),
        ((0.5, 0.5, 0.1), 2, False),
        ((0.5,), 2, False),
        ((0.5,), 1, True),
        ((0.29, 0.29), 2, False),
        ((0.3, 0.3), 2, True),
    ],
)
def test_drift_trigger_requires_sustained_drift(shares, consecutive, fire):
    assert drift_trigger(obs(*shares), share_threshold=0.3, consecutive=consecutive).fire is fire


def test_prediction_drift_alone_counts_as_drift():
    observations = [DriftObservation("2026-10-01", 0.0, True), DriftObservation("2026-10-02", 0.0, True)]
    decision = drift_trigger(observations, 0.3, 2)
    assert decision.fire and decision.reason.startswith("feature or prediction drift")


def test_volume_trigger_threshold_is_inclusive():
    assert volume_trigger(100_000, 100_000).fire and not volume_trigger(99_999, 100_000).fire


def perf(*pairs):
    from fraudshield_pipeline.domain.triggers import PerformanceObservation

    return [PerformanceObservation(f"2026-10-{i + 1:02d}", ap, rec) for i, (ap, rec) in enumerate(pairs)]


@pytest.mark.parametrize(
    ("pairs", "fire"),
    [
        (((0.6, 0.7), (0.5, 0.6), (0.55, 0.65)), False),
        (((0.6, 0.7), (0.2, 0.3), (0.25, 0.35)), False),  # rolling AP 0.35, recall 0.45: above floors
        (((0.2, 0.7), (0.2, 0.6), (0.25, 0.65)), True),  # average precision decayed
        (((0.6, 0.3), (0.5, 0.3), (0.55, 0.3)), True),  # recall at the alert budget decayed
        (((0.1, 0.1), (0.1, 0.1)), False),  # not enough matured days yet
    ],
)
def test_performance_trigger_uses_a_rolling_window(pairs, fire):
    from fraudshield_pipeline.domain.triggers import performance_trigger

    assert performance_trigger(perf(*pairs), 0.3, 0.4, window=3).fire is fire


def test_cooldown_counts_down_from_the_last_retrain():
    from fraudshield_pipeline.domain.triggers import cooldown_remaining_hours

    assert cooldown_remaining_hours(None, 1000.0, 24) == 0
    assert cooldown_remaining_hours(0.0, 6 * 3600, 24) == 18
    assert cooldown_remaining_hours(0.0, 30 * 3600, 24) == 0


def test_upper_quantile_never_promises_a_rate_its_days_cannot_show():
    from fraudshield_pipeline.domain.triggers import upper_quantile

    days = [0.1 * i for i in range(20)]  # 0.0 .. 1.9
    assert upper_quantile(days, 0.05) == days[-1]  # 1/21 is the best 20 days can honour
    assert upper_quantile(days, 0.2) == days[16]  # ceil(0.8 * 21) = 17th value
    with pytest.raises(ValueError):
        upper_quantile([], 0.05)


def test_cusum_limit_meets_its_false_alarm_rate_on_stable_noise():
    """Simulated in-control run lengths: the mean is close to 1 / rate (Siegmund's approximation)."""
    import numpy as np

    from fraudshield_pipeline.domain.triggers import cusum_limit

    k, rate = 0.5, 1 / 200
    h = cusum_limit(rate, k)
    rng = np.random.default_rng(3)
    lengths = []
    for _ in range(300):
        s, t = 0.0, 0
        while s <= h:
            t += 1
            s = max(0.0, s + rng.normal() - k)
        lengths.append(t)
    assert 0.7 / rate < np.mean(lengths) < 1.4 / rate, (h, np.mean(lengths))
    assert cusum_limit(1 / 730, k) > h  # a rarer false alarm needs a higher limit


def test_cusum_ignores_a_single_bad_day_and_catches_a_sustained_drop():
    from fraudshield_pipeline.domain.triggers import cusum_performance_trigger, performance_baseline

    week = [(0.30, 0.60), (0.26, 0.56), (0.34, 0.64), (0.28, 0.58), (0.32, 0.62), (0.25, 0.60), (0.35, 0.60)]
    assert performance_baseline(perf(*week[:5]), 7) is None
    baseline = performance_baseline(perf(*week), 7)
    assert baseline.average_precision == pytest.approx(0.30) and baseline.days[-1] == "2026-10-07"
    h = 4.75
    one_bad = perf(*week, (0.20, 0.50), (0.30, 0.60), (0.31, 0.61), (0.29, 0.59))
    assert not cusum_performance_trigger(one_bad, baseline, 0.5, h).fire
    drop = perf(*week, (0.18, 0.48), (0.18, 0.48))
    decision = cusum_performance_trigger(drop, baseline, 0.5, h)
    assert decision.fire and "own expectation" in decision.reason
    assert not cusum_performance_trigger(perf(*week), None, 0.5, h).fire


def test_the_cusum_paths_are_what_the_trigger_decides_on():
    from fraudshield_pipeline.domain.triggers import cusum_performance_trigger, performance_baseline, performance_cusums

    week = [(0.30, 0.60), (0.26, 0.56), (0.34, 0.64), (0.28, 0.58), (0.32, 0.62), (0.25, 0.60), (0.35, 0.60)]
    days = perf(*week, (0.20, 0.50), (0.30, 0.60), (0.18, 0.60), (0.17, 0.60))
    baseline = performance_baseline(days, 7)
    judged, ap, recall = performance_cusums(days, baseline, 0.5)
    assert [o.partition for o in judged] == [o.partition for o in days[7:]]
    assert ap[0] > 0 and ap[1] < ap[0] and ap[-1] > ap[-2] > ap[1]  # up on a bad day, down on a good one
    assert recall[1] < recall[0] and all(v >= 0 for v in ap + recall)
    decision = cusum_performance_trigger(days, baseline, 0.5, ap[-1] - 0.01)
    assert decision.fire and f"CUSUM AP {ap[-1]:.2f}, recall {recall[-1]:.2f}" in decision.reason
    assert not cusum_performance_trigger(days, baseline, 0.5, max(ap + recall) + 0.01).fire


def test_the_baseline_spread_has_a_floor():
    from fraudshield_pipeline.domain.triggers import performance_baseline

    baseline = performance_baseline(perf(*[(0.3, 0.6)] * 7), 7, min_sd_fraction=0.1)
    assert baseline.average_precision_sd == pytest.approx(0.03) and baseline.recall_at_budget_sd == pytest.approx(0.06)


def test_a_day_is_judged_once_enough_of_its_frauds_are_reported():
    from fraudshield_pipeline.domain.triggers import judging_age, reported_share

    delays = [0.5, 1.2, 1.8, 2.5, 3.0, 4.0, 6.0, 9.0, 20.0, 40.0]
    assert reported_share(delays, 3) == 0.5 and reported_share([], 3) == 0.0
    assert judging_age(delays, 0.5, 30) == 3
    assert judging_age([7.0] * 10, 0.5, 30) == 7  # a fixed 7-day delay: nothing before day 7
    assert judging_age([50.0], 0.5, 30) == 30


def shadow(*rows):
    from fraudshield_pipeline.domain.triggers import ShadowComparison

    return [ShadowComparison(f"2026-10-{i + 1:02d}", *row) for i, row in enumerate(rows)]


def test_a_clearly_worse_new_champion_is_rolled_back_and_a_noisy_equal_one_is_not():
    from fraudshield_pipeline.domain.triggers import rollback_trigger

    h = 4.75
    worse = shadow(*[(0.15, 0.30, 0.45, 0.60)] * 3, (0.18, 0.29, 0.47, 0.58))
    decision = rollback_trigger(worse, 0.5, h)
    assert decision.fire and "worse than the previous" in decision.reason
    assert not rollback_trigger(worse[:2], 0.5, h).fire  # too few days to judge
    equal = shadow((0.30, 0.28, 0.60, 0.61), (0.25, 0.29, 0.55, 0.52), (0.33, 0.30, 0.62, 0.64), (0.27, 0.29, 0.58, 0.57))
    assert not rollback_trigger(equal, 0.5, h).fire
    better = shadow(*[(0.40, 0.30, 0.70, 0.60)] * 5)
    assert not rollback_trigger(better, 0.5, h).fire


def test_a_day_with_few_reported_frauds_counts_less_than_a_full_one():
    """Recall on 4 frauds swings by 0.25 a fraud: the same shortfall weighs by the day's evidence."""
    from fraudshield_pipeline.domain.triggers import PerformanceObservation, cusum_performance_trigger, performance_baseline

    week = [PerformanceObservation(f"2026-10-{i + 1:02d}", ap, 0.6, 16)
            for i, ap in enumerate([0.30, 0.26, 0.34, 0.28, 0.32, 0.25, 0.35])]
    baseline = performance_baseline(week, 7)
    assert baseline.n_fraud == 16
    # Recall's spread is at least its binomial error over 16 frauds a day: sqrt(0.6 * 0.4 / 16).
    assert baseline.recall_at_budget_sd == pytest.approx((0.6 * 0.4 / 16) ** 0.5)

    def days(n_fraud):
        return week + [PerformanceObservation(f"2026-10-{8 + i:02d}", 0.30, 0.20, n_fraud) for i in range(2)]

    assert not cusum_performance_trigger(days(2), baseline, 0.5, 4.75).fire  # two thin days: not yet evidence
    assert cusum_performance_trigger(days(16), baseline, 0.5, 4.75).fire  # the same drop on full days
    assert cusum_performance_trigger(days(2) + [
        PerformanceObservation(f"2026-10-{10 + i:02d}", 0.30, 0.20, 2) for i in range(6)], baseline, 0.5, 4.75).fire


def test_a_day_without_a_reported_fraud_neither_resets_nor_feeds_the_cusum():
    from fraudshield_pipeline.domain.triggers import cusum_performance_trigger, performance_baseline

    nan = float("nan")
    week = [(0.30, 0.60), (0.26, 0.56), (0.34, 0.64), (0.28, 0.58), (0.32, 0.62), (0.25, 0.60), (0.35, 0.60)]
    baseline = performance_baseline(perf(*week[:3], (nan, nan), *week[3:]), 7)
    assert baseline is not None and baseline.days[-1] == "2026-10-08"
    dropping = perf(*week, (0.18, 0.48), (nan, nan), (0.18, 0.48))
    assert cusum_performance_trigger(dropping, performance_baseline(perf(*week), 7), 0.5, 4.75).fire
