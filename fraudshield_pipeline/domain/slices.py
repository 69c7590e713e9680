"""Per-slice metrics of a scored holdout: one row per (column, value), and the amount bands.

Split from `domain.metrics` (same scored-frame conventions: ``schema.IS_FRAUD`` 0/1 labels and
a ``SCORE`` column; alerts at ``score >= threshold``). Which slices are large enough to judge is
`domain.protocol.judge_slices`' rule; this module only computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema
from fraudshield_pipeline.domain.metrics import NAN, SCORE, _as_labels, _as_scores, _check_columns

AMOUNT_BAND = "amount_band"  # suggested column name for the amount_band() slice
AMOUNT_BAND_EDGES = (10.0, 50.0, 200.0, 1000.0)
AMOUNT_BANDS = ("<10", "10-50", "50-200", "200-1000", ">=1000")

SLICE_COLUMNS = (
    "slice",
    "value",
    "n",
    "n_fraud",
    "roc_auc",
    "average_precision",
    "recall_at_threshold",
)

MISSING_SLICE_VALUE = "<missing>"


# --- slices ------------------------------------------------------------------------------------


def amount_band(amounts: Any) -> pd.Series:
    """Ordered categorical amount bands: ``<10``, ``10-50``, ``50-200``, ``200-1000``, ``>=1000``.

    Bands are closed on the left (10.0 -> "10-50", 1000.0 -> ">=1000"); negative amounts fall in
    "<10"; missing amounts stay missing. A Series input keeps its index.
    """
    values = amounts if isinstance(amounts, pd.Series) else pd.Series(amounts)
    edges = [-np.inf, *AMOUNT_BAND_EDGES, np.inf]
    bands = pd.cut(
        pd.to_numeric(values, errors="coerce").astype(float),
        bins=edges,
        right=False,
        labels=list(AMOUNT_BANDS),
        ordered=True,
    )
    return bands.rename(AMOUNT_BAND)


def slice_metrics(
    frame: pd.DataFrame,
    slice_columns: Sequence[str],
    min_support: int = 1,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Per-slice metrics: one row per (column, value).

    Columns: ``slice`` (the column name), ``value``, ``n`` (transactions), ``n_fraud``,
    ``roc_auc`` (NaN when the slice has a single class), ``average_precision`` (NaN when the
    slice has no fraud), ``recall_at_threshold`` (share of the slice's fraud with
    ``score >= threshold``, NaN when it has no fraud).

    ``min_support`` is the minimum number of *transactions* (``n``) for a slice to be reported.
    Columns absent from ``frame`` are skipped silently. Missing values form their own slice,
    reported as value ``"<missing>"``; unobserved categories are not reported.
    """
    _check_columns(frame, (schema.IS_FRAUD, SCORE))
    y_all = _as_labels(frame[schema.IS_FRAUD])
    s_all = _as_scores(frame[SCORE])
    rows: list[dict[str, Any]] = []
    for column in slice_columns:
        if column not in frame.columns:
            continue
        for value, positions in _groups(frame[column]):
            n = int(len(positions))
            if n < min_support:
                continue
            y = y_all[positions]
            s = s_all[positions]
            n_fraud = int(y.sum())
            roc_auc = NAN
            average_precision = NAN
            if n_fraud > 0:
                from sklearn.metrics import average_precision_score, roc_auc_score

                average_precision = float(average_precision_score(y, s))
                if n_fraud < n:
                    roc_auc = float(roc_auc_score(y, s))
            recall = float(np.sum(s[y == 1] >= threshold) / n_fraud) if n_fraud else NAN
            rows.append(
                {
                    "slice": column,
                    "value": value,
                    "n": n,
                    "n_fraud": n_fraud,
                    "roc_auc": roc_auc,
                    "average_precision": average_precision,
                    "recall_at_threshold": recall,
                }
            )
    result = pd.DataFrame(rows, columns=list(SLICE_COLUMNS))
    return result.astype(
        {
            "slice": object,
            "value": object,
            "n": "int64",
            "n_fraud": "int64",
            "roc_auc": float,
            "average_precision": float,
            "recall_at_threshold": float,
        }
    )


def _groups(column: pd.Series) -> list[tuple[Any, np.ndarray]]:
    """(value, row positions) per observed value, sorted when the values allow it; missing
    values last, as ``MISSING_SLICE_VALUE``."""
    try:
        codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
    except TypeError:  # unorderable mixed values
        codes, uniques = pd.factorize(column, sort=False, use_na_sentinel=True)
    out: list[tuple[Any, np.ndarray]] = []
    for code, value in enumerate(uniques):
        positions = np.flatnonzero(codes == code)
        if positions.size:
            out.append((value.item() if isinstance(value, np.generic) else value, positions))
    missing = np.flatnonzero(codes == -1)
    if missing.size:
        out.append((MISSING_SLICE_VALUE, missing))
    return out
