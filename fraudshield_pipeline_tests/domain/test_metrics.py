from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from fraudshield_pipeline.domain import schema
from fraudshield_pipeline.domain.metrics import (
    SCORE,
    card_precision_at_k,
    evaluate_scores,
    optimal_threshold,
    recall_at_daily_budget,
    threshold_metrics,
)
from fraudshield_pipeline.domain.slices import AMOUNT_BANDS, SLICE_COLUMNS, amount_band, slice_metrics

METRIC_KEYS = {
    "roc_auc",
    "average_precision",
    "precision",
    "recall",
    "f1",
    "recall_at_budget",
    "card_precision_at_100",
    "brier",
    "n_transactions",
    "n_fraud",
    "fraud_rate",
}


def scored(rows: list[tuple[str, str, int, float]], **extra: list) -> pd.DataFrame:
    """rows: (card, UTC timestamp, is_fraud, score)."""
    frame = pd.DataFrame(
        {
            schema.CUSTOMER_ID: [r[0] for r in rows],
            schema.EVENT_TIMESTAMP: pd.to_datetime([r[1] for r in rows]),
            schema.IS_FRAUD: [r[2] for r in rows],
            SCORE: [r[3] for r in rows],
        }
    )
    for column, values in extra.items():
        frame[column] = values
    return frame


def random_scored(n: int = 2000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    score = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0.0, 1.0)
    start = pd.Timestamp("2024-03-01")
    return pd.DataFrame(
        {
            schema.CUSTOMER_ID: rng.integers(0, 300, n),
            schema.EVENT_TIMESTAMP: start + pd.to_timedelta(rng.integers(0, 10 * 86400, n), "s"),
            schema.IS_FRAUD: y,
            SCORE: score,
            schema.AMOUNT: rng.lognormal(3.5, 1.2, n),
            schema.CHANNEL: rng.choice(list(schema.CHANNELS), n),
        }
    )


# --- threshold_metrics -----------------------------------------------------------------------


def test_threshold_metrics_by_hand():
    y = [1, 1, 0, 0, 1]
    s = [0.9, 0.4, 0.6, 0.1, 0.7]
    # alerts (>= 0.5): rows 0, 2, 4 -> tp 2, fp 1, fn 1
    got = threshold_metrics(y, s, 0.5)
    assert got == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})


def test_threshold_is_inclusive():
    got = threshold_metrics([1, 0], [0.5, 0.49], 0.5)
    assert got == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_threshold_metrics_zero_division_is_zero():
    assert threshold_metrics([1, 0, 1], [0.1, 0.2, 0.3], 0.9) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
    }
    # no fraud at all: precision 0 (only false alerts), recall undefined -> 0
    assert threshold_metrics([0, 0], [0.9, 0.1], 0.5) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
    }


# --- recall_at_daily_budget --------------------------------------------------------------------


def budget_frame() -> pd.DataFrame:
    return scored(
        [
            # day 1: three transactions, two fraud
            ("c1", "2024-01-01 08:00", 1, 0.9),
            ("c2", "2024-01-01 09:00", 1, 0.8),
            ("c3", "2024-01-01 23:59", 0, 0.1),
            # day 2: the highest score is genuine
            ("c4", "2024-01-02 00:00", 0, 0.3),
            ("c5", "2024-01-02 12:00", 1, 0.2),
        ]
    )


def test_recall_at_budget_one():
    # day 1 alerts c1 (fraud), day 2 alerts c4 (genuine): 1 of 3 frauds caught
    assert recall_at_daily_budget(budget_frame(), 1) == pytest.approx(1 / 3)


def test_recall_at_budget_two_and_zero():
    # day 1 alerts c1, c2; day 2 alerts both: every fraud caught
    assert recall_at_daily_budget(budget_frame(), 2) == pytest.approx(1.0)
    assert recall_at_daily_budget(budget_frame(), 0) == 0.0


def test_recall_at_budget_is_per_day_not_global():
    # a global top-2 would be c1, c2 (2/3); per day with budget 1 it is c1 and c4 (1/3)
    assert recall_at_daily_budget(budget_frame(), 1) != pytest.approx(2 / 3)


def test_recall_at_budget_uses_utc_days():
    frame = scored(
        [
            ("a", "2024-01-01 23:30", 1, 0.9),
            ("b", "2024-01-02 00:30", 1, 0.8),
        ]
    )
    # in Amsterdam both are on 2024-01-02 local time; in UTC they are on two days
    frame[schema.EVENT_TIMESTAMP] = (
        frame[schema.EVENT_TIMESTAMP].dt.tz_localize("UTC").dt.tz_convert("Europe/Amsterdam")
    )
    assert recall_at_daily_budget(frame, 1) == pytest.approx(1.0)


def test_recall_at_budget_without_fraud_is_nan():
    frame = scored([("a", "2024-01-01", 0, 0.9)])
    assert math.isnan(recall_at_daily_budget(frame, 1))


# --- card_precision_at_k -----------------------------------------------------------------------


def card_frame() -> pd.DataFrame:
    return scored(
        [
            # day 1, k=2: ranking c1 .9 (fraud), c2 .8, c3 .1 (fraud) -> top 2 = c1, c2 -> 1/2
            ("c1", "2024-01-01 01:00", 1, 0.9),
            ("c1", "2024-01-01 02:00", 0, 0.2),
            ("c2", "2024-01-01 03:00", 0, 0.8),
            ("c3", "2024-01-01 04:00", 1, 0.1),
            # day 2: c1 .95 (fraud, already known), c2 max .7 and compromised through its .3
            # transaction, c3 .6 genuine, c4 .2 fraud
            ("c1", "2024-01-02 01:00", 1, 0.95),
            ("c2", "2024-01-02 02:00", 0, 0.7),
            ("c2", "2024-01-02 03:00", 1, 0.3),
            ("c3", "2024-01-02 04:00", 0, 0.6),
            ("c4", "2024-01-02 05:00", 1, 0.2),
        ]
    )


def test_card_precision_removes_known_compromised_cards():
    # day 2 without c1: c2 (.7, compromised), c3 (.6) -> 1/2
    expected = (1 / 2 + 1 / 2) / 2
    assert card_precision_at_k(card_frame(), k=2) == pytest.approx(expected)


def test_card_precision_without_removal():
    # day 2 keeps c1: c1, c2 both compromised -> 2/2
    expected = (1 / 2 + 2 / 2) / 2
    got = card_precision_at_k(card_frame(), k=2, remove_known_compromised=False)
    assert got == pytest.approx(expected)


def test_card_precision_divides_by_k_on_small_days():
    frame = scored([("a", "2024-01-01", 1, 0.9), ("b", "2024-01-01", 0, 0.1)])
    # two cards only, one compromised: 1 / k, not 1 / 2
    assert card_precision_at_k(frame, k=3) == pytest.approx(1 / 3)


def test_card_precision_day_emptied_by_removal_counts_as_zero():
    frame = scored([("a", "2024-01-01", 1, 0.9), ("a", "2024-01-02", 1, 0.9)])
    assert card_precision_at_k(frame, k=1) == pytest.approx((1.0 + 0.0) / 2)
    assert card_precision_at_k(frame, k=1, remove_known_compromised=False) == pytest.approx(1.0)


def test_card_precision_only_true_positives_are_removed():
    # day 1: a is compromised but not in the top 1 (b is), so a is still ranked on day 2
    frame = scored(
        [
            ("a", "2024-01-01", 1, 0.2),
            ("b", "2024-01-01", 0, 0.9),
            ("a", "2024-01-02", 1, 0.9),
        ]
    )
    assert card_precision_at_k(frame, k=1) == pytest.approx((0.0 + 1.0) / 2)


# --- evaluate_scores ---------------------------------------------------------------------------


def test_evaluate_scores_matches_sklearn_on_random_data():
    frame = random_scored()
    got = evaluate_scores(frame, threshold=0.5)
    y, s = frame[schema.IS_FRAUD].to_numpy(), frame[SCORE].to_numpy()
    assert set(got) == METRIC_KEYS
    assert all(isinstance(v, float) for v in got.values())
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert got["average_precision"] == pytest.approx(average_precision_score(y, s))
    assert got["brier"] == pytest.approx(brier_score_loss(y, s))
    pred = s >= 0.5
    assert got["precision"] == pytest.approx((pred & (y == 1)).sum() / pred.sum())
    assert got["recall"] == pytest.approx((pred & (y == 1)).sum() / y.sum())
    assert got["n_transactions"] == len(frame)
    assert got["n_fraud"] == y.sum()
    assert got["fraud_rate"] == pytest.approx(y.mean())
    assert 0.5 < got["roc_auc"] < 1.0


def test_evaluate_scores_names_card_precision_by_k():
    frame = random_scored(n=300)
    got = evaluate_scores(frame, k=5, daily_budget=3)
    assert "card_precision_at_5" in got and "card_precision_at_100" not in got
    assert got["card_precision_at_5"] == pytest.approx(card_precision_at_k(frame, k=5))
    assert got["recall_at_budget"] == pytest.approx(recall_at_daily_budget(frame, 3))


@pytest.mark.parametrize("label", [0, 1])
def test_evaluate_scores_single_class_gives_nan(label):
    frame = scored([(f"c{i}", "2024-01-01", label, i / 10) for i in range(5)])
    got = evaluate_scores(frame)
    assert math.isnan(got["roc_auc"])
    assert math.isnan(got["average_precision"])
    assert got["n_fraud"] == 5 * label
    assert got["fraud_rate"] == float(label)


def test_evaluate_scores_rejects_missing_columns():
    with pytest.raises(ValueError, match="score"):
        evaluate_scores(random_scored(n=20).drop(columns=[SCORE]))


# --- slices ------------------------------------------------------------------------------------


def slice_frame() -> pd.DataFrame:
    return scored(
        [
            ("a", "2024-01-01", 1, 0.9),
            ("b", "2024-01-01", 0, 0.6),
            ("c", "2024-01-01", 1, 0.4),
            ("d", "2024-01-01", 0, 0.2),
            ("e", "2024-01-01", 0, 0.7),
            ("f", "2024-01-01", 0, 0.1),
        ],
        channel=["online", "online", "online", "online", "card_present", "card_present"],
    )


def test_slice_metrics_by_hand():
    got = slice_metrics(slice_frame(), [schema.CHANNEL, "not_a_column"])
    assert list(got.columns) == list(SLICE_COLUMNS)
    assert list(got["slice"]) == [schema.CHANNEL, schema.CHANNEL]
    online = got.set_index("value").loc["online"]
    present = got.set_index("value").loc["card_present"]
    assert (online["n"], online["n_fraud"]) == (4, 2)
    # online pairs (fraud, genuine): (.9,.6) (.9,.2) (.4,.6) (.4,.2) -> 3 of 4 ordered right
    assert online["roc_auc"] == pytest.approx(3 / 4)
    # ranking .9 F, .6 G, .4 F, .2 G: AP = (1/1 + 2/3) / 2
    assert online["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert online["recall_at_threshold"] == pytest.approx(1 / 2)
    assert (present["n"], present["n_fraud"]) == (2, 0)
    assert math.isnan(present["roc_auc"])
    assert math.isnan(present["average_precision"])


def test_slice_metrics_min_support_and_threshold():
    got = slice_metrics(slice_frame(), [schema.CHANNEL], min_support=3, threshold=0.3)
    assert list(got["value"]) == ["online"]
    assert got["recall_at_threshold"].iloc[0] == pytest.approx(1.0)


def test_slice_metrics_all_fraud_slice():
    frame = scored([("a", "2024-01-01", 1, 0.9), ("b", "2024-01-01", 1, 0.1)], channel=["x", "x"])
    row = slice_metrics(frame, [schema.CHANNEL]).iloc[0]
    assert math.isnan(row["roc_auc"])
    assert row["average_precision"] == pytest.approx(1.0)


def test_slice_metrics_missing_values_and_empty():
    frame = slice_frame()
    frame.loc[0, schema.CHANNEL] = None
    got = slice_metrics(frame, [schema.CHANNEL])
    assert "<missing>" in set(got["value"])
    assert got["n"].sum() == len(frame)
    empty = slice_metrics(frame, ["absent"])
    assert empty.empty and list(empty.columns) == list(SLICE_COLUMNS)


def test_slice_metrics_on_amount_bands_matches_sklearn():
    frame = random_scored()
    frame["amount_band"] = amount_band(frame[schema.AMOUNT])
    got = slice_metrics(frame, ["amount_band"])
    assert set(got["value"]) <= set(AMOUNT_BANDS)
    assert got["n"].sum() == len(frame)
    for row in got.itertuples(index=False):
        part = frame[frame["amount_band"] == row.value]
        if 0 < part[schema.IS_FRAUD].sum() < len(part):
            assert row.roc_auc == pytest.approx(roc_auc_score(part[schema.IS_FRAUD], part[SCORE]))
            assert row.average_precision == pytest.approx(
                average_precision_score(part[schema.IS_FRAUD], part[SCORE])
            )


# --- amount_band -------------------------------------------------------------------------------


def test_amount_band_edges():
    amounts = pd.Series([-5.0, 0.0, 9.99, 10.0, 49.99, 50.0, 199.99, 200.0, 999.99, 1000.0, 5e6])
    got = amount_band(amounts)
    assert list(got.astype(str)) == [
        "<10",
        "<10",
        "<10",
        "10-50",
        "10-50",
        "50-200",
        "50-200",
        "200-1000",
        "200-1000",
        ">=1000",
        ">=1000",
    ]
    assert isinstance(got.dtype, pd.CategoricalDtype) and got.cat.ordered
    assert list(got.cat.categories) == list(AMOUNT_BANDS)


def test_amount_band_keeps_index_and_missing():
    got = amount_band(pd.Series([5.0, None], index=[10, 20]))
    assert list(got.index) == [10, 20]
    assert got.iloc[0] == "<10" and pd.isna(got.iloc[1])


# --- optimal_threshold -------------------------------------------------------------------------


def test_optimal_threshold_by_hand():
    y = [0, 0, 1, 1, 0, 1]
    s = [0.1, 0.2, 0.6, 0.8, 0.7, 0.9]
    # F1 by threshold: .9 -> .5, .8 -> .8, .7 -> 2/3, .6 -> 6/7, .2 -> .75, .1 -> 2/3
    assert optimal_threshold(y, s) == pytest.approx(0.6)


def test_optimal_threshold_prefers_the_higher_of_tied_thresholds():
    # ranked y = 1, 0, 0, 1: F1 at .9 is 2/3 (p 1, r 1/2) and at .3 is 2/3 (p 1/2, r 1)
    y = [1, 0, 0, 1]
    s = [0.9, 0.7, 0.5, 0.3]
    assert threshold_metrics(y, s, 0.9)["f1"] == pytest.approx(threshold_metrics(y, s, 0.3)["f1"])
    assert optimal_threshold(y, s) == pytest.approx(0.9)


def test_optimal_threshold_beats_every_candidate():
    frame = random_scored(n=500, seed=3)
    y, s = frame[schema.IS_FRAUD].to_numpy(), frame[SCORE].to_numpy()
    best = optimal_threshold(y, s)
    best_f1 = threshold_metrics(y, s, best)["f1"]
    for candidate in np.unique(s):
        assert threshold_metrics(y, s, candidate)["f1"] <= best_f1 + 1e-12


def test_optimal_threshold_rejects_no_fraud_and_unknown_metric():
    with pytest.raises(ValueError, match="no fraud"):
        optimal_threshold([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="unsupported"):
        optimal_threshold([0, 1], [0.1, 0.2], metric="accuracy")


# --- import hygiene ----------------------------------------------------------------------------


def test_importing_domain_modules_loads_neither_sklearn_nor_dagster():
    code = (
        "import sys\n"
        "import fraudshield_pipeline.domain.metrics, fraudshield_pipeline.domain.slices, fraudshield_pipeline.domain.promotion\n"
        "import fraudshield_pipeline.domain.protocol, fraudshield_pipeline.domain.backtest\n"
        "bad = sorted(m for m in ('sklearn', 'dagster') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    repo_root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=repo_root)
