"""Valid but unusual user data after ingestion: each case here once crashed or gave wrong numbers."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import build_features
from fraudshield_pipeline.domain.online import CustomerState, MerchantState, features_at, to_us
from fraudshield_pipeline.domain.triggers import (
    PerformanceObservation,
    ShadowComparison,
    performance_trigger,
    rollback_trigger,
)

NAN = float("nan")
T0 = pd.Timestamp("2026-09-10 12:00", tz="UTC")


def _transactions(amounts):
    frame = pd.DataFrame(
        {
            s.TRANSACTION_ID: [f"t{i}" for i in range(len(amounts))],
            s.CUSTOMER_ID: "C1",
            s.MERCHANT_ID: "M1",
            s.EVENT_TIMESTAMP: [T0 + pd.Timedelta(minutes=i) for i in range(len(amounts))],
            s.AMOUNT: amounts,
        }
    )
    frame[s.EVENT_TIMESTAMP] = frame[s.EVENT_TIMESTAMP].astype("datetime64[us, UTC]")
    return frame


def _no_labels():
    frame = pd.DataFrame({s.TRANSACTION_ID: pd.Series([], dtype=object), s.IS_FRAUD: pd.Series([], dtype="int8")})
    frame[s.REPORTED_AT] = pd.Series([], dtype="datetime64[us, UTC]")
    frame[s.FRAUD_SCENARIO] = pd.Series([], dtype=object)
    return frame


@pytest.mark.parametrize("amount", [9.99, 0.1, 1234.56])
def test_a_subscription_card_gets_the_same_amount_zscore_online_and_offline(amount):
    """Every charge of a subscription is the same amount: no spread, so no z-score in either path.

    numpy's two-pass std of ten 9.99s is 1.9e-15, not 0, and served a z-score of 0.95 where
    training (DuckDB) had NaN: the model scored a value it never saw.
    """
    transactions = _transactions([amount] * 11)
    start = T0.floor("D").to_pydatetime()
    offline = build_features(transactions, _no_labels(), start, start + dt.timedelta(days=1)).set_index(s.TRANSACTION_ID)
    customer = CustomerState.empty()
    for row in transactions.iloc[:-1].to_dict("records"):
        customer = customer.observe(to_us(row[s.EVENT_TIMESTAMP]), row[s.AMOUNT], row[s.MERCHANT_ID])
    served = transactions.iloc[-1].to_dict()
    online = features_at(served, customer, MerchantState.empty(to_us(start)))
    assert np.isnan(offline.loc[served[s.TRANSACTION_ID], "customer_amount_zscore_30d"])
    assert np.isnan(online["customer_amount_zscore_30d"])


def test_a_matured_day_without_fraud_does_not_hide_a_collapse_from_the_floor_trigger():
    """A low-fraud portfolio has days with no reported fraud (AP undefined): the floor trigger judges
    the measured days, as the CUSUM trigger does, instead of averaging a NaN that no floor catches."""
    days = [(0.05, 0.1), (NAN, NAN), (0.05, 0.1), (0.04, 0.1)]
    observations = [PerformanceObservation(f"2026-01-0{i}", ap, recall) for i, (ap, recall) in enumerate(days, 1)]
    decision = performance_trigger(observations, min_average_precision=0.3, min_recall_at_budget=0.4, window=3)
    assert decision.fire, decision.reason
    assert "nan" not in decision.reason


def test_the_floor_trigger_waits_while_too_few_days_are_measured():
    observations = [PerformanceObservation(f"2026-01-0{i}", NAN, NAN) for i in range(1, 5)]
    decision = performance_trigger(observations, window=3)
    assert not decision.fire and "0 matured day(s)" in decision.reason


def test_a_shadow_day_without_fraud_neither_crashes_nor_hides_a_worse_champion():
    """A shadow day with no fraud has no AP or recall: it is skipped, not fed to stdev (which raised
    a bare AttributeError on the NaN) or to the CUSUM (where NaN never crosses the limit)."""
    worse = (0.1, 0.8, 0.1, 0.8)
    rows = [worse, (NAN, NAN, NAN, NAN), worse, worse, worse]
    days = [ShadowComparison(f"2026-01-0{i}", *row) for i, row in enumerate(rows, 1)]
    decision = rollback_trigger(days, k=0.5, h=4.0)
    assert decision.fire, decision.reason
    assert "nan" not in decision.reason


def test_shadow_days_all_without_fraud_wait_for_evidence():
    days = [ShadowComparison(f"2026-01-0{i}", NAN, NAN, NAN, NAN) for i in range(1, 5)]
    decision = rollback_trigger(days, k=0.5, h=4.0)
    assert not decision.fire and "0 shadow day(s)" in decision.reason


def _drift_day(rng, n, day, scale=1.0):
    return pd.DataFrame(
        {
            s.EVENT_TIMESTAMP: pd.Timestamp(day, tz="UTC") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
            "amount": rng.lognormal(3, 1, n) * scale,
            "x": rng.normal(size=n),
            "score": rng.beta(1, 20, n) * scale,
        }
    )


@pytest.mark.filterwarnings("ignore")
def test_a_small_portfolios_drift_scores_grow_with_drift():
    """A reference of at most 1000 rows (30 transactions a day) gets Evidently's p-value tests, whose
    score falls with drift: calibration and `beyond_calibration` compare upward, so a tenfold amount
    shift never counted as key-feature drift, and the score's drift compared below its threshold."""
    from fraudshield_pipeline.domain.drift import beyond_calibration, calibrate_drift, compute_drift

    rng = np.random.default_rng(1)
    first = pd.Timestamp("2026-01-01")
    reference = pd.concat([_drift_day(rng, 30, first + pd.Timedelta(days=d)) for d in range(30)], ignore_index=True)
    calibration = calibrate_drift(reference, s.EVENT_TIMESTAMP, ["amount", "x"], [], [], 0.05, 14)
    stable, _ = compute_drift(reference, _drift_day(rng, 30, "2026-02-05"), ["amount", "x"], [], with_html=False)
    drifted, _ = compute_drift(reference, _drift_day(rng, 30, "2026-02-05", 10.0), ["amount", "x"], [], with_html=False)
    amount = {c.column: c for c in drifted.columns}["amount"]
    assert amount.drifted and amount.score >= amount.threshold
    assert beyond_calibration(drifted, calibration) == ["amount"]
    assert drifted.prediction.score > max(stable.prediction.score, calibration.prediction_threshold)


def test_a_test_week_whose_frauds_are_all_on_a_known_compromised_card_is_refused_with_the_reason():
    """Every fraud of the week on one card already reported before the week (a card that keeps being
    used): the protocol set removes them all and its AP is NaN. The gate refuses, and says why."""
    from fraudshield_pipeline.domain.evaluate import score_frame
    from fraudshield_pipeline.domain.metrics import first_fraud_reports
    from fraudshield_pipeline.domain.promotion import decide_promotion

    rng = np.random.default_rng(0)
    n = 500
    rows = pd.DataFrame(
        {
            s.TRANSACTION_ID: [f"t{i}" for i in range(n)],
            s.CUSTOMER_ID: [f"C{i % 50}" for i in range(n)],
            s.EVENT_TIMESTAMP: pd.Timestamp("2026-03-02", tz="UTC") + pd.to_timedelta(rng.integers(0, 7 * 86400, n), unit="s"),
            s.AMOUNT: 10.0,
            "score": rng.random(n),
        }
    )
    rows[s.IS_FRAUD] = (rows[s.CUSTOMER_ID] == "C7").astype(int)
    earlier = pd.DataFrame({s.TRANSACTION_ID: ["old"], s.IS_FRAUD: [1], s.REPORTED_AT: [pd.Timestamp("2026-02-20", tz="UTC")]})
    reports = first_fraud_reports(earlier, pd.DataFrame({s.TRANSACTION_ID: ["old"], s.CUSTOMER_ID: ["C7"]}))
    scorecard = score_frame("v2", rows, 0.5, first_reports=reports).scorecard
    assert scorecard.metrics["all_n_fraud"] == 10 and np.isnan(scorecard.metrics["average_precision"])
    decision = decide_promotion(scorecard, None)
    assert not decision.promote
    assert "all on cards reported compromised before their day" in decision.reasons[0]
    assert "test_days" in decision.reasons[0]


def test_a_search_whose_validation_days_hold_no_fraud_says_which_part_and_what_to_change():
    """Frauds only on the first days of the window (a one-off attack): the validation part has none.
    The search said only "fit or validation part"; it now names the part, its span and the remedy,
    as the fit does."""
    from fraudshield_pipeline.domain.tuning import search_params
    from fraudshield_pipeline_tests.domain.test_train import COMPUTE, window

    rows = window()
    late = rows[s.EVENT_TIMESTAMP] >= rows[s.EVENT_TIMESTAMP].min() + (rows[s.EVENT_TIMESTAMP].max() - rows[s.EVENT_TIMESTAMP].min()) * 0.5
    rows.loc[late, s.IS_FRAUD] = 0
    with pytest.raises(ValueError, match="cannot search: the train window's validation part .* widen the train window"):
        search_params(rows, ["x1", "x2", "noise"], COMPUTE, trials=1)
