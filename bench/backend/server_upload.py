"""Upload of a 240-frame 512x512 shot package over loopback, then the re-upload after 10 frames changed.

Uploads are content-addressed: the client asks the server which blobs it
lacks (`POST /v1/blobs/missing`) and sends only those. After the artist
re-exports a shot where 10 frames changed, only those 10 EXRs and the new
shot.json must travel. Prints file counts, bytes and times of both uploads.

    .venv/bin/python bench/backend/server_upload.py [--frames 240] [--size 512] [--changed 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "backend"))

from live_server import LiveServer  # noqa: E402
from shots import write_shot  # noqa: E402

from underpaint.client import ServerClient, UploadResult  # noqa: E402

MB = 1 << 20


def timed_upload(client: ServerClient, shot_dir: Path) -> tuple[UploadResult, float]:
    started = time.perf_counter()
    result = client.upload_package(shot_dir)
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--changed", type=int, default=10)
    args = parser.parse_args()
    changed = set(range(100, 100 + args.changed))
    with tempfile.TemporaryDirectory(prefix="underpaint-bench-") as tmp:
        shot_dir = write_shot(Path(tmp) / "shot", frames=args.frames, width=args.size, height=args.size)
        package_bytes = sum(p.stat().st_size for p in shot_dir.rglob("*") if p.is_file())
        with LiveServer(Path(tmp) / "data") as server, ServerClient(server.url) as client:
            full, full_s = timed_upload(client, shot_dir)
            same, same_s = timed_upload(client, shot_dir)
            write_shot(shot_dir, frames=args.frames, width=args.size, height=args.size, changed=changed)
            again, again_s = timed_upload(client, shot_dir)
    expected = sorted([f"passes/{n:04d}.exr" for n in changed] + ["shot.json"])
    print(f"upload over loopback, {args.frames} frames {args.size}x{args.size} "
          f"({package_bytes / MB:.1f} MB package)")
    print(f"  first upload        {len(full.sent):4d} files sent  {full.bytes_sent / MB:8.1f} MB  {full_s:6.2f} s  "
          f"({full.bytes_sent / MB / full_s:.0f} MB/s)")
    print(f"  unchanged re-upload {len(same.sent):4d} files sent  {same.bytes_sent / MB:8.1f} MB  {same_s:6.2f} s")
    print(f"  {args.changed} frames changed   {len(again.sent):4d} files sent  {again.bytes_sent / MB:8.1f} MB  "
          f"{again_s:6.2f} s  ({again.skipped} already on the server)")
    only_changed = sorted(again.sent) == expected and not same.sent
    print(f"  re-upload sent only the changed frames + shot.json: {'yes' if only_changed else 'NO'}")
    return 0 if only_changed else 1


if __name__ == "__main__":
    sys.exit(main())
