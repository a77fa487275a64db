"""Build the Blender extension zip: the manifest and the add-on package at the zip root.

That layout is what Blender's "Install from Disk" and
`bpy.ops.extensions.package_install_files` accept. Standard library only, so it
runs with any Python before the virtual environments exist.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Fixed timestamps keep the zip byte-identical for identical sources.
EPOCH = (2024, 1, 1, 0, 0, 0)


def addon_files() -> list[tuple[Path, str]]:
    """(source path, name inside the zip) for every file the extension ships."""
    files = [(ROOT / "blender_manifest.toml", "blender_manifest.toml")]
    for path in sorted((ROOT / "addon").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((path, path.relative_to(ROOT / "addon").as_posix()))
    return files


def build(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for src, name in addon_files():
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, src.read_bytes())
    tmp.replace(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="zip file to write")
    print(build(parser.parse_args().out))


if __name__ == "__main__":
    main()
