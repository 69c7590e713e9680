"""The FraudShield code location: every Dagster object under `defs/`, plus the bound resources.

Loaded module by module rather than with `dg.load_from_defs_folder`, which also imports every
installed Dagster integration's component plugins (dagster-aws alone costs about 2 s) to describe
components this project does not use.
"""

import importlib
import pkgutil
import warnings

import dagster as dg

from fraudshield_pipeline import defs as defs_package

# Dagster 1.13 rebuilds every sensor when it binds jobs to resources, passing the sensor's empty
# `owners` list back to its own beta-marked parameter: a BetaWarning per sensor, in each code
# server and daemon, for a parameter this project never sets. Only that message is silenced.
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition.__init__`", category=dg.BetaWarning)


def stage_definitions() -> dg.Definitions:
    """Assets, checks, jobs, schedules and sensors of every module under `defs/`, unbound."""
    with warnings.catch_warnings():
        # Dagster marks APIs this project chose deliberately as beta or preview (backfill
        # policies, partition mappings, data versions, load_definitions_from_modules): a notice
        # per definition on every code-server start is noise, not news. Other warnings still show.
        for category in (dg.BetaWarning, dg.PreviewWarning):
            warnings.simplefilter("ignore", category)
        modules = [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(defs_package.__path__, f"{defs_package.__name__}.")
        ]
        return dg.load_definitions_from_modules(modules)


@dg.definitions
def defs() -> dg.Definitions:
    from fraudshield_pipeline.defs.resources import resources

    return dg.Definitions.merge(stage_definitions(), resources())
