import numpy as np
import pandas as pd

from fraudshield_pipeline.domain.drift import compute_drift


def frame(rng, n, shift=0.0, categories=("a", "b")):
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1, n),
            "y": rng.normal(0, 1, n),
            "cat": rng.choice(categories, n),
            "score": rng.beta(1, 20, n),
        }
    )


def test_shift_in_one_feature_is_detected_and_stable_data_is_not():
    rng = np.random.default_rng(0)
    reference = frame(rng, 5000)
    stable, _ = compute_drift(reference, frame(rng, 3000), ["x", "y"], ["cat"])
    shifted, html = compute_drift(reference, frame(rng, 3000, shift=1.0, categories=("a", "b", "new")), ["x", "y"], ["cat"])
    assert stable.n_drifted == 0 and not stable.dataset_drift and stable.prediction is not None
    assert shifted.drifted_columns == ["x", "cat"] and shifted.share_drifted == 2 / 3
    assert shifted.new_categories == {"cat": ["new"]}
    assert "<html" in html.lower()


def test_all_missing_columns_are_drift_today_and_unmeasured_in_the_reference():
    rng = np.random.default_rng(1)
    reference = frame(rng, 3000).assign(dark=rng.normal(0, 1, 3000), baseline_empty=np.nan)
    current = frame(rng, 2000).assign(dark=np.nan, baseline_empty=rng.normal(0, 1, 2000))
    summary, _ = compute_drift(reference, current, ["x", "y", "dark", "baseline_empty"], ["cat"])
    assert "dark" in summary.drifted_columns and summary.null_rates["dark"] == 1.0
    assert summary.unmeasured == ["baseline_empty"] and summary.n_features == 4


def days_of(rng, days, n_per_day, shift=0.0):
    import datetime as dt

    frames = []
    for i in range(days):
        day = dt.datetime(2026, 10, 1) + dt.timedelta(days=i)
        part = frame(rng, n_per_day, shift=shift)
        part["event_timestamp"] = day + pd.to_timedelta(rng.uniform(0, 86_399, n_per_day), unit="s")
        part["is_weekend"] = int(day.weekday() >= 5)
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def test_calendar_features_are_measured_but_left_out_of_the_share():
    rng = np.random.default_rng(2)
    reference = days_of(rng, 14, 300)
    saturday = days_of(rng, 1, 1500).assign(is_weekend=1)
    summary, _ = compute_drift(reference, saturday, ["x", "y", "is_weekend"], ["cat"], calendar=["is_weekend"])
    assert [c.column for c in summary.calendar] == ["is_weekend"] and summary.calendar[0].drifted
    assert summary.n_features == 3 and "is_weekend" not in summary.drifted_columns and summary.share_drifted == 0.0


def test_calibration_sets_thresholds_from_the_reference_days_own_variation():
    from fraudshield_pipeline.domain.drift import beyond_calibration, calibrate_drift

    rng = np.random.default_rng(4)
    reference = days_of(rng, 12, 400)
    calibration = calibrate_drift(reference, "event_timestamp", ["x", "y", "is_weekend"], ["cat"], ["is_weekend"], 0.05, 5)
    assert calibration.days == ["2026-10-08", "2026-10-09", "2026-10-10", "2026-10-11", "2026-10-12"]
    assert len(calibration.shares) == 5 and calibration.achieved_rate == 1 / 6  # five days honour no rarer rate
    assert calibration.share_threshold == max(calibration.shares) + 0.5 / 3  # one column more than any stable day
    assert calibration.prediction_threshold == max(calibration.prediction_scores)
    assert set(calibration.column_thresholds) == {"x", "y", "cat"}
    stable, _ = compute_drift(reference, days_of(rng, 1, 2000), ["x", "y"], ["cat"])
    moved = days_of(rng, 1, 2000, shift=1.0)
    shifted, _ = compute_drift(reference, moved.assign(y=moved["y"] + 1.0), ["x", "y"], ["cat"])
    assert stable.share_drifted < calibration.share_threshold <= shifted.share_drifted
    assert beyond_calibration(shifted, calibration) == ["x", "y"] and beyond_calibration(stable, calibration) == []
    assert calibrate_drift(reference, "event_timestamp", ["x"], ["cat"], [], 0.05, 7) is None  # too few days


def test_calibration_days_skip_a_young_deployments_filling_windows():
    from fraudshield_pipeline.domain.drift import calibration_days

    kept = [f"2026-06-{d:02d}" for d in range(1, 31)] + [f"2026-07-{d:02d}" for d in range(1, 32)]
    # Training starts 2026-07-20: the 14 days before it, all with full 30-day windows (from 2026-07-01).
    assert calibration_days(kept, "2026-07-20", 14, 30) == [f"2026-07-{d:02d}" for d in range(6, 20)]
    # Training starts 2026-07-10: only 2026-07-01..09 have full windows; June's days are left out.
    assert calibration_days(kept, "2026-07-10", 14, 30) == [f"2026-07-{d:02d}" for d in range(1, 10)]
    assert calibration_days([], "2026-07-10", 14, 30) == []
