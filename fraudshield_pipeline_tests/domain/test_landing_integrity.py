"""The landing zone loses nothing and reads nothing outside itself.

Records in = rows kept + rows quarantined, counted independently of the parser; paths that leave
the root are refused before any read; absurd values are quarantined with their raw text before
they reach features; every failure is a LandingError naming file, column and rule.
"""

import datetime as dt
import gzip
import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.contracts import QUARANTINE_RULE, validate_labels, validate_transactions
from fraudshield_pipeline.domain.landing import (
    DictFileReader,
    LandingError,
    LocalDirReader,
    MappingError,
    S3PrefixReader,
    load_mapping,
    mapping_json_schema,
    read_day,
    read_mapping,
)
from fraudshield_pipeline_tests.landing_example import EXAMPLES, example, mapping_with

DAY = dt.date(2026, 9, 1)
START = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
END = START + dt.timedelta(days=1)
TX, LB = f"transactions/{DAY}.csv", f"labels/{DAY}.csv"
COMMITTED = EXAMPLES / "landing"


def committed(name: str) -> bytes:
    return (COMMITTED / name).read_bytes()


def stray_quotes(rows: tuple[int, ...]) -> tuple[bytes, list[str]]:
    """The committed day with a stray `"` opening the terminal field of some data rows."""
    lines = committed(TX).decode().split("\n")
    for row in rows:
        fields = lines[row].split(";")
        fields[2] = '"' + fields[2]
        lines[row] = ";".join(fields)
    return "\n".join(lines).encode(), [lines[r] for r in rows]


# --- records in = kept + quarantined ---------------------------------------------------------
def test_stray_quotes_are_quarantined_one_by_one_not_merged():
    """As in the issue: a day of ~295 records, two rows with an unbalanced quote. Once parsed as one
    long quoted field (rows merged, transactions gone, every check passed)."""
    data, damaged = stray_quotes((40, 200))
    records = data.decode().count("\n") - 1
    assert records == 295  # 296 lines: a header and 295 records
    landed = read_day(DictFileReader({TX: data, LB: committed(LB)}), load_mapping(example.MAPPING), DAY)
    assert len(landed.transactions) == landed.records[TX] == records
    outcome = validate_transactions(landed.transactions, START, END, TX)
    assert outcome.rule_counts == {"malformed_record": 2}
    assert outcome.quarantine["raw_value"].tolist() == damaged
    assert outcome.quarantine["source_line"].tolist() == [41, 201]
    assert len(outcome.valid) + len(outcome.quarantine) == records
    clean = read_day(LocalDirReader(COMMITTED), read_mapping(LocalDirReader(COMMITTED)), DAY).transactions
    kept = clean.drop(index=[39, 199])[s.TRANSACTION_ID].tolist()
    assert outcome.valid[s.TRANSACTION_ID].tolist() == kept  # every other record intact


def test_past_the_malformed_share_the_file_fails_naming_the_first_bad_line():
    data, _ = stray_quotes((12, 40, 200, 201))
    with pytest.raises(LandingError) as failure:
        read_day(DictFileReader({TX: data, LB: committed(LB)}), load_mapping(example.MAPPING), DAY)
    assert failure.value.rule == "malformed_record" and failure.value.file == TX
    assert "4 of 295 records do not split into the header's 8 fields (first at line 13" in str(failure.value)
    assert "an unbalanced quote?" in str(failure.value)


def test_multiline_fields_only_where_the_mapping_declares_them():
    frame = pd.read_csv(io.BytesIO(committed(TX)), sep=";", dtype=str, keep_default_na=False)
    frame.loc[3, "merchant_country"] = "N\nL"
    data = frame.to_csv(sep=";", index=False, lineterminator="\n").encode()
    per_line = read_day(DictFileReader({TX: data, LB: committed(LB)}), load_mapping(example.MAPPING), DAY)
    assert len(per_line.transactions) == len(frame) + 1  # two physical records, both quarantined
    assert per_line.transactions["landing_rule"].eq("malformed_record").sum() == 2
    multiline = load_mapping(mapping_with(transactions__csv={"delimiter": ";", "multiline": True}))
    landed = read_day(DictFileReader({TX: data, LB: committed(LB)}), multiline, DAY)
    assert len(landed.transactions) == landed.records[TX] == len(frame)
    assert landed.transactions[s.COUNTRY].iloc[3] == "N\nL" and landed.transactions["source_line"].iloc[4] == 7
    bad, (damaged,) = stray_quotes((40,))  # multi-line allowed, a stray quote still costs one record
    landed = read_day(DictFileReader({TX: bad, LB: committed(LB)}), multiline, DAY)
    malformed = landed.transactions[landed.transactions["landing_rule"] == "malformed_record"]
    assert malformed["source_line"].tolist() == [41] and malformed["raw_value"].tolist() == [damaged]
    assert len(landed.transactions) == landed.records[TX] == 295


def test_parquet_rows_are_checked_against_the_metadata_count_and_numbered():
    frame = pd.read_csv(io.BytesIO(committed(TX)), sep=";", dtype=str, keep_default_na=False)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, row_group_size=100)
    text = mapping_with(transactions__path="transactions/{date}.parquet", transactions__format="parquet")
    landed = read_day(DictFileReader({f"transactions/{DAY}.parquet": buffer.getvalue(), LB: committed(LB)}), load_mapping(text), DAY)
    assert landed.records == {f"transactions/{DAY}.parquet": len(frame), LB: 13}
    assert landed.transactions["source_line"].tolist() == list(range(1, len(frame) + 1))


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (pa.table([pa.array(["1"]), pa.array(["2"])], names=["tx_ref", "tx_ref"]), "[duplicate_column] column 'tx_ref'"),
        (
            pa.table({"tx_ref": ["1"], "card_hash": ["c"], "terminal": ["m"], "tx_time": ["01/09/2026 10:00:00"],
                      "amount_eur": pa.array([[1.0, 2.0]]), "pos_entry": ["chip"], "merchant_country": ["NL"]}),
            "[retyped] column 'amount_eur' (canonical 'amount'): holds list<element: double> values",
        ),
    ],
    ids=["duplicate_column_names", "list_typed_amount"],
)
def test_parquet_structure_errors_are_landing_errors(table, expected):
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    text = mapping_with(transactions__path="transactions/{date}.parquet", transactions__format="parquet")
    with pytest.raises(LandingError) as failure:
        read_day(DictFileReader({f"transactions/{DAY}.parquet": buffer.getvalue(), LB: committed(LB)}), load_mapping(text), DAY)
    assert expected in str(failure.value)


def test_gzip_is_decompressed_under_a_cap():
    bomb = gzip.compress(committed(TX) + b"0" * (3 * 2**20), mtime=0)
    assert len(bomb) < 50_000
    capped = load_mapping(example.MAPPING.replace("max_decompressed_mb: 1024", "max_decompressed_mb: 1"))
    with pytest.raises(LandingError, match=r"\[too_large\] decompresses to more than 1 MiB"):
        read_day(DictFileReader({TX: bomb, LB: committed(LB)}), capped, DAY)
    small = gzip.compress(committed(TX), mtime=0)
    assert len(read_day(DictFileReader({TX: small, LB: committed(LB)}), capped, DAY).transactions) == 295


# --- nothing outside the root ----------------------------------------------------------------
class NoReads(DictFileReader):
    """A zone whose every read fails the test: refusals must come before any read."""

    def read_bytes(self, name: str) -> bytes:
        raise AssertionError(f"read {name}")

    def list_files(self, prefix: str) -> list[str]:
        raise AssertionError(f"listed {prefix}")


@pytest.mark.parametrize(
    "path",
    ["../secret/{date:creds}.csv", "../../../../etc/{date:passwd}", "transactions/{date.__class__}.csv", "{date[0]}.csv",
     "{date!r}.csv", "/etc/{date}.csv", "transactions/../../{date}.csv", "C:/data/{date}.csv", "s3://other/{date}.csv",
     "..\\{date}.csv", "{date:%Y}/../../x.csv"],
)
def test_paths_leaving_the_root_or_bad_date_formats_are_refused_before_any_read(path):
    with pytest.raises(MappingError) as failure:
        read_day(NoReads({}), load_mapping(mapping_with(transactions__path=path)), DAY)
    assert "transactions.path" in str(failure.value)


def test_normalised_paths_inside_the_root_are_accepted():
    loaded = load_mapping(mapping_with(transactions__path="exports/../transactions/./{date:%Y-%m-%d}*.csv"))
    assert loaded.transactions.path == "transactions/{date:%Y-%m-%d}*.csv"


def test_readers_refuse_names_outside_the_root_and_never_echo_content(tmp_path):
    root, secret = tmp_path / "zone", tmp_path / "secret.txt"
    root.mkdir()
    secret.write_text("password=hunter2\n")
    (root / "link.csv").symlink_to(secret)
    reader = LocalDirReader(root)
    for name in ("../secret.txt", "/etc/passwd", "link.csv"):
        with pytest.raises(LandingError) as failure:
            reader.read_bytes(name)
        assert failure.value.rule == "outside_root" and "hunter2" not in str(failure.value)
    with pytest.raises(MappingError, match="relative to the landing root and stay inside it"):
        read_mapping(reader, "../secret.txt")
    with pytest.raises(LandingError, match="outside_root"):
        S3PrefixReader("bucket", "landing/../other", region="us-east-1")


# --- bounds and raw values -------------------------------------------------------------------
def hostile_day() -> bytes:
    """The committed day plus hostile rows: absurd amounts on one card, padded and blank ids."""
    rows = [
        "X1;CARD-EVIL;M000001;01/09/2026 10:00:00;1e308;chip;NL;b1",
        "X2;CARD-EVIL;M000001;01/09/2026 10:05:00;1e308;chip;NL;b1",
        "X3;CARD-EVIL;M000001;01/09/2026 10:06:00;inf;chip;NL;b1",
        " T20260901-0000005;C0000001;M000001;01/09/2026 10:07:00;5.00;chip;NL;b1",
        "   ;C0000001;M000001;01/09/2026 10:08:00;5.00;chip;NL;b1",
        "X4;CARD-ZERO;M-ZERO;01/09/2026 10:09:00;0.00;chip;NL;b1",
        "X5;C0000001;M000001;01/09/2026 10:10:00;-3.00;chip;NL;b1",
    ]
    return committed(TX) + ("\n".join(rows) + "\n").encode()


def test_absurd_amounts_blank_and_padded_ids_are_quarantined_with_their_raw_text():
    landed = read_day(DictFileReader({TX: hostile_day(), LB: committed(LB)}), load_mapping(example.MAPPING), DAY)
    outcome = validate_transactions(landed.transactions, START, END, TX)
    rules = dict(zip(outcome.quarantine["source_line"], outcome.quarantine[QUARANTINE_RULE], strict=True))
    raws = dict(zip(outcome.quarantine["source_line"], outcome.quarantine["raw_value"], strict=True))
    assert rules == {
        297: "amount:at_most_max_amount", 298: "amount:at_most_max_amount", 299: "amount:finite",
        300: "transaction_id:unique", 301: "transaction_id:not_nullable", 303: "amount:greater_than_or_equal_to(0)",
    }  # fmt: skip
    assert raws[297] == raws[298] == "1e308" and raws[299] == "inf"
    assert "X4" in outcome.valid[s.TRANSACTION_ID].tolist()  # a zero-value authorisation is ordinary
    assert np.isfinite(outcome.valid[s.AMOUNT]).all() and outcome.valid[s.AMOUNT].max() <= 10_000_000


def test_the_maximum_amount_is_set_in_the_mapping():
    lower = load_mapping(mapping_with(transactions__max_amount=100))
    landed = read_day(DictFileReader({TX: committed(TX), LB: committed(LB)}), lower, DAY)
    above = landed.transactions[s.AMOUNT] > 100
    assert above.any() and (landed.transactions["landing_rule"][above] == "amount:at_most_max_amount").all()


def test_a_label_reported_before_its_transaction_is_quarantined():
    labels = pd.read_csv(io.BytesIO(committed(LB)), dtype=str, keep_default_na=False)
    labels.loc[0, "reported_on"] = "2026-08-01T00:00:00+00:00"
    files = DictFileReader({TX: committed(TX), LB: labels.to_csv(index=False).encode()})
    landed = read_day(files, load_mapping(example.MAPPING), DAY)
    tx = validate_transactions(landed.transactions, START, END, TX)
    outcome = validate_labels(landed.labels, tx.valid[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], LB)
    assert outcome.rule_counts == {"reported_at:not_before_transaction": 1}
    assert outcome.quarantine["source_file"].tolist() == [LB] and outcome.quarantine["source_line"].tolist() == [2]


def test_absurd_values_never_reach_features():
    """End to end: the hostile rows change nothing downstream; every feature is finite."""
    from fraudshield_pipeline.domain.features import build_features

    def features(data: bytes) -> pd.DataFrame:
        landed = read_day(DictFileReader({TX: data, LB: committed(LB)}), load_mapping(example.MAPPING), DAY)
        tx = validate_transactions(landed.transactions, START, END, TX).valid
        labels = validate_labels(landed.labels, tx[[s.TRANSACTION_ID, s.EVENT_TIMESTAMP]], LB).valid
        return build_features(tx, labels, START, END)

    hostile, clean = features(hostile_day()), features(committed(TX))
    numeric = hostile.select_dtypes("number")
    assert np.isfinite(numeric.to_numpy(dtype=float, na_value=0.0)).all()
    x4 = hostile[s.TRANSACTION_ID] == "X4"  # the one hostile row that is valid: a zero amount
    pd.testing.assert_frame_equal(hostile[~x4].reset_index(drop=True), clean.reset_index(drop=True), check_dtype=False)


# --- the mapping's schema --------------------------------------------------------------------
def test_the_committed_json_schema_is_up_to_date_and_validates_the_example():
    import jsonschema

    committed_schema = json.loads((COMMITTED / "mapping.schema.json").read_text())
    assert committed_schema == mapping_json_schema(), (
        "regenerate: python -c \"import json;from fraudshield_pipeline.domain.landing import mapping_json_schema as m;"
        "open('data/examples/landing/mapping.schema.json','w').write(json.dumps(m(),indent=2,sort_keys=True)+'\\n')\""
    )
    jsonschema.validate(yaml.safe_load((COMMITTED / "mapping.yaml").read_text()), committed_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**yaml.safe_load(example.MAPPING), "trasactions": {}}, committed_schema)


def test_no_landing_module_is_over_400_lines():
    package = Path(__file__).resolve().parents[2] / "fraudshield_pipeline" / "domain" / "landing"
    sizes = {p.name: len(p.read_text().splitlines()) for p in package.glob("*.py")}
    assert max(sizes.values()) <= 400, sizes
    assert not os.path.exists(package.with_suffix(".py"))


def test_storage_errors_are_landing_errors_too(tmp_path):
    class Broken(DictFileReader):
        def read_bytes(self, name: str) -> bytes:
            raise PermissionError(13, "denied")

    with pytest.raises(LandingError, match=rf"{TX}: \[unreadable_file\] could not be read \(PermissionError\)"):
        read_day(Broken({TX: b"", LB: b""}), load_mapping(example.MAPPING), DAY)
