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
