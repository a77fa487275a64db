"""The artist-facing side: sidebar panel, operators, takes list, progress."""
