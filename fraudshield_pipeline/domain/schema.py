"""The canonical column vocabulary every stage speaks.

Sources (the simulator, a user's landing zone) are mapped onto these names once, at the
ingest boundary; everything downstream uses only these constants.
"""

from __future__ import annotations

# --- transactions ---------------------------------------------------------------------------
TRANSACTION_ID = "transaction_id"
CUSTOMER_ID = "customer_id"  # the customer's card
MERCHANT_ID = "merchant_id"  # the merchant's terminal
EVENT_TIMESTAMP = "event_timestamp"  # UTC, microseconds
AMOUNT = "amount"
MERCHANT_CATEGORY = "merchant_category"  # optional in user data
CHANNEL = "channel"  # optional: "card_present" | "online"
COUNTRY = "country"  # optional: ISO-like region code of the transaction

REQUIRED_TRANSACTION_COLUMNS = (TRANSACTION_ID, CUSTOMER_ID, MERCHANT_ID, EVENT_TIMESTAMP, AMOUNT)
OPTIONAL_TRANSACTION_COLUMNS = (MERCHANT_CATEGORY, CHANNEL, COUNTRY)
TRANSACTION_COLUMNS = REQUIRED_TRANSACTION_COLUMNS + OPTIONAL_TRANSACTION_COLUMNS

# --- labels (the chargeback feed) ----------------------------------------------------------
IS_FRAUD = "is_fraud"  # 1 = confirmed fraud; 0 = confirmed genuine (user feeds may send both)
REPORTED_AT = "reported_at"  # when the label became known: labels are usable only after it
FRAUD_SCENARIO = "fraud_scenario"  # optional chargeback reason; the simulator fills it

LABEL_COLUMNS = (TRANSACTION_ID, IS_FRAUD, REPORTED_AT, FRAUD_SCENARIO)

# --- values ----------------------------------------------------------------------------------
CHANNELS = ("card_present", "online")
MERCHANT_CATEGORIES = (
    "grocery",
    "restaurant",
    "fuel",
    "retail",
    "electronics",
    "travel",
    "entertainment",
    "health",
    "digital_goods",
    "services",
)
COUNTRIES = ("NL", "DE", "FR", "BE", "ES", "IT", "GB", "US", "PL", "SE")
FRAUD_SCENARIOS = ("compromised_terminal", "account_takeover", "card_testing", "large_amount")
