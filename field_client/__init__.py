"""BeatSync: field_client."""
