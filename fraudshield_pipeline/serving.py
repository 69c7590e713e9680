"""Real-time scoring: one incoming transaction, online state from Feast, the champion from MLflow.

    scorer = FraudScorer.from_resources(build_resources(os.environ))
    decision = scorer.score(transaction)      # read state, evaluate features, predict
    scorer.record(transaction)                # advance the card's and merchant's state

`score` never guesses: when the online store has no status row (never materialized, wiped) or
its labels are older than the transaction's day, it raises `StaleOnlineState`; when the store
cannot be reached, Feast's connection error propagates. The caller then falls back to its
documented default (decline-and-review or the rules engine), never to a score computed from
missing features. `record` is kept out of `score` so the answer is not delayed by the write;
a stream consumer (or the caller, after replying) calls it for every transaction scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.online import (
    AMOUNTS,
    EVENT_US,
    FRAUD_EVENT_US,
    LABELS_AS_OF_US,
    MERCHANTS,
    CustomerState,
    MerchantState,
    StaleOnlineState,
    features_at,
    to_us,
)


@dataclass(frozen=True)
class Decision:
    transaction_id: str
    score: float
    flagged: bool
    threshold: float
    model_version: str
    features: dict[str, object]


class FraudScorer:
    """Holds the champion booster and a Feast store; safe to reuse across requests."""

    def __init__(self, feature_store, booster, model_version: str):
        from fraudshield_pipeline.domain.train import model_contract

        self.feature_store = feature_store
        self.booster = booster
        # One row per call: a thread pool only adds wake-up latency (tens of ms on a busy host).
        self.booster.set_param({"nthread": 1})
        self.model_version = model_version
        self.feature_names, self.categories, self.threshold = model_contract(booster)

    @classmethod
    def from_resources(cls, resources: Mapping[str, object], alias: str | None = None) -> FraudScorer:
        """The model behind `alias` (default: champion) in the registry the configuration names."""
        from fraudshield_pipeline.resources.registry import CHAMPION

        registry = resources["registry"]
        version = registry.version_for_alias(alias or CHAMPION)
        if version is None:
            raise LookupError(f"no model version has the alias {alias or CHAMPION!r} in {registry.model_name}")
        return cls(resources["feature_store"], registry.load_booster(version.version), version.version)

    def _state(self, transaction: Mapping[str, object]) -> tuple[CustomerState, MerchantState]:
        from fraudshield_pipeline.feature_repo import (
            CUSTOMER_STATE,
            MERCHANT_STATE,
            STORE_ID,
            STORE_KEY,
            STORE_STATUS,
            online_refs,
        )

        row = {s.CUSTOMER_ID: transaction[s.CUSTOMER_ID], s.MERCHANT_ID: transaction[s.MERCHANT_ID], STORE_KEY: STORE_ID}
        values = {k: v[0] for k, v in self.feature_store.online_features([row], online_refs(), full_names=True).items()}
        labels_as_of = values.get(f"{STORE_STATUS}__{LABELS_AS_OF_US}")
        if labels_as_of is None:
            raise StaleOnlineState("the online store has no status row: online_features was never materialized into it")
        customer = CustomerState.from_row(
            {name: values.get(f"{CUSTOMER_STATE}__{name}") for name in (EVENT_US, AMOUNTS, MERCHANTS)}
        )
        merchant_row = {name: values.get(f"{MERCHANT_STATE}__{name}") for name in (EVENT_US, FRAUD_EVENT_US, LABELS_AS_OF_US)}
        # A merchant with no recent events has no row; its labels are as fresh as the store's.
        merchant = MerchantState.from_row(merchant_row, int(labels_as_of))
        return customer, merchant

    def features(self, transaction: Mapping[str, object]) -> dict[str, object]:
        """The transaction's features at its own event time, from the online state."""
        return features_at(transaction, *self._state(transaction))

    def score(self, transaction: Mapping[str, object]) -> Decision:
        from fraudshield_pipeline.domain.train import model_vector

        features = self.features(transaction)
        score = float(self.booster.inplace_predict(model_vector(features, self.feature_names, self.categories))[0])
        return Decision(
            str(transaction[s.TRANSACTION_ID]), score, score >= self.threshold, self.threshold, self.model_version, features
        )

    def record(self, transaction: Mapping[str, object]) -> None:
        """Adds the transaction to its card's and merchant's online state."""
        from fraudshield_pipeline.feature_repo import CUSTOMER_STATE, MERCHANT_STATE

        customer, merchant = self._state(transaction)
        t = to_us(transaction[s.EVENT_TIMESTAMP])
        at = pd.Timestamp(t * 1000, tz="UTC")
        customer = customer.observe(t, float(transaction[s.AMOUNT]), str(transaction[s.MERCHANT_ID]))
        merchant = merchant.observe(t)
        self.feature_store.write_online(
            CUSTOMER_STATE, pd.DataFrame([{s.CUSTOMER_ID: transaction[s.CUSTOMER_ID], s.EVENT_TIMESTAMP: at, **customer.to_row()}])
        )
        self.feature_store.write_online(
            MERCHANT_STATE, pd.DataFrame([{s.MERCHANT_ID: transaction[s.MERCHANT_ID], s.EVENT_TIMESTAMP: at, **merchant.to_row()}])
        )
