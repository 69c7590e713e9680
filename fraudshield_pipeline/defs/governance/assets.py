"""The `champion` asset: one event per move (or refusal to move) of the registry's champion alias.

MLflow holds the alias; this asset is its history in Dagster, so the UI, the retraining sensors and
`fraudshield promotions` read one record. A promotion or refusal materializes it inside
`retrain_job`, right after `evaluation_report`; `fraudshield rollback` reports a runless
materialization of it with the same metadata. `current_champion(instance)` is the one reader.
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg

from fraudshield_pipeline.resources.registry import CHAMPION, ModelRegistry
from fraudshield_pipeline.resources.storage import ArtifactStore

CHAMPION_ASSET = dg.AssetKey("champion")
PROMOTIONS_PREFIX = "reports/promotions/"
NONE = "none"


@dg.asset(group_name="governance", kinds={"mlflow"}, deps=["evaluation_report"])
def champion(context: dg.AssetExecutionContext, registry: ModelRegistry, storage: ArtifactStore) -> dg.MaterializeResult:
    """The model version serving as champion, and the decision (promotion, refusal, rollback) behind it."""
    records = [json.loads(storage.read_text(key)) for key in storage.list_keys(PROMOTIONS_PREFIX)]
    # The decision of this run's evaluation; materialized alone, the newest decision on record.
    own = [r for r in records if r.get("dagster_run_id") == context.run.run_id]
    record = max(own or records, key=lambda r: r["decided_at"], default=None)
    current = registry.version_for_alias(CHAMPION)
    return dg.MaterializeResult(metadata=champion_metadata(registry, current.version if current else None, record))


def champion_metadata(registry: ModelRegistry, version: str | None, record: Mapping[str, Any] | None) -> dict[str, Any]:
    """What one champion event records: the version the alias points to now and the decision."""
    record = dict(record or {})
    metadata: dict[str, Any] = {
        "champion_version": str(version) if version else NONE,
        "action": record.get("action", "observed"),
        "decided_at": record.get("decided_at", ""),
        "champion_version_before": str(record.get("champion_version_before") or NONE),
        "candidate_version": str(record.get("challenger_version") or NONE),
        "why": "; ".join(r for r in record.get("reasons", []) if not str(r).startswith("PASS")) or "all rules passed",
        "decision_record": dg.MetadataValue.json(json.loads(json.dumps(record, default=str))),
    }
    if version:
        metadata["model_version_url"] = dg.MetadataValue.url(registry.version_url(str(version)))
    return metadata


def record_champion_event(instance: dg.DagsterInstance, registry: ModelRegistry, record: Mapping[str, Any]) -> None:
    """A champion move made outside a run (a rollback from the CLI), in the same asset history."""
    current = registry.version_for_alias(CHAMPION)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=CHAMPION_ASSET, metadata=champion_metadata(registry, current.version if current else None, record))
    )


def current_champion(instance: dg.DagsterInstance) -> str | None:
    """The champion version as last recorded on the `champion` asset (None before the first one)."""
    event = instance.get_latest_materialization_event(CHAMPION_ASSET)
    entry = event.asset_materialization.metadata.get("champion_version") if event and event.asset_materialization else None
    return None if entry is None or entry.value == NONE else str(entry.value)


def champion_history(instance: dg.DagsterInstance, limit: int = 100) -> list[dict[str, Any]]:
    """Every recorded decision, newest first: the records `domain.governance.history_table` lists."""
    records = instance.fetch_materializations(CHAMPION_ASSET, limit=limit, ascending=False).records
    history, seen = [], set()
    for record in records:
        entry = record.asset_materialization.metadata.get("decision_record")
        decision = entry.value if entry is not None else {}
        if decision and decision.get("decided_at") not in seen:  # re-materialized alone: same decision
            seen.add(decision.get("decided_at"))
            history.append(decision)
    return history
