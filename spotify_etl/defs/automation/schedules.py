"""retry_enrichment_schedule: hourly, fetch pending enrichment unless the API deferred it."""

import dagster as dg

from spotify_etl.defs.automation.jobs import retry_enrichment_job
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.spotify.enrichment import resume_state


@dg.schedule(
    job=retry_enrichment_job,
    cron_schedule="17 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every hour: fetch pending enrichment, unless the stored resume time (after a long rate "
    "limit or an exhausted daily quota) is still ahead.",
)
def retry_enrichment_schedule(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    with warehouse.connect() as conn:
        deferred = resume_state(conn)
    if deferred:
        return dg.SkipReason(f"Spotify API deferred until {deferred[0]:%Y-%m-%d %H:%M} UTC ({deferred[1]})")
    return dg.RunRequest(run_key=None)
