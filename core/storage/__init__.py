"""Storage primitives: the SQLite write path and atomic file writes."""
