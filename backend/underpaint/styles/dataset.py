"""The training images of a style: which files they are, their captions, and the pixels the model sees.

Input is a set of files by relative name (a folder on disk, or blobs uploaded
by the add-on): images (PNG, JPEG, WebP) and optional captions `NAME.txt`
beside `NAME.png`. Checking (`scan`) reads only image headers, so a job is
refused at submit time without decoding anything; `load` decodes.

Crop policy: each image is scaled (Lanczos) so its shorter side equals the
training resolution, then the centre square is cut out. Images smaller than
the resolution on their shorter side are refused rather than upscaled: an
upscaled image teaches the model blur.
"""

from __future__ import annotations

import hashlib
import random
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps

from underpaint.blobs import sha256_file
from underpaint.errors import InputError
from underpaint.images import MAX_PIXELS

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
CAPTION_SUFFIX = ".txt"
MAX_CAPTION_BYTES = 64 * 1024
# Files an operating system leaves in folders; never training data.
OS_LITTER = {"thumbs.db", "desktop.ini"}
# How many offending files an error message names before saying "and N more".
LISTED = 5


@dataclass(frozen=True)
class TrainingImage:
    """One image file, checked, with the caption it trains with."""

    name: str
    path: Path
    size: tuple[int, int]
    caption: str
    sha256: str


def folder_files(folder: Path) -> dict[str, Path]:
    """Every file under `folder` by its relative POSIX name (hidden files and OS litter left out)."""
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder of images"
        raise InputError("not_a_folder", f"{folder} {what}")
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or path.name.lower() in OS_LITTER:
            continue
        if path.is_file():
            files[relative.as_posix()] = path
    return files


def check_relative_name(name: str) -> str:
    """A file name from a client: relative, no `..`, no backslashes, so it can never point outside its folder."""
    pure = PurePosixPath(name)
    if (
        not name
        or len(name) > 255
        or "\\" in name
        or "\0" in name
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise InputError("invalid_file_name", f"file name {name[:80]!r} must be a plain relative path")
    return name


def scan(
    files: Mapping[str, Path], resolution: int, trigger: str, label: str = "the images folder"
) -> list[TrainingImage]:
    """Check the files and pair every image with its caption; every problem is one `InputError` naming files.

    Captions: the text of `NAME.txt` beside the image, with the trigger word put
    in front when the caption does not already contain it (so the trigger calls
    up the style); an image without a caption trains on the trigger alone.
    """
    images = {n: p for n, p in files.items() if PurePosixPath(n).suffix.lower() in IMAGE_FORMATS}
    captions = {n: p for n, p in files.items() if PurePosixPath(n).suffix.lower() == CAPTION_SUFFIX}
    others = sorted(set(files) - set(images) - set(captions))
    if others:
        raise InputError(
            "not_an_image",
            f"{_listing(others)} in {label} {'is not an image' if len(others) == 1 else 'are not images'}; "
            f"training takes {', '.join(sorted(set(IMAGE_FORMATS.values())))} images and NAME.txt captions",
        )
    if not images:
        raise InputError("no_images", f"{label} has no images (PNG, JPEG or WebP)")
    stems = {_stem(n) for n in images}
    orphans = sorted(n for n in captions if _stem(n) not in stems)
    if orphans:
        raise InputError("caption_without_image", f"caption {_listing(orphans)} has no image of the same name")
    sizes = {name: image_size(path, name) for name, path in images.items()}
    small = sorted(n for n, (w, h) in sizes.items() if min(w, h) < resolution)
    if small:
        w, h = sizes[small[0]]
        raise InputError(
            "image_too_small",
            f"{_listing(small)} {'is' if len(small) == 1 else 'are'} smaller than the training resolution "
            f"({small[0]} is {w}x{h}); every image needs at least {resolution} px on its shorter side — "
            "use larger images or a lower resolution",
        )
    caption_files = {_stem(n): p for n, p in captions.items()}
    out = []
    for name, path in sorted(images.items()):
        caption_file = caption_files.get(_stem(name))
        caption = with_trigger(read_caption(caption_file, name) if caption_file else "", trigger)
        out.append(TrainingImage(name, path, sizes[name], caption, sha256_file(path)))
    return out


def with_trigger(caption: str, trigger: str) -> str:
    if not caption:
        return trigger
    if trigger.lower() in caption.lower():
        return caption
    return f"{trigger}, {caption}"


def read_caption(path: Path, image: str) -> str:
    if path.stat().st_size > MAX_CAPTION_BYTES:
        raise InputError("caption_too_long", f"the caption of {image} is over {MAX_CAPTION_BYTES} bytes")
    try:
        return " ".join(path.read_text(encoding="utf-8-sig").split())
    except UnicodeDecodeError as exc:
        raise InputError("invalid_caption", f"the caption of {image} is not UTF-8 text ({exc})") from exc


def image_size(path: Path, name: str) -> tuple[int, int]:
    """Width and height from the header, upright (JPEG orientation applied); refuses unreadable files and bombs."""
    with _opened(path, name) as image:
        width, height = image.size
        if image.getexif().get(ImageOps.ExifTags.Base.Orientation, 1) in (5, 6, 7, 8):
            width, height = height, width
        return width, height


def load(image: TrainingImage, resolution: int) -> np.ndarray:
    """The image as the model sees it: uint8 RGB (resolution, resolution, 3), per the crop policy above."""
    with _opened(image.path, image.name) as opened:
        try:
            upright = ImageOps.exif_transpose(opened).convert("RGB")
        except (OSError, ValueError, SyntaxError) as exc:
            raise InputError("corrupt_file", f"{image.name} is not a readable image ({exc})") from exc
    return center_square(upright, resolution)


def center_square(image: Image.Image, resolution: int) -> np.ndarray:
    width, height = image.size
    scale = resolution / min(width, height)
    scaled = (max(resolution, round(width * scale)), max(resolution, round(height * scale)))
    resized = image.resize(scaled, Image.Resampling.LANCZOS)
    left, top = (scaled[0] - resolution) // 2, (scaled[1] - resolution) // 2
    return np.asarray(resized.crop((left, top, left + resolution, top + resolution)))


def images_hash(images: list[TrainingImage]) -> str:
    """One hash for the training set: each image's name, content and caption (a caption edit changes it too)."""
    digest = hashlib.sha256()
    for image in sorted(images, key=lambda i: i.name):
        digest.update(f"{image.name}\t{image.sha256}\t{image.caption}\n".encode())
    return digest.hexdigest()


def hold_out(images: list[TrainingImage], wanted: int, seed: int) -> set[str]:
    """Names of the images kept out of training for validation: at most one in four, so training keeps three."""
    count = min(wanted, len(images) // 4)
    return set(random.Random(seed).sample(sorted(i.name for i in images), count))


class _opened:  # noqa: N801 - used like a function: `with _opened(path, name) as image`
    """`Image.open` limited to the training formats, with bombs and unreadable files as `InputError`."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.name = path, name
        self.image: Image.Image | None = None

    def __enter__(self) -> Image.Image:
        fmt = IMAGE_FORMATS[PurePosixPath(self.name).suffix.lower()]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self.image = Image.open(self.path, formats=[fmt])
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputError("corrupt_file", f"{self.name} is not a readable {fmt} image ({exc})") from exc
        width, height = self.image.size
        if width * height > MAX_PIXELS:
            self.image.close()
            raise InputError("image_too_large", f"{self.name}: {width}x{height} exceeds {MAX_PIXELS} pixels", 413)
        return self.image

    def __exit__(self, *exc: object) -> None:
        if self.image is not None:
            self.image.close()


def _stem(name: str) -> str:
    return str(PurePosixPath(name).with_suffix(""))


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")

