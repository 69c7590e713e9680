"""The data-quality policy: the limits the snapshot checks block downstream assets with.

One typed resource, shown in the UI's resource view and settable from the environment, so a
portfolio with its own rhythm (a quiet Christmas, a feed without country) changes a limit, not
the code. The checks themselves (`defs/snapshots/assets.py`) report each day's figure against it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import dagster as dg
from pydantic import Field, field_validator


class DataQualityPolicy(dg.ConfigurableResource):
    """When a validated day blocks the assets downstream of it."""

    max_quarantine_rate: float = Field(default=0.05, ge=0, le=1, description="Share of a day's transactions that may be quarantined.")
    max_label_quarantine_rate: float = Field(
        default=0.05, ge=0, le=1,
        description="Share of a day's labels that may be quarantined: a feed whose labels are all quarantined (written "
        "per report day instead of per transaction day) would otherwise pass and starve training of fraud. A report "
        "that repeats a transaction's standing label (a re-sent file) changes nothing and is not counted.",
    )  # fmt: skip
    label_quarantine_tolerated_rows: int = Field(
        default=5, ge=0, description="Quarantined labels a day may hold whatever their share, unless they are half of "
        "its labels or more: a small feed's single typo is kept as evidence without blocking the day.",
    )  # fmt: skip
    volume_low: float = Field(default=0.5, gt=0, description="A day's rows may fall to this multiple of the trailing days' mean.")
    volume_high: float = Field(default=2.0, gt=1, description="A day's rows may rise to this multiple of the trailing days' mean.")
    volume_exempt_days: list[str] = Field(
        default=[],
        description="Days (YYYY-MM-DD) expected outside the volume band (a holiday, a known outage): their volume is "
        "reported, and they do not block.",
    )
    lookback_days: int = Field(default=7, ge=1, description="Earlier days a day's volume is compared with.")
    id_horizon_days: int = Field(
        default=90,
        description="Earlier days within which a transaction id may not appear again. Ids are the join key of labels "
        "and features, so an id a feed recycles within the features' lookback or a training window would attach one "
        "transaction's label or history to another; at least the features' lookback (37 days).",
    )  # fmt: skip
    null_rate_limits: dict[str, float] = Field(
        default={"country": 0.2},
        description="Null share allowed per contract column of the raw feed; every column not named must never be null.",
    )

    @field_validator("id_horizon_days")
    @classmethod
    def _covers_the_features(cls, days: int) -> int:
        from fraudshield_pipeline.domain.features import lookback_days

        if days < lookback_days():
            raise ValueError(f"id_horizon_days must cover the features' lookback of {lookback_days()} days, got {days}")
        return days

    @field_validator("volume_exempt_days")
    @classmethod
    def _days(cls, days: list[str]) -> list[str]:
        for day in days:
            dt.date.fromisoformat(day)  # a typo fails when the definitions load, naming the value
        return days


ENV_VARS = {
    "max_quarantine_rate": "FRAUDSHIELD_MAX_QUARANTINE_RATE",
    "max_label_quarantine_rate": "FRAUDSHIELD_MAX_LABEL_QUARANTINE_RATE",
    "volume_low": "FRAUDSHIELD_VOLUME_LOW",
    "volume_high": "FRAUDSHIELD_VOLUME_HIGH",
    "volume_exempt_days": "FRAUDSHIELD_VOLUME_EXEMPT_DAYS",  # comma-separated dates
    "id_horizon_days": "FRAUDSHIELD_ID_HORIZON_DAYS",
}


def build_quality_policy(env: Mapping[str, str]) -> DataQualityPolicy:
    """The policy with each limit a deployment set in `env`; the defaults otherwise."""
    values: dict[str, object] = {}
    for field, name in ENV_VARS.items():
        if env.get(name):
            raw = env[name]
            if field == "volume_exempt_days":
                values[field] = [d.strip() for d in raw.split(",") if d.strip()]
            else:
                values[field] = int(raw) if DataQualityPolicy.model_fields[field].annotation is int else float(raw)
    return DataQualityPolicy(**values)
