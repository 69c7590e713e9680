"""Undo a bad promotion: the previous champion is measured in shadow on the new champion's days.

`matured_performance` measures the previous champion on the same rows and labels as the new one;
this sensor compares them day by day (paired CUSUM) during the policy's shadow period, and when the
new champion is clearly worse asks `rollback_job` to move the alias back (or, in approval mode,
records an alert). The job records the rollback with its evidence in the promotion history and as a
`champion` event, which is where the UI and the sensors read the current champion.
"""

import json

import dagster as dg

from fraudshield_pipeline.defs.governance.assets import CHAMPION_ASSET, champion_metadata, current_champion
from fraudshield_pipeline.defs.metadata import as_float
from fraudshield_pipeline.domain.triggers import ShadowComparison, cusum_limit, rollback_trigger
from fraudshield_pipeline.resources.policy import RetrainPolicy
from fraudshield_pipeline.resources.registry import CHAMPION, ModelRegistry
from fraudshield_pipeline.resources.storage import ArtifactStore, report_key

ROLLBACK_TO = "fraudshield/rollback_to"
ROLLBACK_FROM = "fraudshield/rollback_from"


@dg.op
def roll_back_champion(context: dg.OpExecutionContext, registry: ModelRegistry, storage: ArtifactStore):
    """Moves the champion alias back to the version the request names, if the request still applies."""
    from fraudshield_pipeline.domain.governance import rollback_record

    tags = context.run.tags
    target, bad = tags[ROLLBACK_TO], tags[ROLLBACK_FROM]
    current = registry.version_for_alias(CHAMPION)
    if current is None or current.version != bad:
        raise dg.Failure(f"champion is v{current.version if current else '-'} now, not v{bad}: nothing to roll back")
    registry.get_version(target)  # fails loudly for a version that does not exist
    registry.set_alias(CHAMPION, target)
    reason = tags.get("fraudshield/reason", "rollback")
    record = rollback_record(bad, target, reason) | {
        "trigger": "rollback_sensor",
        "evidence": tags.get("fraudshield/evidence", ""),
        "policy": json.loads(tags.get("fraudshield/policy", "{}")),
        "dagster_run_id": context.run_id,
    }
    storage.write_text(report_key("promotions", f"{record['decided_at']}_rollback_v{target}.json"), json.dumps(record, indent=2))
    registry.set_version_tags(bad, {"promotion": f"rolled back to v{target}"})
    context.log_event(
        dg.AssetMaterialization(
            asset_key=CHAMPION_ASSET,
            description=f"rollback: champion v{bad} -> v{target}",
            metadata=champion_metadata(registry, target, record),
        )
    )


@dg.job(tags={"fraudshield/kind": "rollback"})
def rollback_job():
    """Moves the champion alias back to the previous champion (requested by the rollback sensor)."""
    roll_back_champion()


@dg.sensor(job=rollback_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def rollback_sensor(context: dg.SensorEvaluationContext, policy: RetrainPolicy):
    """Rolls a new champion back when its shadow days show it clearly worse than the previous one."""
    champion = current_champion(context.instance)
    records = context.instance.fetch_materializations(dg.AssetKey("matured_performance"), limit=1000, ascending=True).records
    days: dict[str, ShadowComparison] = {}
    previous = None
    for record in records:
        meta = {k: getattr(v, "value", v) for k, v in record.asset_materialization.metadata.items()}
        if meta.get("status") != "matured" or str(meta.get("champion_version")) != champion or "previous_version" not in meta:
            continue
        previous = str(meta["previous_version"])
        partition = record.asset_materialization.partition
        days[partition] = ShadowComparison(
            partition, as_float(meta["average_precision"]), as_float(meta["previous_average_precision"]),
            as_float(meta["recall_at_budget"]), as_float(meta["previous_recall_at_budget"]),
        )
    shadow = [days[p] for p in sorted(days)][: policy.shadow_days]
    if previous is None or not shadow:
        return dg.SkipReason(f"champion v{champion or '-'}: no shadow days of a previous champion to compare")
    limit = policy.cusum_h or cusum_limit(policy.performance_false_alarm_rate, policy.cusum_k)
    decision = rollback_trigger(shadow, policy.cusum_k, limit)
    if not decision.fire:
        done = " (shadow period over)" if len(days) >= policy.shadow_days else ""
        return dg.SkipReason(f"v{champion} vs previous v{previous}: {decision.reason}{done}")
    evidence = json.dumps({d.partition: [round(d.new_average_precision, 4), round(d.previous_average_precision, 4),
                                         round(d.new_recall_at_budget, 4), round(d.previous_recall_at_budget, 4)]
                           for d in shadow}, separators=(",", ":"))
    run_key = f"rollback:v{champion}:v{previous}"
    if policy.approval == "manual":
        if context.cursor == run_key:  # alerted once; launch rollback_job (or `fraudshield rollback`) to approve
            return dg.SkipReason(f"awaiting approval to roll back v{champion} to v{previous}")
        alert = dg.AssetObservation(
            asset_key=CHAMPION_ASSET,
            metadata={"rollback_requested": f"v{champion} -> v{previous}", "reason": decision.reason, "approval": "required"},
        )
        context.log.warning(f"APPROVAL REQUIRED: roll back v{champion} to v{previous}: {decision.reason}")
        return dg.SensorResult(skip_reason=f"approval required: {decision.reason}", asset_events=[alert], cursor=run_key)
    tags = {ROLLBACK_TO: previous, ROLLBACK_FROM: champion, "fraudshield/trigger": "rollback",
            "fraudshield/reason": decision.reason[:500], "fraudshield/evidence": evidence, **policy.as_tags()}
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key, tags=tags)])
