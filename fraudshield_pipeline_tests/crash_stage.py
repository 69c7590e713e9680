"""Runs one pipeline stage in this process and SIGKILLs it part-way, for the crash tests.

    python -m fraudshield_pipeline_tests.crash_stage <stage> <data_dir> <dagster_home> <first_day> <days>

The kill is placed by wrapping one call the stage makes (test code only, nothing in the package
knows about it):
- snapshots, features: the 2nd storage commit (a temp file was written, the rename to the final
  name never happens), so some partitions of the stage are complete and one is mid-write;
- training: registering the model's alias (the MLflow version exists, the alias move never runs);
- evaluation: the promotion commit (record, card and tags are written, the champion alias is not).
"""

import datetime as dt
import os
import signal
import sys

STAGE_ENV = {"FRAUDSHIELD_SIM_TRANSACTIONS_PER_DAY": "1200", "FRAUDSHIELD_SIM_CUSTOMERS": "3000", "FRAUDSHIELD_SIM_MERCHANTS": "300"}


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(stage: str) -> None:
    if stage in ("snapshots", "features"):
        import fraudshield_pipeline.resources.storage as storage_module

        original = os.replace
        calls = {"n": 0}

        def replace(src, dst, *args, **kwargs):
            if str(dst).endswith(".parquet") and "/tables/" in str(dst):
                calls["n"] += 1
                if calls["n"] == 2:
                    die()
            return original(src, dst, *args, **kwargs)

        storage_module.os.replace = replace
    elif stage in ("training", "evaluation"):
        from fraudshield_pipeline.resources.registry import ModelRegistry

        alias = "challenger" if stage == "training" else "champion"
        original = ModelRegistry.set_alias

        def set_alias(self, name, version):
            if name == alias:
                die()
            return original(self, name, version)

        ModelRegistry.set_alias = set_alias


def run_stage(stage: str, data_dir: str, first_day: dt.date, days: int) -> None:
    import dagster as dg

    from fraudshield_pipeline.resources.profiles import build_resources
    from fraudshield_pipeline.runner import RANGE_END, RANGE_START, STAGES, console_config, load_assets

    (selected,) = [s for s in STAGES if s.name == stage]
    resources = build_resources({"FRAUDSHIELD_DATA_DIR": data_dir, **STAGE_ENV})
    tags = {RANGE_START: first_day.isoformat(), RANGE_END: (first_day + dt.timedelta(days=days - 1)).isoformat()}
    run_config = console_config()
    if stage == "evaluation":  # a small world's first model must clear the gate, or nothing is promoted
        run_config["ops"] = {"evaluation_report": {"config": {"absolute_floor": 0.1}}}
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            load_assets(), instance=instance, resources=resources, selection=list(selected.assets),
            tags=tags if selected.partitioned else {}, run_config=run_config, raise_on_error=False,
        )
    print("SUCCESS" if result.success else "FAILED")


if __name__ == "__main__":
    stage, data_dir, home, first_day, days = sys.argv[1:6]
    os.environ["DAGSTER_HOME"] = home
    if len(sys.argv) > 6 and sys.argv[6] == "--kill":
        arm(stage)
    run_stage(stage, data_dir, dt.date.fromisoformat(first_day), int(days))
