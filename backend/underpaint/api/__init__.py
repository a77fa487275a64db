"""HTTP API v1: FastAPI routes only; every route calls one service function."""

from .app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
