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
