"""enriched_tracks, enriched_artists, enriched_episodes, enriched_podcasts: Spotify Web API
responses in the jsonb cache of `staging` (spotify_etl.lib.spotify.enrichment does the work).
Each asset succeeds whatever the API does: with no credentials it reports the pending work,
under a long rate limit it reports when it will resume. Its data version is the cache's size."""

import dagster as dg

from spotify_etl.defs.enrichment.api_work import client_if_configured, outcome_metadata, refusal_fails_the_step
from spotify_etl.defs.enrichment.resolved_names import resolved_names
from spotify_etl.defs.raw.staged_plays import staged_plays
from spotify_etl.defs.resources import SpotifyResource, WarehouseResource
from spotify_etl.lib.spotify.enrichment import ARTISTS, EPISODES, PODCASTS, TRACKS, Entity, enrich, listener_market


def _enrich(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource, entity: Entity
) -> dg.MaterializeResult:
    with warehouse.connect() as conn, refusal_fails_the_step():
        market = listener_market(conn, spotify.market) if entity.uses_market else None
        outcome = enrich(conn, client_if_configured(spotify), entity, market=market, progress=context.log.info)
    context.log.info(f"{entity.endpoint}: {outcome.status}")
    metadata = {
        **outcome_metadata(outcome),
        "fetched": outcome.fetched,
        "failed": outcome.failed,
        **warehouse.table_metadata(f"staging.{entity.table}"),
    }
    if market:
        metadata["market"] = market
    if outcome.failures_by_reason:
        metadata["failures_by_reason"] = dg.MetadataValue.json(outcome.failures_by_reason)
    # The cache only grows (an answer is never fetched twice): its size is its version, and a
    # run that fetched nothing leaves the dimensions up to date.
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(str(metadata["dagster/row_count"])))


def _description(entity: Entity, source: str) -> str:
    return (
        f"staging.{entity.table}: Spotify API responses for every {entity.name} {source}, as jsonb; "
        "one cached request per id, most-played first, resumable across rate limits."
    )


_COMMON = {"kinds": {"python", "postgres"}}


@dg.asset(deps=[staged_plays, resolved_names], description=_description(TRACKS, "played or chosen by name"), **_COMMON)
def enriched_tracks(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource
) -> dg.MaterializeResult:
    return _enrich(context, warehouse, spotify, TRACKS)


@dg.asset(deps=[enriched_tracks], description=_description(ARTISTS, "credited on a fetched track"), **_COMMON)
def enriched_artists(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource
) -> dg.MaterializeResult:
    return _enrich(context, warehouse, spotify, ARTISTS)


@dg.asset(
    deps=[staged_plays, resolved_names], description=_description(EPISODES, "played or chosen by name"), **_COMMON
)
def enriched_episodes(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource
) -> dg.MaterializeResult:
    return _enrich(context, warehouse, spotify, EPISODES)


@dg.asset(deps=[enriched_episodes], description=_description(PODCASTS, "(show) of a fetched episode"), **_COMMON)
def enriched_podcasts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, spotify: SpotifyResource
) -> dg.MaterializeResult:
    return _enrich(context, warehouse, spotify, PODCASTS)
