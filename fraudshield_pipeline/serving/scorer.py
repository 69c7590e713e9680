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
    LABELS_AS_OF_US,
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
    # Top feature contributions (name, value, contribution) when flagged; empty otherwise
    # (approximate split unless the scorer was built with exact_reasons: see domain.reasons).
    reasons: tuple[dict[str, object], ...] = ()


class FraudScorer:
    """Holds the champion booster and a Feast store; safe to reuse across requests."""

    def __init__(self, feature_store, booster, model_version: str, exact_reasons: bool = False):
        from fraudshield_pipeline.domain.train import model_contract

        self.feature_store = feature_store
        self.booster = booster
        # One row per call: a thread pool only adds wake-up latency (tens of ms on a busy host).
        self.booster.set_param({"nthread": 1})
        self.model_version = model_version
        self.exact_reasons = exact_reasons
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
        from fraudshield_pipeline.feature_repo import CUSTOMER_STATE, MERCHANT_STATE, STORE_ID, STORE_STATUS

        customer_row, merchant_row, status = self.feature_store.online_rows(
            [(CUSTOMER_STATE, transaction[s.CUSTOMER_ID]), (MERCHANT_STATE, transaction[s.MERCHANT_ID]), (STORE_STATUS, STORE_ID)]
        )
        labels_as_of = (status or {}).get(LABELS_AS_OF_US)
        if labels_as_of is None:
            raise StaleOnlineState("the online store has no status row: online_features was never materialized into it")
        customer = CustomerState.from_row(customer_row or {})
        # A merchant with no recent events has no row; its labels are as fresh as the store's.
        merchant = MerchantState.from_row(merchant_row or {}, int(labels_as_of))
        return customer, merchant

    @staticmethod
    def check(transaction: Mapping[str, object]) -> None:
        """Raises `KeyError`/`ValueError`/`TypeError` for a transaction `score` and `record` would
        refuse (ids missing, a time that is no time, an amount that is no number), before either
        touches the store."""
        for column in (s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID):
            if transaction[column] is None:
                raise ValueError(f"{column} is missing")
        to_us(transaction[s.EVENT_TIMESTAMP])
        float(transaction[s.AMOUNT])

    def features(self, transaction: Mapping[str, object]) -> dict[str, object]:
        """The transaction's features at its own event time, from the online state."""
        return features_at(transaction, *self._state(transaction))

    def score(self, transaction: Mapping[str, object]) -> Decision:
        return self.decide(transaction, self.features(transaction))

    def decide(self, transaction: Mapping[str, object], features: Mapping[str, object]) -> Decision:
        """Score already-evaluated features; an alert also gets its reason codes."""
        from fraudshield_pipeline.domain.reasons import top_reasons, vector_contributions
        from fraudshield_pipeline.domain.train import model_vector

        vector = model_vector(features, self.feature_names, self.categories)
        score = float(self.booster.inplace_predict(vector)[0])
        flagged = score >= self.threshold
        reasons = ()
        if flagged:
            contribs = vector_contributions(self.booster, vector, self.feature_names, self.categories, approximate=not self.exact_reasons)[0]
            reasons = tuple(top_reasons(contribs, self.feature_names, features))
        return Decision(
            str(transaction[s.TRANSACTION_ID]), score, flagged, self.threshold, self.model_version, dict(features), reasons
        )

    def record(self, transaction: Mapping[str, object]) -> None:
        """Adds the transaction to its card's and merchant's online state.

        Read, append and write happen under the store's lock for this card and merchant
        (`FeastFeatureStore.state_lock`): two transactions of one card recorded at the same
        moment, from two threads or two serving processes, both land in the state.
        """
        keys = _state_keys(transaction)
        with self.feature_store.state_lock(keys):
            self._advance(transaction, keys, *self._state(transaction))

    def score_and_record(self, transaction: Mapping[str, object]) -> tuple[Decision, Exception | None]:
        """`score`, then `record`, reading the state once, under the lock `record` takes anyway.

        What a service does with every transaction: one read of the store instead of two (a
        quarter of a request's time on sqlite). A failed write does not undo the decision: the
        error comes back beside it (the state misses this one event; the caller counts it).
        """
        keys = _state_keys(transaction)
        with self.feature_store.state_lock(keys):
            customer, merchant = self._state(transaction)
            decision = self.decide(transaction, features_at(transaction, customer, merchant))
            try:
                self._advance(transaction, keys, customer, merchant)
            except Exception as error:  # noqa: BLE001 (handed to the caller, never swallowed)
                return decision, error
        return decision, None

    def _advance(self, transaction, keys, customer: CustomerState, merchant: MerchantState) -> None:
        from fraudshield_pipeline.feature_repo import CUSTOMER_STATE, MERCHANT_STATE

        t = to_us(transaction[s.EVENT_TIMESTAMP])
        at = pd.Timestamp(t * 1000, tz="UTC").to_pydatetime()
        customer = customer.observe(t, float(transaction[s.AMOUNT]), str(transaction[s.MERCHANT_ID]))
        self.feature_store.write_entity(CUSTOMER_STATE, keys[0][1], customer.to_row(), at)
        self.feature_store.write_entity(MERCHANT_STATE, keys[1][1], merchant.observe(t).to_row(), at)


def _state_keys(transaction: Mapping[str, object]) -> list[tuple[str, str]]:
    from fraudshield_pipeline.feature_repo import CUSTOMER_STATE, MERCHANT_STATE

    return [(CUSTOMER_STATE, str(transaction[s.CUSTOMER_ID])), (MERCHANT_STATE, str(transaction[s.MERCHANT_ID]))]
