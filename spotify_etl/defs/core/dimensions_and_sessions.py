"""dimensions_and_sessions: every dimension, the listening sessions and the links between a
track's versions (track_versions, dim_track's parents), built by one step, two at a time, each
on its own connection.

They all read what was staged or fetched since their last build and write their own tables; a
build waits only for what it reads of another: dim_track for dim_artist, dim_episode for
dim_podcast, track_versions for dim_track and dim_artist, and the sessions for dim_listener
(dim_listener reads how far the sessions have read, which would wait for the sessions' whole
build to commit). At 1M plays a first build took 11.5 s instead of 17.3 s as ten steps one
after the other: the dimensions are built while the sessions (~10 s) are; on a new file, the
step also pays Dagster's cost of a step once instead of eleven times.

The step is subsettable: materializing some of them builds those only (and what they wait
for only if it is selected too). A build that fails fails the step once the others ended;
what they built is committed and materialized, and what waits for the failed one is not
built (its watermark stays where it was, so the next run reads the same plays again).
"""

from collections.abc import Callable, Iterator
from functools import partial

import dagster as dg

from spotify_etl.defs.changed_months import report_changed_months
from spotify_etl.defs.core.dimensions import (
    build_dim_listener,
    build_dimension,
    dim_artist,
    dim_date,
    dim_episode,
    dim_listener,
    dim_platform,
    dim_podcast,
    dim_reason,
    dim_time,
    dim_track,
)
from spotify_etl.defs.core.listening_sessions import SessionConfig, build_sessions, fact_listening_sessions
from spotify_etl.defs.core.table_builds import TableBuilt
from spotify_etl.defs.core.track_versions import TrackVersionsConfig, build_track_versions, track_versions
from spotify_etl.defs.resources import ExportsResource, WarehouseResource
from spotify_etl.errors import SpotifyEtlError
from spotify_etl.lib.side_by_side import run_side_by_side

# Side by side on the server's two cores (a build is mostly the server's work).
BUILDS_AT_ONCE = 2
# What each build waits for, among those selected.
_AFTER = {
    dim_track.key: {dim_artist.key},
    dim_episode.key: {dim_podcast.key},
    fact_listening_sessions.key: {dim_listener.key},
    track_versions.key: {dim_track.key, dim_artist.key},
}
# Longest chains first (at 1M plays, first build: sessions ~10 s after dim_listener ~0.9 s,
# dim_track ~2.3-2.9 s after dim_artist ~0.6 s, dim_reason ~1.2 s, the others under 1 s).
_PRIORITY = [
    dim_listener.key,
    fact_listening_sessions.key,
    dim_artist.key,
    dim_track.key,
    track_versions.key,
    dim_reason.key,
    dim_podcast.key,
    dim_episode.key,
    dim_date.key,
    dim_platform.key,
    dim_time.key,
]
_DIMENSIONS = [dim_date, dim_time, dim_reason, dim_platform, dim_artist, dim_track, dim_podcast, dim_episode]


class DimensionsAndSessionsConfig(SessionConfig, TrackVersionsConfig):
    """The settings of the builds: the sessions' gap, the track versions' manual links."""


class TableBuildFailed(SpotifyEtlError):
    """A build of the step failed: its message names the table, then the error."""


@dg.multi_asset(
    specs=[*_DIMENSIONS, dim_listener, fact_listening_sessions, track_versions],
    can_subset=True,
)
def dimensions_and_sessions(
    context: dg.AssetExecutionContext,
    config: DimensionsAndSessionsConfig,
    exports: ExportsResource,
    warehouse: WarehouseResource,
) -> Iterator[dg.MaterializeResult]:
    builds: dict[dg.AssetKey, Callable[[], TableBuilt]] = {
        **{spec.key: partial(build_dimension, spec, warehouse) for spec in _DIMENSIONS},
        dim_listener.key: partial(build_dim_listener, exports, warehouse),
        fact_listening_sessions.key: partial(build_sessions, config, warehouse),
        track_versions.key: partial(build_track_versions, config, warehouse),
    }
    selected = {key: build for key, build in builds.items() if key in context.selected_asset_keys}
    # All of them end before anything is reported: Dagster captures the package's loggers (a
    # failed SQL file's line, with its context) only while the step's body runs, not while it
    # waits at a yield, and the builds' threads log whenever they fail.
    outcomes = list(run_side_by_side(selected, _AFTER, BUILDS_AT_ONCE, _PRIORITY))
    failures: list[TableBuildFailed] = []
    for outcome in outcomes:
        name = outcome.key.to_user_string()
        if outcome.succeeded:
            report_changed_months(context, outcome.result.changed)
            yield outcome.result.result
        elif outcome.error is not None:
            failure = TableBuildFailed(f"{name}: {outcome.error}")
            failure.__cause__ = outcome.error
            context.log.error(str(failure))
            failures.append(failure)
        else:
            context.log.warning(f"{name} not built: {outcome.blocked_by.to_user_string()} failed")
    if failures:
        raise failures[0]
