"""The field's evaluation protocol, by hand: known-compromised cards by report date, scenarios, money."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.evaluate import WindowWithoutFraudError, require_frauds, score_frame
from fraudshield_pipeline.domain.metrics import card_precision_at_k, first_fraud_reports, known_compromised_mask
from fraudshield_pipeline.domain.protocol import (
    TOO_SMALL,
    judge_slices,
    protocol_metrics,
    scenario_metrics,
    value_at_daily_budget,
)


def scored(rows) -> pd.DataFrame:
    """rows: (card, timestamp, is_fraud, score[, amount[, scenario]])."""
    rows = [(*r, *([None] * (6 - len(r)))) for r in rows]
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: [r[0] for r in rows],
            s.EVENT_TIMESTAMP: pd.to_datetime([r[1] for r in rows], utc=True, format="ISO8601"),
            s.IS_FRAUD: [r[2] for r in rows],
            "score": [r[3] for r in rows],
            s.AMOUNT: [10.0 if r[4] is None else r[4] for r in rows],
            s.FRAUD_SCENARIO: [r[5] for r in rows],
        }
    )


def reports(pairs) -> pd.DataFrame:
    return pd.DataFrame({s.CUSTOMER_ID: [p[0] for p in pairs], s.REPORTED_AT: pd.to_datetime([p[1] for p in pairs], utc=True)})


# --- card precision@k with known-compromised cards removed by report date -----------------------


def two_days() -> pd.DataFrame:
    return scored(
        [
            # day 1: a .9 fraud, b .8 genuine, c .7 fraud
            ("a", "2026-10-01T01:00", 1, 0.9),
            ("b", "2026-10-01T02:00", 0, 0.8),
            ("c", "2026-10-01T03:00", 1, 0.7),
            # day 2: c .9 fraud, d .5 fraud, b .4 genuine
            ("c", "2026-10-02T01:00", 1, 0.9),
            ("d", "2026-10-02T02:00", 1, 0.5),
            ("b", "2026-10-02T03:00", 0, 0.4),
        ]
    )


def test_card_reported_before_the_test_day_never_counts():
    # a's fraud (from the train period) was reported on 2026-09-20: a is blocked, never ranked.
    # day 1 without a: b .8 (genuine), c .7 (fraud) -> top 1 = b -> 0/1
    # day 2: c .9 (fraud) -> 1/1   => mean 0.5 (1.0 on day 1 if a counted)
    frame = two_days()
    assert card_precision_at_k(frame, k=1, first_reports=reports([("a", "2026-09-20")])) == pytest.approx(0.5)
    assert card_precision_at_k(frame, k=1) == pytest.approx((1.0 + 1.0) / 2)


def test_card_reported_during_the_test_day_counts_from_the_next_day_on():
    # c reported at 12:00 on day 1: it still counts on day 1, and is dropped on day 2.
    # k=2, day 1: a, b -> 1/2; day 2 without c (and without a, caught on day 1): d .5 fraud, b .4 -> 1/2
    frame = two_days()
    got = card_precision_at_k(frame, k=2, first_reports=reports([("c", "2026-10-01T12:00")]))
    assert got == pytest.approx((1 / 2 + 1 / 2) / 2)
    # reported exactly at the start of day 2 is "during" day 2: still ranked on day 2 (c .9 fraud, d .5 fraud -> 2/2)
    at_midnight = card_precision_at_k(frame, k=2, first_reports=reports([("c", "2026-10-02T00:00")]))
    assert at_midnight == pytest.approx((1 / 2 + 2 / 2) / 2)


def test_first_fraud_reports_takes_the_earliest_fraud_report_per_card():
    labels = pd.DataFrame(
        {
            s.TRANSACTION_ID: ["t1", "t2", "t3", "t4"],
            s.IS_FRAUD: [1, 1, 0, 1],
            s.REPORTED_AT: pd.to_datetime(["2026-09-10", "2026-09-05", "2026-09-01", "2026-09-07"], utc=True),
        }
    )
    transactions = pd.DataFrame({s.TRANSACTION_ID: ["t1", "t2", "t3", "t5"], s.CUSTOMER_ID: ["a", "a", "b", "c"]})
    got = first_fraud_reports(labels, transactions)
    # a: earliest of its two frauds; b: only a genuine label; t4's card unknown
    assert got[s.CUSTOMER_ID].tolist() == ["a"]
    assert got[s.REPORTED_AT].iloc[0] == pd.Timestamp("2026-09-05")


def test_known_compromised_mask_uses_the_day_of_each_row():
    frame = two_days()
    mask = known_compromised_mask(frame, reports([("c", "2026-10-01T12:00")]))
    assert mask.tolist() == [False, False, False, True, False, False]


# --- the two test sets --------------------------------------------------------------------------


def test_protocol_metrics_label_both_sets():
    frame = two_days()
    got = protocol_metrics(frame, reports([("c", "2026-10-01T12:00")]), threshold=0.6, daily_budget=1, k=1)
    assert got["all_n_transactions"] == 6 and got["n_transactions"] == 5 and got["n_known_compromised_removed"] == 1
    # protocol set: a .9 1, b .8 0, c .7 1, d .5 1, b .4 0 -> AP = (1 + 2/3 + 3/4) / 3
    assert got["average_precision"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    # all rows: c .9 1, a .9 1 (tie), b .8 0, c .7 1, d .5 1, b .4 0 -> AP = (2/2*2 + 3/4 + 4/5) / 4
    assert got["all_average_precision"] == pytest.approx((1 + 1 + 3 / 4 + 4 / 5) / 4)
    # CP@1: day 1 a -> 1; day 2 without c (reported) and a: d .5 -> 1
    assert got["card_precision_at_1"] == pytest.approx(1.0)


def test_value_at_daily_budget_by_hand():
    frame = scored(
        [
            ("a", "2026-10-01T01:00", 1, 0.9, 100.0),
            ("b", "2026-10-01T02:00", 1, 0.1, 300.0),
            ("c", "2026-10-01T03:00", 0, 0.8, 999.0),
            ("d", "2026-10-02T01:00", 1, 0.7, 50.0),
        ]
    )
    # budget 1: day 1 alerts a (100 caught), day 2 alerts d (50 caught); b's 300 missed
    got = value_at_daily_budget(frame, 1)
    assert got == {"fraud_value_caught": 150.0, "fraud_value_missed": 300.0, "fraud_value_caught_share": pytest.approx(150 / 450)}
    assert math.isnan(value_at_daily_budget(frame.assign(**{s.IS_FRAUD: 0}), 1)["fraud_value_caught_share"])


# --- scenarios and the "too small to judge" rule ------------------------------------------------


def test_scenario_metrics_by_hand():
    frame = scored(
        [
            ("a", "2026-10-01T01:00", 1, 0.9, 10.0, "card_testing"),
            ("b", "2026-10-01T02:00", 1, 0.2, 20.0, "card_testing"),
            ("c", "2026-10-01T03:00", 0, 0.8, 10.0, None),
            ("d", "2026-10-01T04:00", 1, 0.6, 30.0, "account_takeover"),
        ]
    )
    # budget 2 per day: alerts a (.9), c (.8); threshold .5: a, d
    got = scenario_metrics(frame, threshold=0.5, budget=2, min_frauds=2).set_index("scenario")
    assert got.loc["card_testing", ["n_fraud", "fraud_value", "recall_at_budget", "recall_at_threshold"]].tolist() == [2, 30.0, 0.5, 0.5]
    assert got.loc["account_takeover", ["n_fraud", "recall_at_budget", "recall_at_threshold"]].tolist() == [1, 0.0, 1.0]
    assert got.loc["card_testing", "status"] == "judged" and got.loc["account_takeover", "status"] == TOO_SMALL


def test_judge_slices_needs_both_frauds_and_genuine_rows():
    slices = pd.DataFrame({"slice": ["c"] * 3, "value": ["x", "y", "z"], "n": [130, 50, 300], "n_fraud": [30, 30, 10]})
    got = judge_slices(slices, min_frauds=20, min_genuine=100)
    assert got["n_genuine"].tolist() == [100, 20, 290]
    assert got["status"].tolist() == ["judged", TOO_SMALL, TOO_SMALL]


def test_score_frame_keeps_scenarios_out_of_attribute_slices():
    frame = two_days().assign(**{s.FRAUD_SCENARIO: ["x", None, "x", "x", "y", None]})
    card = score_frame("v1", frame, threshold=0.5, daily_budget=1, k=1).scorecard
    assert s.FRAUD_SCENARIO not in set(card.slices["slice"])
    assert set(card.scenarios["scenario"]) == {"x", "y"} and (card.scenarios["status"] == TOO_SMALL).all()


# --- a mis-set window fails with what to change --------------------------------------------------


def test_immature_test_labels_fail_naming_the_window_and_the_fix():
    frame = two_days().assign(split=["train", "train", "validation", "test", "test", "test"])
    frame.loc[frame["split"] == "test", s.IS_FRAUD] = 0
    window = {"test_start": "2026-10-02T00:00:00+00:00", "test_end": "2026-10-03T00:00:00+00:00", "as_of": "2026-10-03T00:00:00+00:00"}
    with pytest.raises(WindowWithoutFraudError) as error:
        require_frauds(frame, "split", window)
    message = str(error.value)
    assert "test window (2026-10-02T00:00:00+00:00 to 2026-10-03" in message
    assert "reported after as_of" in message and "maturity_days" in message


def test_the_maturity_advice_names_the_portfolios_own_delay_never_the_demos():
    """A feed whose frauds are reported after 14 days is told 14, not the demo feed's 7."""
    frame = two_days().assign(split=["train", "train", "validation", "test", "test", "test"])
    frame.loc[frame["split"] == "test", s.IS_FRAUD] = 0
    window = {"test_start": "2026-09-27T00:00:00+00:00", "test_end": "2026-10-04T00:00:00+00:00", "as_of": "2026-10-11T00:00:00+00:00"}
    with pytest.raises(WindowWithoutFraudError) as slow_feed:
        require_frauds(frame, "split", window, suggested_maturity_days=14)
    assert "raise training_set's maturity_days to 14 (now 7)" in str(slow_feed.value)
    with pytest.raises(WindowWithoutFraudError) as unknown_delay:
        require_frauds(frame, "split", window)
    with pytest.raises(WindowWithoutFraudError) as already_enough:
        require_frauds(frame, "split", window, suggested_maturity_days=3)
    assert "maturity_days is already 7" in str(already_enough.value) and "validated_labels" in str(already_enough.value)
    for error in (slow_feed, unknown_delay, already_enough):
        assert "demo feed" not in str(error.value) and "7 days" not in str(error.value)


def test_train_window_without_fraud_fails_too():
    frame = two_days().assign(split=["train", "train", "train", "test", "test", "test"])
    frame.loc[frame["split"] == "train", s.IS_FRAUD] = 0
    with pytest.raises(WindowWithoutFraudError, match="the train window .* 0 frauds.*train_days"):
        require_frauds(frame, "split")
    require_frauds(two_days().assign(split=["train"] * 3 + ["test"] * 3), "split")  # both have fraud: no error
