"""One parquet IO manager for every DataFrame asset, partitioned or not, local or S3.

A partitioned asset may be materialized one day at a time (schedules, sensors) or a whole
range in one run (a backfill runs up to a month per run); in a range run the asset returns a
mapping of partition key to frame, as Dagster's own UPath IO managers expect.

An output declared with `SNAPSHOT` metadata is stored as its snapshot: each partition's file is
written once under its content hash (from the output's `content_hashes` metadata) and the table
is that same file (see `ArtifactStore.publish_snapshot`); the snapshot URIs are added to the
materialization, which is recorded only after they exist.
"""


from collections.abc import Mapping
from typing import get_origin

import dagster as dg
import pandas as pd
import pyarrow as pa

from fraudshield_pipeline.resources.storage import ArtifactStore, snapshot_key, table_key

# Definition metadata of an output whose every version is kept as an immutable snapshot.
SNAPSHOT = "fraudshield/content_addressed_snapshots"


def table_name(asset_key: dg.AssetKey) -> str:
    return "__".join(asset_key.path)


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition as `tables/<asset>/<partition>.parquet` in the artifact store."""

    store: dg.ResourceDependency[ArtifactStore]

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | Mapping[str, pd.DataFrame]) -> None:
        name = table_name(context.asset_key)
        if not context.has_asset_partitions:
            frames = {None: obj}
        elif isinstance(obj, Mapping):
            expected = set(context.asset_partition_keys)
            if set(obj) != expected:
                raise ValueError(
                    f"{name}: returned partitions {sorted(obj)} but the run targets {sorted(expected)}"
                )
            frames = dict(obj)
        else:
            (partition,) = context.asset_partition_keys
            frames = {partition: obj}
        for partition, frame in frames.items():
            if not isinstance(frame, pd.DataFrame):
                raise TypeError(f"{name}: ParquetIOManager stores DataFrames, got {type(frame).__name__}")
        hashes = _snapshot_hashes(context, name, frames) if context.definition_metadata.get(SNAPSHOT) else None
        self.store.check_source()
        snapshots = {}
        for partition, frame in frames.items():
            key = table_key(name, partition)
            if hashes is None:
                self.store.write_frame(key, frame)
            else:
                snapshot = snapshot_key(name, partition, hashes[partition])
                self.store.publish_snapshot(key, snapshot, pa.Table.from_pandas(frame, preserve_index=False))
                snapshots[partition] = self.store.uri(snapshot)
            self.store.record_source()
        if len(frames) == 1:
            (partition, frame), = frames.items()
            metadata = {"dagster/row_count": len(frame), "uri": dg.MetadataValue.path(self.store.uri(table_key(name, partition)))}
        else:
            # In a range run Dagster copies output metadata onto every partition: report the
            # range here; the assets attach each partition's own count (add_asset_metadata).
            folder = table_key(name, "*").rsplit("/", 1)[0]
            metadata = {"range_row_count": int(sum(len(f) for f in frames.values())), "uri": dg.MetadataValue.path(self.store.uri(folder))}
        if snapshots:
            metadata["snapshots"] = dg.MetadataValue.json(snapshots)
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> pd.DataFrame | dict[str, pd.DataFrame]:
        """One frame; or, when the input is annotated as a dict, one frame per partition key."""
        name = table_name(context.asset_key)
        if not context.has_asset_partitions:
            return self.store.read_table(table_key(name)).to_pandas()
        partitions = sorted(context.asset_partition_keys)
        if _wants_mapping(context):
            return {p: self.store.read_tables([table_key(name, p)]).to_pandas() for p in partitions}
        return self.store.read_tables([table_key(name, p) for p in partitions]).to_pandas()


def _snapshot_hashes(context: dg.OutputContext, name: str, frames: Mapping) -> dict[str, str]:
    """Each partition's content hash, as the asset reported it; a snapshot is never written unaddressed."""
    if None in frames:
        raise ValueError(f"{name}: content-addressed snapshots are per partition; the asset is not partitioned")
    reported = context.output_metadata.get("content_hashes")
    hashes = dict(getattr(reported, "value", reported) or {})
    missing = sorted(set(frames) - set(hashes))
    if missing:
        raise ValueError(f"{name}: no content hash in the output's `content_hashes` metadata for {missing}")
    return {key: str(hashes[key]) for key in frames}


def _wants_mapping(context: dg.InputContext) -> bool:
    typing_type = context.dagster_type.typing_type
    return typing_type in (dict, Mapping) or get_origin(typing_type) in (dict, Mapping)

