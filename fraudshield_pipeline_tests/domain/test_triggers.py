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
