"""Data-quality rules over a day and its recent past: volume, null rates, replayed ids.

Pure functions returning plain numbers and verdicts; asset checks report them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str


def null_rates(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, float]:
    return {c: float(frame[c].isna().mean()) if len(frame) else 0.0 for c in columns if c in frame.columns}


def null_rate_verdict(rates: Mapping[str, float], limits: Mapping[str, float]) -> Verdict:
    over = {c: r for c, r in rates.items() if r > limits.get(c, 0.0)}
    if over:
        return Verdict(False, "; ".join(f"{c}: {r:.1%} null > {limits.get(c, 0.0):.1%}" for c, r in over.items()))
    return Verdict(True, "all columns within their null-rate limits")


def volume_verdict(
    count: int, trailing: Sequence[int], low: float = 0.5, high: float = 2.0, min_history: int = 3, exempt: bool = False
) -> Verdict:
    """A day's row count against the mean of the days before it: a sudden drop or spike fails,
    unless the day is `exempt` (expected: a holiday, a known outage), which only reports it."""
    if count == 0:
        return Verdict(exempt, "empty partition: 0 rows" + (" (exempt day)" if exempt else ""))
    if len(trailing) < min_history:
        return Verdict(True, f"{count} rows; only {len(trailing)} earlier day(s), need {min_history} to compare")
    mean = float(np.mean(trailing))
    ratio = count / mean if mean else float("inf")
    ok = low <= ratio <= high or exempt
    return Verdict(ok, f"{count} rows = {ratio:.2f} x trailing mean {mean:.0f} (allowed {low:.2f}-{high:.2f}{'; exempt day' if exempt else ''})")


def cross_partition_duplicates(ids_by_partition: Mapping[str, pd.Series]) -> dict[str, int]:
    """For each partition, how many of its distinct ids already appeared in an earlier partition."""
    return {p: replay.count for p, replay in replayed_ids(ids_by_partition).items()}


@dataclass(frozen=True)
class Replay:
    count: int  # distinct ids of the partition already seen in an earlier one
    first_seen: str | None  # the oldest earlier partition one of them appeared in


def replayed_ids(ids_by_partition: Mapping[str, pd.Series], earlier: Iterable[tuple[str, object]] = ()) -> dict[str, Replay]:
    """For each partition, its ids already seen in an earlier partition, and the oldest such partition.

    One hash pass over the partitions' ids (linear, whatever their number): each id's first
    partition, then the distinct (partition, id) pairs that come after it. `earlier`: (day, ids)
    of stored days before all of them, oldest first, each an Arrow or pandas column read one at a
    time (a 90-day horizon of a large portfolio never sits in memory at once), set-matched against
    the partitions' distinct ids in Arrow. The oldest first sighting tells a replayed feed
    (yesterday's file again) from recycled ids (a counter that starts over weeks later), which the
    error should name.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    order = sorted(ids_by_partition)
    if not order:
        return {}
    columns = [ids_by_partition[p].dropna().to_numpy(dtype=object) for p in order]
    partition = np.repeat(np.arange(len(order)), [len(c) for c in columns])
    codes, uniques = pd.factorize(np.concatenate(columns) if columns else np.array([], dtype=object))
    first = np.full(len(uniques), len(order))
    np.minimum.at(first, codes, partition)
    # Sightings before every partition: index into `before` (oldest first), len(before) when none.
    before: list[str] = []
    seen_before = np.full(len(uniques), np.iinfo(np.int64).max)
    if len(uniques):
        distinct = pa.array(uniques.astype(object), type=pa.string())
        for day, ids in earlier:
            stored = ids if isinstance(ids, pa.Array | pa.ChunkedArray) else pa.array(pd.Series(ids).dropna().astype(str), type=pa.string())
            hit = pc.is_in(distinct, value_set=stored.cast(pa.string())).to_numpy(zero_copy_only=False)
            fresh = hit & (seen_before == np.iinfo(np.int64).max)
            if fresh.any():
                seen_before[fresh] = len(before)
            before.append(day)
    earlier_hit = seen_before != np.iinfo(np.int64).max
    later = (partition > first[codes]) | earlier_hit[codes]
    width = max(len(uniques), 1)
    pairs = np.unique(partition[later].astype(np.int64) * width + codes[later])
    pair_partition, pair_code = pairs // width, pairs % width
    counts = np.bincount(pair_partition, minlength=len(order))
    # Each replayed pair's first sighting on one calendar: the earlier days first, then the partitions.
    sighting = np.where(earlier_hit[pair_code], seen_before[pair_code], len(before) + first[pair_code])
    oldest = np.full(len(order), len(before) + len(order))
    np.minimum.at(oldest, pair_partition, sighting)
    calendar = before + order
    return {p: Replay(int(counts[i]), calendar[oldest[i]] if counts[i] else None) for i, p in enumerate(order)}
