import pandas as pd
import pytest

from fraudshield_pipeline.domain.quality import cross_partition_duplicates, null_rate_verdict, null_rates, volume_verdict


@pytest.mark.parametrize(
    ("count", "trailing", "passed"),
    [(1000, [1000, 900, 1100], True), (400, [1000, 900, 1100], False), (2500, [1000, 1000, 1000], False), (0, [], False), (50, [10], True)],
)
def test_volume_against_trailing_mean(count, trailing, passed):
    assert volume_verdict(count, trailing).passed is passed


def test_null_rates_against_limits():
    frame = pd.DataFrame({"a": [1, None, 3, 4], "b": [None, None, "x", "y"]})
    rates = null_rates(frame, ["a", "b", "missing"])
    assert rates == {"a": 0.25, "b": 0.5}
    verdict = null_rate_verdict(rates, {"b": 0.6})
    assert not verdict.passed and "a: 25.0% null > 0.0%" in verdict.detail


def test_replayed_ids_are_counted_in_the_later_partition():
    ids = {"2026-09-02": pd.Series(["b", "c", "c"]), "2026-09-01": pd.Series(["a", "b"]), "2026-09-03": pd.Series(["a", "d"])}
    assert cross_partition_duplicates(ids) == {"2026-09-01": 0, "2026-09-02": 1, "2026-09-03": 1}


def test_cross_partition_duplicates_matches_a_set_per_partition_on_random_ids():
    """The linear pass counts what the obvious definition counts: distinct ids seen in an earlier partition."""
    import numpy as np

    rng = np.random.default_rng(3)
    ids = {f"2026-09-{d:02d}": pd.Series(rng.integers(0, 300, 120).astype(str)).where(rng.random(120) > 0.1) for d in range(1, 21)}
    ids["2026-09-07"] = pd.Series([], dtype=object)
    seen: set = set()
    expected = {}
    for day in sorted(ids):
        distinct = set(ids[day].dropna())
        expected[day] = len(distinct & seen)
        seen |= distinct
    assert cross_partition_duplicates(ids) == expected and sum(expected.values()) > 0


def test_replayed_ids_name_their_oldest_first_sighting():
    from fraudshield_pipeline.domain.quality import Replay, replayed_ids

    ids = {"2026-09-01": pd.Series(["a", "b"]), "2026-09-05": pd.Series(["c"]), "2026-09-13": pd.Series(["c", "a", "z"])}
    assert replayed_ids(ids) == {
        "2026-09-01": Replay(0, None), "2026-09-05": Replay(0, None), "2026-09-13": Replay(2, "2026-09-01"),
    }  # fmt: skip


def test_earlier_days_read_one_at_a_time_count_as_if_they_were_in_memory():
    """The replay check streams the horizon's stored days (Arrow columns, oldest first): the same counts and
    first sightings as with every day in memory, for the days of the run."""
    import numpy as np
    import pyarrow as pa

    from fraudshield_pipeline.domain.quality import replayed_ids

    rng = np.random.default_rng(5)
    days = {f"2026-09-{d:02d}": pd.Series(rng.integers(0, 400, 150).astype(str)).where(rng.random(150) > 0.05) for d in range(1, 21)}
    run = {d: days[d] for d in sorted(days)[-5:]}
    earlier = [(d, pa.array(days[d].dropna().tolist(), type=pa.string())) for d in sorted(days)[:-5]]
    whole = replayed_ids(days)
    assert replayed_ids(run, iter(earlier)) == {d: whole[d] for d in run}
    assert sum(r.count for r in replayed_ids(run, iter(earlier)).values()) > 0
