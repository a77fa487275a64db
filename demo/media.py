"""The demo's pictures, made in the backend's environment (Blender's Python has no PIL or ffmpeg).

    .venv/bin/python demo/media.py --package PKG --blocking DIR --painted DIR --out DIR

writes into DIR:
- `contact_sheet.png`: for a few frames, the blocking, the raw passes (object
  index) and the control images the model is conditioned on (depth, normal,
  pose, made by `underpaint.control` exactly as a job makes them), and the
  painted frame;
- `side_by_side.mp4` and `side_by_side.gif`: blocking | painted, every frame.

The control images come from the same code a job runs, so the sheet shows
what the model really saw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw

from underpaint.control import ResizePlan, make_controls
from underpaint.shot.package import ShotPackage, load_package

SHEET_FRAMES = 4
TILE_HEIGHT = 144
LABEL_HEIGHT = 18
GIF_HEIGHT = 144
COLUMNS = ("blocking", "depth", "normal", "pose", "object index", "painted")


def frame_file(folder: Path, frame: int) -> Path:
    return folder / f"{frame:04d}.png"


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def fit_height(rgb: np.ndarray, height: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    width = max(2, round(w * height / h))
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.LANCZOS))


def index_colors(index: np.ndarray) -> np.ndarray:
    """Object index pass as flat colours: a fixed colour per index, black for the background."""
    rng = np.random.default_rng(7)
    palette = rng.integers(60, 256, size=(int(index.max()) + 1, 3), dtype=np.uint8)
    palette[0] = 0
    return palette[np.clip(index, 0, None)]


def sheet_frames(package: ShotPackage, painted: Path) -> list[int]:
    """A few frames spread over the shot that were painted."""
    numbers = [n for n in package.frame_numbers if frame_file(painted, n).is_file()]
    if not numbers:
        raise SystemExit(f"no painted frames in {painted}")
    picks = np.linspace(0, len(numbers) - 1, min(SHEET_FRAMES, len(numbers))).round().astype(int)
    return [numbers[i] for i in sorted(set(picks))]


def contact_sheet(package: ShotPackage, blocking: Path, painted: Path, out: Path) -> Path:
    frames = sheet_frames(package, painted)
    plan = ResizePlan.fit(package.size, package.size, "crop")
    kinds = ["depth"] + (["normal"] if package.shot.passes.normal else []) + (["pose"] if package.shot.pose else [])
    controls = make_controls(package, frames, plan, kinds).images
    rows, widths = [], []
    for i, number in enumerate(frames):
        passes = package.read_passes(number)
        blank = np.zeros((*package.size[::-1], 3), np.uint8)
        tiles = {
            "blocking": load_rgb(frame_file(blocking, number)),
            "depth": controls["depth"][i],
            "normal": controls["normal"][i] if "normal" in controls else blank,
            "pose": controls["pose"][i] if "pose" in controls else blank,
            "object index": index_colors(passes.object_index) if passes.object_index is not None else blank,
            "painted": load_rgb(frame_file(painted, number)),
        }
        scaled = [fit_height(tiles[name], TILE_HEIGHT) for name in COLUMNS]
        widths = [tile.shape[1] for tile in scaled]
        rows.append(_labelled(np.concatenate(scaled, axis=1), f"frame {number}"))
    sheet = np.concatenate([_header(widths), *rows], axis=0)
    path = out / "contact_sheet.png"
    Image.fromarray(sheet).save(path)
    return path


def _labelled(row: np.ndarray, text: str) -> np.ndarray:
    image = Image.fromarray(row)
    ImageDraw.Draw(image).text((4, 2), text, fill=(255, 255, 0))
    return np.asarray(image)


def _header(widths: list[int]) -> np.ndarray:
    image = Image.new("RGB", (sum(widths), LABEL_HEIGHT), (24, 24, 24))
    draw = ImageDraw.Draw(image)
    x = 0
    for name, width in zip(COLUMNS, widths, strict=True):
        draw.text((x + 4, 3), name, fill=(230, 230, 230))
        x += width
    return np.asarray(image)


def side_by_side(package: ShotPackage, blocking: Path, painted: Path, out: Path, fps: float) -> list[Path]:
    """blocking | painted for every painted frame, as MP4 (H.264) and GIF."""
    pairs = []
    for number in package.frame_numbers:
        if not frame_file(painted, number).is_file():
            continue
        left = load_rgb(frame_file(blocking, number))
        right = fit_height(load_rgb(frame_file(painted, number)), left.shape[0])
        pair = np.concatenate([left, right], axis=1)
        pairs.append(pair[: pair.shape[0] // 2 * 2, : pair.shape[1] // 2 * 2])  # H.264 wants even sizes
    mp4 = out / "side_by_side.mp4"
    imageio.mimsave(mp4, pairs, fps=fps, codec="libx264", quality=7, macro_block_size=1)
    gif = out / "side_by_side.gif"
    small = [Image.fromarray(fit_height(p, GIF_HEIGHT)) for p in pairs]
    small[0].save(gif, save_all=True, append_images=small[1:], duration=round(1000 / fps), loop=0,
                  optimize=True)
    return [mp4, gif]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, required=True, help="the exported shot package")
    parser.add_argument("--blocking", type=Path, required=True, help="blocking renders, ####.png")
    parser.add_argument("--painted", type=Path, required=True, help="the take's painted frames, ####.png")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    package = load_package(args.package)
    args.out.mkdir(parents=True, exist_ok=True)
    written = [contact_sheet(package, args.blocking, args.painted, args.out)]
    written += side_by_side(package, args.blocking, args.painted, args.out, package.shot.fps)
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
