"""The shot package (`underpaint.shot/1`): what the add-on measures and the backend paints over."""

from .models import SCHEMA_ID, Shot

__all__ = ["SCHEMA_ID", "Shot"]
