-- The links computed in Python (spotify_etl/lib/track_versions.py), COPYed here before they apply.
CREATE TEMP TABLE load_parent_tracks (
    child_track_id integer, parent_track_id integer, rule text, confidence numeric(3, 2)
) ON COMMIT DROP;
