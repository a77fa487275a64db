"""Shots: the control images a job on an uploaded shot would draw, one frame at a time, as PNG."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from underpaint.blobs import SHA256, check_sha256
from underpaint.errors import NotFound
from underpaint.images import encode_png
from underpaint.paint.control_preview import control_frame

from .deps import ServerDep
from .takes import FRAME_NAME

router = APIRouter()


@router.get("/shots/{shot}/controls/{control}/{frame_name}", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def get_control_frame(
    shot: Annotated[str, Path(description="sha256 of the uploaded shot.json (checked: invalid_sha256)",
                              json_schema_extra={"pattern": SHA256.pattern})],
    control: str,
    frame_name: str,
    server: ServerDep,
    width: Annotated[int | None, Query(ge=8, le=4096, multiple_of=8)] = None,
    height: Annotated[int | None, Query(ge=8, le=4096, multiple_of=8)] = None,
    fit: Literal["crop", "letterbox"] = "crop",
) -> Response:
    """Control `control` of frame `<Blender frame number>.png`, drawn as a stylize job of this size and fit
    draws it (Show Controls: what the model will see)."""
    match = FRAME_NAME.match(frame_name)
    if match is None:
        raise NotFound("unknown_frame", f"frames are named <frame number>.png, not {frame_name[:40]!r}")
    packages = server.services.packages
    package = packages.get(check_sha256(shot))
    rgb = control_frame(packages, package, control, int(match.group(1)), width, height, fit)
    return Response(encode_png(rgb), media_type="image/png")
