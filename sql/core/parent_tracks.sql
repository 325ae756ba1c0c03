-- Apply the links COPYed into load_parent_tracks: change only what changed (so linked_at
-- says when a link last changed), then copy the parent onto dim_track.

DELETE FROM etl_internal.parent_tracks AS p
WHERE NOT EXISTS (SELECT 1 FROM load_parent_tracks AS l WHERE l.child_track_id = p.child_track_id);

INSERT INTO etl_internal.parent_tracks AS p (child_track_id, parent_track_id, rule, confidence)
SELECT child_track_id, parent_track_id, rule, confidence FROM load_parent_tracks
ON CONFLICT (child_track_id) DO UPDATE
SET parent_track_id = excluded.parent_track_id, rule = excluded.rule,
    confidence = excluded.confidence, linked_at = now()
WHERE (p.parent_track_id, p.rule, p.confidence)
      IS DISTINCT FROM (excluded.parent_track_id, excluded.rule, excluded.confidence);

UPDATE core.dim_track AS t SET parent_track_id = p.parent_track_id
FROM etl_internal.parent_tracks AS p
WHERE p.child_track_id = t.track_id AND t.parent_track_id IS DISTINCT FROM p.parent_track_id;
