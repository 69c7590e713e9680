"""The label feed: one chargeback row per fraudulent transaction, reported days later.

Separate from the day assembly because the report delay is what makes labels mature late
(monitoring and retraining are tested against it), and ``SimulationConfig`` validates its
``label_delay`` spec with the same parser the draw uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain.schema import (
    FRAUD_SCENARIO,
    IS_FRAUD,
    LABEL_COLUMNS,
    REPORTED_AT,
    TRANSACTION_ID,
)
from fraudshield_pipeline.domain.simulate.tables import (
    _SCENARIO_NAMES,
    _STREAM_LABELS_DAY,
    _US_PER_DAY,
    _timestamps,
)

if TYPE_CHECKING:
    from fraudshield_pipeline.domain.simulate.config import SimulationConfig


def _labels(
    config: SimulationConfig,
    ordinal: int,
    micros: np.ndarray,
    scenario: np.ndarray,
    transaction_ids: np.ndarray,
) -> pd.DataFrame:
    """Chargebacks of the day's frauds (``scenario >= 0``), sorted by when they are reported."""
    fraud = np.flatnonzero(scenario >= 0)
    rng = np.random.default_rng([config.seed, ordinal, _STREAM_LABELS_DAY])
    k = len(fraud)
    delay_days = _label_delay_days(config.label_delay, rng, k)
    reported = micros[fraud] + (delay_days * _US_PER_DAY).astype(np.int64)
    by_report = np.argsort(reported, kind="stable")
    fraud, reported = fraud[by_report], reported[by_report]
    return pd.DataFrame(
        {
            TRANSACTION_ID: transaction_ids[fraud],
            IS_FRAUD: np.ones(k, dtype=np.int8),
            REPORTED_AT: _timestamps(reported),
            FRAUD_SCENARIO: _SCENARIO_NAMES[scenario[fraud]],
        },
        columns=list(LABEL_COLUMNS),
    )


def _label_delay_days(spec: str, rng: np.random.Generator, k: int) -> np.ndarray:
    """Report delays in days for `k` frauds, by the config's label-delay spec (see SimulationConfig)."""
    kind, *params = spec.split(":")
    try:
        values = [float(p) for p in params]
    except ValueError:
        values = []
    if kind == "mixed" and not params:
        return np.where(rng.random(k) < 0.85, rng.uniform(1.0, 10.0, k), rng.uniform(10.0, 30.0, k))
    if kind == "fixed" and len(values) == 1 and values[0] >= 0:
        return np.full(k, values[0])
    if kind == "lognormal" and len(values) == 2 and values[0] > 0 and values[1] >= 0:
        return np.minimum(rng.lognormal(np.log(values[0]), values[1], k), 120.0)
    raise ValueError(f"label_delay must be 'mixed', 'fixed:DAYS' or 'lognormal:MEDIAN:SIGMA', not {spec!r}")

