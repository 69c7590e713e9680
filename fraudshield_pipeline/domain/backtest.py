"""Rolling backtest: the same training recipe refit week after week, challenger and champion alike.

A week of test data holds a few hundred frauds and AP moves by several points between weeks, so
one test week is not enough to replace a champion. Week 0 is the evaluation's own window; week i
is the same window moved ``i x test_days`` back: train on its ``train_days``, skip the gap (the
label delay), score the ``test_days`` after it, with labels as known ``maturity_days`` later.
Each model is refit from its *recipe* (features, parameters, train length) on every week's own
train window; nothing of a later week is seen.

The gate (see `promotion`) decides on the mean over weeks and on the worst week. The bootstrap
interval of the mean difference resamples whole cards (or whole days), never rows: a card's
transactions are not independent of each other, and resampling rows would understate the noise.

Pure domain code: numpy/pandas; the fitting and data loading are passed in as callables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s

CHALLENGER, CHAMPION = "challenger", "champion"


@dataclass(frozen=True)
class WeekScores:
    """One backtest week: its test rows (protocol set: known-compromised cards removed) and each model's scores."""

    label: str  # e.g. "2026-09-29..2026-10-06"
    rows: pd.DataFrame  # customer_id, event_timestamp, is_fraud (+ amount)
    scores: dict[str, np.ndarray]  # "challenger" / "champion" -> scores aligned with rows
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # per model, protocol_metrics()


@dataclass(frozen=True)
class BacktestResult:
    metric: str
    weeks: pd.DataFrame  # one row per week: week, test_window, n_fraud, <model>_<metric>..., delta
    ci_low: float
    ci_high: float
    ci_level: float
    resample_unit: str  # "card" or "day"
    n_boot: int
    skipped: tuple[str, ...] = ()  # requested weeks that could not run, and why
    # The challenger recipe's folds scored on later weeks' test transactions (all of them), as old as
    # a champion on its first monitored days: what it is expected to achieve there (`aged_scores`).
    aged: tuple[pd.DataFrame, ...] = field(default=(), repr=False)
    fits: dict[str, int] = field(default_factory=dict)  # folds fitted / read from the fold store

    def compared_weeks(self) -> int:
        return int(self.weeks["delta"].notna().sum()) if "delta" in self.weeks else 0

    def mean(self, model: str) -> float:
        column = f"{model}_{self.metric}"
        return float(self.weeks[column].mean()) if column in self.weeks else math.nan

    def mean_delta(self) -> float:
        return float(self.weeks["delta"].mean()) if self.compared_weeks() else math.nan

    def worst_week(self) -> tuple[str, float]:
        compared = self.weeks[self.weeks["delta"].notna()]
        row = compared.loc[compared["delta"].idxmin()]
        return str(row["test_window"]), float(row["delta"])

    def to_dict(self) -> dict[str, Any]:
        def number(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else (round(v, 6) if isinstance(v, float) else v)

        return {
            "metric": self.metric,
            "weeks": [{k: number(v) for k, v in row.items()} for row in self.weeks.to_dict("records")],
            "mean_delta": number(self.mean_delta()),
            "ci": [number(self.ci_low), number(self.ci_high)],
            "ci_level": self.ci_level,
            "resample_unit": self.resample_unit,
            "n_boot": self.n_boot,
            "skipped": list(self.skipped),
            "fits": dict(self.fits),
        }


def plan_weeks(
    as_of: dt.datetime,
    weeks: int,
    plan: Callable[[dt.datetime], Any],
    step_days: int,
    first_day: dt.date | None,
) -> tuple[list[Any], list[str]]:
    """Windows for weeks 0..weeks-1 (``plan`` = `training_set.plan_window` with the recipe's lengths).

    A week whose train window starts before ``first_day`` (the oldest feature partition) is
    skipped, with the reason, instead of being trained on a truncated window.
    """
    if weeks < 1 or step_days < 1:
        raise ValueError(f"weeks and step_days must be >= 1, got {weeks} and {step_days}")
    windows, skipped = [], []
    for i in range(weeks):
        window = plan(as_of - dt.timedelta(days=i * step_days))
        if first_day is not None and window.train_start.date() < first_day:
            skipped.append(
                f"week {i} (test {window.test_start:%Y-%m-%d}..{window.test_end:%Y-%m-%d}) needs features from "
                f"{window.train_start:%Y-%m-%d}, the oldest partition is {first_day.isoformat()}"
            )
            continue
        windows.append(window)
    return windows, skipped


def average_precision_of_draws(y: np.ndarray, score: np.ndarray, units: np.ndarray, n_units: int) -> Callable[[np.ndarray], np.ndarray]:
    """AP of one score column for each bootstrap draw, where a row weighs as often as its unit was drawn.

    sklearn's step definition, ties grouped; NaN for a draw that holds no positive weight.
    ``units[r]`` is row r's unit (card or day) in [0, n_units); the returned function takes the
    draws' multiplicities as floats of shape (n_units, replicates). AP only changes at tie groups
    that hold a positive, so rows are summed into segments that end at those groups (a sparse
    unit-count matrix per segment): each replicate then costs one sparse product instead of
    sorting and two cumulative sums over every row, and the ranking is done once for all of them.
    """
    from scipy import sparse

    y, score = np.asarray(y).astype(bool), np.asarray(score)
    order = np.argsort(-score, kind="mergesort")
    y, score, units = y[order], score[order], np.asarray(units)[order]
    group = np.r_[0, np.cumsum(np.diff(score) != 0)] if len(score) else np.array([], int)
    positive_groups = np.unique(group[y])
    segment = np.searchsorted(positive_groups, group)  # the first positive-holding group at or after the row's
    counted = segment < len(positive_groups)  # rows ranked below the last positive never change AP
    shape = (len(positive_groups), n_units)
    alerted = sparse.csr_matrix((np.ones(int(counted.sum())), (segment[counted], units[counted])), shape=shape)
    caught = sparse.csr_matrix((np.ones(int(y.sum())), (segment[y], units[y])), shape=shape)

    def of(multiplicity: np.ndarray) -> np.ndarray:
        if not len(positive_groups):
            return np.full(multiplicity.shape[1], np.nan)
        hits = caught @ multiplicity  # (segments, replicates): positives' weight per segment
        tp = np.cumsum(hits, axis=0)
        flagged = np.cumsum(alerted @ multiplicity, axis=0)
        total = tp[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(flagged > 0, tp / flagged, 0.0)
            ap = np.sum(hits * precision, axis=0) / total
        return np.where(total > 0, ap, np.nan)

    return of


def bootstrap_mean_difference(
    weeks: Sequence[WeekScores],
    unit: str = "card",
    n_boot: int = 500,
    level: float = 0.90,
    seed: int = 7,
) -> tuple[float, float]:
    """Percentile interval of mean-over-weeks AP(challenger) - AP(champion), resampling cards or days.

    Each draw picks units (cards, or UTC days) with replacement over all weeks; a row weighs as
    many times as its unit was drawn, so a card's transactions stay together.
    """
    if unit not in ("card", "day"):
        raise ValueError(f"unit must be 'card' or 'day', got {unit!r}")
    if not weeks:
        return math.nan, math.nan
    keys = [
        (w.rows[s.CUSTOMER_ID].astype(str) if unit == "card" else pd.to_datetime(w.rows[s.EVENT_TIMESTAMP], utc=True).dt.floor("D").astype(str)).to_numpy()
        for w in weeks
    ]
    units, codes = np.unique(np.concatenate(keys), return_inverse=True)
    bounds = np.cumsum([0, *[len(k) for k in keys]])
    rng = np.random.default_rng(seed)
    deltas = np.empty((n_boot, len(weeks)))
    ap = [
        {
            model: average_precision_of_draws(week.rows[s.IS_FRAUD].to_numpy(), week.scores[model], codes[bounds[j] : bounds[j + 1]], len(units))
            for model in (CHALLENGER, CHAMPION)
        }
        for j, week in enumerate(weeks)
    ]
    chunk = max(1, 2_000_000 // max(1, len(units)))
    for first in range(0, n_boot, chunk):
        draws = rng.multinomial(len(units), np.full(len(units), 1 / len(units)), size=min(chunk, n_boot - first))
        multiplicity = np.ascontiguousarray(draws.T, dtype=float)  # row-major: scipy's sparse product is 4x faster
        for j, of in enumerate(ap):
            deltas[first : first + len(draws), j] = of[CHALLENGER](multiplicity) - of[CHAMPION](multiplicity)
    with np.errstate(invalid="ignore"):
        means = np.nanmean(deltas, axis=1) if np.isfinite(deltas).any() else np.full(n_boot, np.nan)
    means = means[np.isfinite(means)]
    if means.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def summarize(
    weeks: Sequence[WeekScores],
    metric: str = "average_precision",
    unit: str = "card",
    n_boot: int = 500,
    level: float = 0.90,
    seed: int = 7,
    skipped: Sequence[str] = (),
    extra_metrics: Sequence[str] = ("roc_auc", "card_precision_at_100", "fraud_value_caught_share"),
) -> BacktestResult:
    """The per-week table, the mean and worst-week deltas and the bootstrap interval."""
    rows = []
    for i, week in enumerate(weeks):
        row: dict[str, Any] = {"week": i, "test_window": week.label, "n_fraud": int(week.rows[s.IS_FRAUD].sum())}
        for model in (CHALLENGER, CHAMPION):
            figures = week.metrics.get(model)
            for name in (metric, *extra_metrics):
                row[f"{model}_{name}"] = float(figures.get(name, math.nan)) if figures else math.nan
        row["delta"] = row[f"{CHALLENGER}_{metric}"] - row[f"{CHAMPION}_{metric}"]
        rows.append(row)
    table = pd.DataFrame(rows)
    compared = [w for w in weeks if CHAMPION in w.scores]
    low, high = bootstrap_mean_difference(compared, unit, n_boot, level, seed) if compared else (math.nan, math.nan)
    return BacktestResult(metric, table, low, high, level, unit, n_boot, tuple(skipped))


@dataclass(frozen=True)
class Recipe:
    """What refits a model on another window: features, `fit_on_window` arguments, train length,
    and the rounds and threshold the model chose on its own window (None: choose them again)."""

    version: str
    feature_names: list[str]
    fit_kwargs: dict[str, Any]  # fit_on_window(**fit_kwargs): params, validation_fraction, seed, ...
    train_days: int
    rounds: int | None = None
    threshold: float | None = None

    def key(self) -> str:
        """Equal keys refit to the same booster on the same window (the version name aside)."""
        import json

        return json.dumps([self.feature_names, self.fit_kwargs, self.train_days, self.rounds, self.threshold], sort_keys=True, default=str)


REPLAYED_FIT_ARGUMENTS = ("params", "validation_fraction", "seed", "max_rounds", "early_stopping_rounds", "min_rounds")


def fit_recipe(rows: pd.DataFrame, recipe: Recipe, compute_params: dict[str, Any]):
    """A week's booster from a recipe: one fit with the recorded rounds and threshold when known
    (`train.refit_on_window`, the backtest's default: half the trees of choosing again, and the
    comparison is of recipes as they were chosen), else the whole `train.fit_on_window`.

    Recipes recorded before the rounds floor existed (``max_rounds`` without ``min_rounds``)
    replay without it.
    """
    from fraudshield_pipeline.domain.train import fit_on_window, refit_on_window

    kwargs = {k: v for k, v in recipe.fit_kwargs.items() if k in REPLAYED_FIT_ARGUMENTS}
    if recipe.rounds is not None and recipe.threshold is not None:
        return refit_on_window(
            rows, recipe.feature_names, compute_params, rounds=recipe.rounds, threshold=recipe.threshold,
            params=kwargs.get("params"), seed=int(kwargs.get("seed", 7)),
        )
    if "max_rounds" in kwargs:
        kwargs.setdefault("min_rounds", 0)
    return fit_on_window(rows, recipe.feature_names, compute_params, **kwargs).booster


def run_backtest(
    recipes: dict[str, Recipe],
    week_windows: Callable[[int, int], Any],
    load: Callable[[Any], pd.DataFrame | None],
    fit: Callable[[pd.DataFrame, Recipe], Any],
    weeks: int,
    first_reports: pd.DataFrame | None = None,
    daily_budget: int = 100,
    k: int = 100,
    known_models: dict[tuple[int, str], Any] | None = None,
    skipped: Sequence[str] = (),
    aged_weeks: int | None = None,
    **summary: Any,
) -> BacktestResult:
    """Refits every recipe on every week's train window and scores it on that week's test window.

    ``week_windows(i, train_days)`` plans week i's window (None when its data is not there);
    ``load(window)`` returns the training set of a window (split column 'train'/'validation'/
    'test'), or None when a partition is missing; ``fit(train_window_rows, recipe)`` returns a
    booster (`fit_recipe`); recipes with equal keys are fit once per window. Each week is scored with `protocol.protocol_metrics`
    (``first_reports`` from `metrics.first_fraud_reports`); the bootstrap resamples the protocol
    set's rows (known-compromised cards removed).
    ``known_models[(week, name)]`` reuses an already-fitted booster (the registered challenger
    on week 0). A week where a recipe cannot be fit (no fraud in its window) is skipped, with
    the reason, for every model, so both are always compared on the same weeks.
    ``aged_weeks`` (not None): also score the challenger recipe's folds on their own and later
    weeks, at least that many weeks later (`aged_scores`, the champion's expectation on monitored days).
    """
    from fraudshield_pipeline.domain.metrics import known_compromised_mask
    from fraudshield_pipeline.domain.protocol import protocol_metrics
    from fraudshield_pipeline.domain.train import model_contract, predict

    known_models = dict(known_models or {})
    fitted: dict[tuple[Any, str], Any] = {}  # (window, recipe key): identical recipes are fit once
    folds: dict[int, tuple[Any, pd.DataFrame, Any, np.ndarray]] = {}  # week -> the challenger recipe's booster, test rows, test start, scores
    skipped = list(skipped)
    results: list[WeekScores] = []
    cache: dict[Any, pd.DataFrame | None] = {}
    for i in range(weeks):
        frames, missing = {}, None
        for name, recipe in recipes.items():
            window = week_windows(i, recipe.train_days)
            if window is None:
                missing = f"week {i}: the {name} recipe's {recipe.train_days}-day train window starts before the oldest feature partition"
                break
            if window not in cache:
                cache[window] = load(window)
            if cache[window] is None:
                missing = f"week {i} (test {window.test_start:%Y-%m-%d}..{window.test_end:%Y-%m-%d}): a feature partition of its window is missing"
                break
            frames[name] = (window, cache[window])
        if missing:
            skipped.append(missing)
            continue
        first_window, first_frame = frames[CHALLENGER] if CHALLENGER in frames else next(iter(frames.values()))
        test = first_frame[first_frame["split"] == "test"]
        label = f"{first_window.test_start:%Y-%m-%d}..{first_window.test_end:%Y-%m-%d}"
        scores, metrics, failed = {}, {}, None
        for name, recipe in recipes.items():
            window, frame = frames[name]
            booster = known_models.get((i, name)) or fitted.get((window, recipe.key()))
            if booster is None:
                try:
                    booster = fit(frame[frame["split"] != "test"], recipe)
                except ValueError as error:
                    failed = f"week {i} ({label}): {name} recipe cannot be fit: {error}"
                    break
            fitted[(window, recipe.key())] = booster
            threshold = model_contract(booster)[2]
            scores[name] = predict(booster, test)
            metrics[name] = protocol_metrics(test.assign(score=scores[name]), first_reports, threshold, daily_budget, k)
        if failed or len(test) == 0:
            skipped.append(failed or f"week {i} ({label}): no test rows")
            continue
        kept = ~known_compromised_mask(test, first_reports) if first_reports is not None else np.ones(len(test), bool)
        columns = [c for c in (s.CUSTOMER_ID, s.EVENT_TIMESTAMP, s.IS_FRAUD, s.AMOUNT) if c in test.columns]
        rows = test.loc[kept, columns].reset_index(drop=True)
        if CHALLENGER in frames:
            folds[i] = (fitted[(frames[CHALLENGER][0], recipes[CHALLENGER].key())], test, first_window.test_start, scores[CHALLENGER])
        results.append(WeekScores(label, rows, {n: v[kept] for n, v in scores.items()}, metrics))
    result = summarize(results, skipped=skipped, **summary)
    return dataclasses.replace(result, aged=aged_scores(folds, aged_weeks)) if aged_weeks is not None else result


def aged_scores(folds: dict[int, tuple[Any, pd.DataFrame, Any, np.ndarray]], lag_weeks: int = 0) -> tuple[pd.DataFrame, ...]:
    """Each fold's booster on the test transactions of its own week and of every later week, at
    least ``lag_weeks`` after its own.

    ``folds[i] = (booster, week i's test rows, week i's test start, its scores on them)``, week 0
    the newest (its own week's scores are reused, not predicted again). Each frame
    carries ``fold``, ``week`` and ``model_test_start`` (the fold's own test start): a day's
    distance from it is the model's age on that day (`expected_performance.model_age_days`), as a
    monitored champion's is from its own test week. Scored at ages 0 to the backtest's length,
    the folds show how the recipe's models fare as they age (`triggers.aged_performance_baseline`).
    """
    from fraudshield_pipeline.domain.expected_performance import MODEL_TEST_START
    from fraudshield_pipeline.domain.train import predict

    out = []
    for j, (booster, _, test_start, own_scores) in sorted(folds.items()):
        for i, (_, test, _, _) in sorted(folds.items()):
            if j - i >= lag_weeks and len(test):
                wanted = [c for c in (s.TRANSACTION_ID, s.CUSTOMER_ID, s.EVENT_TIMESTAMP) if c in test.columns]
                score = own_scores if i == j else predict(booster, test)
                scored = test[wanted].assign(score=score, fold=j, week=i, **{MODEL_TEST_START: test_start})
                out.append(scored.reset_index(drop=True))
    return tuple(out)
