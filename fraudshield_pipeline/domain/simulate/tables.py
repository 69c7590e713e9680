"""The simulator's vocabulary and constants: every tunable number of the world lives here.

Kept apart from the code that draws from them so that the behaviour of the world can be read
(and reviewed) in one place. Indices point into the tuples of ``schema.py``, where all the
strings come from.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain.schema import (
    CHANNELS,
    COUNTRIES,
    FRAUD_SCENARIOS,
    MERCHANT_CATEGORIES,
)

_N_CAT = len(MERCHANT_CATEGORIES)
_N_CTY = len(COUNTRIES)
_CP, _ONLINE = 0, 1  # indices into CHANNELS ("card_present", "online")
_CT, _ATO, _TESTING, _LARGE = 0, 1, 2, 3  # indices into FRAUD_SCENARIOS

_CATEGORY_NAMES = np.array(MERCHANT_CATEGORIES, dtype=object)
_CHANNEL_NAMES = np.array(CHANNELS, dtype=object)
_COUNTRY_NAMES = np.array(COUNTRIES, dtype=object)
_SCENARIO_NAMES = np.array(FRAUD_SCENARIOS, dtype=object)

# Per-category parameter tables, aligned with schema.MERCHANT_CATEGORIES:
#   grocery, restaurant, fuel, retail, electronics, travel, entertainment, health,
#   digital_goods, services
_MCC = ("5411", "5812", "5541", "5311", "5732", "4722", "7832", "8062", "5818", "7299")
# Merchant category codes the "new payment partner" sends instead of the category names.
PARTNER_MCC_CODES: dict[str, str] = dict(zip(MERCHANT_CATEGORIES, _MCC, strict=True))
MCC_TO_CATEGORY: dict[str, str] = {mcc: name for name, mcc in PARTNER_MCC_CODES.items()}
_MCC_NAMES = np.array(_MCC, dtype=object)


def _per_category(*values: float) -> np.ndarray:
    if len(values) != _N_CAT:  # pragma: no cover - guards a schema change
        raise ValueError(f"expected {_N_CAT} per-category values, got {len(values)}")
    return np.asarray(values, dtype=float)


# Typical amount of a purchase in the category, relative to the customer's own median.
_CATEGORY_AMOUNT_SCALE = _per_category(0.7, 0.9, 0.9, 1.4, 3.5, 5.0, 1.0, 1.0, 0.4, 1.5)
# Share of merchants per category, and each category's channel mix.
_MERCHANT_CATEGORY_WEIGHTS = _per_category(18, 20, 7, 18, 6, 5, 7, 6, 5, 8)
_P_ONLINE_ONLY = _per_category(0.02, 0.02, 0.0, 0.25, 0.35, 0.50, 0.30, 0.05, 1.0, 0.20)
_P_BOTH_CHANNELS = _per_category(0.10, 0.08, 0.0, 0.30, 0.30, 0.25, 0.20, 0.10, 0.0, 0.20)
# Category mix of genuine purchases, per channel.
_GENUINE_MIX = np.stack(
    [
        _per_category(30, 20, 13, 14, 3, 2, 6, 6, 0, 6),  # card present
        _per_category(6, 6, 0, 25, 12, 10, 10, 3, 18, 10),  # online
    ]
)
# Holiday season: people buy more retail, electronics and travel.
_HOLIDAY_CATEGORY_BOOST = _per_category(1, 1, 1, 2.2, 2.5, 2.0, 1, 1, 1, 1)
# Category mixes of the fraud scenarios (channel independent).
_TAKEOVER_MIX = _per_category(0, 0, 0, 20, 30, 15, 5, 0, 20, 10)
_LARGE_MIX = _per_category(0, 0, 0, 15, 40, 30, 0, 0, 0, 15)
_TESTING_MIX = _per_category(0, 0, 0, 0, 0, 0, 25, 0, 50, 25)
_CASHOUT_MIX = _per_category(0, 0, 0, 25, 45, 10, 0, 0, 20, 0)

# Aligned with schema.COUNTRIES: NL, DE, FR, BE, ES, IT, GB, US, PL, SE.
_COUNTRY_WEIGHTS = np.array([30, 15, 12, 8, 8, 8, 7, 5, 4, 3], dtype=float)
_ONLINE_MERCHANT_COUNTRY_BOOST = np.array([1, 1, 1, 1, 1, 1, 2.5, 5, 1, 1], dtype=float)
if len(_COUNTRY_WEIGHTS) != _N_CTY:  # pragma: no cover - guards a schema change
    raise ValueError("country tables are out of line with schema.COUNTRIES")

# Diurnal profile (UTC hour of day, relative weights): quiet nights, lunch and evening peaks.
_HOURLY = np.array(
    [0.8, 0.5, 0.3, 0.25, 0.3, 0.6, 1.5, 3.0, 4.5, 5.0, 5.5, 6.5,
     7.5, 6.5, 5.5, 5.5, 6.0, 7.0, 7.5, 6.5, 5.0, 4.0, 2.8, 1.6]
)  # fmt: skip
_HOURLY_CUM = np.cumsum(_HOURLY / _HOURLY.sum())
# Fraudsters care less about office hours: half flat, half diurnal.
_FRAUD_HOURLY = 0.5 / 24 + 0.5 * _HOURLY / _HOURLY.sum()
_FRAUD_HOURLY_CUM = np.cumsum(_FRAUD_HOURLY)
_HOURLY_CUM[-1] = _FRAUD_HOURLY_CUM[-1] = 1.0

_US_PER_HOUR = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_HOUR
_US_PER_MINUTE = 60_000_000
_EPOCH = datetime.date(1970, 1, 1)

# Behavioural constants.
_MEDIAN_AMOUNT = 35.0  # median of the customers' median amounts
_CUSTOMER_AMOUNT_SIGMA = 0.6  # spread of the customers' medians (lognormal)
_PURCHASE_AMOUNT_SIGMA = 0.6  # spread of a customer's purchases around their median
_ACTIVITY_PARETO_SHAPE = 1.6
_ACTIVITY_CAP = 40.0  # the busiest card is at most 40x as active as the quietest
_P_ABROAD_CARD_PRESENT = 0.04  # card present purchases made while travelling
_P_FOREIGN_ONLINE = 0.30  # online purchases at a foreign web shop
_LARGE_AMOUNT_RANGE = (1_550.0, 9_000.0)  # log-uniform
_TESTING_AMOUNT_CENTS = (50, 200)  # card tests cost 0.50 .. 1.99
_TESTS_PER_BURST = (3, 8)
_TEST_GAP_MEAN_S = 45.0
_P_CASHOUT = 0.8  # share of card testing bursts followed by a larger purchase
_CASHOUT_MEDIAN = 300.0
_TAKEOVER_SPIKE = (2.5, 6.0)  # amount multiplier while an account is taken over
_P_TAKEOVER_ONLINE = 0.75
_P_TAKEOVER_ABROAD = 0.6
# After the fraud strategy change: fewer loud scenarios; quieter compromised terminals; and many
# more, short account takeovers whose purchases copy the card holder's habits (amount, category,
# channel, country) but come in one quick burst a day: invisible to a model that learnt the old
# patterns, learnable from velocity features by one retrained on the new labels.
_CHANGED_TERMINAL_FACTOR = 2.0  # 2x as many compromised terminals, each 2x as quiet
_CHANGED_TAKEOVER_FACTOR = 5.0  # 5x as many account takeovers ...
_CHANGED_TAKEOVER_DAYS = 3  # ... each drained within 1-3 days ...
_CHANGED_TAKEOVER_TX_FACTOR = 2.7  # ... in one burst of about 4 purchases a day ...
_BURST_GAP_MEAN_S = 90.0  # ... a minute or two apart
_CHANGED_LOUD_FACTOR = 0.2

# RNG streams: [seed, day ordinal (0 for the population), stream].
_STREAM_POPULATION = 0
_STREAM_COMPROMISE = 1
_STREAM_TAKEOVER = 2
_STREAM_GENUINE = 10
_STREAM_COMPROMISE_DAY = 11
_STREAM_TAKEOVER_DAY = 12
_STREAM_TESTING_DAY = 13
_STREAM_LARGE_DAY = 14
_STREAM_LABELS_DAY = 15
_STREAM_PARTNER_DAY = 16


def _timestamps(micros: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from microseconds since the epoch (the unit every draw is made in)."""
    return pd.DatetimeIndex(micros.astype("datetime64[us]")).tz_localize("UTC")
