-- From here on the views live in files of their own, sql/views/<schema>/<name>.sql, and are
-- created again from them whenever one changes (spotify_etl/lib/warehouse/views.py). This
-- records the checksum of the set that is in place; no row means "apply them now".
CREATE TABLE etl_internal.schema_views (
    one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row),
    checksum text NOT NULL,
    views text[] NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
