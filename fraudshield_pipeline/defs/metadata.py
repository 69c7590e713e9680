"""Metadata helpers shared by the stage assets: how a partition range is shown in the UI."""


from collections.abc import Mapping

import dagster as dg
import pandas as pd


def partitioned_output(
    context: dg.AssetExecutionContext,
    asset: str,
    frames: Mapping[str, pd.DataFrame],
    metadata: Mapping[str, object] | None = None,
    output_name: str | None = None,
) -> tuple[dg.Output, dict[str, str]]:
    """One day-partitioned output: content versions, per-partition counts, schema, and extras.

    Returns the Output and the content hash of each partition.
    """
    from fraudshield_pipeline.domain.versioning import content_hash

    versions = {key: content_hash(frame) for key, frame in frames.items()}
    add_partition_metadata(context, asset, frames, versions)
    output = dg.Output(
        dict(frames),
        output_name=output_name or asset,
        data_version=single_data_version(frames, versions),
        metadata={
            **counts_metadata(frames),
            "content_hashes": dg.MetadataValue.json(versions),
            "dagster/column_schema": table_schema(next(iter(frames.values()))),
            **(metadata or {}),
        },
    )
    return output, versions


def partition_counts(frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    return {key: int(len(frame)) for key, frame in sorted(frames.items())}


def counts_metadata(frames: Mapping[str, pd.DataFrame]) -> dict[str, object]:
    """Per-partition row counts; in a range run every partition's event carries the whole map."""
    counts = partition_counts(frames)
    return {
        "partition_row_counts": dg.MetadataValue.json(counts),
        "partitions": len(counts),
    }


def add_partition_metadata(
    context: dg.AssetExecutionContext, asset: str, frames: Mapping[str, pd.DataFrame], versions: Mapping[str, str]
) -> None:
    """Each partition's own row count and content hash, also when a range is written in one run."""
    if len(frames) < 2:
        return  # a single partition: the IO manager's and the output's metadata are already its own
    for key, frame in frames.items():
        context.add_asset_metadata(
            {"dagster/row_count": len(frame), "content_hash": versions[key]}, asset_key=asset, partition_key=key
        )


def single_data_version(frames: Mapping[str, pd.DataFrame], versions: Mapping[str, str]) -> dg.DataVersion | None:
    """A data version only when exactly one partition is written (Dagster versions one output)."""
    return dg.DataVersion(next(iter(versions.values()))) if len(frames) == 1 else None


def table_schema(frame: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()])


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".4f") -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.to_markdown(floatfmt=floatfmt))
