"""resolved_names: plays without a Spotify id (account data, the 2020 vintage of extended
history) resolved by name through the Search API (spotify_etl.lib.spotify.name_resolution does
the work): each (artist, title) or (show, episode) pair searched once, ever, the answer kept and
the choice recorded with its rule. Like the other enrichment assets it succeeds whatever the API
does; its data version changes only when a decision does, so the dimensions rebuild only then."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from spotify_etl.defs.enrichment.api_work import client_if_configured, outcome_metadata, refusal_fails_the_step
from spotify_etl.defs.raw.staged_plays import staged_plays
from spotify_etl.defs.resources import SpotifyResource, WarehouseResource
from spotify_etl.lib.spotify.name_resolution import read_overrides, resolve_names


class ResolvedNamesConfig(dg.Config):
    overrides_path: str = Field(
        default="data/name_matches.csv",
        description="CSV of manual decisions (kind,owner,name,spotify_uri) that always win: a URI pins the pair "
        "(kind track or episode; owner the artist or show as the export names it), an empty one forbids any "
        "match; relative to the working directory.",
    )


@dg.asset(
    deps=[staged_plays],
    kinds={"python", "postgres"},
    description=(
        "etl_internal.name_matches and staging.spotify_search_data: every name pair played without a Spotify id, "
        "resolved once through the Search API (or the export's own ids, or data/name_matches.csv), with the rule "
        "that chose and its score; not found or ambiguous pairs are recorded, never guessed."
    ),
)
def resolved_names(
    context: dg.AssetExecutionContext,
    config: ResolvedNamesConfig,
    warehouse: WarehouseResource,
    spotify: SpotifyResource,
) -> dg.MaterializeResult:
    try:
        overrides = read_overrides(Path(config.overrides_path))
    except ValueError as exc:
        raise dg.Failure(description=str(exc)) from exc
    with warehouse.connect() as conn, refusal_fails_the_step():
        outcome = resolve_names(
            conn, client_if_configured(spotify), overrides=overrides, market=spotify.market, progress=context.log.info
        )
        version = conn.execute(
            "SELECT count(*) || '-' || coalesce(max(decided_at)::text, '') FROM etl_internal.name_matches"
        ).fetchone()[0]
    context.log.info(f"search: {outcome.status}")
    metadata = {
        **outcome_metadata(outcome),
        "searched": outcome.searched,
        "matched": outcome.matched,
        "from_export_ids": outcome.from_export,
        "unresolved": outcome.unresolved,
        "overrides_read": outcome.overrides,
        "pairs_by_status": dg.MetadataValue.json(outcome.by_status),
    }
    if outcome.market:
        metadata["market"] = outcome.market
    # Decisions only change when one is taken: their count and latest time are the version.
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(version))
