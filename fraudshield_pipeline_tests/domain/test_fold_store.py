"""Backtest folds kept between evaluations: reused only when everything that decides them is equal."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.backtest import CHALLENGER, CHAMPION, Recipe, fit_recipe, run_backtest
from fraudshield_pipeline.domain.fold_store import FoldStore, fold_fingerprint
from fraudshield_pipeline.domain.training_set import plan_window
from fraudshield_pipeline_tests.domain.test_backtest import synthetic_window

UTC = dt.timezone.utc
AS_OF = dt.datetime(2026, 11, 1, tzinfo=UTC)
COMPUTE = {"nthread": 1}


def rows_of(window) -> pd.DataFrame:
    return synthetic_window(window, seed=window.test_start.day).query("split == 'train'")


def test_the_fingerprint_follows_rows_recipe_and_compute_not_row_order_or_other_columns():
    recipe = Recipe("2", ["signal"], {}, 7, rounds=12, threshold=0.4)
    rows = rows_of(plan_window(AS_OF, 7, 7, 7, 7))
    base = fold_fingerprint(rows, recipe, COMPUTE)
    assert fold_fingerprint(rows.sample(frac=1.0, random_state=3).assign(unused=1.0), Recipe("9", ["signal"], {}, 7, 12, 0.4), COMPUTE) == base
    flipped = rows.copy()
    flipped.iloc[5, flipped.columns.get_loc(s.IS_FRAUD)] = 1 - flipped.iloc[5][s.IS_FRAUD]
    assert fold_fingerprint(flipped, recipe, COMPUTE) != base  # one label changed: another fold
    assert fold_fingerprint(rows, Recipe("2", ["signal"], {}, 7, rounds=13, threshold=0.4), COMPUTE) != base
    assert fold_fingerprint(rows, Recipe("2", ["signal", "noise"], {}, 7, rounds=12, threshold=0.4), COMPUTE) != base
    assert fold_fingerprint(rows, recipe, {"nthread": 1, "device": "cuda"}) != base


def evaluate(as_of, recipes, store: dict, fits: list):
    folds = FoldStore(store.get, store.__setitem__, COMPUTE)

    def fit(rows, recipe):
        fits.append((recipe.version, rows[s.EVENT_TIMESTAMP].min().date().isoformat()))
        return fit_recipe(rows, recipe, COMPUTE)

    result = run_backtest(
        recipes, lambda i, n: plan_window(as_of - dt.timedelta(days=7 * i), n, 7, 7, 7),
        lambda window: synthetic_window(window, seed=window.test_start.day), folds.wrap(fit), weeks=4, n_boot=50,
    )
    return result, folds


def test_a_rerun_reads_every_fold_and_next_week_reads_the_promoted_recipes_earlier_folds():
    challenger = Recipe("2", ["signal"], {}, 7, rounds=12, threshold=0.4)
    champion = Recipe("1", ["noise"], {}, 7, rounds=8, threshold=0.5)
    store: dict[str, bytes] = {}

    fits: list = []
    first, folds = evaluate(AS_OF, {CHALLENGER: challenger, CHAMPION: champion}, store, fits)
    assert folds.summary() == {"fitted": 8, "reused_from_store": 0, "pruned": 0} and len(store) == 8

    fits = []
    again, folds = evaluate(AS_OF, {CHALLENGER: challenger, CHAMPION: champion}, store, fits)
    assert fits == [] and folds.summary() == {"fitted": 0, "reused_from_store": 8, "pruned": 0}
    assert np.allclose(again.weeks["delta"], first.weeks["delta"])  # the same boosters, the same figures

    # A week later the challenger is the champion; its recipe's weeks 1-3 are last week's weeks 0-2.
    fits = []
    newer = Recipe("3", ["signal", "noise"], {}, 7, rounds=10, threshold=0.45)
    _, folds = evaluate(AS_OF + dt.timedelta(days=7), {CHALLENGER: newer, CHAMPION: Recipe("2", ["signal"], {}, 7, 12, 0.4)}, store, fits)
    assert folds.summary() == {"fitted": 5, "reused_from_store": 3, "pruned": 0}
    assert sorted(v for v, _ in fits) == ["2", "3", "3", "3", "3"]  # the champion's recipe only on the new week
    # Unused now: the old champion's 4 folds and the promoted recipe's week out of reach (last week's 3).
    assert len(store) == 13
    folds.prune(list(store), lambda fingerprint: fingerprint, store.pop)
    assert folds.pruned == 5 and set(store) == folds.used
    fits = []
    _, folds = evaluate(AS_OF + dt.timedelta(days=7), {CHALLENGER: newer, CHAMPION: Recipe("2", ["signal"], {}, 7, 12, 0.4)}, store, fits)
    assert fits == [] and folds.summary()["reused_from_store"] == 8  # pruning kept everything the next run needs


def test_an_unreadable_stored_fold_is_refit_not_trusted():
    recipe = Recipe("2", ["signal"], {}, 7, rounds=12, threshold=0.4)
    rows = rows_of(plan_window(AS_OF, 7, 7, 7, 7))
    store = {fold_fingerprint(rows, recipe, COMPUTE): b"not a model"}
    folds = FoldStore(store.get, store.__setitem__, COMPUTE)
    booster = folds.wrap(lambda r, rec: fit_recipe(r, rec, COMPUTE))(rows, recipe)
    assert booster.num_boosted_rounds() == 12 and folds.summary() == {"fitted": 1, "reused_from_store": 0, "pruned": 0}
    assert store[fold_fingerprint(rows, recipe, COMPUTE)] != b"not a model"  # replaced by the refit
