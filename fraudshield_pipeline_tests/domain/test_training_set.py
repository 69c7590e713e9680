import datetime as dt

import numpy as np
import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.training_set import SPLIT, build_training_set, label_maturity, plan_window

UTC = dt.timezone.utc


def test_window_is_train_gap_test_maturity_ending_at_as_of():
    window = plan_window(dt.datetime(2026, 10, 13, tzinfo=UTC), train_days=14, gap_days=7, test_days=7, maturity_days=7)
    assert window.test_end == dt.datetime(2026, 10, 6, tzinfo=UTC)
    assert window.test_start == dt.datetime(2026, 9, 29, tzinfo=UTC)
    assert window.train_end == dt.datetime(2026, 9, 22, tzinfo=UTC)
    assert window.train_start == dt.datetime(2026, 9, 8, tzinfo=UTC)
    assert len(window.days()) == 28


def test_labels_count_only_if_reported_before_as_of_and_gap_is_excluded():
    window = plan_window(dt.datetime(2026, 10, 13, tzinfo=UTC))
    times = pd.to_datetime(["2026-09-10", "2026-09-21", "2026-09-25", "2026-10-01", "2026-10-02"], utc=True)
    features = pd.DataFrame(
        {
            s.TRANSACTION_ID: list("abcde"),
            s.CUSTOMER_ID: "C1",
            s.MERCHANT_ID: "M1",
            s.EVENT_TIMESTAMP: times.astype("datetime64[us, UTC]"),
            "amount": np.arange(5.0),
        }
    )
    labels = pd.DataFrame(
        {
            s.TRANSACTION_ID: ["a", "d", "e"],
            s.IS_FRAUD: np.int8(1),
            s.REPORTED_AT: pd.to_datetime(["2026-09-12", "2026-10-05", "2026-10-20"], utc=True).astype("datetime64[us, UTC]"),
            s.FRAUD_SCENARIO: ["x", "y", "z"],
        }
    )
    frame = build_training_set(features, labels, window).set_index(s.TRANSACTION_ID)
    assert "c" not in frame.index  # inside the gap
    assert frame[SPLIT].to_dict() == {"a": "train", "b": "validation", "d": "test", "e": "test"}
    assert frame[s.IS_FRAUD].to_dict() == {"a": 1, "b": 0, "d": 1, "e": 0}  # e's chargeback comes after as_of
    assert frame["amount"].to_dict() == {"a": 0.0, "b": 1.0, "d": 3.0, "e": 4.0}  # each row's own features


def test_future_transactions_and_late_labels_never_change_a_training_row():
    from fraudshield_pipeline.domain.features import build_features
    from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_days

    config = SimulationConfig(seed=5, n_customers=600, n_merchants=60, transactions_per_day=600)
    world = simulate_days(config, [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(50)])
    as_of = dt.datetime(2026, 10, 15, tzinfo=UTC)
    window = plan_window(as_of)
    tx, reports = world.transactions, world.labels

    def training_rows(transactions, labels):
        features = build_features(transactions, labels, window.train_start, window.test_end)
        return build_training_set(features, labels, window)

    known_tx = tx[tx[s.EVENT_TIMESTAMP] < pd.Timestamp(as_of)]
    known_labels = reports[reports[s.REPORTED_AT] < pd.Timestamp(as_of)]
    baseline = training_rows(known_tx, known_labels)
    # The future arrives: every later transaction, and late chargebacks about window transactions.
    late = tx[tx[s.EVENT_TIMESTAMP] < pd.Timestamp(window.test_end)].sample(40, random_state=1)
    late_labels = pd.DataFrame(
        {
            s.TRANSACTION_ID: late[s.TRANSACTION_ID].to_numpy(),
            s.IS_FRAUD: np.int8(1),
            s.REPORTED_AT: pd.Timestamp(as_of) + pd.to_timedelta(np.arange(40), unit="h"),
            s.FRAUD_SCENARIO: "late",
        }
    ).astype({s.REPORTED_AT: "datetime64[us, UTC]"})
    with_future = training_rows(tx, pd.concat([reports, late_labels], ignore_index=True))
    assert len(baseline) > 10_000 and baseline[s.IS_FRAUD].sum() > 20
    pd.testing.assert_frame_equal(baseline, with_future)


def test_label_maturity_reads_the_test_window_off_the_portfolios_own_delay_curve():
    window = plan_window(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc), maturity_days=7, test_days=7)
    # test days end 7..13 days before as_of
    quick = label_maturity([0.5, 1, 2, 3, 4, 5] * 10, window, 0.9, 30)  # every fraud reported within 5 days
    assert quick.expected_reported_share == 1.0 and quick.mature and quick.suggested_maturity_days == 5
    slow = label_maturity(list(np.linspace(1, 40, 400)), window, 0.9, 30)  # 1-40 days, evenly
    assert 0.15 < slow.expected_reported_share < 0.3 and not slow.mature
    assert slow.suggested_maturity_days == 30  # past the curve's horizon: the longest age it can vouch for
    assert "maturity_days to 30 (now 7)" in slow.describe(7) and "undercount fraud" in slow.describe(7)
    unknown = label_maturity([], window, 0.9, 30)
    assert unknown.expected_reported_share is None and unknown.mature and "no label history" in unknown.describe(7)


def test_each_row_takes_the_label_known_at_as_of_from_its_history():
    """A chargeback reversed before as_of trains as genuine; one reversed after it still as fraud;
    a genuine confirmation later reported as fraud trains as fraud (domain.label_history)."""
    window = plan_window(dt.datetime(2026, 10, 13, tzinfo=UTC))
    features = pd.DataFrame(
        {
            s.TRANSACTION_ID: list("abc"), s.CUSTOMER_ID: "C1", s.MERCHANT_ID: "M1",
            s.EVENT_TIMESTAMP: pd.to_datetime(["2026-09-10", "2026-09-11", "2026-09-12"], utc=True).astype("datetime64[us, UTC]"),
            "amount": np.arange(3.0),
        }
    )  # fmt: skip
    reports = [("a", 1, "2026-09-12"), ("a", 0, "2026-10-01"), ("b", 1, "2026-09-13"), ("b", 0, "2026-10-20"), ("c", 0, "2026-09-13"), ("c", 1, "2026-09-30")]
    labels = pd.DataFrame(
        {
            s.TRANSACTION_ID: [r[0] for r in reports], s.IS_FRAUD: np.array([r[1] for r in reports], dtype=np.int8),
            s.REPORTED_AT: pd.to_datetime([r[2] for r in reports], utc=True).astype("datetime64[us, UTC]"),
            s.FRAUD_SCENARIO: ["x" if r[1] else None for r in reports],
        }
    )  # fmt: skip
    frame = build_training_set(features, labels, window).set_index(s.TRANSACTION_ID)
    assert frame[s.IS_FRAUD].to_dict() == {"a": 0, "b": 1, "c": 1}
    assert frame[s.FRAUD_SCENARIO].isna().to_dict() == {"a": True, "b": False, "c": False}
