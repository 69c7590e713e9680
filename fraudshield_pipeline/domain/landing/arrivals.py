"""Files that arrive after their day was ingested: late chargebacks, a re-sent export.

A label feed is never complete the night after its day: chargebacks and fraud reports arrive over
weeks, and a feed with labels inside its transaction files rewrites them. A day ingested once
would keep the labels it had that night, and the performance trigger and the next training set
would count its later frauds as genuine. These functions tell which ingested days have a file
added or changed since their ingestion, from listings and modification times alone (no file is
read), so a sensor can ingest those days again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from fraudshield_pipeline.domain.landing.mapping import FeedMapping, LandingMapping
from fraudshield_pipeline.domain.landing.readers import FileReader, glob_regex


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


def changed_since(
    files: FileReader, names_by_day: Mapping[dt.date, list[str]], ingested_at: Mapping[dt.date, dt.datetime]
) -> dict[dt.date, dt.datetime]:
    """Days with a file modified after the day's ingestion, and the newest such modification.

    A store that cannot say when a file changed (`modified` returns None) never triggers.
    """
    modified = getattr(files, "modified", None)
    if modified is None:
        return {}
    late: dict[dt.date, dt.datetime] = {}
    for day, names in names_by_day.items():
        if day not in ingested_at:
            continue
        times = [t for t in (modified(name) for name in names) if t is not None and t > ingested_at[day]]
        if times:
            late[day] = max(times)
    return late
