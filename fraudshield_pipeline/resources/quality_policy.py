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
        "per report day instead of per transaction day) would otherwise pass and starve training of fraud.",
    )  # fmt: skip
    volume_low: float = Field(default=0.5, gt=0, description="A day's rows may fall to this multiple of the trailing days' mean.")
    volume_high: float = Field(default=2.0, gt=1, description="A day's rows may rise to this multiple of the trailing days' mean.")
    volume_exempt_days: list[str] = Field(
        default=[],
        description="Days (YYYY-MM-DD) expected outside the volume band (a holiday, a known outage): their volume is "
        "reported, and they do not block.",
    )
    lookback_days: int = Field(default=7, ge=1, description="Earlier days a day is compared with: volume baseline and replayed ids.")
    null_rate_limits: dict[str, float] = Field(
        default={"country": 0.2},
        description="Null share allowed per contract column of the raw feed; every column not named must never be null.",
    )

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
}


def build_quality_policy(env: Mapping[str, str]) -> DataQualityPolicy:
    """The policy with each limit a deployment set in `env`; the defaults otherwise."""
    values: dict[str, object] = {}
    for field, name in ENV_VARS.items():
        if env.get(name):
            raw = env[name]
            values[field] = [d.strip() for d in raw.split(",") if d.strip()] if field == "volume_exempt_days" else float(raw)
    return DataQualityPolicy(**values)
