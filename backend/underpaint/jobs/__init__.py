"""Persisted job queue (SQLite), the worker, progress events and cancel."""
