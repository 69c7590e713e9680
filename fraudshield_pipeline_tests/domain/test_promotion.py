from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema
from fraudshield_pipeline.domain.promotion import (
    PromotionDecision,
    PromotionPolicy,
    Scorecard,
    decide_promotion,
)

NAN = float("nan")


def slices(rows: list[tuple[str, object, int, float]]) -> pd.DataFrame:
    """rows: (slice, value, n_fraud, average_precision), in the slice_metrics() layout."""
    return pd.DataFrame(
        {
            "slice": [r[0] for r in rows],
            "value": [r[1] for r in rows],
            "n": [1000] * len(rows),
            "n_fraud": [r[2] for r in rows],
            "roc_auc": [0.9] * len(rows),
            "average_precision": [r[3] for r in rows],
            "recall_at_threshold": [0.5] * len(rows),
        }
    )


def card(version: str, ap: float, slice_rows=None) -> Scorecard:
    return Scorecard(
        model_version=version,
        metrics={"average_precision": ap, "roc_auc": 0.9},
        slices=None if slice_rows is None else slices(slice_rows),
    )


ONLINE_OK = (schema.CHANNEL, "online", 50, 0.62)

HEALTHY_SLICES = [
    (schema.CHANNEL, "online", 50, 0.60),
    (schema.CHANNEL, "card_present", 40, 0.40),
]


@pytest.mark.parametrize(
    ("challenger", "champion", "promote", "expected_reason"),
    [
        pytest.param(
            card("v2", 0.50), card("v1", 0.45), True, "average_precision 0.500 >= floor 0.300",
            id="better-promoted",
        ),
        pytest.param(
            card("v2", 0.40), card("v1", 0.45), False, "regression beyond tolerance",
            id="worse-refused",
        ),
        pytest.param(
            card("v2", 0.445), card("v1", 0.45), True, "delta -0.005, max regression 0.010",
            id="within-tolerance-promoted",
        ),
        pytest.param(
            card("v2", 0.44), card("v1", 0.45), True, "delta -0.010",
            id="exactly-at-tolerance-promoted",
        ),
        pytest.param(
            card("v2", 0.25), card("v1", 0.20), False, "average_precision 0.250 < floor 0.300",
            id="floor-refused-even-if-better",
        ),
        pytest.param(
            card("v2", 0.35), None, True, "no champion", id="no-champion-promoted",
        ),
        pytest.param(
            card("v2", 0.10), None, False, "0.100 < floor 0.300", id="no-champion-floor-refused",
        ),
        pytest.param(
            card("v2", NAN), card("v1", 0.45), False, "missing or NaN", id="nan-refused",
        ),
        pytest.param(
            card("v2", NAN), None, False, "missing or NaN", id="nan-no-champion-refused",
        ),
        pytest.param(
            Scorecard("v2", {"roc_auc": 0.9}), None, False, "missing or NaN",
            id="metric-absent-refused",
        ),
        pytest.param(
            card("v2", 0.50), card("v1", NAN), True, "regression check not applicable",
            id="nan-champion-not-a-blocker",
        ),
        pytest.param(
            card("v2", 0.50, [ONLINE_OK, (schema.CHANNEL, "card_present", 40, 0.10)]),
            card("v1", 0.45, HEALTHY_SLICES),
            False,
            "slice channel=card_present collapsed: average_precision 0.100 < 0.50 x champion 0.400",
            id="slice-collapse-refused",
        ),
        pytest.param(
            card("v2", 0.50, [ONLINE_OK, (schema.CHANNEL, "card_present", 40, 0.21)]),
            card("v1", 0.45, HEALTHY_SLICES),
            True,
            "2 key slices",
            id="slice-drop-within-ratio-promoted",
        ),
        pytest.param(
            card("v2", 0.50, [ONLINE_OK, (schema.CHANNEL, "card_present", 19, 0.01)]),
            card("v1", 0.45, [ONLINE_OK, (schema.CHANNEL, "card_present", 19, 0.40)]),
            True,
            "1 key slices",
            id="slice-collapse-below-support-ignored",
        ),
        pytest.param(
            card("v2", 0.50, [ONLINE_OK, (schema.COUNTRY, "NL", 40, 0.01)]),
            card("v1", 0.45, [ONLINE_OK, (schema.COUNTRY, "DE", 40, 0.40)]),
            True,
            "1 key slices",
            id="slice-only-in-one-scorecard-ignored",
        ),
        pytest.param(
            card("v2", 0.50, HEALTHY_SLICES),
            card("v1", 0.45),
            True,
            "no slice metrics for champion",
            id="champion-without-slices",
        ),
    ],
)
def test_decide_promotion(challenger, champion, promote, expected_reason):
    decision = decide_promotion(challenger, champion)
    assert decision.promote is promote, decision.reasons
    assert any(expected_reason in r for r in decision.reasons), decision.reasons
    assert decision.main_metric == "average_precision"
    if promote:
        assert not any(r.startswith("FAIL") for r in decision.reasons)
    else:
        assert any(r.startswith("FAIL") for r in decision.reasons)


def test_every_rule_reported_when_promoted():
    decision = decide_promotion(
        card("v2", 0.412, HEALTHY_SLICES), card("v1", 0.40, HEALTHY_SLICES)
    )
    assert decision.promote
    assert decision.reasons == (
        "PASS: average_precision 0.412 >= floor 0.300",
        "PASS: average_precision 0.412 vs champion v1 0.400 (delta +0.012, max regression 0.010)",
        "PASS: 2 key slices (>= 20 fraud cases, in both) checked, "
        "none has average_precision < 0.50 x champion's",
        "SKIP: scenario check: no fraud scenarios recorded",
    )
    assert (decision.challenger_value, decision.champion_value) == (0.412, 0.40)


def test_every_failure_reported():
    decision = decide_promotion(
        card("v2", 0.20, [(schema.CHANNEL, "online", 50, 0.1)]),
        card("v1", 0.45, HEALTHY_SLICES),
    )
    failures = [r for r in decision.reasons if r.startswith("FAIL")]
    assert len(failures) == 3  # floor, regression, slice
    assert "slice channel=online collapsed" in failures[2]


def test_policy_changes_the_outcome():
    challenger, champion = card("v2", 0.40), card("v1", 0.45)
    assert not decide_promotion(challenger, champion).promote
    lenient = PromotionPolicy(max_regression=0.06)
    assert decide_promotion(challenger, champion, lenient).promote
    strict_floor = PromotionPolicy(absolute_floor=0.5)
    assert not decide_promotion(card("v2", 0.49), None, strict_floor).promote


def test_policy_main_metric_and_slice_metric():
    policy = PromotionPolicy(main_metric="roc_auc", slice_metric="roc_auc", absolute_floor=0.8)
    challenger = Scorecard("v2", {"roc_auc": 0.91, "average_precision": 0.01})
    decision = decide_promotion(challenger, Scorecard("v1", {"roc_auc": 0.90}), policy)
    assert decision.promote and decision.main_metric == "roc_auc"
    assert "roc_auc 0.910 >= floor 0.800" in decision.reasons[0]


def test_nan_slice_values_are_not_key_slices():
    challenger = card("v2", 0.50, [(schema.CHANNEL, "online", 50, NAN)])
    champion = card("v1", 0.45, [(schema.CHANNEL, "online", 50, 0.6)])
    decision = decide_promotion(challenger, champion)
    assert decision.promote
    assert any("0 key slices" in r for r in decision.reasons)


def test_invalid_policy():
    with pytest.raises(ValueError):
        PromotionPolicy(max_regression=-0.1)
    with pytest.raises(ValueError):
        PromotionPolicy(slice_collapse_ratio=1.5)


def test_to_dict_is_json_safe():
    decision = decide_promotion(card("v2", NAN), card("v1", 0.45))
    payload = decision.to_dict()
    assert payload["promote"] is False
    assert payload["challenger_value"] is None
    assert payload["champion_value"] == 0.45
    assert isinstance(payload["reasons"], list)
    json.dumps(payload, allow_nan=False)
    assert math.isnan(decision.challenger_value)


def test_decision_is_frozen():
    decision = PromotionDecision(True, ("ok",), "average_precision", 0.5, None)
    with pytest.raises(AttributeError):
        decision.promote = False  # type: ignore[misc]
