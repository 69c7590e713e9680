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
from fraudshield_pipeline.domain.landing.arrivals import Ingestion, arrivals, day_files
from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.storage import table_key

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "examples" / "landing"
DAY = dt.date(2026, 9, 1)
UTC = dt.timezone.utc


def evaluate(instance, source):
    with dg.build_sensor_context(instance=instance, resources={"source": source}) as context:  # the source nests the s3 resource
        return late_files_sensor(context)


def test_a_day_is_late_when_its_files_differ_from_those_its_ingestion_read():
    """Added, removed or rewritten files make a day late; a file only touched (a sync re-uploading it) does
    not, and its hash is read once per modification time; without recorded hashes, the time alone decides."""
    from fraudshield_pipeline.domain.landing.readers import file_hash

    d1, d2, d3, d4 = (DAY + dt.timedelta(days=i) for i in range(4))
    files = {"mapping.yaml": (EXAMPLE / "mapping.yaml").read_text()}
    for d in (d1, d2, d3, d4):
        files |= {f"transactions/{d}.csv": f"tx {d}", f"labels/{d}.csv": f"labels {d}"}
    then = dt.datetime(2026, 9, 6, 2, tzinfo=UTC)
    recorded = {d: {n: file_hash(files[n].encode()) for n in (f"transactions/{d}.csv", f"labels/{d}.csv")} for d in (d1, d2, d3, d4)}
    files |= {f"labels/{d2}-late.csv": "a chargeback", f"labels/{d3}.csv": "labels rewritten"}  # d2: added; d3: rewritten
    later = then + dt.timedelta(days=9)
    times = {n: then - dt.timedelta(hours=1) for n in files} | {f"labels/{d2}-late.csv": later, f"labels/{d3}.csv": later,
                                                                 f"labels/{d4}.csv": later}  # d4: touched, same bytes  # fmt: skip
    reader = DictFileReader(files, times)
    names = day_files(reader, read_mapping(reader), [d1, d2, d3, d4])
    assert names[d2] == [f"transactions/{d2}.csv", f"labels/{d2}-late.csv", f"labels/{d2}.csv"]
    ingested = {d: Ingestion(then, recorded[d]) for d in (d1, d2, d3, d4)}
    found = arrivals(reader, names, ingested)
    assert set(found.changed) == {d2, d3}
    assert found.changed[d2] == f"added labels/{d2}-late.csv" and found.changed[d3].startswith(f"labels/{d3}.csv rewritten at")
    assert found.seen[f"labels/{d4}.csv"] == [later.isoformat(), recorded[d4][f"labels/{d4}.csv"]]

    class Counting(DictFileReader):
        reads = 0

        def read_bytes(self, name, limit=None):
            Counting.reads += 1
            return super().read_bytes(name, limit)

    again = arrivals(Counting(files, times), {d4: names[d4]}, {d4: ingested[d4]}, found.seen)
    assert again.changed == {} and Counting.reads == 0  # the touched file's hash came from the cache
    assert set(arrivals(reader, names, {d: Ingestion(then) for d in (d1, d4)}).changed) == {d4}  # no hashes: the time decides
    assert set(arrivals(DictFileReader(files), names, ingested).changed) == {d2}  # no times known: only the listing tells


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
        assert isinstance(quiet, dg.SkipReason) and "no file added, removed or rewritten" in quiet.skip_message
        os.utime(zone / f"transactions/{DAY}.csv")  # touched now, the same bytes (a sync re-uploading it)
        assert isinstance(evaluate(instance, resources["source"]), dg.SkipReason)

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


def test_a_rewrite_during_the_ingestion_run_a_vanished_file_and_a_fixed_upload_are_each_noticed():
    """The ingestion is recorded when its run ends, after the read: a file rewritten meanwhile is hashed
    (READ_MARGIN); a file gone between listing and reading marks its day, not a crash; each new state of
    a day's files digests differently, so a fixed upload after a failed re-ingestion runs again."""
    from fraudshield_pipeline.domain.landing.readers import file_hash

    then = dt.datetime(2026, 9, 2, 3, tzinfo=UTC)
    names = {DAY: [f"labels/{DAY}.csv"]}
    recorded = Ingestion(then, {f"labels/{DAY}.csv": file_hash(b"as read")})
    during = DictFileReader({f"labels/{DAY}.csv": b"rewritten"}, {f"labels/{DAY}.csv": then - dt.timedelta(minutes=2)})
    assert list(arrivals(during, names, {DAY: recorded}).changed) == [DAY]

    class Vanishing(DictFileReader):
        def read_bytes(self, name, limit=None):
            raise FileNotFoundError(name)

    gone = arrivals(Vanishing({f"labels/{DAY}.csv": b"x"}, {f"labels/{DAY}.csv": then + dt.timedelta(hours=1)}), names, {DAY: recorded})
    assert "unreadable now (FileNotFoundError)" in gone.changed[DAY]
    added = {DAY: [f"labels/{DAY}.csv", f"labels/{DAY}-late.csv"]}
    states = [
        arrivals(DictFileReader({n: b"as read" for n in added[DAY]}, {n: then + dt.timedelta(hours=h) for n in added[DAY]}), added, {DAY: recorded}).states[DAY]
        for h in (1, 5)
    ]  # fmt: skip
    assert states[0] != states[1]


def test_a_source_whose_days_never_change_skips_without_reading_the_event_log():
    from fraudshield_pipeline.resources.sources import SimulatorSource

    with dg.instance_for_test() as instance:
        result = evaluate(instance, SimulatorSource())
    assert isinstance(result, dg.SkipReason) and "never change after their ingestion" in result.skip_message
