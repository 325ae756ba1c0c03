"""fact_listening_sessions: sessions over all of a listener's plays (sessions cross months),
built again only from where new plays can change them; the months whose plays changed
session are reported for the facts to reload (spotify_etl.defs.changed_months)."""

import dagster as dg
from pydantic import Field

from spotify_etl.defs.changed_months import read_changed_months, rules_version
from spotify_etl.defs.core.table_builds import TableBuilt
from spotify_etl.defs.raw.staged_plays import staged_plays
from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.warehouse.incremental import build_from_new_plays
from spotify_etl.lib.warehouse.statistics import analyze_if_changed

# The sessions' name for their watermark (spotify_etl.lib.warehouse.incremental) and in their
# reports of the months they changed.
SESSIONS_STEP = "fact_listening_sessions"
# A gap this long between one play's end and the next one's start ends a session.
DEFAULT_SESSION_GAP_MINUTES = 30
# A session's length category: the first whose bound (minutes) it stays under; 'marathon' beyond.
LENGTH_CATEGORIES = {"short": 15, "medium": 60, "long": 180}


class SessionConfig(dg.Config):
    session_gap_minutes: int = Field(
        default=DEFAULT_SESSION_GAP_MINUTES, gt=0, description="Minutes of silence that end a listening session."
    )


fact_listening_sessions = dg.AssetSpec(
    "fact_listening_sessions",
    deps=[staged_plays],
    kinds={"postgres", "sql"},
    description=(
        "core.fact_listening_sessions (and core.play_session): consecutive plays of a listener with gaps "
        "under the session gap form a session; length category "
        + ", ".join(f"{name} < {minutes} min" for name, minutes in LENGTH_CATEGORIES.items())
        + ", marathon beyond. Built by sql/core/listening_sessions.sql."
    ),
)


def build_sessions(config: SessionConfig, warehouse: WarehouseResource) -> TableBuilt:
    """Build the sessions again from where the plays they have not read can change them."""
    params = {
        "gap_seconds": config.session_gap_minutes * 60,
        **{f"{name}_below_minutes": minutes for name, minutes in LENGTH_CATEGORIES.items()},
    }
    # Another gap or other bounds: every session is built again.
    settings = repr(sorted(params.items()))
    with warehouse.connect() as conn:
        build = build_from_new_plays(conn, SESSIONS_STEP, "core/listening_sessions.sql", params, settings)
        # The fact loads join what was rebuilt (the file's session_plays, until the commit).
        assigned, sessions = conn.execute("SELECT count(*), count(DISTINCT session_id) FROM session_plays").fetchone()
        analyze_if_changed(conn, "core.play_session", assigned)
        analyze_if_changed(conn, "core.fact_listening_sessions", sessions)
        by_category = dict(
            conn.execute(
                "SELECT length_category, count(*) FROM core.fact_listening_sessions GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
        conn.commit()
        return TableBuilt(
            dg.MaterializeResult(
                asset_key=fact_listening_sessions.key,
                metadata={
                    **warehouse.table_metadata("core.fact_listening_sessions", conn=conn),
                    "sessions_by_length": dg.MetadataValue.json(by_category),
                    "session_gap_minutes": config.session_gap_minutes,
                    "months_changed": len(build.changed_months),
                },
                data_version=rules_version("core/listening_sessions.sql", settings),
            ),
            read_changed_months(conn, build.changed_months, SESSIONS_STEP),
        )
