"""Rolling backtest: bootstrap interval with a known answer, week planning, and the gate over weeks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.backtest import (
    CHALLENGER,
    CHAMPION,
    WeekScores,
    average_precision_of_draws,
    bootstrap_mean_difference,
    plan_weeks,
    summarize,
)
from fraudshield_pipeline.domain.promotion import Scorecard, decide_promotion
from fraudshield_pipeline.domain.training_set import plan_window

UTC = dt.timezone.utc


def paired_cards(n_cards: int, day: str = "2026-10-01") -> pd.DataFrame:
    """Every card has one fraud and one genuine transaction, on one day."""
    cards = [f"c{i}" for i in range(n_cards)]
    return pd.DataFrame(
        {
            s.CUSTOMER_ID: cards * 2,
            s.EVENT_TIMESTAMP: pd.Timestamp(day, tz="UTC"),
            s.IS_FRAUD: [1] * n_cards + [0] * n_cards,
        }
    )


def test_bootstrap_interval_known_answer_when_resampling_cards():
    # Challenger ranks every fraud first (AP 1); champion scores everything alike (AP = prevalence).
    # Resampling whole cards keeps prevalence at exactly 1/2 in every draw, so the difference is
    # 0.5 in every draw and the interval is [0.5, 0.5]. Resampling rows would make it wide.
    rows = paired_cards(40)
    week = WeekScores("w0", rows, {CHALLENGER: rows[s.IS_FRAUD].to_numpy(float), CHAMPION: np.full(len(rows), 0.3)})
    low, high = bootstrap_mean_difference([week, week], unit="card", n_boot=300)
    assert low == pytest.approx(0.5) and high == pytest.approx(0.5)


def test_bootstrap_interval_of_identical_models_is_zero_and_days_work():
    rng = np.random.default_rng(0)
    rows = pd.concat([paired_cards(30, "2026-10-01"), paired_cards(30, "2026-10-02")], ignore_index=True)
    score = rng.random(len(rows))
    week = WeekScores("w0", rows, {CHALLENGER: score, CHAMPION: score.copy()})
    assert bootstrap_mean_difference([week], unit="day", n_boot=200) == (0.0, 0.0)
    with pytest.raises(ValueError, match="unit"):
        bootstrap_mean_difference([week], unit="row")


def test_bootstrap_interval_covers_a_real_difference_and_narrows_with_more_cards():
    rng = np.random.default_rng(1)

    def week(n):
        rows = paired_cards(n)
        y = rows[s.IS_FRAUD].to_numpy()
        return WeekScores("w", rows, {CHALLENGER: y + rng.normal(0, 0.6, len(y)), CHAMPION: y + rng.normal(0, 1.2, len(y))})

    small, large = week(30), week(600)
    low_s, high_s = bootstrap_mean_difference([small], n_boot=300)
    low_l, high_l = bootstrap_mean_difference([large], n_boot=300)
    assert 0 < low_l < high_l and high_l - low_l < high_s - low_s


def test_weighted_average_precision_equals_sklearn():
    """Each row its own unit: a draw's multiplicities are row weights."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(2)
    y, score = rng.integers(0, 2, 200), np.round(rng.random(200), 1)  # many ties
    weights = rng.integers(0, 3, (5, 200)).astype(float)
    got = average_precision_of_draws(y, score, np.arange(200), 200)(np.ascontiguousarray(weights.T))
    expected = [average_precision_score(y, score, sample_weight=w) for w in weights]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_average_precision_of_unit_draws_equals_sklearn_with_row_weights():
    """A card drawn m times weighs m for each of its rows; rows below the last fraud, ties and
    replicates without fraud (NaN) included."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(3)
    y, score, units = rng.random(300) < 0.1, np.round(rng.random(300), 1), rng.integers(0, 40, 300)
    draws = rng.multinomial(40, np.full(40, 1 / 40), size=20)
    draws[0, np.unique(units[y])] = 0  # a replicate that drew no compromised card
    got = average_precision_of_draws(y, score, units, 40)(np.ascontiguousarray(draws.T, dtype=float))
    expected = [
        average_precision_score(y, score, sample_weight=d[units]) if (d[units] * y).sum() else np.nan for d in draws
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.isnan(got[0])


def test_plan_weeks_steps_back_one_test_length_and_skips_weeks_without_history():
    as_of = dt.datetime(2026, 11, 1, tzinfo=UTC)
    plan = lambda at: plan_window(at, train_days=7, gap_days=7, test_days=7, maturity_days=7)  # noqa: E731
    windows, skipped = plan_weeks(as_of, 4, plan, step_days=7, first_day=dt.date(2026, 9, 20))
    assert [w.test_start.date().isoformat() for w in windows] == ["2026-10-18", "2026-10-11", "2026-10-04"]
    assert len(skipped) == 1 and "needs features from 2026-09-13" in skipped[0]


def backtest(challenger_weeks, champion_weeks):
    rows = paired_cards(20)
    y = rows[s.IS_FRAUD].to_numpy(float)
    weeks = [
        WeekScores(f"week {i}", rows, {CHALLENGER: y, CHAMPION: y}, {CHALLENGER: {"average_precision": a}, CHAMPION: {"average_precision": b}})
        for i, (a, b) in enumerate(zip(challenger_weeks, champion_weeks))
    ]
    return summarize(weeks, n_boot=50)


def test_a_challenger_better_on_one_lucky_week_but_worse_on_the_backtest_is_refused():
    challenger, champion = Scorecard("v3", {"average_precision": 0.60}), Scorecard("v2", {"average_precision": 0.50})
    assert decide_promotion(challenger, champion).promote  # one week alone would promote it
    result = backtest([0.60, 0.40, 0.42, 0.42], [0.50, 0.50, 0.50, 0.50])
    decision = decide_promotion(challenger, champion, backtest=result)
    assert not decision.promote
    failures = [r for r in decision.reasons if r.startswith("FAIL")]
    assert "backtest mean average_precision over 4 weeks 0.460 vs champion's recipe 0.500 (delta -0.040" in failures[0]
    assert "worst backtest week (week 1) average_precision delta -0.100" in failures[1]
    assert any(r.startswith("INFO: on the test week alone") for r in decision.reasons)


def test_a_consistently_better_challenger_is_promoted():
    challenger, champion = Scorecard("v3", {"average_precision": 0.55}), Scorecard("v2", {"average_precision": 0.50})
    result = backtest([0.55, 0.53, 0.56, 0.52], [0.50, 0.51, 0.50, 0.49])
    decision = decide_promotion(challenger, champion, backtest=result)
    assert decision.promote, decision.reasons
    assert result.weeks["delta"].round(3).tolist() == [0.05, 0.02, 0.06, 0.03]
    assert any("backtest mean average_precision over 4 weeks" in r and r.startswith("PASS") for r in decision.reasons)


def test_one_bad_week_beyond_the_worst_week_tolerance_refuses_despite_a_good_mean():
    challenger, champion = Scorecard("v3", {"average_precision": 0.60}), Scorecard("v2", {"average_precision": 0.50})
    result = backtest([0.60, 0.60, 0.60, 0.42], [0.50, 0.50, 0.50, 0.50])  # mean +0.055, worst -0.08
    decision = decide_promotion(challenger, champion, backtest=result)
    assert not decision.promote and result.mean_delta() == pytest.approx(0.055)
    assert [r for r in decision.reasons if r.startswith("FAIL")][0].startswith("FAIL: worst backtest week (week 3)")


def synthetic_window(window, seed: int) -> pd.DataFrame:
    """Rows of a window's train and test periods: fraud is visible in `signal`, not in `noise`."""
    rng = np.random.default_rng(seed)
    parts = []
    for split, start, end in (("train", window.train_start, window.train_end), ("test", window.test_start, window.test_end)):
        n = 150 * int((end - start).days)
        y = (rng.random(n) < 0.08).astype(int)
        parts.append(
            pd.DataFrame(
                {
                    s.TRANSACTION_ID: [f"{split}{seed}-{i}" for i in range(n)],
                    s.CUSTOMER_ID: rng.integers(0, 300, n).astype(str),
                    s.EVENT_TIMESTAMP: pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.random(n)) * (end - start).total_seconds(), unit="s"),
                    s.AMOUNT: rng.lognormal(3, 1, n),
                    "signal": y * 1.5 + rng.normal(0, 1, n),
                    "noise": rng.normal(0, 1, n),
                    s.IS_FRAUD: y,
                    "split": split,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_run_backtest_refits_each_recipe_per_week_and_skips_weeks_without_history():
    from fraudshield_pipeline.domain.backtest import Recipe, run_backtest
    from fraudshield_pipeline.domain.train import fit_on_window

    as_of = dt.datetime(2026, 11, 1, tzinfo=UTC)
    settings = {"max_rounds": 15, "early_stopping_rounds": 5}
    recipes = {CHALLENGER: Recipe("2", ["signal"], settings, 7), CHAMPION: Recipe("1", ["noise"], settings, 7)}
    loads, fits = [], []

    def week_windows(i, train_days):
        return None if i == 2 else plan_window(as_of - dt.timedelta(days=7 * i), train_days, 7, 7, 7)

    def load(window):
        loads.append(window)
        return synthetic_window(window, seed=len(loads))

    def fit(rows, recipe):
        fits.append(recipe.version)
        assert rows["split"].eq("train").all()  # the test week is never trained on
        return fit_on_window(rows, recipe.feature_names, {"nthread": 1}, **recipe.fit_kwargs).booster

    result = run_backtest(recipes, week_windows, load, fit, weeks=3, n_boot=100)
    assert len(loads) == 2 and fits == ["2", "1", "2", "1"]  # same window shared by both recipes
    assert result.weeks["test_window"].tolist() == ["2026-10-18..2026-10-25", "2026-10-11..2026-10-18"]
    assert (result.weeks["delta"] > 0.15).all() and 0.05 < result.ci_low < result.ci_high
    assert result.skipped == ("week 2: the challenger recipe's 7-day train window starts before the oldest feature partition",)


def test_identical_recipes_are_fit_once_per_week_and_recorded_rounds_are_replayed():
    from fraudshield_pipeline.domain.backtest import Recipe, fit_recipe, run_backtest

    as_of = dt.datetime(2026, 11, 1, tzinfo=UTC)
    same = Recipe("2", ["signal"], {"max_rounds": 15, "early_stopping_rounds": 5}, 7, rounds=12, threshold=0.4)
    recipes = {CHALLENGER: same, CHAMPION: Recipe("1", *[getattr(same, f) for f in ("feature_names", "fit_kwargs", "train_days", "rounds", "threshold")])}
    fits, boosters = [], []

    def fit(rows, recipe):
        fits.append(recipe.version)
        boosters.append(fit_recipe(rows, recipe, {"nthread": 1}))
        return boosters[-1]

    result = run_backtest(
        recipes, lambda i, n: plan_window(as_of - dt.timedelta(days=7 * i), n, 7, 7, 7),
        lambda window: synthetic_window(window, seed=window.test_start.day), fit, weeks=2, n_boot=50,
    )
    assert fits == ["2", "2"]  # one fit per week; the champion's identical recipe reuses it
    assert result.weeks["delta"].tolist() == [0.0, 0.0]
    assert all(b.num_boosted_rounds() == 12 and float(b.attr("fraudshield_threshold")) == 0.4 for b in boosters)
    rechosen = fit_recipe(synthetic_window(plan_window(as_of, 7, 7, 7, 7), 1).query("split == 'train'"), Recipe("3", ["signal"], {"max_rounds": 15, "early_stopping_rounds": 5}, 7), {"nthread": 1})
    assert rechosen.num_boosted_rounds() <= 15  # no recorded rounds: early stopping chooses them (pre-floor recipe: no floor)


def test_folds_are_also_scored_on_weeks_as_old_as_a_monitored_champion():
    from fraudshield_pipeline.domain.backtest import Recipe, fit_recipe, run_backtest

    as_of = dt.datetime(2026, 11, 1, tzinfo=UTC)
    recipe = Recipe("2", ["signal"], {}, 7, rounds=10, threshold=0.5)
    result = run_backtest(
        {CHALLENGER: recipe}, lambda i, n: plan_window(as_of - dt.timedelta(days=7 * i), n, 7, 7, 7),
        lambda window: synthetic_window(window, seed=window.test_start.day), lambda rows, r: fit_recipe(rows, r, {"nthread": 1}),
        weeks=4, n_boot=50, aged_weeks=2,
    )
    # Folds 2 and 3 on week 0, fold 3 on week 1: each on every test row of the later week.
    assert [(int(f["fold"].iloc[0]), int(f["week"].iloc[0])) for f in result.aged] == [(2, 0), (3, 0), (3, 1)]
    newest_test = synthetic_window(plan_window(as_of, 7, 7, 7, 7), seed=plan_window(as_of, 7, 7, 7, 7).test_start.day).query("split == 'test'")
    assert sorted(result.aged[0][s.TRANSACTION_ID]) == sorted(newest_test[s.TRANSACTION_ID])
    assert not np.allclose(result.aged[0]["score"], result.aged[1]["score"])  # two folds, two models
    assert run_backtest({CHALLENGER: recipe}, lambda i, n: plan_window(as_of - dt.timedelta(days=7 * i), n, 7, 7, 7),
                        lambda window: synthetic_window(window, seed=1), lambda rows, r: fit_recipe(rows, r, {"nthread": 1}),
                        weeks=2, n_boot=50, aged_weeks=2).aged == ()
    # aged_weeks=0: every fold on its own week too, each frame with the fold's test start; a fold's
    # own-week scores are the ones the backtest already computed, equal to predicting again.
    from fraudshield_pipeline.domain.expected_performance import MODEL_TEST_START
    from fraudshield_pipeline.domain.train import predict

    boosters = []

    def fit(rows, r):
        boosters.append(fit_recipe(rows, r, {"nthread": 1}))
        return boosters[-1]

    windows = [plan_window(as_of - dt.timedelta(days=7 * i), 7, 7, 7, 7) for i in range(4)]
    every = run_backtest({CHALLENGER: recipe}, lambda i, n: windows[i], lambda window: synthetic_window(window, seed=window.test_start.day),
                         fit, weeks=4, n_boot=50, aged_weeks=0).aged
    pairs = [(int(f["fold"].iloc[0]), int(f["week"].iloc[0])) for f in every]
    assert pairs == [(j, i) for j in range(4) for i in range(4) if j >= i]
    for frame, (j, i) in zip(every, pairs, strict=True):
        assert (frame[MODEL_TEST_START] == windows[j].test_start).all()
        test = synthetic_window(windows[i], seed=windows[i].test_start.day).query("split == 'test'")
        np.testing.assert_allclose(frame["score"].to_numpy(), predict(boosters[j], test), rtol=1e-6)
