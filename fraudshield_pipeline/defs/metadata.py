"""Metadata helpers shared by the stage assets: how a partition range is shown in the UI."""

import math
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


# --- readable numbers and tables ----------------------------------------------------------------
# The UI shows a float as Python prints it (0.16999999999999998) and a markdown table with pandas'
# index and with `<missing>` swallowed as an HTML tag; typed table metadata avoids all three.

DIGITS = 4


def rounded(value: object, digits: int = DIGITS) -> object:
    """A float rounded for reading (NaN and non-floats unchanged); numpy scalars become Python's."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return round(value, digits)
    return value


# The status drift_report, batch_scores and matured_performance record for a day without a transaction:
# no evidence, which the monitoring sensors skip.
NO_TRANSACTIONS = "no_transactions"


def measured(value: object, digits: int = DIGITS) -> object:
    """A metric as the UI shows it and the sensors read it: rounded, or None where the day has none
    (NaN: no reported fraud, nothing scored). Dagster would show a NaN as a number."""
    value = rounded(value, digits)
    return None if isinstance(value, float) and not math.isfinite(value) else value


def as_float(value: object) -> float:
    """A metric read back from metadata (`measured`): NaN where none was measured."""
    return float("nan") if value is None else float(value)


def rounded_dict(values: Mapping[str, object], digits: int = DIGITS) -> dict[str, object]:
    return {key: rounded(value, digits) for key, value in values.items()}


def _column_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "string"


def _cell(value: object, kind: str, digits: int) -> object:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if kind == "float":
        return rounded(float(value), digits)
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    return str(value)


def frame_table(
    frame: pd.DataFrame,
    descriptions: Mapping[str, str] | None = None,
    digits: int = DIGITS,
) -> dg.MetadataValue:
    """A DataFrame as Dagster table metadata: typed columns (sortable in the UI), rounded floats,
    no index numbers (a named index becomes a column), strings such as `<missing>` shown as text.

    `descriptions` names the unit or meaning of a column; it shows in the column's header tooltip.
    """
    if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index(names=frame.index.name or "name")
    frame = frame.rename(columns=str)
    kinds = {column: _column_type(frame[column]) for column in frame.columns}
    schema = dg.TableSchema(
        columns=[dg.TableColumn(c, kinds[c], description=(descriptions or {}).get(c)) for c in frame.columns]
    )
    records = []
    for row in frame.itertuples(index=False, name=None):
        cells = {c: _cell(v, kinds[c], digits) for c, v in zip(frame.columns, row)}
        records.append(dg.TableRecord(cells))  # every record names every column; None shows empty
    return dg.MetadataValue.table(records=records, schema=schema)


BAR_WIDTH = 20


def bar(value: float, scale: float, width: int = BAR_WIDTH) -> str:
    """A text bar, so a table column doubles as a small chart that renders everywhere."""
    if not scale or value != value:
        return ""
    filled = max(0, min(width, round(width * value / scale)))
    return "█" * filled + "·" * (width - filled)


def image_markdown(url: str, alt: str, link: str | None = None) -> dg.MetadataValue:
    """A small markdown entry (< 1000 characters, so the asset page shows it inline, not behind
    "[Show Markdown]") whose image is served from `url`."""
    text = f"![{alt}]({url})" + (f"\n\n[{alt}: open full size]({link or url})" if url else "")
    return dg.MetadataValue.md(text)


def top_features_table(booster, n: int = 10) -> dg.MetadataValue:
    """The model's top features by total gain, with each one's share of all gain."""
    from fraudshield_pipeline.domain.importance import top_features

    rows = pd.DataFrame(top_features(booster, n), columns=["feature", "total_gain", "gain_share"])
    rows.insert(1, "share", [bar(v, 1.0) for v in rows["gain_share"]])
    return frame_table(rows, descriptions={"gain_share": "fraction (0-1) of the model's total gain", "share": "bar: gain share"})
