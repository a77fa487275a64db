"""Takes: metadata, lists per shot, and painted frames as PNG."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from underpaint.errors import NotFound
from underpaint.qc.plot import render_report
from underpaint.qc.report import report_from_json

from .deps import TakesDep
from .models import TakeList, TakeOut

router = APIRouter()
FRAME_NAME = re.compile(r"^(-?\d{1,9})\.png$")


@router.get("/takes", response_model=TakeList)
def list_takes(takes: TakesDep, shot: Annotated[str | None, Query(max_length=256)] = None) -> TakeList:
    return TakeList(takes=[TakeOut(**t.to_json()) for t in takes.list(shot)])


@router.get("/takes/{take_id}", response_model=TakeOut)
def get_take(take_id: str, takes: TakesDep) -> TakeOut:
    return TakeOut(**takes.get(take_id).to_json())


@router.get("/takes/{take_id}/temporal.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def get_temporal_plot(take_id: str, takes: TakesDep) -> Response:
    """The take's flicker curve along the shot's motion (`metrics.temporal`), drawn as `underpaint qc --plot`."""
    temporal = takes.get(take_id).metrics.get("temporal")
    if not temporal:
        raise NotFound("no_temporal", f"take {take_id} has no temporal QC: its shot was exported without motion "
                                      "vectors (turn Temporal QC on and stylize again)")
    return Response(render_report(report_from_json(temporal)), media_type="image/png")


@router.get("/takes/{take_id}/frames/{frame_name}", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}}})
def get_frame(take_id: str, frame_name: str, takes: TakesDep) -> FileResponse:
    """Frame `<Blender frame number>.png` of a take, once it is on disk."""
    match = FRAME_NAME.match(frame_name)
    if match is None:
        raise NotFound("unknown_frame", f"frames are named <frame number>.png, not {frame_name[:40]!r}")
    return FileResponse(takes.frame_path(take_id, int(match.group(1))), media_type="image/png")
