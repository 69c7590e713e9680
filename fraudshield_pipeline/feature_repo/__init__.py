"""The Feast repository: entities and feature views generated from the one feature definition.

Feast objects are built from `domain.features.FEATURES`, so the serving schema cannot drift
from the training schema. Imported only where Feast is used (it is slow to import).
"""

from __future__ import annotations

import datetime as dt

from fraudshield_pipeline.domain import features as f
from fraudshield_pipeline.domain import schema as s

PROJECT = "fraudshield"
CUSTOMER_VIEW = "customer_activity"
MERCHANT_VIEW = "merchant_risk"
VIEW_ENTITY = {CUSTOMER_VIEW: ("customer", s.CUSTOMER_ID), MERCHANT_VIEW: ("merchant", s.MERCHANT_ID)}
# Online values older than this are treated as missing rather than served stale.
ONLINE_TTL = dt.timedelta(days=30)


def view_features(view: str) -> list[f.FeatureSpec]:
    entity = VIEW_ENTITY[view][0]
    return [spec for spec in f.FEATURES if spec.entity == entity and spec.dtype != "category"]


def feature_refs() -> list[str]:
    return [f"{view}:{spec.name}" for view in VIEW_ENTITY for spec in view_features(view)]


def repo_objects(offline_path: str, s3_endpoint_override: str | None = None) -> list:
    """Entities, the offline source over the feature table, and one view per entity."""
    from feast import Entity, FeatureView, Field, FileSource
    from feast.types import Float64, Int64
    from feast.value_type import ValueType

    dtypes = {"int": Int64, "float": Float64}
    source = FileSource(
        name="transaction_features_source",
        path=offline_path,
        timestamp_field=s.EVENT_TIMESTAMP,
        s3_endpoint_override=s3_endpoint_override,
    )
    objects: list = []
    for view, (entity_name, join_key) in VIEW_ENTITY.items():
        entity = Entity(name=entity_name, join_keys=[join_key], value_type=ValueType.STRING)
        objects.append(entity)
        objects.append(
            FeatureView(
                name=view,
                entities=[entity],
                ttl=ONLINE_TTL,
                schema=[Field(name=spec.name, dtype=dtypes[spec.dtype], description=spec.description) for spec in view_features(view)],
                source=source,
                online=True,
                tags={"owner": "fraudshield", "definition": "fraudshield_pipeline.domain.features"},
            )
        )
    return objects
