"""BeatSync: schemas."""
