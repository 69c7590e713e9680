"""Metadata helpers shared by the stage assets: how a partition range is shown in the UI."""


from collections.abc import Mapping

import dagster as dg
import pandas as pd


def partition_counts(frames: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    return {key: int(len(frame)) for key, frame in sorted(frames.items())}


def counts_metadata(frames: Mapping[str, pd.DataFrame]) -> dict[str, object]:
    """Per-partition row counts; in a range run every partition's event carries the whole map."""
    counts = partition_counts(frames)
    return {
        "partition_row_counts": dg.MetadataValue.json(counts),
        "partitions": len(counts),
    }


def single_data_version(frames: Mapping[str, pd.DataFrame], versions: Mapping[str, str]) -> dg.DataVersion | None:
    """A data version only when exactly one partition is written (Dagster versions one output)."""
    return dg.DataVersion(next(iter(versions.values()))) if len(frames) == 1 else None


def table_schema(frame: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(str(c), str(t)) for c, t in frame.dtypes.items()])


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".4f") -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.to_markdown(floatfmt=floatfmt))
