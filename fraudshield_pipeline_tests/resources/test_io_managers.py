"""ParquetIOManager through real Dagster runs (`dagster.materialize`), on a local and an S3 store."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pandas as pd

from fraudshield_pipeline.domain.versioning import content_hash
from fraudshield_pipeline.resources.io_managers import SNAPSHOT, ParquetIOManager, table_name
from fraudshield_pipeline.resources.storage import ArtifactStore, LocalArtifactStore, snapshot_key, table_key

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

daily = dg.DailyPartitionsDefinition(start_date="2026-09-01", end_date="2026-09-11", timezone="UTC")
lookback = dg.TimeWindowPartitionMapping(start_offset=-2, allow_nonexistent_upstream_partitions=True)


def day_frame(key: str) -> pd.DataFrame:
    """n rows for the n-th day of September, so every day's row count is distinct."""
    n = dt.date.fromisoformat(key).day
    start = pd.Timestamp(key, tz="UTC")
    return pd.DataFrame(
        {
            "day": [key] * n,
            "seq": pd.Series(range(n), dtype="int64"),
            "event_timestamp": [start + pd.Timedelta(hours=i) for i in range(n)],
        }
    )


@dg.asset(partitions_def=daily, backfill_policy=dg.BackfillPolicy.single_run())
def events(context: dg.AssetExecutionContext) -> dict[str, pd.DataFrame]:
    return {key: day_frame(key) for key in context.partition_keys}


@dg.asset(partitions_def=daily, ins={"events": dg.AssetIn(partition_mapping=lookback)})
def window(context: dg.AssetExecutionContext, events: pd.DataFrame) -> pd.DataFrame:
    """The lookback window, as the one concatenated frame it was given."""
    context.log.info(f"window of {len(events)} rows")
    return events


@dg.asset(partitions_def=daily, ins={"events": dg.AssetIn(partition_mapping=lookback)})
def by_day(events: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What a dict-annotated input receives: one frame per upstream partition key."""
    assert isinstance(events, dict)
    return pd.DataFrame(
        {
            "key": list(events),
            "rows": [len(f) for f in events.values()],
            "days": [",".join(sorted(set(f["day"]))) for f in events.values()],
        }
    )


@dg.asset(
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"events": dg.AssetIn(partition_mapping=lookback)},
)
def rolling(context: dg.AssetExecutionContext, events: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Range run downstream: rows of each day's 3-day window, from one load of the whole range."""
    days = pd.to_datetime(events["day"])
    out = {}
    for key in context.partition_keys:
        end = pd.Timestamp(key)
        out[key] = pd.DataFrame({"rows": [int(((days > end - pd.Timedelta(days=3)) & (days <= end)).sum())]})
    return out


@dg.asset
def catalog() -> pd.DataFrame:
    return pd.DataFrame({"merchant": ["m1", "m2", "m3", "m4"], "category": ["food", "travel", None, "food"]})


@dg.asset
def catalog_summary(catalog: pd.DataFrame) -> pd.DataFrame:
    return catalog.groupby("category", dropna=False).size().rename("n").reset_index()


@dg.asset
def not_a_frame() -> list:
    return [1, 2, 3]


@dg.asset(partitions_def=daily)
def wrong_keys(context: dg.AssetExecutionContext) -> dict[str, pd.DataFrame]:
    return {"2026-09-09": day_frame("2026-09-09")}


ASSETS = [events, window, by_day, rolling, catalog, catalog_summary, not_a_frame, wrong_keys]


def run(store: ArtifactStore, selection: list[str], **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(ASSETS, selection=selection, resources={"io_manager": ParquetIOManager(store=store)}, **kwargs)


def materializations(result: dg.ExecuteInProcessResult, asset: str) -> dict[str | None, dict[str, object]]:
    """Metadata of each materialization event of one asset, by partition (None when unpartitioned)."""
    found = {}
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            assert event.partition not in found, f"two materializations of {asset} {event.partition}"
            found[event.partition] = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    return found


def materialization(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (metadata,) = materializations(result, asset).values()
    return metadata


def error_text(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = result.get_step_failure_events()
    return failure.step_failure_data.error.to_string()


def stored(store: ArtifactStore, asset: str, partition: str | None = None) -> pd.DataFrame:
    return store.read_table(table_key(asset, partition)).to_pandas()


def test_table_name_joins_key_path():
    assert table_name(dg.AssetKey(["raw", "transactions"])) == "raw__transactions"
    assert table_name(dg.AssetKey("events")) == "events"


def test_single_partition_round_trip(store: ArtifactStore):
    result = run(store, ["events"], partition_key="2026-09-03")
    assert result.success
    meta = materialization(result, "events")
    assert meta["dagster/row_count"] == 3
    assert meta["uri"] == store.uri(table_key("events", "2026-09-03"))
    assert store.partitions("events") == ["2026-09-03"]
    pd.testing.assert_frame_equal(stored(store, "events", "2026-09-03"), day_frame("2026-09-03"))


def test_lookback_input_as_one_frame_and_as_dict(store: ArtifactStore):
    for day in ("2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04"):
        assert run(store, ["events"], partition_key=day).success

    result = run(store, ["window", "by_day"], partition_key="2026-09-04")
    assert result.success
    assert materialization(result, "window")["dagster/row_count"] == 2 + 3 + 4
    window_frame = stored(store, "window", "2026-09-04")
    expected = pd.concat([day_frame(d) for d in ("2026-09-02", "2026-09-03", "2026-09-04")], ignore_index=True)
    pd.testing.assert_frame_equal(window_frame, expected)
    assert str(window_frame["event_timestamp"].dtype) == "datetime64[ns, UTC]"

    pd.testing.assert_frame_equal(
        stored(store, "by_day", "2026-09-04"),
        pd.DataFrame(
            {
                "key": ["2026-09-02", "2026-09-03", "2026-09-04"],
                "rows": [2, 3, 4],
                "days": ["2026-09-02", "2026-09-03", "2026-09-04"],
            }
        ),
    )


def test_lookback_before_the_first_partition_reads_what_exists(store: ArtifactStore):
    assert run(store, ["events"], partition_key="2026-09-01").success
    result = run(store, ["window", "by_day"], partition_key="2026-09-01")
    assert result.success
    pd.testing.assert_frame_equal(stored(store, "window", "2026-09-01"), day_frame("2026-09-01"))
    assert stored(store, "by_day", "2026-09-01")["key"].tolist() == ["2026-09-01"]


def test_range_run_writes_every_partition(store: ArtifactStore):
    result = run(store, ["events"], tags={RANGE_START: "2026-09-01", RANGE_END: "2026-09-05"})
    assert result.success
    events_meta = materializations(result, "events")
    assert sorted(events_meta) == ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-09-05"]
    # Output metadata is copied to every partition's event, so in a range run the IO manager
    # reports the range's total under its own name and never a misleading per-partition count.
    assert {m["range_row_count"] for m in events_meta.values()} == {1 + 2 + 3 + 4 + 5}
    assert not any("dagster/row_count" in m for m in events_meta.values())
    assert {m["uri"] for m in events_meta.values()} == {store.uri("tables/events")}
    assert store.partitions("events") == ["2026-09-01", "2026-09-02", "2026-09-03", "2026-09-04", "2026-09-05"]
    for day in store.partitions("events"):
        pd.testing.assert_frame_equal(stored(store, "events", day), day_frame(day))

    downstream = run(store, ["rolling"], tags={RANGE_START: "2026-09-03", RANGE_END: "2026-09-05"})
    assert downstream.success
    assert store.partitions("rolling") == ["2026-09-03", "2026-09-04", "2026-09-05"]
    rows = {day: int(stored(store, "rolling", day)["rows"].iloc[0]) for day in store.partitions("rolling")}
    assert rows == {"2026-09-03": 1 + 2 + 3, "2026-09-04": 2 + 3 + 4, "2026-09-05": 3 + 4 + 5}


def test_missing_upstream_partition_fails_loudly(store: ArtifactStore):
    for day in ("2026-09-01", "2026-09-03"):
        assert run(store, ["events"], partition_key=day).success

    for asset in ("window", "by_day"):
        result = run(store, [asset], partition_key="2026-09-03", raise_on_error=False)
        assert not result.success
        text = error_text(result)
        assert "MissingPartitionsError" in text
        assert table_key("events", "2026-09-02") in text
        assert table_key("events", "2026-09-01") not in text.split("MissingPartitionsError", 1)[1].splitlines()[0]
        assert result.get_asset_materialization_events() == []
        assert store.partitions(asset) == []


def test_missing_upstream_range_names_every_gap(store: ArtifactStore):
    assert run(store, ["events"], partition_key="2026-09-02").success
    result = run(store, ["rolling"], tags={RANGE_START: "2026-09-03", RANGE_END: "2026-09-05"}, raise_on_error=False)
    assert not result.success
    text = error_text(result)
    assert "4 of 5" in text
    for day in ("2026-09-01", "2026-09-03", "2026-09-04", "2026-09-05"):
        assert table_key("events", day) in text
    assert store.partitions("rolling") == []


def test_unpartitioned_round_trip(store: ArtifactStore):
    result = run(store, ["catalog", "catalog_summary"])
    assert result.success
    meta = materialization(result, "catalog")
    assert meta["dagster/row_count"] == 4
    assert meta["uri"] == store.uri(table_key("catalog"))
    assert materialization(result, "catalog_summary")["dagster/row_count"] == 3
    assert store.list_keys("tables/") == [table_key("catalog"), table_key("catalog_summary")]
    assert store.partitions("catalog") == []
    pd.testing.assert_frame_equal(stored(store, "catalog"), catalog())
    summary = stored(store, "catalog_summary")
    assert summary.loc[summary["category"] == "food", "n"].tolist() == [2]
    assert summary.loc[summary["category"] == "travel", "n"].tolist() == [1]
    assert summary.loc[summary["category"].isna(), "n"].tolist() == [1]


def test_unpartitioned_missing_upstream_fails(store: ArtifactStore):
    result = run(store, ["catalog_summary"], raise_on_error=False)
    assert not result.success
    assert "FileNotFoundError" in error_text(result) or "NoSuchKey" in error_text(result)


def test_refuses_what_it_cannot_store(store: ArtifactStore):
    result = run(store, ["not_a_frame"], raise_on_error=False)
    assert not result.success
    assert "ParquetIOManager stores DataFrames, got list" in error_text(result)

    result = run(store, ["wrong_keys"], partition_key="2026-09-03", raise_on_error=False)
    assert not result.success
    assert "returned partitions ['2026-09-09'] but the run targets ['2026-09-03']" in error_text(result)
    assert store.list_keys("") == []


@dg.asset(name="catalog")
def unserializable_catalog() -> pd.DataFrame:
    """A new version of `catalog` that parquet cannot encode: a text column holding a number."""
    return pd.DataFrame({"merchant": ["m1", "m2", 3], "category": ["food", None, "travel"]})


def test_a_failed_write_leaves_the_previous_version_visible(store: ArtifactStore):
    assert run(store, ["catalog"]).success
    before = store.read_bytes(table_key("catalog"))
    result = dg.materialize(
        [unserializable_catalog], resources={"io_manager": ParquetIOManager(store=store)}, raise_on_error=False
    )
    assert not result.success
    assert "catalog" in error_text(result) and "int" in error_text(result)
    assert result.get_asset_materialization_events() == []
    assert store.read_bytes(table_key("catalog")) == before
    assert store.list_keys("") == [table_key("catalog")]


@dg.multi_asset(
    outs={"kept": dg.AssetOut(metadata={SNAPSHOT: True})},
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def kept(context: dg.AssetExecutionContext):
    frames = {key: day_frame(key) for key in context.partition_keys}
    yield dg.Output(frames, "kept", metadata={"content_hashes": dg.MetadataValue.json({k: content_hash(f) for k, f in frames.items()})})


@dg.asset(partitions_def=daily, metadata={SNAPSHOT: True})
def kept_unaddressed(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return day_frame(context.partition_key)


def test_snapshot_outputs_are_stored_once_under_their_content_hash(store: ArtifactStore):
    result = dg.materialize([kept, kept_unaddressed], selection=["kept"], resources={"io_manager": ParquetIOManager(store=store)},
                            tags={RANGE_START: "2026-09-01", RANGE_END: "2026-09-02"})
    assert result.success
    metadata = materializations(result, "kept")
    expected = {k: store.uri(snapshot_key("kept", k, content_hash(day_frame(k)))) for k in ("2026-09-01", "2026-09-02")}
    assert {str(k): m["snapshots"] for k, m in metadata.items()} == {k: expected for k in expected}
    for day in expected:
        assert store.read_bytes(table_key("kept", day)) == store.read_bytes(snapshot_key("kept", day, content_hash(day_frame(day))))
        pd.testing.assert_frame_equal(stored(store, "kept", day), day_frame(day))


def test_a_snapshot_output_without_its_content_hash_is_refused(store: ArtifactStore):
    result = dg.materialize([kept, kept_unaddressed], selection=["kept_unaddressed"], partition_key="2026-09-03",
                            resources={"io_manager": ParquetIOManager(store=store)}, raise_on_error=False)
    assert not result.success
    assert "kept_unaddressed: no content hash in the output's `content_hashes` metadata for ['2026-09-03']" in error_text(result)
    assert not store.list_keys("")  # nothing written without its address


def test_two_sources_never_share_a_store(tmp_path: Path):
    simulator = LocalArtifactStore(base_dir=str(tmp_path / "store"), source="simulator")
    assert run(simulator, ["catalog"]).success
    landing = LocalArtifactStore(base_dir=str(tmp_path / "store"), source="landing:/zones/shop")
    refused = run(landing, ["catalog"], raise_on_error=False)
    assert not refused.success
    assert "holds the tables of source 'simulator'; this run reads 'landing:/zones/shop'" in error_text(refused)
    assert stored(simulator, "catalog")["merchant"].tolist() == ["m1", "m2", "m3", "m4"]
