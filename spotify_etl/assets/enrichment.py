"""Enrichment layer: tracks, artists, episodes and podcasts from the Spotify Web API into the
jsonb cache of `staging`. Each asset succeeds whatever the API does: with no credentials it
reports the pending work, under a long rate limit it reports when it will resume."""

import dagster as dg

from spotify_etl.assets.raw import OWNERS, raw_plays
from spotify_etl.enrichment import ARTISTS, EPISODES, PODCASTS, TRACKS, Entity, enrich, listener_market
from spotify_etl.resources.spotify import SpotifyForbidden, SpotifyResource
from spotify_etl.resources.warehouse import WarehouseResource
from spotify_etl.settings import load_settings
from spotify_etl.sql_files import load_sql


def _enrich(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource, entity: Entity
) -> dg.MaterializeResult:
    client = spotify.client() if spotify.has_credentials else None
    with warehouse.connect() as conn:
        market = listener_market(conn, load_settings().market) if entity.uses_market else None
        try:
            outcome = enrich(conn, client, entity, market=market, progress=context.log.info)
        except SpotifyForbidden as exc:
            raise dg.Failure(
                description=f"Spotify refused the request (403): {exc}. Nothing else was lost; "
                "what was fetched so far is kept.",
            ) from exc
    context.log.info(f"{entity.endpoint}: {outcome.status}")
    metadata = {
        "status": outcome.status,
        "fetched": outcome.fetched,
        "failed": outcome.failed,
        "pending": outcome.pending,
        "requests": outcome.requests,
        **warehouse.table_metadata(f"staging.{entity.table}"),
    }
    if market:
        metadata["market"] = market
    if outcome.deferred_until:
        metadata["deferred_until"] = outcome.deferred_until.isoformat()
    if outcome.failures_by_reason:
        metadata["failures_by_reason"] = dg.MetadataValue.json(outcome.failures_by_reason)
    return dg.MaterializeResult(metadata=metadata)


def _description(entity: Entity, source: str) -> str:
    return (
        f"staging.{entity.table}: Spotify API responses for every {entity.name} {source}, as jsonb; "
        "one cached request per id, most-played first, resumable across rate limits."
    )


_COMMON = {"group_name": "enrichment", "kinds": {"python", "postgres"}, "owners": OWNERS}


@dg.asset(deps=[raw_plays], description=_description(TRACKS, "played"), **_COMMON)
def enriched_tracks(context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource) -> dg.MaterializeResult:
    return _enrich(context, warehouse, spotify, TRACKS)


@dg.asset(deps=[enriched_tracks], description=_description(ARTISTS, "credited on a fetched track"), **_COMMON)
def enriched_artists(context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource) -> dg.MaterializeResult:
    return _enrich(context, warehouse, spotify, ARTISTS)


@dg.asset(deps=[raw_plays], description=_description(EPISODES, "played"), **_COMMON)
def enriched_episodes(context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource) -> dg.MaterializeResult:
    return _enrich(context, warehouse, spotify, EPISODES)


@dg.asset(deps=[enriched_episodes], description=_description(PODCASTS, "(show) of a fetched episode"), **_COMMON)
def enriched_podcasts(context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource) -> dg.MaterializeResult:
    return _enrich(context, warehouse, spotify, PODCASTS)


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
