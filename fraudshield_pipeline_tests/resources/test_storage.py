"""ArtifactStore contract, run identically against a local directory and a real S3 API (moto server)."""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster_aws.s3 import S3Resource

from fraudshield_pipeline.resources import storage as storage_module
from fraudshield_pipeline.resources.storage import (
    SOURCE_KEY,
    ArtifactStore,
    LocalArtifactStore,
    MissingPartitionsError,
    SourceMismatchError,
    model_key,
    report_key,
    table_key,
)
from fraudshield_pipeline_tests.resources.stores import make_s3_store


def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t3"],
            "note": pd.Series(["é ü 漢字", None, ""], dtype=object),
            "amount": [12.5, np.nan, 0.01],
            "count": pd.Series([1, 2, 3], dtype="int64"),
            "small": pd.Series([1, 2, 3], dtype="int32"),
            "flag": [True, False, True],
            "event_timestamp": pd.to_datetime(
                ["2026-09-01 00:00:00.123456789", "2026-09-01 12:30:00", "2026-09-01 23:59:59.999999999"], format="ISO8601"
            ).tz_localize("UTC"),
            "local_time": pd.to_datetime(["2026-03-29 01:30", "2026-03-29 03:30", "2026-10-25 02:30"]).tz_localize(
                "Europe/Paris", ambiguous=[True, True, False]
            ),
            "naive_time": pd.to_datetime(["2026-09-01", "2026-09-02", "2026-09-03"]),
        }
    )


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": pd.Series([], dtype=object),
            "amount": pd.Series([], dtype="float64"),
            "count": pd.Series([], dtype="int64"),
            "event_timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )


# --- keys -------------------------------------------------------------------------------------


def test_key_layout():
    assert table_key("raw_transactions") == "tables/raw_transactions/data.parquet"
    assert table_key("raw_transactions", "2026-09-01") == "tables/raw_transactions/2026-09-01.parquet"
    assert report_key("drift", "2026-09-01.html") == "reports/drift/2026-09-01.html"
    assert model_key("3", "drift_reference.parquet") == "models/v3/drift_reference.parquet"


# --- bytes and text ---------------------------------------------------------------------------


def test_bytes_round_trip_and_overwrite(store: ArtifactStore):
    payload = bytes(range(256)) * 10 + b"\x00end"
    uri = store.write_bytes("blobs/a.bin", payload)
    assert uri == store.uri("blobs/a.bin")
    assert store.read_bytes("blobs/a.bin") == payload
    store.write_bytes("blobs/a.bin", b"second")
    assert store.read_bytes("blobs/a.bin") == b"second"
    store.write_bytes("blobs/empty.bin", b"")
    assert store.read_bytes("blobs/empty.bin") == b""
    assert store.exists("blobs/empty.bin")


def test_text_round_trip(store: ArtifactStore):
    text = "# Évaluation\n\nprécision — 0.93 ✓\n"
    store.write_text(report_key("evaluation", "v1.md"), text)
    assert store.read_text(report_key("evaluation", "v1.md")) == text
    assert store.read_bytes(report_key("evaluation", "v1.md")) == text.encode("utf-8")


def test_read_missing_key_raises_file_not_found(store: ArtifactStore):
    with pytest.raises(FileNotFoundError):
        store.read_bytes("blobs/never-written.bin")
    with pytest.raises(FileNotFoundError):
        store.read_table(table_key("never_written", "2026-09-01"))


# --- tables -----------------------------------------------------------------------------------


def test_frame_round_trip_keeps_dtypes(store: ArtifactStore):
    frame = sample_frame()
    store.write_frame(table_key("t", "2026-09-01"), frame)
    back = store.read_table(table_key("t", "2026-09-01")).to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert str(back["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert str(back["local_time"].dtype) == "datetime64[ns, Europe/Paris]"
    assert back["note"].dtype == object and back["note"].iloc[1] is None
    assert back["small"].dtype == np.int32


def test_frame_index_is_not_stored(store: ArtifactStore):
    frame = sample_frame().set_index(pd.Index([10, 20, 30]))
    store.write_frame(table_key("t"), frame)
    back = store.read_table(table_key("t")).to_pandas()
    assert list(back.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(back, frame.reset_index(drop=True))


def test_empty_frame_round_trip(store: ArtifactStore):
    frame = empty_frame()
    store.write_frame(table_key("t", "2026-09-02"), frame)
    back = store.read_table(table_key("t", "2026-09-02")).to_pandas()
    assert len(back) == 0
    assert list(back.columns) == list(frame.columns)
    assert dict(back.dtypes.astype(str)) == dict(frame.dtypes.astype(str))


def test_write_table_stores_real_parquet(store: ArtifactStore):
    table = pa.table({"x": pa.array([1, 2, 3], pa.int16()), "y": pa.array(["a", None, "c"])})
    assert store.write_table(table_key("raw"), table) == store.uri(table_key("raw"))
    raw = store.read_bytes(table_key("raw"))
    assert raw[:4] == b"PAR1" and raw[-4:] == b"PAR1"
    assert pq.read_table(io.BytesIO(raw)).equals(table)
    assert store.read_table(table_key("raw")).equals(table)


def test_read_table_selects_columns(store: ArtifactStore):
    store.write_frame(table_key("t", "2026-09-01"), sample_frame())
    table = store.read_table(table_key("t", "2026-09-01"), columns=["event_timestamp", "count"])
    assert table.column_names == ["event_timestamp", "count"]
    pd.testing.assert_frame_equal(table.to_pandas(), sample_frame()[["event_timestamp", "count"]])


def test_read_tables_concatenates_in_key_order(store: ArtifactStore):
    days = ["2026-09-01", "2026-09-02", "2026-09-03"]
    for i, day in enumerate(days):
        frame = sample_frame().assign(count=lambda f, i=i: f["count"] + 100 * i)
        store.write_frame(table_key("t", day), frame)
    store.write_frame(table_key("t", "2026-09-04"), empty_frame())
    keys = [table_key("t", d) for d in ["2026-09-03", "2026-09-04", "2026-09-01"]]
    combined = store.read_tables(keys).to_pandas()
    assert combined["count"].tolist() == [201, 202, 203, 1, 2, 3]
    assert str(combined["event_timestamp"].dtype) == "datetime64[ns, UTC]"
    assert combined["note"].tolist() == ["é ü 漢字", None, "", "é ü 漢字", None, ""]


def test_read_tables_promotes_all_null_partition(store: ArtifactStore):
    # An all-null object column is stored as arrow's null type; concatenation must still work.
    store.write_frame(table_key("t", "2026-09-01"), pd.DataFrame({"note": pd.Series([None, None], dtype=object)}))
    store.write_frame(table_key("t", "2026-09-02"), pd.DataFrame({"note": ["a", "b"]}))
    combined = store.read_tables([table_key("t", "2026-09-01"), table_key("t", "2026-09-02")])
    assert combined.schema.field("note").type == pa.string()
    assert combined.column("note").to_pylist() == [None, None, "a", "b"]


def test_read_tables_names_every_missing_key(store: ArtifactStore):
    store.write_frame(table_key("t", "2026-09-01"), sample_frame())
    keys = [table_key("t", d) for d in ("2026-09-01", "2026-09-02", "2026-09-03")]
    with pytest.raises(MissingPartitionsError) as caught:
        store.read_tables(keys)
    message = str(caught.value)
    assert "2 of 3" in message
    assert table_key("t", "2026-09-02") in message and table_key("t", "2026-09-03") in message
    assert table_key("t", "2026-09-01") not in message
    assert isinstance(caught.value, FileNotFoundError)


def test_read_tables_truncates_a_long_missing_list(store: ArtifactStore):
    keys = [table_key("t", f"2026-09-{d:02d}") for d in range(1, 13)]
    with pytest.raises(MissingPartitionsError, match=r"12 of 12 .* \.\.\.$") as caught:
        store.read_tables(keys)
    assert table_key("t", "2026-09-10") in str(caught.value)
    assert table_key("t", "2026-09-11") not in str(caught.value)


def test_read_tables_of_nothing_fails(store: ArtifactStore):
    with pytest.raises(MissingPartitionsError, match="no tables requested"):
        store.read_tables([])


# --- exists, list_keys, partitions, delete ---------------------------------------------------


def test_exists_matches_whole_keys_only(store: ArtifactStore):
    store.write_frame(table_key("t", "2026-09-01"), sample_frame())
    assert store.exists(table_key("t", "2026-09-01"))
    assert not store.exists(table_key("t", "2026-09-02"))
    assert not store.exists("tables/t")  # a "directory"
    assert not store.exists("tables/t/")
    assert not store.exists("tables/t/2026-09-01")  # a strict prefix of a key
    assert not store.exists("tables/t/2026-09-01.parquet.bak")  # a key extending one


def test_list_keys_and_partitions(store: ArtifactStore):
    for day in ("2026-09-03", "2026-09-01", "2026-09-02"):
        store.write_frame(table_key("raw", day), sample_frame())
    store.write_frame(table_key("raw"), sample_frame())
    store.write_frame(table_key("raw_labels", "2026-09-05"), sample_frame())
    store.write_text(report_key("drift", "2026-09-01.html"), "<html/>")

    assert store.list_keys("tables/raw/") == [
        "tables/raw/2026-09-01.parquet",
        "tables/raw/2026-09-02.parquet",
        "tables/raw/2026-09-03.parquet",
        "tables/raw/data.parquet",
    ]
    assert store.list_keys("reports/") == ["reports/drift/2026-09-01.html"]
    assert store.list_keys("tables/raw_labels/") == ["tables/raw_labels/2026-09-05.parquet"]
    assert store.list_keys("tables/nothing/") == []
    assert store.list_keys("nothing/") == []
    assert len(store.list_keys("")) == 6
    assert store.partitions("raw") == ["2026-09-01", "2026-09-02", "2026-09-03"]  # no data.parquet, no raw_labels
    assert store.partitions("raw_labels") == ["2026-09-05"]
    assert store.partitions("nothing") == []


def test_list_keys_is_a_string_prefix_on_both_backends(store: ArtifactStore):
    # S3 prefixes are plain string prefixes; the local store must give the same answer.
    store.write_frame(table_key("raw", "2026-09-01"), sample_frame())
    store.write_frame(table_key("raw_labels", "2026-09-01"), sample_frame())
    both = ["tables/raw/2026-09-01.parquet", "tables/raw_labels/2026-09-01.parquet"]
    assert store.list_keys("tables/ra") == both
    assert store.list_keys("tables/raw") == both
    assert store.list_keys("tables/raw/2026-09-01") == ["tables/raw/2026-09-01.parquet"]
    assert store.list_keys("tables") == both


def test_delete(store: ArtifactStore):
    store.write_frame(table_key("t", "2026-09-01"), sample_frame())
    store.write_frame(table_key("t", "2026-09-02"), sample_frame())
    store.delete(table_key("t", "2026-09-01"))
    assert not store.exists(table_key("t", "2026-09-01"))
    assert store.partitions("t") == ["2026-09-02"]
    with pytest.raises(FileNotFoundError):
        store.read_bytes(table_key("t", "2026-09-01"))
    store.delete(table_key("t", "2026-09-01"))  # deleting what is gone is not an error
    store.delete("never/written")
    assert store.list_keys("") == [table_key("t", "2026-09-02")]


# --- uris -------------------------------------------------------------------------------------


def test_local_uri_is_an_absolute_path(tmp_path: Path):
    store = LocalArtifactStore(base_dir=str(tmp_path / "store"))
    key = table_key("t", "2026-09-01")
    expected = str((tmp_path / "store" / "tables" / "t" / "2026-09-01.parquet").resolve())
    assert store.uri(key) == expected
    assert store.write_frame(key, sample_frame()) == expected
    assert Path(expected).is_file()
    assert store.uri("") == str((tmp_path / "store").resolve())


def test_local_relative_base_dir_resolves_to_absolute_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    store = LocalArtifactStore(base_dir="rel/store")
    assert store.uri("reports/x.md") == str(tmp_path.resolve() / "rel" / "store" / "reports" / "x.md")


@pytest.mark.parametrize(
    ("prefix", "object_prefix"),
    [("fraudshield", "fraudshield/"), ("team/fraud/", "team/fraud/"), ("/lead/", "lead/"), ("", "")],
)
def test_s3_uri_and_object_keys(moto_s3, aws_test_env, prefix: str, object_prefix: str):
    bucket = moto_s3.create_bucket()
    store = make_s3_store(moto_s3, bucket, prefix)
    key = table_key("t", "2026-09-01")
    assert store.uri(key) == f"s3://{bucket}/{object_prefix}{key}"
    assert store.write_frame(key, sample_frame()) == f"s3://{bucket}/{object_prefix}{key}"
    store.write_text(report_key("drift", "d.html"), "<html/>")
    # Checked with plain boto3, not through the store.
    assert moto_s3.keys(bucket) == sorted([f"{object_prefix}{key}", f"{object_prefix}reports/drift/d.html"])
    assert store.list_keys("") == sorted([key, "reports/drift/d.html"])
    body = moto_s3.client().get_object(Bucket=bucket, Key=f"{object_prefix}{key}")["Body"].read()
    pd.testing.assert_frame_equal(pq.read_table(io.BytesIO(body)).to_pandas(), sample_frame())


def test_s3_stores_with_different_prefixes_do_not_see_each_other(moto_s3, aws_test_env):
    bucket = moto_s3.create_bucket()
    a, b = make_s3_store(moto_s3, bucket, "a"), make_s3_store(moto_s3, bucket, "b")
    a.write_frame(table_key("t", "2026-09-01"), sample_frame())
    assert a.partitions("t") == ["2026-09-01"]
    assert b.partitions("t") == []
    assert not b.exists(table_key("t", "2026-09-01"))
    with pytest.raises(MissingPartitionsError, match=f"s3://{bucket}/b/"):
        b.read_tables([table_key("t", "2026-09-01")])


def test_s3_store_builds_one_client_not_one_per_call(moto_s3, aws_test_env, monkeypatch: pytest.MonkeyPatch):
    # S3Resource.get_client() builds a fresh boto3 session (~0.1-0.3 s): once per call made a
    # 36-day pipeline run spend most of its time there.
    built = []
    original = S3Resource.get_client

    def counting(self):
        built.append(1)
        return original(self)

    monkeypatch.setattr(S3Resource, "get_client", counting)
    store = make_s3_store(moto_s3, moto_s3.create_bucket())
    for day in ("2026-09-01", "2026-09-02"):
        store.write_frame(table_key("t", day), sample_frame())
    assert store.read_tables([table_key("t", "2026-09-01"), table_key("t", "2026-09-02")]).num_rows == 6
    assert store.partitions("t") == ["2026-09-01", "2026-09-02"]
    store.delete(table_key("t", "2026-09-01"))
    assert len(built) == 1


# --- local atomicity --------------------------------------------------------------------------


def all_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_local_writes_leave_no_temporary_files(tmp_path: Path):
    store = LocalArtifactStore(base_dir=str(tmp_path))
    store.write_frame(table_key("t", "2026-09-01"), sample_frame())
    store.write_frame(table_key("t", "2026-09-01"), sample_frame())  # overwrite
    store.write_table(table_key("t"), pa.table({"x": [1]}))
    store.write_bytes("blobs/a.bin", b"abc")
    store.write_text(report_key("evaluation", "v1.md"), "# hi")
    assert all_files(tmp_path) == [
        "blobs/a.bin",
        "reports/evaluation/v1.md",
        "tables/t/2026-09-01.parquet",
        "tables/t/data.parquet",
    ]


def test_local_failed_table_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = LocalArtifactStore(base_dir=str(tmp_path))
    key = table_key("t", "2026-09-01")
    store.write_frame(key, sample_frame())
    before = (tmp_path / key).read_bytes()
    written_to: list[str] = []

    def half_written(table, where, **kwargs):
        written_to.append(str(where))
        Path(where).write_bytes(b"PAR1 truncated")  # the file exists, half written, then the writer dies
        raise OSError("disk full")

    monkeypatch.setattr(storage_module.pq, "write_table", half_written)
    with pytest.raises(OSError, match="disk full"):
        store.write_frame(key, sample_frame().head(1))
    monkeypatch.undo()

    assert written_to and Path(written_to[0]).resolve() != (tmp_path / key).resolve()  # it wrote a temp file
    assert (tmp_path / key).read_bytes() == before
    pd.testing.assert_frame_equal(store.read_table(key).to_pandas(), sample_frame())
    assert all_files(tmp_path) == [key]


def test_local_failed_first_table_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = LocalArtifactStore(base_dir=str(tmp_path))

    def failing(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1")
        raise KeyboardInterrupt  # BaseException too: a cancelled run must not leave debris

    monkeypatch.setattr(storage_module.pq, "write_table", failing)
    with pytest.raises(KeyboardInterrupt):
        store.write_frame(table_key("t", "2026-09-01"), sample_frame())
    monkeypatch.undo()
    assert not store.exists(table_key("t", "2026-09-01"))
    assert all_files(tmp_path) == []
    assert store.partitions("t") == []


def test_local_failed_bytes_write_keeps_the_old_file(tmp_path: Path):
    store = LocalArtifactStore(base_dir=str(tmp_path))
    store.write_bytes("blobs/a.bin", b"old")
    with pytest.raises(TypeError):
        store.write_bytes("blobs/a.bin", "not bytes")  # fails after the temporary file was created
    assert store.read_bytes("blobs/a.bin") == b"old"
    assert all_files(tmp_path) == ["blobs/a.bin"]


def test_local_listing_ignores_temporary_files(tmp_path: Path):
    store = LocalArtifactStore(base_dir=str(tmp_path))
    store.write_frame(table_key("t", "2026-09-01"), sample_frame())
    # What a concurrent writer's in-flight temp file looks like.
    (tmp_path / "tables" / "t" / ".2026-09-02.parquet.abc123.tmp").write_bytes(b"partial")
    assert store.partitions("t") == ["2026-09-01"]
    assert store.list_keys("tables/") == ["tables/t/2026-09-01.parquet"]


def test_a_writer_dying_midway_publishes_nothing_on_either_backend(store: ArtifactStore, monkeypatch: pytest.MonkeyPatch):
    key = table_key("t", "2026-09-01")
    store.write_frame(key, sample_frame())
    before = store.read_bytes(key)

    def half_written(table, where, **kwargs):
        if hasattr(where, "write"):
            where.write(b"PAR1 truncated")
        else:
            Path(where).write_bytes(b"PAR1 truncated")
        raise OSError("connection reset while serializing")

    monkeypatch.setattr(storage_module.pq, "write_table", half_written)
    with pytest.raises(OSError, match="connection reset"):
        store.write_frame(key, sample_frame().head(1))
    with pytest.raises(OSError, match="connection reset"):
        store.write_frame(table_key("t", "2026-09-02"), sample_frame())  # a first version, too
    monkeypatch.undo()
    assert store.read_bytes(key) == before
    assert store.list_keys("") == [key]
    pd.testing.assert_frame_equal(store.read_table(key).to_pandas(), sample_frame())


# --- snapshots: the table is its content-addressed snapshot -------------------------------------


def test_publish_snapshot_stores_one_version_and_publishes_it(store: ArtifactStore):
    key, first, second = table_key("validated", "2026-09-01"), "snapshots/validated/2026-09-01/aaa.parquet", "snapshots/validated/2026-09-01/bbb.parquet"
    one = pa.Table.from_pandas(sample_frame(), preserve_index=False)
    store.publish_snapshot(key, first, one)
    assert store.read_table(key).equals(one) and store.read_table(first).equals(one)
    snapshot_bytes = store.read_bytes(first)

    two = pa.Table.from_pandas(sample_frame().iloc[:1], preserve_index=False)
    store.publish_snapshot(key, second, two)
    assert store.read_table(key).equals(two)
    assert store.read_bytes(first) == snapshot_bytes  # a new version never touches the old snapshot

    # The same version again: the existing snapshot is kept (never rewritten), the table points back.
    store.publish_snapshot(key, first, pa.Table.from_pandas(sample_frame().iloc[:2], preserve_index=False))
    assert store.read_bytes(first) == snapshot_bytes and store.read_bytes(key) == snapshot_bytes
    assert store.list_keys("snapshots/") == [first, second]


def test_local_snapshot_and_table_are_one_file(tmp_path: Path):
    store = LocalArtifactStore(base_dir=str(tmp_path / "store"))
    key, snapshot = table_key("validated", "2026-09-01"), "snapshots/validated/2026-09-01/aaa.parquet"
    store.publish_snapshot(key, snapshot, pa.Table.from_pandas(sample_frame(), preserve_index=False))
    table, kept = Path(store.uri(key)).stat(), Path(store.uri(snapshot)).stat()
    assert (table.st_ino, table.st_dev) == (kept.st_ino, kept.st_dev) and table.st_nlink == 2  # no second copy
    store.write_frame(key, empty_frame())  # an ordinary write replaces the name, never the snapshot's bytes
    assert len(store.read_table(snapshot)) == 3 and Path(store.uri(snapshot)).stat().st_nlink == 1
    assert not list((tmp_path / "store").rglob("*.tmp"))


def test_local_snapshot_falls_back_to_a_copy_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def no_links(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(storage_module.os, "link", no_links)
    store = LocalArtifactStore(base_dir=str(tmp_path / "store"))
    key, snapshot = table_key("validated", "2026-09-01"), "snapshots/validated/2026-09-01/aaa.parquet"
    store.publish_snapshot(key, snapshot, pa.Table.from_pandas(sample_frame(), preserve_index=False))
    assert store.read_bytes(key) == store.read_bytes(snapshot)
    assert Path(store.uri(key)).stat().st_ino != Path(store.uri(snapshot)).stat().st_ino


# --- one source per store ---------------------------------------------------------------------


def test_a_store_refuses_a_second_source_naming_both(store: ArtifactStore):
    simulator = store.model_copy(update={"source": "simulator"})
    simulator.check_source()
    simulator.write_text(table_key("raw", "2026-09-01"), "x")
    simulator.record_source()
    assert json.loads(store.read_text(SOURCE_KEY)) == {"source": "simulator"}

    store.model_copy(update={"source": "simulator"}).check_source()  # the same source again: fine
    landing = store.model_copy(update={"source": "landing:/zones/shop"})
    with pytest.raises(SourceMismatchError, match="source 'simulator'; this run reads 'landing:/zones/shop'"):
        landing.check_source()
    store.model_copy(update={"source": None}).check_source()  # a store bound to no source checks nothing
