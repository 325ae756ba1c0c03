"""Asset checks answered by a file of `sql/checks/`: the query returns the offending rows, so
no row is a pass and the rows found are the evidence shown in the UI."""

import dagster as dg

from spotify_etl.defs.resources import WarehouseResource
from spotify_etl.lib.warehouse.sql_files import load_sql


def check_result_from_sql(
    warehouse: WarehouseResource,
    name: str,
    problems: str,
    asset_key: dg.AssetKey,
    severity: dg.AssetCheckSeverity,
    params: dict | None = None,
    settings: dict[str, str] | None = None,
) -> dg.AssetCheckResult:
    """Run `sql/checks/<name>.sql` (with `params`, and the planner's `settings` for its
    transaction) on a connection of its own; `problems` says what a returned row is, in the
    plural."""
    with warehouse.connect() as conn:
        for setting, value in (settings or {}).items():
            conn.execute("SELECT set_config(%s, %s, true)", (setting, value))
        cursor = conn.execute(load_sql(f"checks/{name}.sql"), params)
        rows = cursor.fetchall()
        columns = [c.name for c in cursor.description]
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=asset_key,
        passed=not rows,
        severity=severity,
        description=f"{len(rows)} {problems}" if rows else f"no {problems}",
        metadata={
            "problems": len(rows),
            "first_problems": dg.MetadataValue.json(
                [dict(zip(columns, map(str, row), strict=True)) for row in rows[:20]]
            ),
        },
    )
