"""The feature time rule: a window at t sees exactly [t - w, t); labels only once reported."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.features import build_features, lookback_days, model_feature_names
from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_day, simulate_days

T0 = pd.Timestamp("2026-09-10 12:00", tz="UTC")
UTC = dt.timezone.utc


def tx(rows):
    frame = pd.DataFrame(rows, columns=[s.TRANSACTION_ID, s.CUSTOMER_ID, s.MERCHANT_ID, s.EVENT_TIMESTAMP, s.AMOUNT])
    frame[s.EVENT_TIMESTAMP] = pd.to_datetime(frame[s.EVENT_TIMESTAMP], utc=True).astype("datetime64[us, UTC]")
    frame[s.MERCHANT_CATEGORY], frame[s.CHANNEL], frame[s.COUNTRY] = "grocery", "online", "NL"
    return frame


def labels(rows):
    frame = pd.DataFrame(rows, columns=[s.TRANSACTION_ID, s.REPORTED_AT])
    frame[s.REPORTED_AT] = pd.to_datetime(frame[s.REPORTED_AT], utc=True).astype("datetime64[us, UTC]")
    frame[s.IS_FRAUD] = np.int8(1)
    frame[s.FRAUD_SCENARIO] = "x"
    return frame[list(s.LABEL_COLUMNS)]


def features(transactions, label_rows=None, start=T0 - pd.Timedelta(days=40), end=T0 + pd.Timedelta(days=40)):
    return build_features(transactions, labels(label_rows or []), start.to_pydatetime(), end.to_pydatetime()).set_index(
        s.TRANSACTION_ID
    )


def test_windows_are_half_open_and_exclude_the_transaction_itself():
    frame = features(
        tx(
            [
                ("a", "C1", "M1", T0, 10.0),
                ("b", "C1", "M1", T0 + pd.Timedelta(minutes=30), 20.0),
                ("c", "C1", "M2", T0 + pd.Timedelta(hours=1), 40.0),  # exactly 1 h after a
                ("d", "C1", "M1", T0 + pd.Timedelta(hours=2), 80.0),
            ]
        )
    )
    assert frame.loc["a", "customer_tx_count_1h"] == 0
    assert frame.loc["c", "customer_tx_count_1h"] == 2  # a is at t - 1h: inside [t - 1h, t)
    assert frame.loc["c", "customer_amount_sum_1h"] == 30.0
    assert frame.loc["d", "customer_tx_count_1h"] == 1  # only c; d itself never counts
    assert frame.loc["d", "customer_tx_count_24h"] == 3
    assert frame.loc["d", "customer_amount_mean_24h"] == pytest.approx(70 / 3)
    assert frame.loc["d", "customer_distinct_merchants_24h"] == 2
    assert frame.loc["d", "customer_merchant_visits_30d"] == 2 and frame.loc["c", "customer_merchant_first_visit"] == 1
    assert frame.loc["b", "customer_hours_since_prev_tx"] == pytest.approx(0.5)
    assert np.isnan(frame.loc["a", "customer_hours_since_prev_tx"])


def test_transactions_at_the_same_instant_do_not_see_each_other():
    frame = features(tx([("a", "C1", "M1", T0, 10.0), ("b", "C1", "M1", T0, 20.0)]))
    assert frame["customer_tx_count_24h"].tolist() == [0, 0]
    assert frame["merchant_tx_count_1d"].tolist() == [0, 0]


def test_merchant_risk_uses_only_labels_reported_before_the_transaction():
    fraud_time = T0 - pd.Timedelta(days=10)
    rows = [("f", "C9", "M1", fraud_time, 50.0), ("g", "C8", "M1", fraud_time + pd.Timedelta(hours=1), 5.0)]
    rows += [("early", "C1", "M1", T0 - pd.Timedelta(days=1), 10.0), ("late", "C2", "M1", T0 + pd.Timedelta(days=1), 10.0)]
    reported = T0  # the chargeback arrives 10 days after the fraud
    frame = features(tx(rows), [("f", reported)])
    # 'early' (t = T0 - 1d) could see the fraud (9 d old) but the label was not reported yet.
    assert frame.loc["early", "merchant_fraud_risk_7d"] == 0.0
    # 'late' (t = T0 + 1d): the fraud is 11 d old, inside [t - 14d, t - 7d), and reported: 1 of 2.
    assert frame.loc["late", "merchant_fraud_risk_7d"] == pytest.approx(0.5)
    # ... but outside the 1-day window behind the delay [t - 8d, t - 7d).
    assert np.isnan(frame.loc["late", "merchant_fraud_risk_1d"]) or frame.loc["late", "merchant_fraud_risk_1d"] == 0


def test_future_events_never_change_earlier_features():
    config = SimulationConfig(n_customers=800, n_merchants=60, transactions_per_day=1500)
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(12)]
    simulated = simulate_days(config, days)
    history, reports = simulated.transactions, simulated.labels
    start = dt.datetime(2026, 9, 9, tzinfo=UTC)
    end = dt.datetime(2026, 9, 11, tzinfo=UTC)
    baseline = build_features(history[history[s.EVENT_TIMESTAMP] < end], reports[reports[s.REPORTED_AT] < end], start, end)
    # Everything after `end` (transactions and late chargebacks about earlier fraud) is added.
    late = reports.copy()
    late[s.REPORTED_AT] = late[s.REPORTED_AT] + pd.Timedelta(days=30)
    with_future = build_features(history, pd.concat([reports, late.head(50)]), start, end)
    pd.testing.assert_frame_equal(baseline, with_future)


def test_optional_columns_drop_out_of_the_feature_set():
    frame = tx([("a", "C1", "M1", T0, 10.0)]).drop(columns=[s.MERCHANT_CATEGORY, s.CHANNEL, s.COUNTRY])
    built = build_features(frame, labels([]), (T0 - pd.Timedelta(days=1)).to_pydatetime(), (T0 + pd.Timedelta(days=1)).to_pydatetime())
    names = model_feature_names(frame.columns)
    assert s.MERCHANT_CATEGORY not in names and "is_online" not in names and list(built.columns[4:]) == names
    assert lookback_days(7) == 37


def test_chunked_parquet_build_equals_the_in_memory_build(tmp_path):
    from fraudshield_pipeline.domain.features import write_features_to_parquet

    config = SimulationConfig(n_customers=500, n_merchants=50, transactions_per_day=400)
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(20)]
    simulated = [simulate_day(config, d) for d in days]
    tx_files, label_files = [], []
    for i, day in enumerate(simulated):
        tx_files.append(str(tmp_path / f"tx{i}.parquet"))
        label_files.append(str(tmp_path / f"labels{i}.parquet"))
        day.transactions.to_parquet(tx_files[-1])
        day.labels.to_parquet(label_files[-1])
    written = write_features_to_parquet(tx_files, label_files, days[0], len(days), str(tmp_path / "out"), chunk_days=3)
    chunked = pd.read_parquet(tmp_path / "out").sort_values([s.EVENT_TIMESTAMP, s.TRANSACTION_ID]).reset_index(drop=True)
    start = dt.datetime(2026, 9, 1, tzinfo=UTC)
    whole = build_features(
        pd.concat([d.transactions for d in simulated]), pd.concat([d.labels for d in simulated]), start, start + dt.timedelta(days=20)
    )
    assert len(written) == 7 and sum(written.values()) == len(whole) > 7000
    pd.testing.assert_frame_equal(chunked, whole.reset_index(drop=True), check_exact=False, rtol=1e-9, check_dtype=False)


def test_distinct_merchants_match_a_brute_force_count_on_a_busy_card():
    """One card with many transactions a day (a placeholder id in a real export): the windowed
    DISTINCT count equals the definition, merchants seen in [t - 24h, t)."""
    rng = np.random.default_rng(3)
    times = T0 + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 24 * 3600, 2_000)), unit="s")
    rows = [(f"t{i}", "C0" if i % 4 else f"C{i}", f"M{rng.integers(0, 40)}", when, 5.0) for i, when in enumerate(times)]
    frame = features(tx(rows))
    busy = [r for r in rows if r[1] == "C0"]
    for _, (tid, _, _, when, _) in zip(range(60), busy[::25]):
        expected = len({m for (_, _, m, t, _) in busy if when - pd.Timedelta(hours=24) <= t < when})
        assert frame.loc[tid, "customer_distinct_merchants_24h"] == expected, tid


def test_an_id_seen_again_on_another_day_stays_two_transactions():
    """A recycled id (refused by the snapshots' replay check, but features must not multiply rows):
    each transaction keeps its own customer, time and history; it was four rows, two of them crossed."""
    frame = build_features(
        tx([("T1", "C1", "M1", T0, 10.0), ("T1", "C2", "M2", T0 + pd.Timedelta(days=12), 20.0), ("T2", "C1", "M1", T0 + pd.Timedelta(hours=1), 5.0)]),
        labels([]), (T0 - pd.Timedelta(days=1)).to_pydatetime(), (T0 + pd.Timedelta(days=20)).to_pydatetime(),
    )  # fmt: skip
    assert len(frame) == 3
    recycled = frame[frame[s.TRANSACTION_ID] == "T1"].set_index(s.CUSTOMER_ID)
    assert recycled.loc["C1", s.AMOUNT] == 10.0 and recycled.loc["C2", s.AMOUNT] == 20.0
    assert recycled.loc["C2", "customer_tx_count_30d"] == 0 and recycled.loc["C1", "customer_tx_count_30d"] == 0


def test_a_reversed_chargeback_stops_counting_from_its_reversal():
    """label_history: a fraud report counts for the merchant until a later report says genuine
    (the merchant won the representment); before the reversal it counted, as it was known then."""
    fraud_at = T0 - pd.Timedelta(days=11)
    history = [("F", "C9", "M1", fraud_at, 50.0)] + [(f"B{i}", f"C{i}", "M1", fraud_at + pd.Timedelta(hours=i), 10.0) for i in range(1, 4)]
    targets = [("Y", "C1", "M1", T0 - pd.Timedelta(days=3), 10.0), ("X", "C2", "M1", T0, 10.0)]
    reports = labels([("F", T0 - pd.Timedelta(days=9)), ("F", T0 - pd.Timedelta(days=2))])
    reports.loc[1, s.IS_FRAUD] = np.int8(0)  # the reversal
    frame = build_features(tx(history + targets), reports, (T0 - pd.Timedelta(days=4)).to_pydatetime(),
                           (T0 + pd.Timedelta(days=1)).to_pydatetime()).set_index(s.TRANSACTION_ID)  # fmt: skip
    assert frame.loc["Y", "merchant_fraud_risk_30d"] > 0  # reported, not yet reversed at Y's day
    assert frame.loc["X", "merchant_fraud_risk_30d"] == 0  # reversed before X's day
    unreversed = build_features(tx(history + targets), reports.iloc[:1], (T0 - pd.Timedelta(days=4)).to_pydatetime(),
                                (T0 + pd.Timedelta(days=1)).to_pydatetime()).set_index(s.TRANSACTION_ID)  # fmt: skip
    assert unreversed.loc["X", "merchant_fraud_risk_30d"] > 0
