"""Drift between the champion's training data and new data, with Evidently.

Column methods are Evidently's defaults per type (normed Wasserstein for numeric columns,
Jensen-Shannon for categorical and low-cardinality ones on large references; statistical tests
on small ones). The model's score is tested like a column: prediction drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd

PREDICTION = "score"


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftSummary:
    share_drifted: float  # among feature columns, the prediction excluded
    n_drifted: int
    n_features: int
    dataset_drift: bool
    columns: list[ColumnDrift]
    prediction: ColumnDrift | None
    null_rates: dict[str, float] = field(default_factory=dict)
    new_categories: dict[str, list[str]] = field(default_factory=dict)
    unmeasured: list[str] = field(default_factory=list)  # all missing in the reference: no baseline

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_dict(self) -> dict:
        return asdict(self) | {"drifted_columns": self.drifted_columns}


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numerical: Sequence[str],
    categorical: Sequence[str],
    drift_share: float = 0.5,
) -> tuple[DriftSummary, str]:
    """Per-column drift, share of drifted features, prediction drift and data quality; plus HTML."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numerical = [c for c in numerical if c in current.columns and c in reference.columns]
    categorical = [c for c in categorical if c in current.columns and c in reference.columns]
    # Evidently cannot compare an all-missing column. Missing today but present in the reference is
    # itself drift (a feature went dark); missing in the reference cannot be measured at all.
    vanished = [c for c in numerical + categorical if current[c].isna().all() and not reference[c].isna().all()]
    unmeasurable = [c for c in numerical + categorical if reference[c].isna().all()]
    skipped = set(vanished) | set(unmeasurable)
    null_rates = {c: float(current[c].isna().mean()) for c in numerical + categorical}
    numerical = [c for c in numerical if c not in skipped]
    categorical = [c for c in categorical if c not in skipped]
    has_prediction = PREDICTION in reference.columns and PREDICTION in current.columns
    columns = numerical + categorical + ([PREDICTION] if has_prediction else [])
    definition = DataDefinition(
        numerical_columns=numerical + ([PREDICTION] if has_prediction else []), categorical_columns=categorical
    )
    reference, current = _prepare(reference[columns], categorical), _prepare(current[columns], categorical)
    snapshot = Report([DataDriftPreset(drift_share=drift_share)], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    status = {
        t["metric_config"]["params"]["column"]: str(getattr(t["status"], "value", t["status"])) == "FAIL"
        for t in result["tests"]
        if t["metric_config"]["params"].get("type", "").endswith("ValueDrift")
    }
    drifts = {
        m["config"]["column"]: ColumnDrift(
            column=m["config"]["column"],
            method=m["config"]["method"],
            score=float(m["value"]),
            threshold=float(m["config"]["threshold"]),
            drifted=status.get(m["config"]["column"], False),
        )
        for m in result["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    feature_drifts = [drifts[c] for c in numerical + categorical if c in drifts]
    feature_drifts += [ColumnDrift(c, "all values missing in current data", 1.0, 0.0, True) for c in vanished]
    n_drifted = sum(d.drifted for d in feature_drifts)
    share = n_drifted / len(feature_drifts) if feature_drifts else 0.0
    summary = DriftSummary(
        share_drifted=share,
        n_drifted=n_drifted,
        n_features=len(feature_drifts),
        dataset_drift=share >= drift_share,
        columns=feature_drifts,
        prediction=drifts.get(PREDICTION),
        null_rates=null_rates,
        unmeasured=sorted(unmeasurable),
        new_categories={
            c: sorted(set(current[c].dropna().astype(str)) - set(reference[c].dropna().astype(str)))
            for c in categorical
        },
    )
    return summary, snapshot.get_html_str(as_iframe=False)


def _prepare(frame: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in categorical:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    return frame.reset_index(drop=True)
