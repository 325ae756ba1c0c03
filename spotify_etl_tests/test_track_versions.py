"""Track versions: which titles are versions of one song, and the links in the warehouse."""

from __future__ import annotations

from datetime import date

import pytest

from spotify_etl.lib.track_versions import TrackRow, link_versions, read_overrides, song_title
from spotify_etl_tests.export_factory import play, write_json
from spotify_etl_tests.pipeline_helpers import materialize_all

# (title A, artist A, title B, artist B, same song?)
CASES = [
    ("Song", "Oasis", "Song - Live at Wembley", "Oasis", True),
    ("Song", "Oasis", "Song - Live", "Oasis", True),
    ("Song", "Oasis", "Song (Live)", "Oasis", True),
    ("Song", "Oasis", "Song [Live]", "Oasis", True),
    ("Song", "Oasis", "Song - Live from Abbey Road Studios", "Oasis", True),
    ("Song", "Oasis", "Song - Remastered 2011", "Oasis", True),
    ("Song", "Oasis", "Song - 2011 Remaster", "Oasis", True),
    ("Song", "Oasis", "Song - Remastered", "Oasis", True),
    ("Song", "Oasis", "Song - Remaster", "Oasis", True),
    ("Song", "Oasis", "Song [Remastered 2009]", "Oasis", True),
    ("Song", "Oasis", "Song - 2009 Digital Remaster", "Oasis", True),
    ("Song", "Oasis", "Song (Deluxe Edition)", "Oasis", True),
    ("Song", "Oasis", "Song - Deluxe", "Oasis", True),
    ("Song", "Oasis", "Song - Extended Mix", "Oasis", True),
    ("Song", "Oasis", "Song (Extended Version)", "Oasis", True),
    ("Song", "Oasis", "Song - Radio Edit", "Oasis", True),
    ("Song", "Oasis", "Song - Single Version", "Oasis", True),
    ("Song", "Oasis", "Song - Mono", "Oasis", True),
    ("Song", "Oasis", "Song - Stereo Mix", "Oasis", True),
    ("Song", "Oasis", "Song - Mono Version 2009", "Oasis", True),
    ("Song", "Oasis", "Song - Acoustic", "Oasis", True),
    ("Song", "Oasis", "Song (Acoustic Version)", "Oasis", True),
    ("Song", "Oasis", "Song - Demo", "Oasis", True),
    ("Song", "Oasis", "Song - 1994 Demo", "Oasis", True),
    ("Song", "Oasis", "Song (feat. Liam)", "Oasis", True),
    ("Song", "Oasis", "Song feat. Liam", "Oasis", True),
    ("Song", "Oasis", "Song (with Liam)", "Oasis", True),
    ("Song", "Oasis", "Song - Remix", "Oasis", True),
    ("Song", "Oasis", "Song - Oasis Remix", "Oasis", True),
    ("Song", "Oasis", "Song - Remastered 2011 (Live)", "Oasis", True),
    ("Song", "Oasis", "SONG", "oasis", True),
    ("Song", "Oasis", "Song - 25th Anniversary Edition", "Oasis", True),
    ("Song", "Oasis", "Song - Album Version", "Oasis", True),
    # Look-alikes that are songs of their own.
    ("Forever", "Oasis", "Live Forever", "Oasis", False),
    ("Live Forever", "Oasis", "Live Forever - Live", "Oasis", True),
    ("Song", "Oasis", "Song - Chemical Brothers Remix", "Oasis", False),
    ("Song", "Oasis", "Song (Avicii Remix)", "Oasis", False),
    ("Song", "Oasis", "Song", "Blur", False),  # same title, another artist (a cover)
    ("Song", "Oasis", "Song Two", "Oasis", False),
    ("Song", "Oasis", "Song - Part 2", "Oasis", False),
    ("Song", "Oasis", "Song (Reprise)", "Oasis", False),
    ("Demo", "Oasis", "Song - Demo", "Oasis", False),
    ("Remastered", "Oasis", "Song", "Oasis", False),
    ("Song", "Oasis", "Song - From the Film", "Oasis", False),
    ("Hey - You", "Oasis", "Hey - You - Live", "Oasis", True),
]


@pytest.mark.parametrize(
    "title_a, artist_a, title_b, artist_b, same", CASES, ids=[f"{c[0]}~{c[2]}~{c[3]}" for c in CASES]
)
def test_versions_merge_and_look_alikes_do_not(title_a, artist_a, title_b, artist_b, same) -> None:
    a = TrackRow(1, "spotify:track:a", title_a, artist_a)
    b = TrackRow(2, "spotify:track:b", title_b, artist_b)
    links = link_versions([a, b])
    assert (links[2].parent_track_id == 1) is same, links
    assert links[1].parent_track_id == 1  # the unmarked original is its own parent
    if same and title_a != title_b.upper() and title_b.lower() != title_a.lower():
        assert links[2].rule.startswith("title:")


def test_case_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert sum(1 for case in CASES if not case[4]) >= 10


def test_parent_is_the_unmarked_version_else_earliest_else_most_played() -> None:
    live = TrackRow(1, "u1", "Song - Live", "A", release_date=date(1990, 1, 1))
    original = TrackRow(2, "u2", "Song", "A", release_date=date(1995, 1, 1))
    assert link_versions([live, original])[1].parent_track_id == 2
    remaster = TrackRow(3, "u3", "Tune - Remastered", "A", release_date=date(2011, 1, 1), plays=50)
    deluxe = TrackRow(4, "u4", "Tune (Deluxe Edition)", "A", release_date=date(1999, 1, 1), plays=1)
    assert link_versions([remaster, deluxe])[3].parent_track_id == 4
    single = TrackRow(5, "u5", "Hit - Single Version", "A", plays=3)
    radio = TrackRow(6, "u6", "Hit - Radio Edit", "A", plays=9)
    assert link_versions([single, radio])[5].parent_track_id == 6


def test_isrc_links_the_same_recording_across_albums() -> None:
    album = TrackRow(1, "u1", "Other Title", "A", isrc="GBAYE0601498", release_date=date(2001, 1, 1))
    compilation = TrackRow(2, "u2", "Completely Different", "B", isrc="gbaye0601498", release_date=date(2010, 1, 1))
    links = link_versions([album, compilation])
    assert links[2].parent_track_id == 1 and links[2].rule == "isrc"


def test_an_override_beats_every_rule() -> None:
    original = TrackRow(1, "spotify:track:o", "Song", "A")
    live = TrackRow(2, "spotify:track:l", "Song - Live", "A")
    other = TrackRow(3, "spotify:track:x", "Elsewhere", "B")
    links = link_versions([original, live, other], {"spotify:track:l": "spotify:track:x"})
    assert links[2].parent_track_id == 3 and links[2].rule == "override" and links[2].confidence == 1.0


def test_song_title_strips_stacked_markers() -> None:
    assert song_title("Song (Live) - Remastered 2009", "A") == ("song", ["remaster", "live"])
    assert song_title("Live Forever", "Oasis") == ("live forever", [])


def test_overrides_file_is_validated(tmp_path) -> None:
    path = tmp_path / "parent_tracks.csv"
    path.write_text("# comment\nchild_uri,parent_uri\nspotify:track:c,spotify:track:p\n")
    assert read_overrides(path) == {"spotify:track:c": "spotify:track:p"}
    path.write_text("child,parent\na,b\n")
    with pytest.raises(ValueError, match="child_uri,parent_uri"):
        read_overrides(path)
    assert read_overrides(tmp_path / "absent.csv") == {}


def test_links_in_the_warehouse_are_stable_and_counted_by_song(conn, warehouse, raw_dir, tmp_path) -> None:
    write_json(
        raw_dir / "Streaming_History_Audio_2024_0.json",
        [
            play("2024-01-01T10:00:00Z", track="Wonderwall", artist="Oasis"),
            play("2024-01-01T10:05:00Z", track="Wonderwall - Remastered", artist="Oasis"),
            play("2024-01-01T10:10:00Z", track="Wonderwall - Live at Knebworth", artist="Oasis"),
            play("2024-01-01T10:15:00Z", track="Wonderwall", artist="Ryan Adams"),
            play("2024-01-01T10:20:00Z", track="Live Forever", artist="Oasis"),
        ],
    )
    materialize_all(
        warehouse,
        raw_dir,
        run_config={"dimensions_and_sessions": {"config": {"overrides_path": str(tmp_path / "none.csv")}}},
    )
    parents = dict(
        conn.execute(
            "SELECT t.track_name || ' / ' || t.artist_name, p.track_name FROM core.dim_track t"
            " JOIN core.dim_track p ON p.track_id = t.parent_track_id WHERE t.track_id <> 0"
        ).fetchall()
    )
    assert parents == {
        "Wonderwall / Oasis": "Wonderwall",
        "Wonderwall - Remastered / Oasis": "Wonderwall",
        "Wonderwall - Live at Knebworth / Oasis": "Wonderwall",
        "Wonderwall / Ryan Adams": "Wonderwall",
        "Live Forever / Oasis": "Live Forever",
    }
    rules = dict(conn.execute("SELECT rule, count(*) FROM etl_internal.parent_tracks GROUP BY 1").fetchall())
    assert rules == {"original": 3, "title:remaster": 1, "title:live": 1}
    songs = conn.execute(
        "SELECT song, artist_name, plays, versions_played FROM mart.top_songs_by_year WHERE rank = 1"
    ).fetchall()
    assert songs == [("Wonderwall", "Oasis", 3, 3)]
    conn.commit()
    before = conn.execute("SELECT child_track_id, linked_at FROM etl_internal.parent_tracks ORDER BY 1").fetchall()
    materialize_all(
        warehouse,
        raw_dir,
        selection=["track_versions"],
        run_config={"dimensions_and_sessions": {"config": {"overrides_path": str(tmp_path / "none.csv")}}},
    )
    conn.commit()
    assert (
        conn.execute("SELECT child_track_id, linked_at FROM etl_internal.parent_tracks ORDER BY 1").fetchall() == before
    )
