"""The Spotify Web API: a rate-limited client over spotipy, and enrichment of the warehouse with it."""
