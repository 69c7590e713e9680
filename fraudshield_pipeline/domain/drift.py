"""Drift between the champion's training data and new data, with Evidently.

Column methods are Evidently's defaults per type (normed Wasserstein for numeric columns,
Jensen-Shannon for categorical and low-cardinality ones on large references; statistical tests
on small ones). The model's score is tested like a column: prediction drift.

Every score here grows with drift: a test's p-value (which shrinks with drift) is reported as
``1 - p`` against ``1 - alpha``. Calibration, `beyond_calibration` and the drift sensor compare
scores upward; a small portfolio's reference (at most 1000 rows, so p-value tests) had them
inverted: a drifted column never counted and a stable day's score drift fired.
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
    calendar: list[ColumnDrift] = field(default_factory=list)  # measured, left out of the share

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
    calendar: Sequence[str] = (),
    with_html: bool = True,
) -> tuple[DriftSummary, str]:
    """Per-column drift, share of drifted features, prediction drift and data quality; plus HTML.

    `calendar` columns (is_weekend) are measured and reported but left out of the drifted share:
    one day is all weekday or all weekend, so against a reference of several weeks it always
    "drifts", and would lift every day's share by one column.
    """
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
        m["config"]["column"]: _oriented(m["config"], float(m["value"]), status.get(m["config"]["column"], False))
        for m in result["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    calendar_drifts = [drifts[c] for c in numerical + categorical if c in drifts and c in calendar]
    feature_drifts = [drifts[c] for c in numerical + categorical if c in drifts and c not in calendar]
    feature_drifts += [
        ColumnDrift(c, "all values missing in current data", 1.0, 0.0, True) for c in vanished if c not in calendar
    ]
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
        calendar=calendar_drifts,
        new_categories={
            c: sorted(set(current[c].dropna().astype(str)) - set(reference[c].dropna().astype(str)))
            for c in categorical
        },
    )
    return summary, snapshot.get_html_str(as_iframe=False) if with_html else ""


# Evidently's tests whose score is a p-value (drift when it is *below* the threshold); its
# auto-selected ones on small references are named "... p_value".
_P_VALUE_TESTS = ("Anderson-Darling", "Cramer-von Mises", "Epps-Singleton", "Fisher's Exact test", "g_test",
                  "Mann-Whitney U-rank test", "t_test", "empirical_mmd")


AS_ONE_MINUS_P = " (as 1 - p)"  # marks a method whose score is a test's 1 - p, not a distance


def _oriented(config: dict, value: float, drifted: bool) -> ColumnDrift:
    """A column's drift with its score growing with drift (a p-value as 1 - p, see the module docstring)."""
    method, threshold = config["method"], float(config["threshold"])
    if "p_value" in method or method in _P_VALUE_TESTS:
        return ColumnDrift(config["column"], f"{method}{AS_ONE_MINUS_P}", 1.0 - value, 1.0 - threshold, drifted)
    return ColumnDrift(config["column"], method, value, threshold, drifted)


def is_test_score(method: str | None) -> bool:
    """Whether a score is a statistical test's 1 - p (a small reference) rather than a distance.

    An absolute fallback threshold is a distance (`prediction_drift_fallback` 0.2): against 1 - p it
    would call drifted every day whose p-value is below 0.8. Without a calibration, a test's own
    verdict at its significance level is the uncalibrated decision."""
    return bool(method) and method.endswith(AS_ONE_MINUS_P)


@dataclass(frozen=True)
class DriftCalibration:
    """Thresholds from the champion's own stable days: each of the last reference days against the
    days before it (a day against its past, as monitoring does), at a target false-alarm rate."""

    share_threshold: float
    prediction_threshold: float | None
    column_thresholds: dict[str, float]
    days: list[str]
    shares: list[float]
    prediction_scores: list[float]
    false_alarm_rate: float
    achieved_rate: float  # the smallest rate these many days can honour: 1 / (days + 1)

    def to_dict(self) -> dict:
        return asdict(self)


def calibration_days(partitions: Sequence[str], first_training_day: str, days: int, lookback_days: int) -> list[str]:
    """The last ``days`` stored days before the champion's training window whose feature windows
    were full (at least ``lookback_days`` after the oldest partition); fewer when there are not.

    A young deployment's first month has history features still filling (30-day counts lower than
    any later day's): such days drift more than a stable day and would inflate the threshold.
    """
    import datetime as dt

    if not partitions:
        return []
    filled = (dt.date.fromisoformat(min(partitions)) + dt.timedelta(days=lookback_days)).isoformat()
    return [d for d in sorted(partitions) if filled <= d < first_training_day][-days:]


def calibrate_drift(
    reference: pd.DataFrame,
    timestamp: str,
    numerical: Sequence[str],
    categorical: Sequence[str],
    calendar: Sequence[str],
    false_alarm_rate: float,
    calibration_days: int = 14,
) -> DriftCalibration | None:
    """Drift thresholds a stable day exceeds with probability about `false_alarm_rate`.

    The share threshold sits half a column above the reference days' upper quantile, so a day must
    drift in more columns than the quantile day did. None when the reference spans too few days
    (fewer than twice the calibration days): the sensor then uses the policy's fallback.
    """
    from fraudshield_pipeline.domain.triggers import upper_quantile

    if timestamp not in reference.columns:
        return None
    day = pd.to_datetime(reference[timestamp]).dt.strftime("%Y-%m-%d")
    days = sorted(day.unique())
    if len(days) < 2 * calibration_days:
        return None
    judged = days[-calibration_days:]
    frames = {d: reference[day == d] for d in judged}
    return calibrate_against(reference[day < judged[0]], frames, numerical, categorical, calendar, false_alarm_rate)


def calibrate_against(
    base: pd.DataFrame,
    judged: dict[str, pd.DataFrame],
    numerical: Sequence[str],
    categorical: Sequence[str],
    calendar: Sequence[str],
    false_alarm_rate: float,
) -> DriftCalibration:
    """Thresholds from stable days measured against `base` exactly as monitoring measures a new day.

    Used with the champion's whole reference as `base` and the stable days just before its training
    window as `judged` (days it never trained on, as a future day), or by `calibrate_drift` within the
    reference when no earlier days are kept.
    """
    from fraudshield_pipeline.domain.triggers import upper_quantile

    shares, predictions, columns, n_features = [], [], {}, 1
    for frame in judged.values():
        summary, _ = compute_drift(base, frame, numerical, categorical, calendar=calendar, with_html=False)
        shares.append(summary.share_drifted)
        n_features = max(summary.n_features, 1)
        if summary.prediction is not None:
            predictions.append(summary.prediction.score)
        for c in summary.columns:
            columns.setdefault(c.column, []).append(c.score)
    return DriftCalibration(
        share_threshold=min(1.0, upper_quantile(shares, false_alarm_rate) + 0.5 / n_features),
        prediction_threshold=upper_quantile(predictions, false_alarm_rate) if predictions else None,
        column_thresholds={c: upper_quantile(v, false_alarm_rate) for c, v in columns.items()},
        days=sorted(judged),
        shares=shares,
        prediction_scores=predictions,
        false_alarm_rate=false_alarm_rate,
        achieved_rate=max(false_alarm_rate, 1 / (len(judged) + 1)),
    )


def beyond_calibration(summary: DriftSummary, calibration: DriftCalibration) -> list[str]:
    """Columns flagged drifted whose score is also beyond what the reference days showed."""
    return [
        c.column for c in summary.columns
        if c.drifted and c.score > calibration.column_thresholds.get(c.column, float("-inf"))
    ]


def _prepare(frame: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in categorical:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    return frame.reset_index(drop=True)
