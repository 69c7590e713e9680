"""Time-forward training sets: labels only once matured, no shuffling across time.

Timeline, oldest first, ending at `as_of` (the end of the newest feature partition):
  [ train window (last part = validation) ][ gap = label delay ][ test ][ label maturity ] as_of
The split column says 'train' or 'validation' for rows of the train window and 'test' for the test
window. The model is trained on the whole train window ('train' + 'validation' rows): 'validation'
only marks where rounds and threshold are chosen (`domain.train.fit_on_window`).
The gap mimics production: when a model is trained, the newest week's labels are not in yet.
A label counts only if it was reported before `as_of`; a transaction with no fraud report by
then is genuine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import duckdb
import pandas as pd
import pyarrow as pa

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.duck import query_frame, spill_directory
from fraudshield_pipeline.domain.features import CATEGORICAL_SOURCE_COLUMNS, FEATURES, KEY_COLUMNS
from fraudshield_pipeline.domain.point_in_time import point_in_time_sql

SPLIT = "split"
FEATURE_NAMES = frozenset(f.name for f in FEATURES)
TRAIN, VALIDATION, TEST = "train", "validation", "test"


@dataclass(frozen=True)
class TrainingWindow:
    train_start: dt.datetime
    validation_start: dt.datetime
    train_end: dt.datetime
    test_start: dt.datetime
    test_end: dt.datetime
    as_of: dt.datetime

    def days(self) -> list[dt.date]:
        """Every day whose features the window reads (the gap too, for simplicity of lineage)."""
        first, last = self.train_start.date(), (self.test_end - dt.timedelta(microseconds=1)).date()
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]

    def to_metadata(self) -> dict[str, str]:
        return {k: v.isoformat() for k, v in asdict(self).items()}


def plan_window(
    as_of: dt.datetime,
    train_days: int = 14,
    gap_days: int = 7,
    test_days: int = 7,
    maturity_days: int = 7,
    validation_fraction: float = 0.2,
) -> TrainingWindow:
    if min(train_days, test_days) < 1 or min(gap_days, maturity_days) < 0 or not 0 < validation_fraction < 1:
        raise ValueError("train/test need >= 1 day, gap/maturity >= 0 days, validation_fraction in (0, 1)")
    test_end = as_of - dt.timedelta(days=maturity_days)
    test_start = test_end - dt.timedelta(days=test_days)
    train_end = test_start - dt.timedelta(days=gap_days)
    train_start = train_end - dt.timedelta(days=train_days)
    validation_start = train_end - (train_end - train_start) * validation_fraction
    return TrainingWindow(train_start, validation_start, train_end, test_start, test_end, as_of)


def build_training_set(
    features: pd.DataFrame | pa.Table | str,
    labels: pd.DataFrame | pa.Table,
    window: TrainingWindow,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Point-in-time join of the window's labelled transactions to the feature views.

    The entity rows are the transactions of the train and test windows at their own event time;
    each view contributes its values as of that instant (Feast's semantics, see
    `domain.point_in_time`), and each row gets the label known at `as_of` and a split column.
    `features` may be a parquet path or glob, which DuckDB then scans itself: with a
    `memory_limit`, only the result is ever held in Python's memory.
    """
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill_directory()} if memory_limit else {})
    try:
        con.execute("SET TimeZone = 'UTC'")
        if isinstance(features, str):
            con.execute(f"CREATE TEMP VIEW features AS SELECT * FROM read_parquet('{features.replace(chr(39), chr(39) * 2)}')")
        else:
            con.register("features", features)
        con.register("labels", labels)
        feature_columns = [row[0] for row in con.execute("DESCRIBE features").fetchall()]
        at = {name: f"TIMESTAMPTZ '{value.isoformat()}'" for name, value in asdict(window).items()}
        # Source context that is not itself a feature (the channel) rides along for slicing.
        context = [c for c in CATEGORICAL_SOURCE_COLUMNS if c in feature_columns and c not in FEATURE_NAMES]
        ts = s.EVENT_TIMESTAMP
        con.execute(
            f"CREATE TEMP VIEW entities AS SELECT {', '.join(KEY_COLUMNS + tuple(context))} FROM features "
            f"WHERE ({ts} >= {at['train_start']} AND {ts} < {at['train_end']}) "
            f"OR ({ts} >= {at['test_start']} AND {ts} < {at['test_end']})"
        )
        con.execute(f"CREATE TEMP VIEW joined AS {point_in_time_sql(list(KEY_COLUMNS) + context, feature_columns)}")
        label_names = labels.column_names if isinstance(labels, pa.Table) else list(labels.columns)
        # The label known at as_of: the latest report before it (a reversed chargeback is genuine).
        latest = f"arg_max_null(l.{{}}, l.{s.REPORTED_AT})"  # _null: a latest report without a scenario keeps none
        scenario = f"CASE WHEN {latest.format(s.IS_FRAUD)} = 1 THEN {latest.format(s.FRAUD_SCENARIO)} END" if s.FRAUD_SCENARIO in label_names else "NULL"
        return query_frame(
            con,
            f"""
            WITH known AS (
              SELECT l.{s.TRANSACTION_ID}, {latest.format(s.IS_FRAUD)} AS {s.IS_FRAUD}, {scenario} AS {s.FRAUD_SCENARIO}
              FROM labels l WHERE l.{s.REPORTED_AT} < {at['as_of']} GROUP BY 1
            )
            SELECT j.*,
              CAST(coalesce(k.{s.IS_FRAUD}, 0) AS INTEGER) AS {s.IS_FRAUD},
              k.{s.FRAUD_SCENARIO},
              CASE WHEN j.{ts} >= {at['test_start']} THEN '{TEST}'
                   WHEN j.{ts} >= {at['validation_start']} THEN '{VALIDATION}'
                   ELSE '{TRAIN}' END AS {SPLIT}
            FROM joined j LEFT JOIN known k USING ({s.TRANSACTION_ID})
            ORDER BY j.{ts}, j.{s.TRANSACTION_ID}
            """,
        )
    finally:
        con.close()


@dataclass(frozen=True)
class LabelMaturity:
    """How complete the test window's fraud labels are at `as_of`, from the portfolio's own report delays."""

    expected_reported_share: float | None  # None: no label history old enough to tell
    suggested_maturity_days: int | None  # the age by which `min_share` of frauds are reported
    delay_curve_frauds: int
    min_share: float

    @property
    def mature(self) -> bool:
        return self.expected_reported_share is None or self.expected_reported_share >= self.min_share

    def describe(self, maturity_days: int) -> str:
        if self.expected_reported_share is None:
            return "no label history old enough to estimate the report delays yet"
        share = f"about {self.expected_reported_share:.0%} of the test window's frauds are expected to be reported by as_of"
        if self.mature:
            return f"{share} (report delays of {self.delay_curve_frauds} frauds)"
        return (
            f"only {share} (report delays of {self.delay_curve_frauds} frauds): the unreported ones count as genuine, so "
            f"the test metrics undercount fraud. Set training_set's maturity_days to {self.suggested_maturity_days} "
            f"(now {maturity_days}), the age by which {self.min_share:.0%} are reported"
        )


def label_maturity(delays_days: list[float], window: TrainingWindow, min_share: float, max_age: int) -> LabelMaturity:
    """The expected reported share of the test window's frauds: each test day's share at its age at
    `as_of` on the empirical delay curve (`delays_days`: days from a fraud's day end to its report)."""
    from fraudshield_pipeline.domain.triggers import judging_age, reported_share

    if not delays_days:
        return LabelMaturity(None, None, 0, min_share)
    days = (window.test_end - window.test_start).days
    ages = [(window.as_of - (window.test_start + dt.timedelta(days=i + 1))) / dt.timedelta(days=1) for i in range(days)]
    share = sum(reported_share(delays_days, age) for age in ages) / len(ages)
    return LabelMaturity(round(share, 4), judging_age(delays_days, min_share, max_age), len(delays_days), min_share)


def split_summary(training_set: pd.DataFrame) -> pd.DataFrame:
    grouped = training_set.groupby(SPLIT, observed=True)[s.IS_FRAUD]
    return pd.DataFrame({"rows": grouped.size(), "fraud": grouped.sum(), "fraud_rate": grouped.mean()}).reindex(
        [TRAIN, VALIDATION, TEST]
    )
