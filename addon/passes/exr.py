"""Read back the EXR files this add-on writes, with numpy and zlib only.

Blender's Python has no OpenEXR module, yet the pose pass needs the rendered
depth and object index to decide whether a joint is hidden, and the export
checks that every channel it records really is in the file. Blender writes
scanline images, float or half, uncompressed or zip-compressed, single-part
(4.2) or one part per pass (5.0); that is what this reader understands. Any
other file is refused with an `ExrError` naming what it found.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MAGIC = 20000630
_TILED, _LONG_NAMES, _DEEP, _MULTIPART = 0x200, 0x400, 0x800, 0x1000
_PIXEL_TYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
# compression id -> scanlines per chunk, for the codecs this reader decodes
_LINES_PER_CHUNK = {0: 1, 2: 1, 3: 16}  # NONE, ZIPS, ZIP


class ExrError(ValueError):
    """The file is not an EXR this reader can decode."""


@dataclass(frozen=True)
class ExrPart:
    """One part's header: what it holds and where its chunks are."""

    index: int
    channels: tuple[tuple[str, np.dtype], ...]  # in file order (sorted by name)
    width: int
    height: int
    y_min: int
    compression: int
    chunk_offsets: tuple[int, ...]


class _Cursor:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.pos = data, offset

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ExrError("file ends inside its header")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def cstring(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise ExrError("unterminated name in header")
        text = self.data[self.pos:end].decode("latin-1")
        self.pos = end + 1
        return text


def _parse_channels(value: bytes) -> tuple[tuple[str, np.dtype], ...]:
    cursor, channels = _Cursor(value), []
    while cursor.data[cursor.pos:cursor.pos + 1] not in (b"\0", b""):
        name = cursor.cstring()
        pixel_type, _linear, x_sampling, y_sampling = struct.unpack("<iB3xii", cursor.take(16))
        if pixel_type not in _PIXEL_TYPES or (x_sampling, y_sampling) != (1, 1):
            raise ExrError(f"channel {name!r} has an unsupported pixel type or subsampling")
        channels.append((name, _PIXEL_TYPES[pixel_type]))
    return tuple(channels)


def _parse_header(cursor: _Cursor) -> dict[str, bytes] | None:
    """Attributes of one header, or None at the empty header that ends a multi-part list."""
    attributes: dict[str, bytes] = {}
    while True:
        name = cursor.cstring()
        if not name:
            return attributes or None
        cursor.cstring()  # attribute type: implied by the name for everything read here
        (size,) = struct.unpack("<i", cursor.take(4))
        attributes[name] = cursor.take(size)


def _part(index: int, attributes: dict[str, bytes], cursor: _Cursor, multipart: bool) -> ExrPart:
    for required in ("channels", "compression", "dataWindow"):
        if required not in attributes:
            raise ExrError(f"part {index} has no {required!r} attribute")
    x_min, y_min, x_max, y_max = struct.unpack("<4i", attributes["dataWindow"])
    compression = attributes["compression"][0]
    if compression not in _LINES_PER_CHUNK:
        raise ExrError(f"part {index} uses compression {compression}; only none, zips and zip are read")
    if attributes.get("type", b"scanlineimage\0").rstrip(b"\0") != b"scanlineimage":
        raise ExrError(f"part {index} is not a scanline image")
    height = y_max - y_min + 1
    count = -(-height // _LINES_PER_CHUNK[compression])
    if multipart:
        count = struct.unpack("<i", attributes["chunkCount"])[0]
    return ExrPart(index, _parse_channels(attributes["channels"]), x_max - x_min + 1, height, y_min, compression,
                   tuple(struct.unpack(f"<{count}Q", cursor.take(8 * count))) if count else ())


def read_parts(data: bytes) -> tuple[list[ExrPart], bool]:
    """Every part's header and chunk offsets, and whether the file is multi-part."""
    cursor = _Cursor(data)
    magic, version = struct.unpack("<ii", cursor.take(8))
    if magic != _MAGIC:
        raise ExrError("not an OpenEXR file (bad magic number)")
    if version & (_TILED | _DEEP):
        raise ExrError("tiled and deep EXR files are not read")
    multipart = bool(version & _MULTIPART)
    headers = []
    while True:
        attributes = _parse_header(cursor)
        if attributes is None:
            break
        headers.append(attributes)
        if not multipart:
            break
    return [_part(i, attributes, cursor, multipart) for i, attributes in enumerate(headers)], multipart


def _inflate(raw: bytes, expected: int) -> bytes:
    """Undo EXR's zip codec: zlib, then the byte predictor, then the two-halves interleave."""
    if len(raw) == expected:  # the writer stores a chunk raw when compression does not pay
        return raw
    try:
        packed = np.frombuffer(zlib.decompress(raw), dtype=np.uint8).copy()
    except zlib.error as exc:
        raise ExrError(f"corrupt zip chunk ({exc})") from exc
    if packed.size != expected:
        raise ExrError(f"zip chunk holds {packed.size} bytes, expected {expected}")
    packed[1:] -= 128
    undone = np.cumsum(packed, dtype=np.uint8)
    half = (undone.size + 1) // 2
    out = np.empty_like(undone)
    out[0::2], out[1::2] = undone[:half], undone[half:]
    return out.tobytes()


def _decode_part(
    data: bytes, part: ExrPart, multipart: bool, wanted: set[str], rows: set[int] | None
) -> dict[str, np.ndarray]:
    row_bytes = sum(dtype.itemsize for _, dtype in part.channels) * part.width
    images = {name: np.full((part.height, part.width), np.nan, np.float32)
              for name, _ in part.channels if name in wanted}
    lines = _LINES_PER_CHUNK[part.compression]
    for offset in part.chunk_offsets:
        cursor = _Cursor(data, offset + (4 if multipart else 0))
        y, size = struct.unpack("<ii", cursor.take(8))
        first = y - part.y_min
        count = min(lines, part.height - first)
        if first < 0 or count <= 0:
            raise ExrError(f"chunk at byte {offset} starts at line {y}, outside the image")
        if rows is not None and rows.isdisjoint(range(first, first + count)):
            continue
        block = np.frombuffer(_inflate(cursor.take(size), row_bytes * count), np.uint8).reshape(count, row_bytes)
        column = 0  # each line holds every channel's row in turn
        for name, dtype in part.channels:
            end = column + dtype.itemsize * part.width
            if name in images:
                images[name][first:first + count] = block[:, column:end].view(dtype)
            column = end
    return images


def clear_render_times(path: Path) -> None:
    """Zero the digits of Cycles' timing attributes (`cycles.<layer>.render_time`, ...) in place.

    Cycles stamps every render with how long it took, whatever the stamp settings, so two
    renders of the same blocking differ in a few header bytes. Zeroing the digits keeps every
    length and offset, and makes the file a function of the scene alone: a re-export then
    uploads only the frames whose pixels changed.
    """
    data = bytearray(Path(path).read_bytes())
    cursor = _Cursor(bytes(data), 8)
    multipart = bool(struct.unpack("<i", data[4:8])[0] & _MULTIPART)
    while True:
        name = cursor.cstring()
        if not name:  # end of a header; an empty header ends a multi-part list
            if not multipart or cursor.data[cursor.pos] == 0:
                break
            continue
        kind = cursor.cstring()
        (size,) = struct.unpack("<i", cursor.take(4))
        start = cursor.pos
        cursor.take(size)
        if kind == "string" and name.startswith("cycles.") and name.endswith("_time"):
            data[start:start + size] = bytes(b"0"[0] if chr(b).isdigit() else b for b in data[start:start + size])
    Path(path).write_bytes(bytes(data))


def channel_names(path: Path) -> list[str]:
    """All channel names in the file, across its parts."""
    return [name for part in read_parts(Path(path).read_bytes())[0] for name, _ in part.channels]


def read_channels(path: Path, names: list[str], rows: set[int] | None = None) -> dict[str, np.ndarray]:
    """The named channels as float32 (height, width) arrays, row 0 at the top of the image.

    With `rows`, only the chunks holding those rows are decoded (the pose needs a few pixels, not the
    whole image); the other rows read NaN.
    """
    data = Path(path).read_bytes()
    parts, multipart = read_parts(data)
    wanted, out = set(names), {}
    for part in parts:
        if wanted & {name for name, _ in part.channels}:
            out.update(_decode_part(data, part, multipart, wanted, rows))
    missing = [n for n in names if n not in out]
    if missing:
        raise ExrError(f"{Path(path).name} has no channel {missing[0]!r}")
    return {name: out[name] for name in names}
