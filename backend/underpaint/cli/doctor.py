"""`underpaint doctor`: what this machine can paint with, and whether the server answers.

Checks, without touching the network except the server asked about: Python,
torch and its build, the device (CUDA / MPS / CPU) and free memory, the data
directory, every model set and whether its weights are on this machine, and
the render server. Exits 1 when a check that matters fails (no torch, an
unwritable data directory, an explicitly named server not answering).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

from underpaint import __version__
from underpaint.cli import add_data_dir_argument
from underpaint.paths import data_dir

DEFAULT_SERVER = "http://127.0.0.1:8765"
GIB = 1 << 30
# What the data directory holds, by folder: uploads, painted takes, trained styles, locally built models.
DATA_KINDS = ("blobs", "takes", "styles", "models")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor", help="check this machine: torch, device, memory, models, server",
        description="Check Python, torch, the device and its free memory, local models and the server.",
    )
    parser.add_argument("--server", default=None, metavar="URL",
                        help=f"render server to check (default: {DEFAULT_SERVER}, reported but not required)")
    parser.add_argument("--token", default=os.environ.get("UNDERPAINT_TOKEN"), help="the server's token")
    add_data_dir_argument(parser)
    parser.set_defaults(func=run)


def _line(label: str, text: str) -> None:
    print(f"{label:<10} {text}")


def check_torch() -> bool:
    try:
        import torch
    except ImportError as exc:
        _line("torch", f"MISSING ({exc}); install the backend environment (make .venv/.stamp)")
        return False
    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
    _line("torch", f"{torch.__version__} ({cuda})")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            name = torch.cuda.get_device_name(i)
            _line("device", f"cuda:{i} {name}: {free / GIB:.1f} GiB free of {total / GIB:.1f} GiB")
    elif torch.backends.mps.is_available():
        _line("device", "mps (Apple GPU; shares system memory)")
    else:
        _line("device", "cpu (no CUDA or MPS device found: painting will be slow; fine for the tiny test models)")
    return True


def check_memory() -> None:
    import psutil

    memory = psutil.virtual_memory()
    _line("memory", f"{memory.available / GIB:.1f} GiB free of {memory.total / GIB:.1f} GiB")


def check_data_dir(directory: Path) -> bool:
    try:
        with tempfile.NamedTemporaryFile(dir=directory):
            pass
    except OSError as exc:
        _line("data dir", f"{directory} is NOT writable ({exc.strerror})")
        return False
    _line("data dir", f"{directory} (writable)")
    sizes = ", ".join(f"{kind} {folder_bytes(directory / kind) / GIB:.2f} GiB" for kind in DATA_KINDS)
    _line("disk use", f"{sizes}; `underpaint gc` removes old failed takes and unused uploads")
    return True


def folder_bytes(folder: Path) -> int:
    """Bytes of every file below `folder` (0 when it does not exist yet)."""
    return sum(
        (Path(root) / name).stat().st_size for root, _, names in os.walk(folder) for name in names
    )


def check_models(directory: Path) -> None:
    from underpaint.engines.base import EngineError
    from underpaint.server.catalog import model_catalog

    try:
        catalog = model_catalog(directory)
    except EngineError as exc:
        _line("models", f"registry error: {exc}")
        return
    for info in catalog:
        state = "available" if info.available else "NOT available"
        detail = f" — {info.detail}" if info.detail else ""
        _line("model", f"{info.name} ({info.engine}): {state}{detail}")


def check_server(url: str, token: str | None) -> bool:
    from underpaint.client import ServerClient, ServerError

    try:
        with ServerClient(url, token=token, timeout=5.0) as client:
            health = client.health()
    except ServerError as exc:
        _line("server", f"{url} answered {exc.status} {exc.code}: {exc.message}")
        return False
    except Exception as exc:  # connection refused, timeout, not an Underpaint server
        _line("server", f"{url} not reachable ({type(exc).__name__}: {exc}); start it with `underpaint serve`")
        return False
    _line("server", f"{url} reachable: version {health['version']}, device {health['device']}, "
                    f"default model {health['default_model']}")
    return True


def run(args: argparse.Namespace) -> int:
    _line("python", f"{platform.python_version()} ({sys.executable})")
    _line("underpaint", __version__)
    ok = check_torch()
    check_memory()
    directory = data_dir(args.data_dir)
    ok = check_data_dir(directory) and ok
    check_models(directory)
    reachable = check_server(args.server or DEFAULT_SERVER, args.token)
    if args.server is not None:
        ok = ok and reachable
    return 0 if ok else 1
