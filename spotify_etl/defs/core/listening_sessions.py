"""fact_listening_sessions: sessions over all of a listener's plays (sessions cross months)."""

import dagster as dg
from pydantic import Field

from spotify_etl.defs.raw.raw_plays import raw_plays
from spotify_etl.defs.resources import WarehouseResource

# A gap this long between one play's end and the next one's start ends a session.
DEFAULT_SESSION_GAP_MINUTES = 30
# A session's length category: the first whose bound (minutes) it stays under; 'marathon' beyond.
LENGTH_CATEGORIES = {"short": 15, "medium": 60, "long": 180}


class SessionConfig(dg.Config):
    session_gap_minutes: int = Field(
        default=DEFAULT_SESSION_GAP_MINUTES, gt=0, description="Minutes of silence that end a listening session."
    )


@dg.asset(
    deps=[raw_plays],
    kinds={"postgres", "sql"},
    description=(
        "core.fact_listening_sessions (and core.play_session): consecutive plays of a listener with gaps "
        "under the session gap form a session; length category "
        + ", ".join(f"{name} < {minutes} min" for name, minutes in LENGTH_CATEGORIES.items())
        + ", marathon beyond. Built by sql/core/listening_sessions.sql."
    ),
)
def fact_listening_sessions(config: SessionConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    warehouse.run_sql_file(
        "core/listening_sessions.sql",
        {
            "gap_seconds": config.session_gap_minutes * 60,
            **{f"{name}_below_minutes": minutes for name, minutes in LENGTH_CATEGORIES.items()},
        },
    )
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
