"""The training recipe: rounds and threshold chosen out of time, then a refit on the whole window."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.train import (
    EARLY_STOPPING_ROUNDS,
    MAX_ROUNDS,
    MIN_ROUNDS,
    fit_on_window,
    split_window,
    xgboost_params,
)

UTC = dt.timezone.utc
COMPUTE = {"tree_method": "hist", "nthread": 1}


def window(n: int = 4000, seed: int = 0, days: int = 10) -> pd.DataFrame:
    """Two informative features and noise; fraud rate ~3%, spread evenly over `days`."""
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    p = 1 / (1 + np.exp(-(2.0 * x1 + 1.0 * x2 - 4.5)))
    start = pd.Timestamp("2026-10-01", tz="UTC")
    return pd.DataFrame(
        {
            s.TRANSACTION_ID: [f"t{i}" for i in range(n)],
            s.EVENT_TIMESTAMP: start + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, n)), unit="s"),
            "x1": x1,
            "x2": x2,
            "noise": noise,
            s.IS_FRAUD: (rng.uniform(size=n) < p).astype(int),
        }
    )


def test_split_is_in_time_at_the_fraction_or_the_given_start():
    rows = window(1000)
    fit, valid, cutoff = split_window(rows, 0.25)
    assert fit[s.EVENT_TIMESTAMP].max() < cutoff <= valid[s.EVENT_TIMESTAMP].min()
    first, last = rows[s.EVENT_TIMESTAMP].min(), rows[s.EVENT_TIMESTAMP].max()
    assert cutoff == first + (last - first) * 0.75
    start = pd.Timestamp("2026-10-08", tz="UTC")
    fit, valid, cutoff = split_window(rows, 0.25, validation_start=start)
    assert cutoff == start and len(valid) == int((rows[s.EVENT_TIMESTAMP] >= start).sum())


def test_refit_uses_the_whole_window_with_the_rounds_chosen_on_validation():
    import xgboost as xgb

    rows = window()
    model = fit_on_window(rows, ["x1", "x2", "noise"], COMPUTE, validation_fraction=0.2)
    fit, valid, _ = split_window(rows, 0.2)
    assert model.booster.num_boosted_rounds() == model.rounds == model.best_iteration + 1
    assert model.validation["window_rows"] == len(rows) == model.validation["fit_rows"] + model.validation["validation_rows"]
    # The chosen rounds are those early stopping picks on (fit part -> validation part) ...
    chooser = xgb.train(
        model.params, xgb.DMatrix(fit[["x1", "x2", "noise"]], label=fit[s.IS_FRAUD]), MAX_ROUNDS,
        evals=[(xgb.DMatrix(valid[["x1", "x2", "noise"]], label=valid[s.IS_FRAUD]), "v")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS, verbose_eval=False,
    )
    assert model.rounds == max(chooser.best_iteration + 1, MIN_ROUNDS)
    # ... and the final booster is that many rounds trained on every row, validation included.
    refit = xgb.train(model.params, xgb.DMatrix(rows[["x1", "x2", "noise"]], label=rows[s.IS_FRAUD]), model.rounds)
    probe = xgb.DMatrix(rows[["x1", "x2", "noise"]])
    np.testing.assert_allclose(model.booster.predict(probe), refit.predict(probe), rtol=1e-6)
    assert not np.allclose(model.booster.predict(probe), chooser[: model.rounds].predict(probe))
    assert 0 < model.threshold < 1 and model.validation_metrics["average_precision"] > 0.3
    assert model.recipe["validation_fraction"] == 0.2 and model.recipe["params"]["max_depth"] == 6


def test_the_same_rows_in_another_order_give_the_same_model():
    """A backtest fold and the pipeline may hand over the window's rows in different orders."""
    rows = window()
    a = fit_on_window(rows, ["x1", "x2", "noise"], COMPUTE)
    b = fit_on_window(rows.sample(frac=1, random_state=1), ["x1", "x2", "noise"], COMPUTE)
    probe = rows[["x1", "x2", "noise"]].head(200)
    assert a.rounds == b.rounds and a.threshold == b.threshold
    np.testing.assert_allclose(a.booster.inplace_predict(probe), b.booster.inplace_predict(probe))


def test_a_recorded_recipe_replays():
    rows = window()
    model = fit_on_window(rows, ["x1", "x2", "noise"], COMPUTE, params={"max_depth": 3, "scale_pos_weight_exponent": 1.0})
    again = fit_on_window(rows, ["x1", "x2", "noise"], COMPUTE, **model.recipe)
    assert (again.rounds, again.threshold, again.params) == (model.rounds, model.threshold, model.params)
    ratio = (len(rows) - rows[s.IS_FRAUD].sum()) / rows[s.IS_FRAUD].sum()
    assert model.params["scale_pos_weight"] == pytest.approx(ratio) and model.params["max_depth"] == 3


def test_a_replayed_fit_is_the_recipes_final_step_alone():
    """The backtest's one-fit replay (rounds and threshold as chosen) gives the recipe's own booster."""
    from fraudshield_pipeline.domain.train import model_contract, refit_on_window

    rows = window()
    model = fit_on_window(rows, ["x1", "x2", "noise"], COMPUTE, params={"max_depth": 3})
    again = refit_on_window(
        rows.sample(frac=1, random_state=2), ["x1", "x2", "noise"], COMPUTE,
        rounds=model.rounds, threshold=model.threshold, params={"max_depth": 3},
    )
    probe = rows[["x1", "x2", "noise"]].head(300)
    assert again.num_boosted_rounds() == model.rounds and model_contract(again) == model_contract(model.booster)
    np.testing.assert_allclose(again.inplace_predict(probe), model.booster.inplace_predict(probe))
    with pytest.raises(ValueError, match="holds no reported fraud"):
        refit_on_window(rows.assign(**{s.IS_FRAUD: 0}), ["x1", "x2", "noise"], COMPUTE, rounds=5, threshold=0.5)


def test_class_weight_follows_the_exponent_unless_given():
    labels = pd.Series([1] * 10 + [0] * 990)
    assert xgboost_params(labels, {})["scale_pos_weight"] == pytest.approx(99**0.5)
    assert xgboost_params(labels, {}, {"scale_pos_weight_exponent": 0.0})["scale_pos_weight"] == 1.0
    assert xgboost_params(labels, {}, {"scale_pos_weight": 3.0})["scale_pos_weight"] == 3.0
    assert "scale_pos_weight_exponent" not in xgboost_params(labels, {})


@pytest.mark.parametrize("part", ["fit part", "validation part"])
def test_a_part_without_fraud_fails_with_a_message_that_names_it(part):
    rows = window()
    cutoff = split_window(rows, 0.2)[2]
    late = rows[s.EVENT_TIMESTAMP] >= cutoff
    rows.loc[late if part == "validation part" else ~late, s.IS_FRAUD] = 0
    with pytest.raises(ValueError, match=f"{part} .*holds no reported fraud"):
        fit_on_window(rows, ["x1", "x2", "noise"], COMPUTE)


def test_early_stopping_on_a_noisy_validation_part_cannot_collapse_to_a_few_trees():
    """Pure-noise features, stopping on validation AP (the former default): its first peak is
    noise, so without a floor a handful of trees are kept; the recipe keeps its floor of rounds."""
    rows = window(seed=3)
    rows[["x1", "x2"]] = np.random.default_rng(9).normal(size=(len(rows), 2))
    on_ap = {"eval_metric": "aucpr"}
    floored = fit_on_window(rows, ["x1", "x2", "noise"], COMPUTE, params=on_ap)
    unfloored = fit_on_window(rows, ["x1", "x2", "noise"], COMPUTE, params=on_ap, min_rounds=0)
    assert unfloored.rounds < MIN_ROUNDS // 2
    assert floored.rounds == MIN_ROUNDS and floored.booster.num_boosted_rounds() == MIN_ROUNDS
    assert floored.recipe["min_rounds"] == MIN_ROUNDS
