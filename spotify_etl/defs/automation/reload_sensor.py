"""reload_changed_months: Dagster's declarative automation for the facts. It evaluates their
automation condition (spotify_etl.defs.core.facts.RELOAD_CHANGED_MONTHS) and reloads exactly
the months whose plays_by_month partition has a new version."""

import dagster as dg

from spotify_etl.defs.core.facts import fact_podcasts_history, fact_tracks_history

reload_changed_months_sensor = dg.AutomationConditionSensorDefinition(
    "reload_changed_months",
    target=dg.AssetSelection.assets(fact_tracks_history.key, fact_podcasts_history.key),
    # Off until turned on in the UI: raw_files_sensor's runs already load the months of a new
    # file; this also reloads the months anything else changed (a session joined across a
    # month's end, a duration from enrichment in the hourly retry).
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Reloads the facts of exactly the months whose plays_by_month partition has a new version "
        "(the facts' automation condition)."
    ),
)
