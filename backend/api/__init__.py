"""HTTP API v1: FastAPI routes only; every route calls one service function."""
