"""Underpaint backend: the local render server that paints over Blender blocking."""

__version__ = "0.1.0"
