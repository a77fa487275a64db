"""Control passes: measure the blocking scene and write a shot package (`underpaint.shot/1`).

The package layout is `backend/underpaint/shot/models.py`; this package mirrors it, one
gather function per record (`records`, `camera`, `pose`), with the disk
writing apart (`writer`). Other operators call `export_shot`.
"""

from .export import export_shot, iter_export, shot_rigs
from .options import ExportCancelled, ExportError, ExportOptions

__all__ = ["ExportCancelled", "ExportError", "ExportOptions", "export_shot", "iter_export", "shot_rigs"]
