"""Dates and times written as digits (bank, SAS and mainframe exports): `20260903`, `20260903140533`.

Parquet writes them as int32/int64 columns (float64 once a null is in, as pandas reads them); a CSV
holds the same digits as text. Under a strftime pattern both read alike; under iso or an epoch
format the file fails naming the pattern, never read as seconds since 1970 (20260903 s: 1970-08-23).
"""

import numpy as np
import pandas as pd
import pytest

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import RAW_VALUE, validate_labels, validate_transactions
from fraudshield_pipeline.domain.landing import LandingError
from fraudshield_pipeline_tests.domain.test_landing import (
    END,
    LB,
    PARQUET_FORMAT,
    START,
    TX_PQ,
    combine,
    mapping,
    read,
    set_key,
    to_parquet,
    user_day,  # noqa: F401 (the module fixture)
    zone,
)
from fraudshield_pipeline_tests.landing_example import example

LB_PQ = "labels/2026-09-03.parquet"
SECONDS = "%Y%m%d%H%M%S"
PARQUET_LABELS = combine(set_key("labels.path", "labels/{date}*.parquet"), set_key("labels.format", "parquet"))


def digits(tx: pd.DataFrame) -> pd.Series:
    """The example's local times as yyyymmddHHMMSS integers."""
    return pd.to_datetime(tx["tx_time"], format=example.TIME_FORMAT).dt.strftime(SECONDS).astype("int64")


def tx_format(fmt: str):
    return combine(PARQUET_FORMAT, set_key("transactions.timestamp", {"format": fmt}))


def label_format(fmt: str):
    return combine(PARQUET_LABELS, set_key("labels.timestamp", {"format": fmt}))


def report_days(lb: pd.DataFrame, values) -> bytes:
    return to_parquet(lb.assign(reported_on=values))


# --- a strftime pattern reads the digits -------------------------------------------------------
def test_parquet_int64_digits_read_with_the_pattern_as_the_same_instants_as_text(user_day):
    tx, lb = user_day
    expected = read(zone(tx, lb)).transactions[s.EVENT_TIMESTAMP]
    landed = read(zone(None, lb, {TX_PQ: to_parquet(tx.assign(tx_time=digits(tx)))}), mapping(tx_format(SECONDS)))
    assert (landed.transactions[s.EVENT_TIMESTAMP] == expected).all() and len(expected) == len(tx)
    first = pd.to_datetime(tx["tx_time"].iloc[0], format=example.TIME_FORMAT).tz_localize("Europe/Amsterdam").tz_convert("UTC")
    assert landed.transactions[s.EVENT_TIMESTAMP].iloc[0] == first  # Amsterdam wall time, not UTC
    assert landed.transactions["landing_rule"].isna().all()


def test_csv_digits_with_the_pattern_keep_working(user_day):
    tx, lb = user_day
    expected = read(zone(tx, lb)).transactions[s.EVENT_TIMESTAMP]
    landed = read(zone(tx.assign(tx_time=digits(tx).astype(str)), lb), mapping(set_key("transactions.timestamp", {"format": SECONDS})))
    assert (landed.transactions[s.EVENT_TIMESTAMP] == expected).all()


def test_an_int32_report_date_reads_as_the_end_of_that_day(user_day):
    """yyyymmdd alone means reported during that day: known by the next local midnight (Amsterdam)."""
    tx, lb = user_day
    days = pd.Series(20260910, index=lb.index, dtype="int32")
    landed = read(zone(tx, None, {LB_PQ: report_days(lb, days)}), mapping(label_format("%Y%m%d")))
    assert len(landed.labels) == len(lb)
    assert landed.labels[s.REPORTED_AT].eq(pd.Timestamp("2026-09-10 22:00", tz="UTC")).all()


def test_nullable_integers_read_as_floats_keep_their_blanks_blank(user_day):
    tx, lb = user_day
    nullable = digits(tx).astype("float64")
    nullable.iloc[[3, 7]] = np.nan
    landed = read(zone(None, lb, {TX_PQ: to_parquet(tx.assign(tx_time=nullable))}), mapping(tx_format(SECONDS)))
    stamps = landed.transactions[s.EVENT_TIMESTAMP]
    assert stamps.iloc[[3, 7]].isna().all() and stamps.drop(index=[3, 7]).notna().all()
    assert landed.transactions["landing_rule"].isna().all()  # blank, for the contract's not-null rule
    checked = validate_transactions(landed.transactions, START, END, "tx")
    assert len(checked.valid) + len(checked.quarantine) == len(tx) and len(checked.quarantine) == 2


def test_an_integer_date_joined_to_a_time_of_day_column(user_day):
    """columns.event_time: the date's digits and the time's text joined by one space, one pattern for both."""
    tx, lb = user_day
    expected = read(zone(tx, lb)).transactions[s.EVENT_TIMESTAMP]
    local = pd.to_datetime(tx["tx_time"], format=example.TIME_FORMAT)
    split = tx.assign(tx_time=local.dt.strftime("%Y%m%d").astype("int32"), tx_clock=local.dt.strftime("%H:%M:%S"))
    change = combine(tx_format("%Y%m%d %H:%M:%S"), set_key("transactions.columns.event_time", "tx_clock"))
    landed = read(zone(None, lb, {TX_PQ: to_parquet(split)}), mapping(change))
    assert (landed.transactions[s.EVENT_TIMESTAMP] == expected).all()


def test_a_label_pattern_without_the_time_names_the_digits_it_holds(user_day):
    tx, lb = user_day
    stamps = pd.Series(20260910140533, index=lb.index, dtype="int64")
    with pytest.raises(LandingError, match=r"\[retyped\] column 'reported_on'.*set timestamp.format: '%Y%m%d%H%M%S'"):
        read(zone(tx, None, {LB_PQ: report_days(lb, stamps)}), mapping(label_format("%Y%m%d")))


def test_a_value_of_another_length_is_quarantined_with_its_raw_value(user_day):
    """strptime would read 2026090314053 as 14:05:03 and 2026093 as 2026-09-03: another length is no reading."""
    tx, lb = user_day
    stamps = digits(tx)
    stamps.iloc[5] = stamps.iloc[5] // 10
    landed = read(zone(None, lb, {TX_PQ: to_parquet(tx.assign(tx_time=stamps))}), mapping(tx_format(SECONDS)))
    assert landed.transactions[s.EVENT_TIMESTAMP].iloc[5] is pd.NaT
    assert landed.transactions["landing_rule"].iloc[5] == "event_timestamp:unparseable"
    assert landed.transactions[RAW_VALUE].iloc[5] == str(stamps.iloc[5]) and len(str(stamps.iloc[5])) == 13

    days = pd.Series(20260910, index=lb.index, dtype="int32")
    days.iloc[0] = 2026093
    landed = read(zone(tx, None, {LB_PQ: report_days(lb, days)}), mapping(label_format("%Y%m%d")))
    labels = landed.labels
    assert labels["landing_rule"].iloc[0] == "reported_at:unparseable" and labels[RAW_VALUE].iloc[0] == "2026093"
    valid = validate_transactions(landed.transactions, START, END, "tx").valid
    checked = validate_labels(labels, valid[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], LB_PQ)
    assert len(checked.valid) + len(checked.quarantine) == len(lb) and len(checked.quarantine) >= 1


def test_a_csv_value_of_another_length_is_unparseable_too(user_day):
    tx, lb = user_day
    texts = digits(tx).astype(str)
    texts.iloc[2] = texts.iloc[2][:-1]
    landed = read(zone(tx.assign(tx_time=texts), lb), mapping(set_key("transactions.timestamp", {"format": SECONDS})))
    assert landed.transactions["landing_rule"].iloc[2] == "event_timestamp:unparseable"
    assert landed.transactions[RAW_VALUE].iloc[2] == texts.iloc[2]


def test_a_separated_pattern_still_takes_unpadded_fields(user_day):
    """Only codes side by side need their width: '3/9/2026 9:05:33' has one reading under the example's pattern."""
    tx, lb = user_day
    landed = read(zone(tx.iloc[:3].assign(tx_time="3/9/2026 9:05:33"), lb.iloc[:0]))
    assert landed.transactions[s.EVENT_TIMESTAMP].eq(pd.Timestamp("2026-09-03 07:05:33", tz="UTC")).all()


# --- iso or epoch formats: the pattern is named --------------------------------------------------
@pytest.mark.parametrize("fmt", ["iso", "epoch_seconds", "epoch_millis"])
def test_digit_timestamps_under_iso_or_epoch_name_the_pattern(user_day, fmt):
    tx, lb = user_day
    with pytest.raises(LandingError, match=r"\[retyped\] column 'tx_time'") as caught:
        read(zone(None, lb, {TX_PQ: to_parquet(tx.assign(tx_time=digits(tx)))}), mapping(tx_format(fmt)))
    assert "dates written as digits (20260903140533): set timestamp.format: '%Y%m%d%H%M%S'" in str(caught.value)
    assert "origin" not in str(caught.value)


@pytest.mark.parametrize("fmt", ["iso", "epoch_seconds"])
def test_digit_report_dates_under_iso_or_epoch_name_the_pattern_not_1970(user_day, fmt):
    """20260910 as epoch seconds is 1970-08-24: a report date never read that way."""
    tx, lb = user_day
    days = pd.Series(20260910, index=lb.index, dtype="int32")
    with pytest.raises(LandingError, match=r"\[retyped\] column 'reported_on'") as caught:
        read(zone(tx, None, {LB_PQ: report_days(lb, days)}), mapping(label_format(fmt)))
    assert "dates written as digits (20260903): set timestamp.format: '%Y%m%d'" in str(caught.value)


def test_digit_transaction_dates_say_the_time_of_day_is_needed(user_day):
    tx, lb = user_day
    dates = (digits(tx) // 1_000_000).astype("int32")
    with pytest.raises(LandingError, match=r"\[retyped\] column 'tx_time'") as caught:
        read(zone(None, lb, {TX_PQ: to_parquet(tx.assign(tx_time=dates))}), mapping(tx_format("epoch_seconds")))
    assert "without a time of day: the features and the label-delay rules need the time of day" in str(caught.value)
    assert "columns.event_time" in str(caught.value)


def test_csv_digit_dates_under_epoch_or_iso_name_the_pattern(user_day):
    tx, lb = user_day
    texts = digits(tx).astype(str)
    for fmt in ("epoch_seconds", "iso"):
        with pytest.raises(LandingError, match=r"set timestamp.format: '%Y%m%d%H%M%S'"):
            read(zone(tx.assign(tx_time=texts), lb), mapping(set_key("transactions.timestamp", {"format": fmt})))
