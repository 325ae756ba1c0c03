"""The one Definitions object of spotify_etl: the layers of `spotify_etl/defs/` (each package
lists its assets and checks; its name is their group), the automation, and the resources built
from the settings.

`build_definitions` makes the same object for other settings: the command line's flags
override the environment that way, and tests point it at their own warehouse.
"""

import dagster as dg

from spotify_etl.defs import core, enrichment, mart, raw
from spotify_etl.defs.automation.jobs import (
    full_load_job,
    ingest_exports_job,
    reload_months_job,
    retry_enrichment_job,
)
from spotify_etl.defs.automation.reload_sensor import reload_changed_months_sensor
from spotify_etl.defs.automation.schedules import retry_enrichment_schedule
from spotify_etl.defs.automation.sensors import load_ingested_months, raw_files_sensor
from spotify_etl.defs.executor import executor_for
from spotify_etl.defs.resources import resources_from_settings
from spotify_etl.settings import Settings, load_settings

# The layers, upstream first; a package's name is its assets' group.
LAYERS = {"raw": raw, "enrichment": enrichment, "core": core, "mart": mart}
OWNERS = ["team:data-eng"]

all_assets = [
    asset
    for group, layer in LAYERS.items()
    for asset in dg.map_asset_specs(
        lambda spec, group=group: spec.replace_attributes(group_name=group, owners=OWNERS), layer.assets
    )
]
all_asset_checks = [check for layer in LAYERS.values() for check in layer.asset_checks]


def build_definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=all_assets,
        asset_checks=all_asset_checks,
        jobs=[ingest_exports_job, full_load_job, reload_months_job, retry_enrichment_job],
        sensors=[raw_files_sensor, load_ingested_months, reload_changed_months_sensor],
        schedules=[retry_enrichment_schedule],
        executor=executor_for(settings),
        resources=resources_from_settings(settings),
    )


defs = build_definitions(load_settings())


def full_load_from_environment() -> dg.JobDefinition:
    """full_load as the environment's settings make it now (with a Celery broker: on Celery):
    what a process launching runs with `dagster.execute_job(dagster.reconstructable(...))`
    hands to the workers, which build it again from their own environment."""
    return build_definitions(load_settings()).resolve_job_def("full_load")


def ingest_exports_from_environment() -> dg.JobDefinition:
    """ingest_exports, the same way (see full_load_from_environment)."""
    return build_definitions(load_settings()).resolve_job_def("ingest_exports")
