"""Dagster's own stale status of the assets, as the UI shows it (and as
`RunRequest(stale_assets_only=True)` uses it). Dagster does not export the resolver, hence the
private modules; the Dagster family is pinned exactly."""

import dagster as dg
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._time import get_current_datetime

__all__ = ["StaleStatus", "stale_status_resolver"]


def stale_status_resolver(instance: dg.DagsterInstance, defs: dg.Definitions) -> CachingStaleStatusResolver:
    """A resolver of the definitions' assets (and partitions) against the instance, now; it
    caches what it reads, so make a new one to see later events."""
    graph = defs.resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    resolver = CachingStaleStatusResolver(instance, graph, loading_context=view)
    # Every asset's record in one query, where each status would otherwise read its own.
    resolver.instance_queryer.prefetch_asset_records(graph.get_all_asset_keys())
    return resolver
