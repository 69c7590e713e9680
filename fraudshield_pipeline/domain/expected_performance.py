"""What a champion is expected to achieve day by day, measured as the performance trigger measures it.

The performance trigger compares each monitored day with the champion's *expectation*. Taken from
the champion's own first monitored days, the expectation holds one regime of the world: in a
portfolio whose fraud mix moves from week to week (terminal-compromise waves, testing campaigns),
a later ordinary week looks like decay. The champion's recipe was already refit and scored on
several earlier weeks by the evaluation's rolling backtest; those weeks' days, measured the way a
monitored day is measured (the day's own alert budget, only the frauds reported within the same
label age), give an expectation that spans several weeks of the world's ordinary variation, and is
there on the champion's first monitored day.

Pure domain code: pandas.
"""

from __future__ import annotations

import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.triggers import PerformanceObservation


MODEL_TEST_START = "model_test_start"  # column of scored rows: the scoring model's test-window start


def model_age_days(day, test_start) -> float | None:
    """Days from a model's test-window start to ``day`` (both dates or timestamps; None if unknown)."""
    if test_start is None or (isinstance(test_start, float) and test_start != test_start):
        return None
    return float((pd.Timestamp(day).tz_localize(None).normalize() - pd.Timestamp(test_start).tz_localize(None).normalize()).days)


def daily_observations(
    rows: pd.DataFrame, scores, frauds: pd.DataFrame, age_days: float, daily_budget: int
) -> list[PerformanceObservation]:
    """One observation per UTC day of ``rows``: AP and recall at the budget on the frauds known
    ``age_days`` after the day ended. ``frauds``: fraud reports (transaction_id, reported_at), or a
    label history with ``is_fraud`` (`label_history`: a chargeback reversed by then is genuine).

    Unreported frauds count as genuine, exactly as on a monitored day judged at that age. Rows with
    a ``model_test_start`` column (`backtest.aged_scores`) give each day its model's age.
    """
    from fraudshield_pipeline.domain.label_history import frauds_as_of
    from fraudshield_pipeline.domain.metrics import evaluate_scores

    frame = rows[[s.TRANSACTION_ID, s.CUSTOMER_ID, s.EVENT_TIMESTAMP]].assign(score=list(scores))
    test_start = rows[MODEL_TEST_START].iloc[0] if MODEL_TEST_START in rows.columns and len(rows) else None
    days = pd.to_datetime(frame[s.EVENT_TIMESTAMP], utc=True).dt.floor("D")
    history = frauds if s.IS_FRAUD in frauds.columns else frauds.assign(**{s.IS_FRAUD: 1})
    history = history[history[s.TRANSACTION_ID].isin(frame[s.TRANSACTION_ID])]
    observations = []
    for day, part in frame.groupby(days, sort=True):
        known_by = day + pd.Timedelta(days=1) + pd.Timedelta(days=age_days)
        known = part[s.TRANSACTION_ID].isin(frauds_as_of(history, known_by)[s.TRANSACTION_ID])
        metrics = evaluate_scores(part.assign(**{s.IS_FRAUD: known.astype(int)}), daily_budget=daily_budget)
        observations.append(
            PerformanceObservation(
                day.date().isoformat(), float(metrics["average_precision"]), float(metrics["recall_at_budget"]), int(metrics["n_fraud"]),
                model_age_days(day, test_start),
            )
        )
    return observations


def as_records(observations: list[PerformanceObservation]) -> list[dict]:
    """JSON-ready records (NaN as None): what the evaluation stores with the model version."""
    import math

    def number(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return [{k: number(v) for k, v in vars(o).items()} for o in observations]


def from_records(records: list[dict]) -> list[PerformanceObservation]:
    nan = float("nan")
    return [
        PerformanceObservation(
            str(r["partition"]),
            nan if r.get("average_precision") is None else float(r["average_precision"]),
            nan if r.get("recall_at_budget") is None else float(r["recall_at_budget"]),
            None if r.get("n_fraud") is None else int(r["n_fraud"]),
            None if r.get("model_age_days") is None else float(r["model_age_days"]),
        )
        for r in records
    ]


def nearest_age(expected: dict[str, list[dict]], label_age: float | None) -> tuple[str, list[PerformanceObservation]] | None:
    """The expectation measured at the stored label age nearest the monitored days' (ties: the
    younger, whose partial labels make the stricter comparison for AP); None when none is stored."""
    if not expected:
        return None
    ages = sorted(expected, key=float)
    age = ages[0] if label_age is None else min(ages, key=lambda a: (abs(float(a) - label_age), float(a)))
    return age, from_records(expected[age])


def expectation(observations: list[PerformanceObservation], min_days: int, min_sd_fraction: float):
    """The performance trigger's baseline from every measured expected day (days without a reported
    fraud say nothing and are left out), following the model's age where the days carry it
    (`triggers.aged_performance_baseline`); None with fewer than ``min_days`` of them."""
    from fraudshield_pipeline.domain.triggers import aged_performance_baseline

    return aged_performance_baseline(observations, min_days, min_sd_fraction)
