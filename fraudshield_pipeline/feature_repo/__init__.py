"""The Feast repository, generated from the one feature definition in `domain.features`.

Two kinds of feature views, both over tables the pipeline writes:
- offline views (`domain.features.FEATURE_VIEWS`): the transaction_features table cut by entity;
  each row is an entity's state at one transaction's time. Feast's `get_historical_features`
  on them equals the DuckDB ASOF training set (tested value for value).
- online state views: each card's and merchant's recent events (`domain.online`), written to
  the online store (sqlite or Redis) by the `online_features` asset and advanced by the serving
  path, from which `domain.online.features_at` evaluates the same windows at request time.
Imported only where Feast is used (it is slow to import).
"""

from __future__ import annotations

import datetime as dt

from fraudshield_pipeline.domain import features as f
from fraudshield_pipeline.domain import online as o
from fraudshield_pipeline.domain import schema as s

PROJECT = "fraudshield"
FEATURES_TABLE = "transaction_features"
CUSTOMER_STATE = "customer_state"
MERCHANT_STATE = "merchant_state"
STORE_STATUS = "online_store_status"
STATE_TABLES = (CUSTOMER_STATE, MERCHANT_STATE, STORE_STATUS)
STORE_KEY = "online_store"  # join key of the one status row
STORE_ID = PROJECT
MATERIALIZED_UNTIL_US = "materialized_until_us"
# The state is rewritten every day; a row this old means the daily materialization stopped.
STATE_TTL = dt.timedelta(days=2)
ENTITIES = {
    "transaction": s.TRANSACTION_ID,
    "customer": s.CUSTOMER_ID,
    "merchant": s.MERCHANT_ID,
    "online_store": STORE_KEY,
}


def historical_refs(source_columns=None) -> list[str]:
    """`view:feature` references of every model feature, for `get_historical_features`."""
    return [
        f"{view.name}:{spec.name}"
        for view in f.FEATURE_VIEWS
        for spec in f.view_features(view, source_columns)
    ]


def online_refs() -> list[str]:
    return [
        f"{CUSTOMER_STATE}:{o.EVENT_US}",
        f"{CUSTOMER_STATE}:{o.AMOUNTS}",
        f"{CUSTOMER_STATE}:{o.MERCHANTS}",
        f"{MERCHANT_STATE}:{o.EVENT_US}",
        f"{MERCHANT_STATE}:{o.FRAUD_EVENT_US}",
        f"{MERCHANT_STATE}:{o.LABELS_AS_OF_US}",
        f"{STORE_STATUS}:{o.LABELS_AS_OF_US}",
        f"{STORE_STATUS}:{MATERIALIZED_UNTIL_US}",
    ]


def state_tables(customers, merchants, as_of: dt.datetime) -> dict:
    """The serving state as of `as_of`, one Arrow table per online view, with the store's status row.

    `customers`, `merchants`: `domain.online.entity_states` for the same `as_of`.
    """
    import pyarrow as pa

    status = pa.table(
        {
            STORE_KEY: [STORE_ID],
            s.EVENT_TIMESTAMP: pa.array([as_of], pa.timestamp("us", tz="UTC")),
            o.LABELS_AS_OF_US: [o.to_us(as_of)],
            MATERIALIZED_UNTIL_US: [o.to_us(as_of)],
        }
    )
    return {CUSTOMER_STATE: customers, MERCHANT_STATE: merchants, STORE_STATUS: status}


def feature_store_yaml(settings: dict) -> str:
    """`feature_store.yaml` for Feast's CLI and UI, from the settings the pipeline's own store uses
    (`FeastFeatureStore.repo_settings`), so both always open the same registry and online store."""
    import yaml

    header = (
        "# Written by the pipeline (FeastFeatureStore.write_repo_yaml) from the active profile; do not edit.\n"
        "# feast -c <this folder> feature-views list | feast -c <this folder> ui\n"
    )
    return header + yaml.safe_dump(settings, sort_keys=False)


def repo_objects(tables_uri: str, s3_endpoint_override: str | None = None) -> list:
    """Entities, sources and views; `tables_uri` is the root the storage resource writes tables under."""
    from feast import Entity, FeatureView, Field, FileSource
    from feast.types import Array, Float64, Int64, String
    from feast.value_type import ValueType

    dtypes = {"int": Int64, "float": Float64, "category": String}

    def source(table: str) -> FileSource:
        return FileSource(
            name=f"{table}_source",
            path=f"{tables_uri.rstrip('/')}/{table}/*.parquet",
            timestamp_field=s.EVENT_TIMESTAMP,
            s3_endpoint_override=s3_endpoint_override,
        )

    entities = {name: Entity(name=name, join_keys=[key], value_type=ValueType.STRING) for name, key in ENTITIES.items()}
    features = source(FEATURES_TABLE)
    objects: list = list(entities.values())
    for view in f.FEATURE_VIEWS:
        objects.append(
            FeatureView(
                name=view.name,
                entities=[entities[view.entity]],
                ttl=view.ttl,
                schema=[Field(name=spec.name, dtype=dtypes[spec.dtype], description=spec.description) for spec in f.view_features(view)],
                source=features,
                online=False,
                description=f"Point-in-time {view.entity} features, one row per transaction (offline: training).",
                tags={"owner": "fraudshield", "definition": "fraudshield_pipeline.domain.features"},
            )
        )
    state_views = {
        CUSTOMER_STATE: ("customer", [(o.EVENT_US, Array(Int64)), (o.AMOUNTS, Array(Float64)), (o.MERCHANTS, Array(String))]),
        MERCHANT_STATE: (
            "merchant",
            [(o.EVENT_US, Array(Int64)), (o.FRAUD_EVENT_US, Array(Int64)), (o.LABELS_AS_OF_US, Int64)],
        ),
        STORE_STATUS: ("online_store", [(o.LABELS_AS_OF_US, Int64), (MATERIALIZED_UNTIL_US, Int64)]),
    }
    for name, (entity, fields) in state_views.items():
        objects.append(
            FeatureView(
                name=name,
                entities=[entities[entity]],
                ttl=STATE_TTL,
                schema=[Field(name=field, dtype=dtype) for field, dtype in fields],
                source=source(name),
                online=True,
                description="Serving state: recent events from which domain.online evaluates the feature windows.",
                tags={"owner": "fraudshield", "definition": "fraudshield_pipeline.domain.online"},
            )
        )
    return objects
