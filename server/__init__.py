"""BeatSync: server."""
