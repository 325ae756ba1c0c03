"""The mart views in the lineage: one asset spec per file of `sql/views/mart/`, downstream of
the core tables its SQL reads (`core.<asset>`), and of the facts whose loads keep the
aggregates it reads (`mart.<aggregate>`, migrations 0017 and 0018).

They are never materialized: views hold no data, and the warehouse creates them from their
files whenever it is prepared (spotify_etl.lib.warehouse.views), so they are always current.
"""

import re

import dagster as dg

from spotify_etl.lib.warehouse.views import view_files

_CORE_TABLE = re.compile(r"\bcore\.([a-z_]+)\b")
_MART_TABLE = re.compile(r"\bmart\.([a-z_]+)\b")

# The aggregates of the facts (migrations 0017, 0018), each with the facts whose loads keep it.
FACT_AGGREGATES = {
    "daily_listening": ("fact_tracks_history", "fact_podcasts_history"),
    "weekday_hour_listening": ("fact_tracks_history", "fact_podcasts_history"),
    "start_reason_listening": ("fact_tracks_history",),
    "track_years": ("fact_tracks_history",),
    "episode_years": ("fact_podcasts_history",),
}


def _description(sql_text: str, name: str) -> str:
    comment = " ".join(line.removeprefix("--").strip() for line in sql_text.splitlines() if line.startswith("--"))
    return f"{name}: {comment} A view (sql/views/{name.replace('.', '/')}.sql), current whenever its tables are."


def _view_specs() -> list[dg.AssetSpec]:
    # Every core table a mart view reads is an asset of the same name (the definitions' test
    # holds every dependency to a defined asset).
    specs = []
    for name, path in view_files():
        schema, view = name.split(".")
        if schema != "mart":
            continue
        text = path.read_text(encoding="utf-8")
        aggregates = [FACT_AGGREGATES[table] for table in _MART_TABLE.findall(text) if table in FACT_AGGREGATES]
        reads = sorted(set(_CORE_TABLE.findall(text)).union(*aggregates))
        specs.append(
            dg.AssetSpec(
                key=view,
                deps=reads,
                kinds={"postgres", "view"},
                description=_description(text, name),
                metadata={"dagster/table_name": name},
            )
        )
    return specs


mart_views = _view_specs()
