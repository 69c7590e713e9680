"""Binds the resources of the environment this process runs in (see resources/profiles.py)."""

import os

import dagster as dg

from fraudshield_pipeline.resources.profiles import build_resources


@dg.definitions
def resources() -> dg.Definitions:
    # One process per run: the heavy ML libraries are imported once, not once per step.
    return dg.Definitions(resources=build_resources(os.environ), executor=dg.in_process_executor)
