"""The enrichment layer's checks: URIs the Spotify API could not resolve, most played first;
values of its answers the dimensions cannot use; name pairs no item was chosen for. All warn
without failing the run."""

import dagster as dg

from spotify_etl.defs.enrichment.assets import enriched_artists, enriched_episodes, enriched_podcasts, enriched_tracks
from spotify_etl.defs.enrichment.resolved_names import resolved_names
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.defs.sql_checks import check_result_from_sql
from spotify_etl.lib.warehouse.sql_files import load_sql


@dg.asset_check(
    asset=enriched_tracks,
    additional_deps=[enriched_artists, enriched_episodes, enriched_podcasts],
    description="URIs the Spotify API could not resolve (etl_internal.failed_uris), most played first. "
    "Warns without failing the run.",
)
def failed_uris(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        total, permanent = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE permanent) FROM etl_internal.failed_uris"
        ).fetchone()
        top = conn.execute(load_sql("enrichment/most_played_failed.sql")).fetchall()
    table = "| uri | type | name | plays | reason | attempts |\n|---|---|---|---:|---|---:|\n" + "\n".join(
        f"| {uri} | {kind} | {name or ''} | {plays} | {reason} | {attempts} |"
        for uri, kind, name, plays, reason, attempts in top
    )
    return dg.AssetCheckResult(
        passed=total == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{total} failed URIs ({permanent} permanent)" if total else "no failed URIs",
        metadata={
            "failed_uris": total,
            "permanent": permanent,
            "most_played": dg.MetadataValue.md(table if top else "none"),
        },
    )


@dg.asset_check(
    asset=enriched_tracks,
    additional_deps=[enriched_artists, enriched_episodes, enriched_podcasts],
    description="Every value of the API's answers that a dimension reads is usable (etl_internal.api_values): "
    "a value of another type, a date that is no date, an unknown album type are read as NULL (or converted) "
    "and listed here by entity, field and reason; so is a field usable in none of the answers (a whole column "
    "lost). Warns without failing the run.",
)
def api_values_usable(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_result_from_sql(
        warehouse, "api_values_usable", "unusable values", enriched_tracks.key, dg.AssetCheckSeverity.WARN
    )


@dg.asset_check(
    asset=resolved_names,
    description="Name pairs played without a Spotify id that no item was chosen for (not found, ambiguous, "
    "placeholder names, forbidden by data/name_matches.csv), most played first, with the reason: pin them in "
    "that file. Warns without failing the run.",
)
def unresolved_names(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_result_from_sql(
        warehouse, "unresolved_names", "unresolved name pairs", resolved_names.key, dg.AssetCheckSeverity.WARN
    )
