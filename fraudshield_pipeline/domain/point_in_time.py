"""Point-in-time joins in DuckDB with Feast's semantics, fast enough for whole training sets.

For each entity row (keys + event_timestamp) and each feature view, take the view's newest row
with the same key and ``row.event_timestamp <= entity.event_timestamp``, or nulls when that row
is older than the view's TTL. This is what Feast's `get_historical_features` computes (tested
value for value); DuckDB's ASOF join does it in one sort-merge pass instead of Feast's
key-and-TTL self join, whose cost grows with the rows inside the TTL.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from fraudshield_pipeline.domain import schema as s
from fraudshield_pipeline.domain.duck import as_arrow, query_frame
from fraudshield_pipeline.domain.features import FEATURE_VIEWS, FeatureViewSpec, view_features

ROW_ORDER = "__entity_row"


def point_in_time_sql(
    entity_columns: Sequence[str], feature_columns: Sequence[str], views: Sequence[FeatureViewSpec] = FEATURE_VIEWS
) -> str:
    """SQL over relations `entities` and `features`; output keeps the entity rows' order."""
    ts = s.EVENT_TIMESTAMP
    selects, joins, ctes = [], [], []
    for i, view in enumerate(views):
        names = [spec.name for spec in view_features(view) if spec.name in set(feature_columns)]
        if not names:
            continue
        alias = f"v{i}"
        ctes.append(
            f"{alias}_rows AS (SELECT {view.join_key} AS _key, {ts} AS _ts, {', '.join(names)} FROM features)"
        )
        ttl_us = int(view.ttl.total_seconds() * 1_000_000)
        fresh = f"{alias}._ts >= e.{ts} - INTERVAL {ttl_us} MICROSECOND"
        selects += [f"CASE WHEN {fresh} THEN {alias}.{name} END AS {name}" for name in names]
        joins.append(
            f"ASOF LEFT JOIN {alias}_rows {alias} ON e.{view.join_key} = {alias}._key AND e.{ts} >= {alias}._ts"
        )
    entity_select = ", ".join(f"e.{c}" for c in entity_columns)
    return f"""
WITH entity_rows AS (SELECT *, row_number() OVER () AS {ROW_ORDER} FROM entities),
{", ".join(ctes)}
SELECT {entity_select}, {", ".join(selects)}
FROM entity_rows e
{chr(10).join(joins)}
ORDER BY e.{ROW_ORDER}
"""


def point_in_time_join(
    entity_rows: pd.DataFrame | pa.Table,
    features: pd.DataFrame | pa.Table,
    views: Sequence[FeatureViewSpec] = FEATURE_VIEWS,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Feature values of every view as of each entity row's event_timestamp."""
    entity_table, feature_table = as_arrow(entity_rows), as_arrow(features)
    own = con is None
    con = con or duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("entities", entity_table)
        con.register("features", feature_table)
        sql = point_in_time_sql(entity_table.column_names, feature_table.column_names, views)
        return query_frame(con, sql)
    finally:
        con.unregister("entities")
        con.unregister("features")
        if own:
            con.close()

