"""Core layer: listening sessions, over all of a listener's plays (sessions cross months)."""

import dagster as dg

from spotify_etl.assets.raw import OWNERS, raw_plays
from spotify_etl.resources.warehouse import WarehouseResource

# A gap this long between one play's end and the next one's start ends a session.
DEFAULT_SESSION_GAP_MINUTES = 30


class SessionConfig(dg.Config):
    session_gap_minutes: int = DEFAULT_SESSION_GAP_MINUTES
    """Minutes of silence that end a listening session."""


@dg.asset(
    group_name="core",
    deps=[raw_plays],
    kinds={"postgres", "sql"},
    owners=OWNERS,
    description=(
        "core.fact_listening_sessions (and core.play_session): consecutive plays of a listener "
        "with gaps under the session gap form a session; length category short < 15 min, "
        "medium < 60, long < 180, marathon beyond. Built by sql/core/listening_sessions.sql."
    ),
)
def fact_listening_sessions(config: SessionConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    if config.session_gap_minutes <= 0:
        raise ValueError("session_gap_minutes must be positive")
    warehouse.run_sql_file("core/listening_sessions.sql", {"gap_seconds": config.session_gap_minutes * 60})
    with warehouse.connect() as conn:
        by_category = dict(
            conn.execute(
                "SELECT length_category, count(*) FROM core.fact_listening_sessions GROUP BY 1 ORDER BY 1"
            ).fetchall()
        )
    return dg.MaterializeResult(
        metadata={
            **warehouse.table_metadata("core.fact_listening_sessions"),
            "sessions_by_length": dg.MetadataValue.json(by_category),
            "session_gap_minutes": config.session_gap_minutes,
        }
    )
