"""The skew contract's comparison, shared by the tests that hold serving to the training features."""

import numpy as np
import pandas as pd


def assert_same_features(online: pd.DataFrame, offline: pd.DataFrame, names) -> None:
    """Same nulls, same categories, numbers equal up to float summation order (1e-9)."""
    for name in names:
        left, right = online[name], offline.loc[online.index, name]
        if left.dtype == object or right.dtype == object:
            assert left.tolist() == right.tolist(), name
            continue
        left, right = left.to_numpy(float), right.to_numpy(float)
        assert np.array_equal(np.isnan(left), np.isnan(right)), f"{name}: null patterns differ"
        ok = ~np.isnan(left)
        np.testing.assert_allclose(left[ok], right[ok], rtol=1e-9, atol=1e-9, err_msg=name)
