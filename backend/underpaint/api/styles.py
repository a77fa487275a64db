"""Styles: the trained LoRAs of this server's registry, for the add-on's style list.

Training one is a job (`POST /v1/jobs` with kind `train_style`); these routes only read the registry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from underpaint.styles import list_styles, read_card
from underpaint.styles.card import StyleCard, StyleSummary
from underpaint.styles.registry import NAME_PATTERN

from .deps import ServerDep

router = APIRouter()


class StyleList(BaseModel):
    styles: list[StyleSummary]


@router.get("/styles", response_model=StyleList)
def get_styles(server: ServerDep) -> StyleList:
    """Every trained style, by name: base model set, trigger word, training summary."""
    return StyleList(styles=[card.summary() for card in list_styles(server.services.data_dir)])


@router.get("/styles/{name}", response_model=StyleCard)
def get_style(
    name: Annotated[str, Path(description="checked: invalid_style_name", json_schema_extra={"pattern": NAME_PATTERN})],
    server: ServerDep,
) -> StyleCard:
    """One style's full card: its training images, loss curve and validation renders."""
    return read_card(server.services.data_dir, name)
