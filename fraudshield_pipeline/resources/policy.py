"""The retraining policy: every threshold the monitoring loop decides with, in one typed resource.

The UI's resource view shows it, a deployment sets it from environment variables, and every retrain
request (and rollback) records it in its run tags, so an operator can see which policy decided.
Thresholds are calibrated to the champion's own stable behaviour by default; each absolute value
here is an override that, when set, replaces the calibrated one (see the README's monitoring section).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal, get_origin

import dagster as dg
from pydantic import Field

POLICY_TAG = "fraudshield/policy"


class RetrainPolicy(dg.ConfigurableResource):
    """When the loop asks for a retrain, when it rolls back, and how it calibrates its thresholds."""

    approval: str = Field(
        default="auto",
        description="auto: retrain/roll back on evidence; manual: record an alert and wait for a human.",
    )
    cooldown_hours: int = Field(default=24, ge=0, description="Hours after a retrain before another may be requested.")
    daily_alert_budget: int = Field(
        default=100, ge=1, description="Alerts the analysts review per day. The evaluation, the champion's expectation, "
        "every matured day and the alert-volume check measure at this one budget, so they compare like with like.",
    )  # fmt: skip
    # Drift
    drift_false_alarm_rate: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Target share of stable days whose drift exceeds the calibrated threshold (per day, before "
        "the consecutive-days rule): the threshold is this upper quantile of the reference days' own drift.",
    )
    drift_calibration_days: int = Field(
        default=14, ge=3, description="Last days of the champion's training data each measured against the days before."
    )
    drift_consecutive: int = Field(default=2, ge=1, description="Consecutive drifted days needed to request a retrain.")
    drift_share_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Override: an absolute drifted-feature share instead of the calibrated one."
    )
    drift_share_fallback: float = Field(
        default=0.3, ge=0, le=1, description="Share used only for drift reports that carry no calibration."
    )
    prediction_drift_threshold: float | None = Field(
        default=None, ge=0, description="Override: an absolute normed Wasserstein distance of the champion's scores."
    )
    prediction_drift_fallback: float = Field(
        default=0.2, ge=0, description="Score drift used only for drift reports that carry no calibration."
    )
    key_features: list[str] = Field(
        default=["amount", "customer_amount_ratio_30d"],
        description="Features whose drift beyond their own calibrated threshold counts alone.",
    )
    calendar_features: list[str] = Field(
        default=["is_weekend"],
        description="Measured and reported, but left out of the drifted share: one day cannot match a "
        "reference that mixes weekdays and weekends.",
    )
    # Volume
    retrain_volume: int = Field(default=100_000, ge=1, description="Newly labelled transactions that ask for a retrain.")
    maturity_days: int = Field(default=7, ge=0, description="Days after which a day's labels count as complete for volume.")
    # Performance
    performance_false_alarm_rate: float = Field(
        default=1 / 730,
        gt=0,
        lt=1,
        description="Target daily false-alarm rate of each CUSUM (AP, recall) on a stable champion: one in two years.",
    )
    performance_expectation: Literal["first_days", "backtest"] = Field(
        default="first_days",
        description="The champion's expected AP and recall (and spread): its first measured days; or (backtest) its recipe's backtest "
        "folds scored on their own and later weeks, measured by the evaluation at the monitoring's label age, as a line over the "
        "model's age that each monitored day is compared with at the champion's age (judged from the first monitored day; falls "
        "back to first_days for a champion evaluated without a fold as old as its first monitored day).",
    )
    performance_baseline_days: int = Field(
        default=7, ge=3, description="The champion's first measured days (first_days), or the fewest backtest days that make an expectation."
    )
    cusum_k: float = Field(default=0.5, ge=0, description="CUSUM slack, in baseline standard deviations per day.")
    cusum_h: float | None = Field(
        default=None, gt=0, description="Override: the CUSUM decision limit (default: derived from the false-alarm rate)."
    )
    min_sd_fraction: float = Field(
        default=0.1, ge=0, description="Floor of the baseline standard deviation, as a fraction of its mean."
    )
    min_reported_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A day is judged once this share of its frauds is expected to be reported (empirical delay curve).",
    )
    min_matured_average_precision: float | None = Field(
        default=None, ge=0, le=1, description="Override: a fixed floor on the rolling mean AP instead of the CUSUM."
    )
    min_matured_recall: float | None = Field(
        default=None, ge=0, le=1, description="Override: a fixed floor on the rolling mean recall at budget."
    )
    matured_window_days: int = Field(default=3, ge=1, description="Rolling window of the fixed floors (overrides only).")
    # Rollback
    shadow_days: int = Field(
        default=21, ge=0, description="Days the previous champion keeps scoring in shadow after a promotion."
    )

    def as_tags(self) -> dict[str, str]:
        """The policy as run tags: one JSON tag, within Dagster's tag length."""
        return {POLICY_TAG: json.dumps(self.summary(), separators=(",", ":"), sort_keys=True)}

    def summary(self) -> dict[str, object]:
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}


# Environment variables a deployment may set, parsed from the profile's environment when the
# definitions load (the UI's resource view shows the values). Not dg.EnvVar: Dagster cannot resolve
# a float from one, and an int EnvVar is a 0 placeholder at construction, which fails the fields'
# bounds (retrain_volume >= 1); these are policies, not secrets.
ENV_VARS: dict[str, str] = {
    "approval": "FRAUDSHIELD_RETRAIN_APPROVAL",
    "cooldown_hours": "FRAUDSHIELD_RETRAIN_COOLDOWN_HOURS",
    "daily_alert_budget": "FRAUDSHIELD_DAILY_ALERT_BUDGET",
    "drift_false_alarm_rate": "FRAUDSHIELD_DRIFT_FALSE_ALARM_RATE",
    "drift_calibration_days": "FRAUDSHIELD_DRIFT_CALIBRATION_DAYS",
    "drift_consecutive": "FRAUDSHIELD_DRIFT_CONSECUTIVE",
    "drift_share_threshold": "FRAUDSHIELD_DRIFT_SHARE_THRESHOLD",
    "prediction_drift_threshold": "FRAUDSHIELD_PREDICTION_DRIFT_THRESHOLD",
    "retrain_volume": "FRAUDSHIELD_RETRAIN_VOLUME",
    "performance_false_alarm_rate": "FRAUDSHIELD_PERFORMANCE_FALSE_ALARM_RATE",
    "performance_expectation": "FRAUDSHIELD_PERFORMANCE_EXPECTATION",
    "performance_baseline_days": "FRAUDSHIELD_PERFORMANCE_BASELINE_DAYS",
    "cusum_h": "FRAUDSHIELD_CUSUM_H",
    "min_reported_share": "FRAUDSHIELD_MIN_REPORTED_SHARE",
    "min_matured_average_precision": "FRAUDSHIELD_MIN_MATURED_AP",
    "min_matured_recall": "FRAUDSHIELD_MIN_MATURED_RECALL",
    "matured_window_days": "FRAUDSHIELD_MATURED_WINDOW_DAYS",
    "shadow_days": "FRAUDSHIELD_SHADOW_DAYS",
}


def build_policy(env: Mapping[str, str]) -> RetrainPolicy:
    """The policy with each field a deployment set in `env`; the embedded defaults otherwise."""
    values: dict[str, object] = {}
    for field, name in ENV_VARS.items():
        if not env.get(name):
            continue
        annotation = RetrainPolicy.model_fields[field].annotation
        if annotation is int:
            values[field] = int(env[name])
        elif annotation is str or get_origin(annotation) is Literal:
            values[field] = env[name]
        else:
            values[field] = float(env[name])
    return RetrainPolicy(**values)
