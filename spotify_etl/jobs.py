"""Jobs a user finds by name in the UI and the CLI runs."""

import dagster as dg

full_load_job = dg.define_asset_job(
    name="full_load",
    selection=dg.AssetSelection.all(),
    description=(
        "Ingest every export under the raw directory and build everything downstream. "
        "Launch it over all months (or a range) as one run."
    ),
)
