"""Immutable takes on disk, lineage, and frame-range / mask compositing."""
