"""Scenarios with known ground truth, from the simulator's drift knobs, run through Dagster."""

import datetime as dt
import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.storage import table_key
from fraudshield_pipeline.runner import RANGE_END, RANGE_START, load_assets
from fraudshield_pipeline.scenarios import FIXED_DELAY, FRAUD_STRATEGY_WORLD, LONG_HISTORY_START, REALISTIC_DELAY, SECOND_WORLD
from fraudshield_pipeline_tests.instance_home import REPO_ROOT, make_home

INGEST_TO_FEATURES = [
    "raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
    "quarantined_transactions", "quarantined_labels", "transaction_features",
]


@pytest.fixture
def partner_world(tmp_path):
    env = {
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "800",
        "FRAUDSHIELD_SIM_NEW_PARTNER_START": "2026-09-08",
    }
    with dg.instance_for_test() as instance:
        yield build_resources(env), instance


def test_new_payment_partner_is_stopped_by_the_contract_the_same_day(partner_world):
    resources, instance = partner_world
    assets = load_assets()
    before = dg.materialize(
        assets, instance=instance, resources=resources, selection=INGEST_TO_FEATURES,
        tags={RANGE_START: "2026-09-01", RANGE_END: "2026-09-07"},
    )
    assert before.success
    day = dg.materialize(
        assets, instance=instance, resources=resources, selection=INGEST_TO_FEATURES,
        partition_key="2026-09-08", raise_on_error=False,
    )
    checks = {e.check_name: e for e in day.get_asset_check_evaluations()}
    assert checks["rows_accounted"].passed
    assert not checks["quarantine_rate"].passed
    rate = checks["quarantine_rate"].metadata["max_quarantine_rate"].value
    assert 0.2 < rate < 0.4  # the partner carries about 30% of the day
    rules = checks["quarantine_rate"].metadata["failed_rules"].value["2026-09-08"]
    assert list(rules) == [next(r for r in rules if r.startswith("merchant_category:isin"))]
    store = resources["storage"]
    assert store.exists(table_key("quarantined_transactions", "2026-09-08"))  # rows kept, with their rule
    # Blocking: nothing downstream is built on a day that broke its contract.
    assert not store.exists(table_key("transaction_features", "2026-09-08"))
    assert store.exists(table_key("transaction_features", "2026-09-07"))


def test_snapshots_are_content_addressed_and_immutable(tmp_path):
    env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"), "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "300"}
    resources = build_resources(env)
    store, assets = resources["storage"], load_assets()
    selection = ["raw_transactions", "raw_labels", "validated_transactions", "validated_labels",
                 "quarantined_transactions", "quarantined_labels"]

    def version(instance):
        dg.materialize(assets, instance=instance, resources=resources, selection=selection, partition_key="2026-09-02")
        record = instance.get_latest_materialization_event(dg.AssetKey("validated_transactions")).asset_materialization
        return record.tags["dagster/data_version"], store.list_keys("snapshots/validated_transactions/2026-09-02/")

    with dg.instance_for_test() as instance:
        first, files = version(instance)
        again, files_again = version(instance)
        assert first == again and files == files_again == [f"snapshots/validated_transactions/2026-09-02/{first}.parquet"]
        changed = build_resources({**env, "FRAUDSHIELD_SIM_SEED": "8"})
        resources.update(source=changed["source"])
        other, files_after = version(instance)
    assert other != first and len(files_after) == 2  # the earlier version is still there, untouched
    from fraudshield_pipeline.domain.versioning import content_hash

    kept = store.read_table(f"snapshots/validated_transactions/2026-09-02/{first}.parquet").to_pandas()
    assert content_hash(kept) == first  # the table moved on to the new version; its old file did not change
    assert store.read_bytes(table_key("validated_transactions", "2026-09-02")) == store.read_bytes(
        f"snapshots/validated_transactions/2026-09-02/{other}.parquet"
    )  # the table is its current snapshot


def test_scenario_sensors_tick_without_the_wall_clock_cooldown():
    """Simulated days pass in seconds: the champion's own training run, minutes ago, would otherwise
    hold every request for 24 hours and no scenario could ever fire."""
    from fraudshield_pipeline.resources.policy import build_policy
    from fraudshield_pipeline.scenarios import scenario_policy

    env = {"FRAUDSHIELD_DRIFT_CONSECUTIVE": "3", "FRAUDSHIELD_RETRAIN_COOLDOWN_HOURS": "12"}
    assert build_policy(env).cooldown_hours == 12 and scenario_policy(env).cooldown_hours == 0
    assert {**build_policy(env).summary(), "cooldown_hours": 0} == scenario_policy(env).summary()


@pytest.mark.slow
def test_stable_days_never_retrain_and_a_spending_shift_is_caught_within_a_day(tmp_path):
    """A champion trained on 72 days; 10 stable days, then a holiday spending shift from day X."""
    from fraudshield_pipeline.scenarios import run_monitoring_scenario

    shift = dt.date(2026, 11, 22)
    env = {
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "1500",
        "FRAUDSHIELD_SIM_CUSTOMERS": "3000",
        "FRAUDSHIELD_SIM_MERCHANTS": "300",
        "FRAUDSHIELD_SIM_HOLIDAY_SHIFT_START": shift.isoformat(),
    }
    with dg.instance_for_test() as instance:
        result = run_monitoring_scenario(instance, env, dt.date(2026, 9, 1), training_days=72, monitored_days=12)
    stable = {d: s for d, s in result.share_drifted.items() if d < shift.isoformat()}
    assert len(stable) == 10, stable
    assert "drift" in result.fired, result.share_drifted
    assert result.fired["drift"] >= shift, f"false alarm on stable data: {result.reasons}"
    assert result.delay_days("drift", shift) <= 1
    assert max(max(ticks) for ticks in result.tick_seconds.values()) < 1.0  # sensors read metadata only


# These scenarios run in their own process on an instance of their own, with the daily
# partitions starting at LONG_HISTORY_START (see fraudshield_pipeline.scenarios).


def run_scenario(tmp_path, *args: str, **env: str) -> tuple[dict, dict]:
    home = make_home(tmp_path / "home")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FRAUDSHIELD_", "MLFLOW_", "DAGSTER_"))},
        "DAGSTER_HOME": str(home),
        "FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"),
        "FRAUDSHIELD_START_DATE": LONG_HISTORY_START,
        **env,
    }
    out = tmp_path / "outcome.json"
    done = subprocess.run(
        [sys.executable, "-m", "fraudshield_pipeline.scenarios", *args, "--first-day", LONG_HISTORY_START, "--out", str(out)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=3000,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(out.read_text()), env


SMALL_WORLD = {"FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "1500", "FRAUDSHIELD_SIM_CUSTOMERS": "3000", "FRAUDSHIELD_SIM_MERCHANTS": "300"}


# Measured on 2026-12-01 (8 and 10 minutes on a quiet 2-core machine): the default simulator's 60
# days pass (drifted share 0.03..0.23, no request); the second world's fire the performance
# trigger on 2026-09-20, a fraud-mix wave (README, Monitoring). Both stay `target`, run by hand:
# too long for CI's slow suite. Over five draws of each world the same policy fires in 3 of 5 of
# both (benchmarks/monitoring_seeds.py): issue 18's stable-days criterion waits on the owner.
@pytest.mark.slow
@pytest.mark.target
@pytest.mark.parametrize("world", [SMALL_WORLD, SECOND_WORLD], ids=["default-simulator", "second-world"])
def test_sixty_stable_days_never_trigger_a_drift_or_performance_retrain(tmp_path, world):
    """A champion trained on 72 days of full-history features, then 60 stable days, one at a time,
    on two worlds with the same default policy."""
    # A small world's first champion scores about 0.2-0.3 average precision: the gate's floor is
    # set below that, as in the fraud-strategy scenario, so that monitoring has a champion.
    outcome, _ = run_scenario(
        tmp_path, "stable", "--training-days", "72", "--monitored-days", "60", "--absolute-floor", "0.15", **world
    )
    monitoring = outcome["monitoring"]
    shares = monitoring["share_drifted"]
    assert len(shares) == 60 and len(monitoring["tick_seconds"]["drift"]) == 60  # every day measured, every day decided
    assert monitoring["fired"] == {}, f"false alarm on stable data: {monitoring['reasons']}"
    print(f"60 stable days: drifted share {min(shares.values()):.2f}..{max(shares.values()):.2f}, no retrain requested")


# Passing on 2026-12-01 (4 min on a quiet 2-core machine): fired after 9 days, retrain promoted,
# stale challenger refused, the stale model's manual promotion rolled back 9 days later. Issue 18's
# scenario, run by hand (`pytest -m target -k caught_on_matured -n 0`): too long for CI's slow suite.
@pytest.mark.slow
@pytest.mark.target
def test_a_fraud_strategy_change_is_caught_on_matured_labels_and_only_a_better_retrain_is_promoted(tmp_path):
    """Inputs stay stable while fraud changes its ways; only matured labels can show the decay."""
    from fraudshield_pipeline.resources.registry import CHAMPION
    from fraudshield_pipeline.scenarios import MATURITY_DAYS

    change = dt.date(2026, 8, 22)  # the champion is trained on data until 2026-08-11; monitoring starts 08-12
    outcome, env = run_scenario(
        tmp_path, "fraud-strategy", "--training-days", "72", "--change", change.isoformat(), "--monitored-days", "30",
        "--absolute-floor", "0.15", "--bad-promotion", **FRAUD_STRATEGY_WORLD, FRAUDSHIELD_SIM_LABEL_DELAY=FIXED_DELAY,
    )
    monitoring = outcome["monitoring"]
    assert "performance" in monitoring["fired"], monitoring["matured"]
    fired = dt.date.fromisoformat(monitoring["fired"]["performance"])
    # No false alarm on the weeks before the change, nothing before the labels could show it, and
    # within 10 days with every fraud reported a week later.
    assert change + dt.timedelta(days=MATURITY_DAYS) <= fired <= change + dt.timedelta(days=10), monitoring["matured"]
    assert "own expectation" in monitoring["reasons"]["performance"]
    assert "drift" not in monitoring["fired"], monitoring["share_drifted"]  # the inputs did not move

    # The retrain the sensor asked for, once its training window lies after the change.
    retrain, worse = outcome["retrain"], outcome["worse"]
    assert retrain["promoted"] is True, retrain["decision"]
    assert outcome["champion_after_retrain"] == retrain["model_version"] != outcome["champion_before"]
    decayed, fresh = retrain["champion_metrics"]["average_precision"], retrain["challenger_metrics"]["average_precision"]
    assert fresh > decayed + 0.1, (fresh, decayed)  # on the same time-forward holdout after the change
    # A stale challenger (trained on the weeks before the change, same holdout) is refused; the alias stays put.
    assert worse["promoted"] is False
    assert "FAIL: average_precision" in worse["decision"]
    assert worse["challenger_metrics"]["average_precision"] < worse["champion_metrics"]["average_precision"]
    assert outcome["champion_after_worse"] == retrain["model_version"]
    print(f"fraud strategy change on {change}: performance sensor fired on {fired} ({(fired - change).days} days), "
          f"drifted share at most {max(monitoring['share_drifted'].values()):.2f}; retrained AP {fresh:.3f} vs decayed "
          f"champion {decayed:.3f}; stale challenger {worse['challenger_metrics']['average_precision']:.3f} refused")

    registry = build_resources(env)["registry"]
    assert registry.version_for_alias(CHAMPION).version == retrain["model_version"]
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    # retrain_job runs other than the first champion's own pipeline stages (tagged fraudshield/stage)
    runs = {run.run_id: run for run in instance.get_runs(filters=dg.RunsFilter(job_name="retrain_job")) if "fraudshield/stage" not in run.tags}
    assert runs[retrain["run_id"]].tags["fraudshield/trigger"] == "performance"
    assert runs[retrain["run_id"]].tags["fraudshield/reason"] == monitoring["reasons"]["performance"]
    assert runs[worse["run_id"]].tags["fraudshield/trigger"] == "manual" and len(runs) == 2

    # A human promotes the stale model anyway: the shadow days of the previous champion undo it.
    bad = outcome["bad_promotion"]
    assert bad["promoted"] == worse["model_version"] and bad["previous"] == retrain["model_version"]
    assert "rolled_back_on" in bad, bad["shadow"]
    assert bad["days_after_promotion"] <= bad["shadow_days"], bad["shadow"]
    assert bad["champion_after"] == retrain["model_version"] == registry.version_for_alias(CHAMPION).version
    history = [json.loads(p.read_text()) for p in (tmp_path / "data").rglob("reports/promotions/*.json")]
    (rollback,) = [r for r in history if r.get("action") == "rollback"]
    assert rollback["champion_version_after"] == retrain["model_version"] and rollback["evidence"]
    print(f"stale model v{bad['promoted']} promoted on {bad['promoted_on']}: rolled back on {bad['rolled_back_on']} "
          f"({bad['days_after_promotion']} days; shadow period {bad['shadow_days']} days): {bad['reason']}")


# Passing on 2026-12-01 (2-3.5 min each on a quiet 2-core machine): fired after 4, 8 and 10 days.
# Run by hand (`pytest -m target -k within_days -n 0`): together too long for CI's slow suite.
@pytest.mark.slow
@pytest.mark.target
@pytest.mark.parametrize(
    ("world", "delay", "within"),
    [(FRAUD_STRATEGY_WORLD, REALISTIC_DELAY, 8), (SECOND_WORLD, REALISTIC_DELAY, 8), (SECOND_WORLD, FIXED_DELAY, 10)],
    ids=["small-world-realistic-delay", "second-world-realistic-delay", "second-world-fixed-delay"],
)
def test_a_fraud_strategy_change_is_caught_within_days_on_both_worlds(tmp_path, world, delay, within):
    """Days are judged once half their frauds are expected in: within 8 days of the change with a
    realistic delay (most frauds reported within a few days, a long tail), 10 with a fixed week."""
    change = dt.date(2026, 8, 22)
    outcome, _ = run_scenario(
        tmp_path, "fraud-strategy", "--training-days", "72", "--change", change.isoformat(), "--monitored-days", "30",
        "--absolute-floor", "0.15", "--no-retrain", **world, FRAUDSHIELD_SIM_LABEL_DELAY=delay,
    )
    monitoring = outcome["monitoring"]
    assert "performance" in monitoring["fired"], monitoring["matured"]
    fired = dt.date.fromisoformat(monitoring["fired"]["performance"])
    assert change < fired <= change + dt.timedelta(days=within), monitoring["matured"]
    ages = {m["label_age_days"] for m in monitoring["matured"].values()}
    if delay == REALISTIC_DELAY:
        assert min(ages) < 7, ages  # judged on labels as they arrive, not after a fixed week
    assert "drift" not in monitoring["fired"], monitoring["share_drifted"]
    print(f"{delay}: fraud strategy change on {change}, performance sensor fired on {fired} "
          f"({(fired - change).days} days), judged at label ages {sorted(ages)}")
