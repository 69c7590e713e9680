"""The validated snapshots keep the landing zone's accounting on a hostile day, in process:
records in the files = rows validated + rows quarantined (the rows_accounted check and its
metadata), and the amount bound is the one of the zone's mapping.yaml."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from fraudshield_pipeline.defs.ingest.assets import raw_feeds
from fraudshield_pipeline.defs.snapshots.assets import validated_snapshots
from fraudshield_pipeline.resources.profiles import build_resources
from fraudshield_pipeline.resources.storage import table_key

EXAMPLE = Path(__file__).resolve().parents[2] / "data" / "examples" / "landing"
DAY = dt.date(2026, 9, 1)
TX, LB = f"transactions/{DAY}.csv", f"labels/{DAY}.csv"
HOSTILE_ROWS = [
    '"X1;C1;M1;01/09/2026 10:00:00;5.00;chip;NL;b',  # a stray quote: one malformed record, nothing merged
    "tx_ref;card_hash;terminal;tx_time;amount_eur;pos_entry;merchant_country;export_batch",  # concatenated export
    "X2;C1;M1;01/09/2026 10:01:00;1e308;chip;NL;b",  # absurd: over the mapping's bound
    "X3;C1;M1;01/09/2026 10:02:00;50000000;chip;NL;b",  # over the default bound, under this mapping's
]


@pytest.mark.slow  # a Dagster run in process: ~20 s or more on the shared machine
def test_a_hostile_landing_day_is_accounted_for_in_the_snapshot(tmp_path):
    zone = tmp_path / "zone"
    for name in (TX, LB):
        (zone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE / name, zone / name)
    with (zone / TX).open("a") as file:
        file.write("\r\n".join(HOSTILE_ROWS) + "\r")  # mixed line endings too
    mapping = yaml.safe_load((EXAMPLE / "mapping.yaml").read_text())
    mapping["transactions"]["max_amount"] = 1e9
    (zone / "mapping.yaml").write_text(yaml.safe_dump(mapping))
    records = len((zone / TX).read_text().splitlines()) - 1
    env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"), "FRAUDSHIELD_SOURCE": "landing", "FRAUDSHIELD_LANDING_URI": str(zone)}
    resources = build_resources(env)
    result = dg.materialize(
        [raw_feeds, validated_snapshots], partition_key=str(DAY), raise_on_error=False,
        resources={k: resources[k] for k in ("storage", "io_manager", "source", "quality")},
    )  # fmt: skip
    assert result.success
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == "rows_accounted"]
    accounting = check.metadata["in_kept_quarantined"].data[str(DAY)]["transactions"]
    assert check.passed and accounting[0] == records == accounting[1] + accounting[2]
    storage = resources["storage"]
    quarantine = storage.read_table(table_key("quarantined_transactions", str(DAY))).to_pandas()
    rules = dict(zip(quarantine["raw_value"].fillna(""), quarantine["failed_rule"], strict=True))
    assert rules == {
        HOSTILE_ROWS[0]: "malformed_record", HOSTILE_ROWS[1]: "repeated_header", "1e308": "amount:at_most_max_amount",    }  # fmt: skip
    valid = storage.read_table(table_key("validated_transactions", str(DAY))).to_pandas()
    assert "X3" in set(valid["transaction_id"])  # the bound is the mapping's, not a second default


def test_a_feed_that_recycles_its_ids_weeks_later_is_stopped_naming_the_first_sighting(tmp_path):
    """Ids join labels and features: the same ids 12 days later (a counter that started over) would
    attach the first day's chargebacks to other transactions. The replay check looks back over the
    quality policy's id_horizon_days, not only the volume's 7 days, and names the first sighting."""
    import re

    later = DAY + dt.timedelta(days=12)
    zone = tmp_path / "zone"
    (zone / "transactions").mkdir(parents=True)
    (zone / "labels").mkdir()
    shutil.copy(EXAMPLE / "mapping.yaml", zone / "mapping.yaml")
    for name in (TX, LB):
        shutil.copy(EXAMPLE / name, zone / name)
    (zone / f"transactions/{later}.csv").write_text((EXAMPLE / TX).read_text().replace("01/09/2026", "13/09/2026"))

    def shifted(match: re.Match) -> str:
        return (dt.date.fromisoformat(match.group(0)) + dt.timedelta(days=12)).isoformat()

    (zone / f"labels/{later}.csv").write_text(re.sub(r"\d{4}-\d{2}-\d{2}", shifted, (EXAMPLE / LB).read_text()))
    env = {"FRAUDSHIELD_DATA_DIR": str(tmp_path / "data"), "FRAUDSHIELD_SOURCE": "landing", "FRAUDSHIELD_LANDING_URI": str(zone)}
    resources = build_resources(env)
    bound = {k: resources[k] for k in ("storage", "io_manager", "source", "quality")}
    first = dg.materialize([raw_feeds, validated_snapshots], partition_key=str(DAY), resources=bound)
    assert first.success
    second = dg.materialize([raw_feeds, validated_snapshots], partition_key=str(later), resources=bound, raise_on_error=False)
    (check,) = [c for c in second.get_asset_check_evaluations() if c.check_name == "unique_ids_across_partitions"]
    assert not check.passed
    assert check.description.startswith(f"{later}: ") and f"the oldest on {DAY} (12 days before)" in check.description
    assert "id_horizon_days" in check.description and check.metadata["first_seen"].data == {str(later): str(DAY)}
