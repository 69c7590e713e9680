"""One parquet IO manager for every DataFrame asset, partitioned or not, local or S3.

A partitioned asset may be materialized one day at a time (schedules, sensors) or a whole
range in one run (a backfill runs up to a month per run); in a range run the asset returns a
mapping of partition key to frame, as Dagster's own UPath IO managers expect.
"""


from collections.abc import Mapping
from typing import get_origin

import dagster as dg
import pandas as pd

from fraudshield_pipeline.resources.storage import ArtifactStore, table_key


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
            self.store.write_frame(table_key(name, partition), frame)
        if len(frames) == 1:
            (partition, frame), = frames.items()
            metadata = {"dagster/row_count": len(frame), "uri": dg.MetadataValue.path(self.store.uri(table_key(name, partition)))}
        else:
            # In a range run Dagster copies output metadata onto every partition: report the
            # range here; the assets attach each partition's own count (add_asset_metadata).
            folder = table_key(name, "*").rsplit("/", 1)[0]
            metadata = {"range_row_count": int(sum(len(f) for f in frames.values())), "uri": dg.MetadataValue.path(self.store.uri(folder))}
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


def _wants_mapping(context: dg.InputContext) -> bool:
    typing_type = context.dagster_type.typing_type
    return typing_type in (dict, Mapping) or get_origin(typing_type) in (dict, Mapping)

