"""The hyperparameter search: bounded, scored out of time, never worse than the defaults on validation."""

import math

import pytest

from fraudshield_pipeline.domain.train import DEFAULT_PARAMS, fit_on_window
from fraudshield_pipeline.domain.tuning import SEARCH_SPACE, search_params
from fraudshield_pipeline_tests.domain.test_train import COMPUTE, window

NAMES = ["x1", "x2", "noise"]


def test_a_tiny_search_stays_in_budget_and_starts_from_the_defaults():
    rows = window()
    result = search_params(rows, NAMES, COMPUTE, trials=4, timeout_s=120)
    assert len(result.trials) == 4 and [t["run_name"] for t in result.trials] == [f"trial-{i}" for i in range(4)]
    first = result.trials[0]["params"]
    assert first["max_depth"] == DEFAULT_PARAMS["max_depth"] and first["learning_rate"] == DEFAULT_PARAMS["learning_rate"]
    assert result.trials[0]["status"] == "FINISHED"
    assert result.default_value == pytest.approx(result.trials[0]["metrics"]["validation_average_precision"])
    assert result.best_value >= result.default_value
    for trial in result.trials:
        for name, value in trial["params"].items():
            low, high, _ = SEARCH_SPACE[name]
            assert low <= value <= high
    assert set(SEARCH_SPACE) <= set(result.params) and result.summary()["trials"] == 4
    # The best trial's parameters are what the refit uses, and the recipe records them.
    model = fit_on_window(rows, NAMES, COMPUTE, params=result.params)
    assert model.recipe["params"] == result.params


def test_the_timeout_bounds_the_number_of_trials():
    result = search_params(window(), NAMES, COMPUTE, trials=1000, timeout_s=0.01)
    assert 1 <= len(result.trials) <= 2 and not math.isnan(result.best_value)


def test_a_search_needs_frauds_on_both_sides_of_the_split():
    rows = window()
    rows["is_fraud"] = 0
    with pytest.raises(ValueError, match="no reported fraud"):
        search_params(rows, NAMES, COMPUTE, trials=2)
