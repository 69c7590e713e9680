"""A chargeback that lands weeks after its day is ingested: the late-files sensor ingests that day
again, so its validated labels hold it; a day whose files did not change is left alone."""

import datetime as dt
import os
import shutil
import time
from pathlib import Path

import dagster as dg

from fraudshield_pipeline.defs.ingest.assets import raw_feeds
from fraudshield_pipeline.defs.ingest.sensors import INGESTED, late_files_sensor
from fraudshield_pipeline.defs.snapshots.assets import validated_snapshots
from fraudshield_pipeline.domain.landing import DictFileReader, read_mapping
from fraudshield_pipeline.domain.landing.arrivals import changed_since, day_files
from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.storage import table_key

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "examples" / "landing"
DAY = dt.date(2026, 9, 1)
UTC = dt.timezone.utc


def evaluate(instance, source):
    with dg.build_sensor_context(instance=instance, resources={"source": source}) as context:  # the source nests the s3 resource
        return late_files_sensor(context)


def test_only_days_with_a_file_changed_after_their_ingestion_are_late():
    files = {"mapping.yaml": (EXAMPLE / "mapping.yaml").read_text(), f"transactions/{DAY}.csv": "x", f"labels/{DAY}.csv": "x",
             "transactions/2026-09-02.csv": "x", "labels/2026-09-02.csv": "x", "labels/2026-09-02-late.csv": "x"}  # fmt: skip
    ingested = dt.datetime(2026, 9, 3, 2, tzinfo=UTC)
    times = {name: ingested - dt.timedelta(hours=1) for name in files} | {"labels/2026-09-02-late.csv": ingested + dt.timedelta(days=9)}
    reader = DictFileReader(files, times)
    names = day_files(reader, read_mapping(reader), [DAY, DAY + dt.timedelta(days=1)])
    assert names[DAY + dt.timedelta(days=1)] == ["transactions/2026-09-02.csv", "labels/2026-09-02-late.csv", "labels/2026-09-02.csv"]
    late = changed_since(reader, names, {DAY: ingested, DAY + dt.timedelta(days=1): ingested})
    assert late == {DAY + dt.timedelta(days=1): ingested + dt.timedelta(days=9)}
    assert changed_since(DictFileReader(files), names, {DAY: ingested}) == {}  # no times known: never triggers


def test_a_late_chargeback_file_is_ingested_by_the_sensor(tmp_path):
    zone = tmp_path / "zone"
    for name in (f"transactions/{DAY}.csv", f"labels/{DAY}.csv", "mapping.yaml"):
        (zone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE / name, zone / name)
    old = time.time() - 3600
    for path in zone.rglob("*.*"):
        os.utime(path, (old, old))  # the files as they were before the nightly run
    env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"), "FRAUDSHIELD_SOURCE": "landing", "FRAUDSHIELD_LANDING_URI": str(zone)}
    resources = build_resources(env)
    bound = {k: resources[k] for k in ("storage", "io_manager", "source", "quality")}
    with dg.instance_for_test() as instance:
        assert dg.materialize([raw_feeds, validated_snapshots], partition_key=str(DAY), resources=bound, instance=instance).success
        quiet = evaluate(instance, resources["source"])
        assert isinstance(quiet, dg.SkipReason) and "no file added or changed" in quiet.skip_message

        known = resources["storage"].read_table(table_key("validated_labels", str(DAY))).to_pandas()["transaction_id"]
        transactions = (zone / f"transactions/{DAY}.csv").read_text().splitlines()[1:]
        unlabelled = next(line.split(";")[0] for line in transactions if line.split(";")[0] not in set(known))
        (zone / f"labels/{DAY}-chargebacks-0930.csv").write_text(f"tx_ref,fraud_flag,reported_on,reason\n{unlabelled},Y,2026-09-30T09:00:00+02:00,ATO\n")

        (request,) = evaluate(instance, resources["source"])
        assert request.partition_key == str(DAY) and request.tags["fraudshield/trigger"] == "late_files"
        assert {k.to_user_string() for k in request.asset_selection} == set(INGESTED)
        assert dg.materialize([raw_feeds, validated_snapshots], partition_key=str(DAY), resources=bound, instance=instance).success
        labels = resources["storage"].read_table(table_key("validated_labels", str(DAY))).to_pandas()
        assert unlabelled in set(labels["transaction_id"]) and len(labels) == len(known) + 1
        after = evaluate(instance, resources["source"])
        assert isinstance(after, dg.SkipReason)  # ingested since: nothing late any more
