"""The package's own errors: one base class, so callers can tell a known failure (said in one
line to the user) from a bug (shown with its traceback)."""


class SpotifyEtlError(Exception):
    """A failure spotify_etl knows how to describe; its message is meant for the user."""


class WarehouseUnavailable(SpotifyEtlError):
    """The warehouse cannot be reached, does not exist, or was lost while being prepared."""
