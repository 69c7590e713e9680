"""Jobs: the daily ingestion path and the retraining path."""

import dagster as dg

from fraudshield_pipeline.defs.partitions import daily_partitions

RETRAIN_TAG = "fraudshield/retrain"

daily_ingestion_job = dg.define_asset_job(
    "daily_ingestion_job",
    selection=dg.AssetSelection.groups("ingest", "snapshots", "features"),
    partitions_def=daily_partitions,
    description="Ingest, validate and featurize days, and refresh the online store (one run for a whole range).",
)

# Separate from ingestion: drift runs one day per run so each day's numbers are its own metadata.
drift_monitoring_job = dg.define_asset_job(
    "drift_monitoring_job",
    selection=dg.AssetSelection.groups("monitoring"),
    partitions_def=daily_partitions,
    description="Measure one day's drift against the champion's training data.",
)

# The run queue limits runs with this tag to one at a time (dagster.yaml): two retrains never overlap.
retrain_job = dg.define_asset_job(
    "retrain_job",
    selection=dg.AssetSelection.groups("training", "evaluation"),
    tags={RETRAIN_TAG: "true"},
    description="Build the training set, train a challenger, evaluate it and promote it through the gate.",
)
