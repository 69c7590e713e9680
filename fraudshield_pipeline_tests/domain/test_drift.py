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
