"""Files that arrive after their day was ingested: late chargebacks, a re-sent export.

A label feed is never complete the night after its day: chargebacks and fraud reports arrive over
weeks, and a feed with labels inside its transaction files rewrites them. A day ingested once
would keep the labels it had that night, and the performance trigger and the next training set
would count its later frauds as genuine. These functions tell which ingested days now hold other
files than their last ingestion read: a file added, removed, or with other content. Modification
times only choose what to read: a sync that re-uploads every file unchanged (new LastModified, same
bytes) ingests nothing again, and a file's hash is kept with its time, so it is read once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fraudshield_pipeline.domain.landing.mapping import FeedMapping, LandingMapping
from fraudshield_pipeline.domain.landing.readers import FileReader, file_hash, glob_regex


# A file's time is compared with its day's ingestion time less this: the ingestion is recorded when its run
# ends, after its files were read, so a file rewritten during the run (or a store's clock a little behind)
# would otherwise look older than what was read. Files inside the margin are hashed once (the cache).
READ_MARGIN = dt.timedelta(hours=6)


@dataclass(frozen=True)
class Ingestion:
    at: dt.datetime  # when the day was last ingested
    hashes: Mapping[str, str] | None = None  # file -> content hash it read then (lineage); None: not recorded


@dataclass
class Arrivals:
    changed: dict[dt.date, str] = field(default_factory=dict)  # day -> what changed, in words
    seen: dict[str, list[str]] = field(default_factory=dict)  # file -> [modification time, content hash]: the next check's cache
    states: dict[dt.date, str] = field(default_factory=dict)  # changed day -> a digest of its files' names and times now


def _listing_prefix(feed: FeedMapping) -> str:
    """The fixed folder before the path's `{date}` and first wildcard: one listing serves every day."""
    fixed = feed.path.split("{", 1)[0]
    for wildcard in "*?[":
        fixed = fixed.split(wildcard, 1)[0]
    return fixed.rpartition("/")[0] + "/" if "/" in fixed else ""


def day_files(files: FileReader, mapping: LandingMapping, days: Iterable[dt.date]) -> dict[dt.date, list[str]]:
    """Every file that feeds each day (its transaction files, and the label feed's), one listing per feed."""
    feeds = [mapping.transactions] + ([mapping.labels] if mapping.labels is not None else [])
    listed = {id(feed): sorted(files.list_files(_listing_prefix(feed))) for feed in feeds}
    found: dict[dt.date, list[str]] = {}
    for day in days:
        names = []
        for feed in feeds:
            regex = glob_regex(feed.pattern(day))
            names += [name for name in listed[id(feed)] if regex.match(name)]
        found[day] = names
    return found


def arrivals(
    files: FileReader,
    names_by_day: Mapping[dt.date, list[str]],
    ingested: Mapping[dt.date, Ingestion],
    seen: Mapping[str, list[str]] | None = None,
    limit: int | None = None,
) -> Arrivals:
    """Days whose files differ from those their last ingestion read.

    A file modified after the day's ingestion is read (at most `limit` bytes, as the reader reads it)
    and its hash compared with the one recorded then, unless `seen` already holds its hash for that
    modification time. A day whose ingestion recorded no hashes falls back to the modification time
    alone. A store that cannot tell modification times (`modified` absent or None) changes nothing.
    """
    modified = getattr(files, "modified", None)
    out = Arrivals()
    if modified is None:
        return out
    seen = dict(seen or {})
    for day, names in names_by_day.items():
        if day not in ingested:
            continue
        then = ingested[day]
        recorded = dict(then.hashes) if then.hashes is not None else None
        if recorded is not None and set(names) != set(recorded):
            added, gone = sorted(set(names) - set(recorded)), sorted(set(recorded) - set(names))
            out.changed[day] = "; ".join(filter(None, [f"added {', '.join(added)}" if added else "", f"removed {', '.join(gone)}" if gone else ""]))
            continue
        for name in names:
            try:
                changed = _changed(files, name, then, recorded, seen, out.seen, limit)
            except (OSError, KeyError) as error:  # gone between the listing and the read: the next ingestion says how
                changed = f"{name} unreadable now ({type(error).__name__})"
            if changed:
                out.changed[day] = changed
                break
    for day in out.changed:
        stamps = []
        for name in names_by_day[day]:
            try:
                stamps.append(f"{name}@{files.modified(name)}")
            except (OSError, KeyError):
                stamps.append(f"{name}@gone")
        out.states[day] = hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]
    return out


def _changed(files, name: str, then: Ingestion, recorded, seen, cache, limit) -> str | None:
    """How the file differs from what its day's ingestion read, or None (cache: its hash by time)."""
    changed_at = files.modified(name)
    if changed_at is None:
        return None
    if recorded is None:  # no hashes recorded: the time alone decides
        return f"{name} modified at {changed_at:%Y-%m-%d %H:%M:%S} UTC" if changed_at > then.at else None
    if changed_at <= then.at - READ_MARGIN:
        return None
    stamp = changed_at.isoformat()
    cached = seen.get(name)
    digest = cached[1] if cached and cached[0] == stamp else file_hash(files.read_bytes(name, limit))
    cache[name] = [stamp, digest]
    return f"{name} rewritten at {changed_at:%Y-%m-%d %H:%M:%S} UTC" if digest != recorded[name] else None
