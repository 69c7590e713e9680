"""Writes data/examples/landing/: an example landing zone in a user's own format.

A week of simulated days (``simulate_day``), renamed and reformatted the way a payment
processor's export might look, plus the ``mapping.yaml`` that maps it back onto the canonical
schema (``fraudshield_pipeline.domain.landing``):

* transactions/<day>.csv: semicolon-delimited, the user's column names, no merchant category,
  channel as POS entry modes (chip / contactless / ecom), naive Europe/Amsterdam local times
  as "%d/%m/%Y %H:%M:%S", and an export batch column the mapping ignores;
* labels/<day>.csv: the chargebacks of the day's transactions, comma-delimited, with a "Y"
  fraud flag, reason codes and ISO 8601 report times with a UTC offset.

Each file holds one UTC day (the partition), written in local time. Deterministic: running it
again rewrites identical bytes.

    uv run python data/examples/make_landing_example.py [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import replace
from pathlib import Path

import pandas as pd

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.simulate import SimulationConfig, simulate_day

CONFIG = SimulationConfig(seed=7, n_customers=400, n_merchants=60, transactions_per_day=300)
DAYS = tuple(dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(7))
TIMEZONE = "Europe/Amsterdam"
TIME_FORMAT = "%d/%m/%Y %H:%M:%S"
CONTACTLESS_LIMIT = 50.0  # card-present payments below it are tapped, above it the chip is read
REASON_CODES = {"compromised_terminal": "CT", "account_takeover": "ATO", "card_testing": "TEST", "large_amount": "BIG"}
OUT = Path(__file__).resolve().parent / "landing"

MAPPING = """\
# yaml-language-server: $schema=mapping.schema.json
# mapping.yaml: how this landing zone's files map onto FraudShield's canonical schema.
# Read by fraudshield_pipeline.domain.landing (load_mapping / read_day); its JSON schema is
# mapping.schema.json beside it. Paths are relative to the landing root (this folder, or an S3
# prefix) and stay inside it; {date} is the partition day as YYYY-MM-DD ({date:%Y%m%d} gives
# 20260901; strftime codes only). The files of a day hold the transactions of that UTC day.
version: 1

# Share of a column's non-blank values that may fail to parse before the file is rejected as
# "retyped" (at least one value is always tolerated). Unparseable values stay in their row with
# their raw text, and the snapshot contract quarantines the row with the rule that failed.
max_unparseable_share: 0.01
# Share of a file's records (non-empty lines after the header) that may fail to split into the
# header's fields: each is quarantined as malformed_record with its raw line; past it the file fails.
max_malformed_share: 0.01
max_decompressed_mb: 1024            # cap on a gzip file once decompressed

transactions:
  path: "transactions/{date}*.csv"   # glob: several files per day are read and concatenated
  format: csv                        # csv | parquet
  csv:
    delimiter: ";"                   # our export is semicolon-separated
    encoding: utf-8                  # a UTF-8 byte-order mark is skipped either way
    decimal: "."                     # amounts are written 12.34 (use "," for 12,34)
    multiline: false                 # true only if quoted fields may hold line breaks
    # skip_lines: 3                  # physical lines before the header (a bank export's account and period
    #                                # lines, a blank one): neither header nor records; line numbers stay physical
  columns:                           # canonical column: our column name
    transaction_id: tx_ref           # ids are always read as text (leading zeros kept)
    customer_id: card_hash
    merchant_id: terminal
    event_timestamp: tx_time
    # event_time: Time               # only if the time of day is a column of its own: event_timestamp is then
    #                                # the date, and timestamp.format describes the two joined by one space
    #                                # ('%d.%m.%Y %H:%M:%S' for 03.09.2026 and 14:05:33)
    amount: amount_eur
    merchant_category: null          # optional; our export has no merchant category
    channel: pos_entry               # optional; values mapped below
    country: merchant_country        # optional
  timestamp:
    format: "%d/%m/%Y %H:%M:%S"      # iso | epoch_seconds (_hours, _millis, _micros, _nanos) | strftime with the hour
  timezone: Europe/Amsterdam         # our times are naive local times; converted to UTC
  values:                            # our values -> canonical vocabulary (others pass through)
    channel:
      chip: card_present
      contactless: card_present
      ecom: online
  ignore: [export_batch]             # columns we know are unused (others are reported as unknown)
  max_amount: 10000000               # larger amounts are quarantined (in the feed's currency)
  # amount_sign: negative           # only if purchases are written below zero (a bank account's debits,
  #                                  # -12.50): amounts are negated on reading and a credit is quarantined

labels:
  # A separate chargeback feed: labels/<day>.csv holds the labels of <day>'s transactions.
  # (Labels inside the transaction files would instead be:
  #    from_transactions: {is_fraud: fraud_flag, reported_at: report_date}
  #  with delay_days: 7 standing in for a missing report date.)
  path: "labels/{date}*.csv"
  format: csv                        # comma-delimited, UTF-8 (the defaults)
  columns:
    transaction_id: tx_ref
    is_fraud: fraud_flag
    reported_at: reported_on
    fraud_scenario: reason           # optional
  timestamp:
    format: iso                      # ISO 8601 with a UTC offset, e.g. 2026-09-04T10:55:49+02:00
  values:
    is_fraud: {"Y": 1, "N": 0}       # 1/0, true/false and yes/no are understood without a map
    fraud_scenario:
      CT: compromised_terminal
      ATO: account_takeover
      TEST: card_testing
      BIG: large_amount
"""


def user_frames(day: dt.date, config: SimulationConfig = CONFIG) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One simulated day in the user's format: (transactions, labels), all columns text."""
    simulated = simulate_day(config, day)
    tx = simulated.transactions
    channel = tx[s.CHANNEL].where(tx[s.CHANNEL].ne("card_present"), "chip")
    channel = channel.where(~(channel.eq("chip") & tx[s.AMOUNT].lt(CONTACTLESS_LIMIT)), "contactless")
    transactions = pd.DataFrame(
        {
            "tx_ref": tx[s.TRANSACTION_ID],
            "card_hash": tx[s.CUSTOMER_ID],
            "terminal": tx[s.MERCHANT_ID],
            "tx_time": tx[s.EVENT_TIMESTAMP].dt.tz_convert(TIMEZONE).dt.strftime(TIME_FORMAT),
            "amount_eur": tx[s.AMOUNT].map("{:.2f}".format),
            "pos_entry": channel.replace({"online": "ecom"}),
            "merchant_country": tx[s.COUNTRY],
            "export_batch": f"B{day:%Y%m%d}",
        }
    )
    lb = simulated.labels
    labels = pd.DataFrame(
        {
            "tx_ref": lb[s.TRANSACTION_ID],
            "fraud_flag": lb[s.IS_FRAUD].map({1: "Y", 0: "N"}),
            "reported_on": lb[s.REPORTED_AT].dt.tz_convert(TIMEZONE).dt.floor("s").map(lambda t: t.isoformat()),
            "reason": lb[s.FRAUD_SCENARIO].map(REASON_CODES),
        }
    )
    return transactions, labels


def write(out: Path = OUT, days: tuple[dt.date, ...] = DAYS, config: SimulationConfig = CONFIG) -> list[Path]:
    """Writes mapping.yaml and the daily files under `out`; returns the paths written."""
    written = []
    (out / "transactions").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    mapping = out / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    written.append(mapping)
    for day in days:
        transactions, labels = user_frames(day, config)
        for frame, path, sep in (
            (transactions, out / "transactions" / f"{day.isoformat()}.csv", ";"),
            (labels, out / "labels" / f"{day.isoformat()}.csv", ","),
        ):
            path.write_text(frame.to_csv(sep=sep, index=False, lineterminator="\n"), encoding="utf-8")
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"target folder (default: {OUT})")
    parser.add_argument("--days", type=int, default=len(DAYS), help="days from 2026-09-01 (default 7)")
    parser.add_argument("--per-day", type=int, default=CONFIG.transactions_per_day, help="transactions per day")
    args = parser.parse_args()
    config = replace(CONFIG, transactions_per_day=args.per_day) if args.per_day != CONFIG.transactions_per_day else CONFIG
    paths = write(args.out, tuple(DAYS[0] + dt.timedelta(days=i) for i in range(args.days)), config)
    print(f"wrote {len(paths)} files, {sum(p.stat().st_size for p in paths) / 1024:.0f} KiB, under {args.out}")


if __name__ == "__main__":
    main()
