"""Freshness: validated transactions must be refreshed each night, by 06:00 UTC.

A `FreshnessPolicy` (Dagster 1.12+) on the asset, evaluated by the daemon and shown as the asset's
freshness health in the UI: the nightly 02:00 ingestion must have materialized it within the 24
hours before each 06:00 UTC deadline. It replaces the superseded freshness checks and their sensor.
"""

import datetime as dt

import dagster as dg

SNAPSHOT_FRESHNESS = dg.FreshnessPolicy.cron(deadline_cron="0 6 * * *", lower_bound_delta=dt.timedelta(hours=24), timezone="UTC")
