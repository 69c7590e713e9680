"""Jobs: the daily ingestion path, monitoring, and the retraining path.

`fraudshield demo` runs its stages as these same jobs (runner.py), so the Jobs page and the run
timeline show, from the first run on, what the schedules and sensors will launch.
"""

import dagster as dg

RETRAIN_TAG = "fraudshield/retrain"

# Partitioning is inferred from the selected (daily-partitioned) assets.
daily_ingestion_job = dg.define_asset_job(
    "daily_ingestion_job",
    selection=dg.AssetSelection.groups("ingest", "snapshots", "features"),
    description="Ingest, validate and featurize days, and refresh the online store (one run for a whole range).",
)

# Separate from ingestion: drift runs one day per run so each day's numbers are its own metadata.
drift_monitoring_job = dg.define_asset_job(
    "drift_monitoring_job",
    selection=dg.AssetSelection.assets("drift_report", "batch_scores"),
    description="Score one day with the champion (challenger in shadow) and measure its drift.",
)

matured_performance_job = dg.define_asset_job(
    "matured_performance_job",
    selection=dg.AssetSelection.assets("matured_performance"),
    description="The champion's precision and recall on a day whose labels have matured.",
)

# The run queue limits runs with this tag to one at a time (dagster.yaml): two retrains never overlap.
# A retrain searches hyperparameters with a nightly budget (at most 20 trials or 10 minutes).
# `fraudshield demo` and benchmarks/pipeline.py run this job too (runner.py), so they search as
# well: at 1M transactions the budget dominates the training stage. Launchpad config overrides it
# field by field (search_trials: 0 turns it off).
retrain_job = dg.define_asset_job(
    "retrain_job",
    selection=dg.AssetSelection.groups("training", "evaluation", "governance"),
    config={"ops": {"trained_model": {"config": {"search_trials": 20, "search_timeout_s": 600.0}}}},
    tags={RETRAIN_TAG: "true"},
    description="Build the training set, train a challenger, evaluate it, promote it through the gate and record the champion.",
)
