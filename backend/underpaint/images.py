"""8-bit PNG decoding and encoding with the safety checks untrusted files need.

Colour renders and painted masks arrive from the network, so the pixel count
is checked from the header *before* any pixel is decoded (a decompression
bomb is a small file that claims a huge image), and a corrupt or truncated
file is a clear `InputError`, never a crash.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from underpaint.errors import InputError

# 16.7 megapixels: 4K UHD fits with room to spare; a bomb claiming more is refused unread.
MAX_PIXELS = 4096 * 4096

# Painted frames are written often; level 1 keeps the worker's encode time small next to painting.
PNG_COMPRESS_LEVEL = 1


def read_png(path: Path, mode: str = "RGB", size: tuple[int, int] | None = None, label: str = "") -> np.ndarray:
    """Decode a PNG as uint8 (H, W, 3) for mode "RGB" or (H, W) for mode "L".

    `size` (width, height), when given, must match. `label` names the file in errors.
    """
    name = label or path.name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=["PNG"]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise InputError(
                        "image_too_large", f"{name}: {width}x{height} exceeds the limit of {MAX_PIXELS} pixels", 413
                    )
                if size is not None and (width, height) != tuple(size):
                    raise InputError(
                        "resolution_mismatch", f"{name} is {width}x{height}, expected {size[0]}x{size[1]}"
                    )
                image.load()
                return np.asarray(image.convert(mode))
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError("image_too_large", f"{name}: {exc}", 413) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError("corrupt_file", f"{name} is not a readable PNG ({exc})") from exc


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of a uint8 (H, W, 3) image."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def umask_mode() -> int:
    """The mode `open()` would give a new file under the process's umask (0o644 with umask 022).

    `mkstemp` creates its files 0600 whatever the umask, which would leave takes
    unreadable to a compositor or farm account; published files get this mode
    instead. Linux reports the umask in /proc; elsewhere it can only be read by
    setting it, so it is set straight back.
    """
    try:
        status = Path("/proc/self/status").read_text()
        mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    except (OSError, StopIteration):
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old state or the whole new file, never a part.

    The bytes are flushed to disk before the rename, so after a crash the name
    either does not exist or holds the complete file. The file gets the mode the
    umask allows, like any file the user's tools write.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, umask_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
