"""`underpaint serve`: run the render server (FastAPI on uvicorn)."""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import IO

from underpaint.cli import add_data_dir_argument, add_log_level_argument
from underpaint.cluster.settings import RaySettings
from underpaint.paths import data_dir

TOKEN_ENV = "UNDERPAINT_TOKEN"
LOCK_FILE = "server.lock"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the render server", description="Run the Underpaint render server (HTTP API v1)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)")
    parser.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV),
        help=f"require 'Authorization: Bearer TOKEN' on every request (default: ${TOKEN_ENV}); "
        "needed to bind anything but loopback",
    )
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="also answer requests for this host name (repeatable; e.g. the machine's name on the studio "
        "network). Requests naming any other host are refused, as DNS-rebinding pages send their own",
    )
    parser.add_argument("--model", default=None, help="default model set for jobs that name none")
    parser.add_argument("--max-upload-mb", type=int, default=1024, help="largest accepted upload (default: 1024)")
    parser.add_argument(
        "--retention-days", type=float, default=None, metavar="DAYS",
        help="remove failed and cancelled takes older than DAYS, and uploads nothing refers to, at start and "
        "every 6 hours (default: keep everything; `underpaint gc` does it by hand). Done takes are never removed",
    )
    parser.add_argument(
        "--ray", default=None, metavar="ADDRESS",
        help="paint on the actors of a Ray cluster (install underpaint[ray]): HOST:PORT of its head, `auto` for "
        "the cluster this machine belongs to, or `local` to start one on this machine. The queue, takes and API "
        "stay here; each node paints with the model sets in a data dir at this server's path",
    )
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="with --ray: paint actors to start (default: one per GPU of the cluster, one when it has none; on a "
        "cluster without GPUs the N actors share the cores)",
    )
    add_data_dir_argument(parser)
    add_log_level_argument(parser, "info")
    parser.set_defaults(func=run)


def allowed_hosts(bound: str, extra: list[str]) -> frozenset[str] | None:
    """The host names requests may use: loopback's, the bound address and `--allow-host`'s. A server bound
    to every interface (it has a token) answers any name unless `--allow-host` lists them."""
    from underpaint.api.origin import LOOPBACK_HOSTS

    if bound in ("0.0.0.0", "::") and not extra:
        return None
    return LOOPBACK_HOSTS | {bound, *extra}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """Bind before starting uvicorn, so `--port 0` can print the real port and a busy port fails clearly."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets that say they are TCP, and with
    # Nagle on every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def lock_data_dir(directory: Path) -> IO[str] | None:
    """Hold an exclusive lock on the data dir while serving (None: another server holds it).

    A second server on the same data would mark the first one's running jobs as interrupted at its
    start. The OS drops the lock when the process dies, kill -9 included, so it never goes stale.
    """
    handle = (directory / LOCK_FILE).open("a")
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; serve without the guard
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def ray_settings(args: argparse.Namespace) -> RaySettings | None:
    """--ray and --workers, checked (ValueError names the fix)."""
    if args.ray is None:
        if args.workers is not None:
            raise ValueError("--workers needs --ray (without it, one worker paints per local device)")
        return None
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be 1 or more")
    if importlib.util.find_spec("ray") is None:
        raise ValueError("--ray needs Ray: pip install 'underpaint[ray]' (make .venv/.stamp installs it)") from None
    return RaySettings(args.ray, args.workers)


def run(args: argparse.Namespace) -> int:
    if args.retention_days is not None and args.retention_days < 0:
        print("underpaint serve: --retention-days must be 0 or more", file=sys.stderr)
        return 2
    try:
        ray = ray_settings(args)
    except ValueError as exc:
        print(f"underpaint serve: {exc}", file=sys.stderr)
        return 2
    if not is_loopback(args.host) and not args.token:
        print(
            f"underpaint serve: refusing to bind {args.host} without a token: anyone on the network could use "
            f"this machine's GPU and read your takes. Pass --token SECRET (or set ${TOKEN_ENV}), "
            "or bind 127.0.0.1.",
            file=sys.stderr,
        )
        return 2
    import uvicorn

    from underpaint.api import ServerSettings, create_app

    directory = data_dir(args.data_dir)
    lock = lock_data_dir(directory)
    if lock is None:
        print(f"underpaint serve: another underpaint server is already using {directory}; stop it or pass "
              "another --data-dir", file=sys.stderr)
        return 1
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"underpaint serve: cannot bind {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    workers = None
    if ray is not None:
        from underpaint.cluster.workers import RayWorkers
        from underpaint.engines.base import EngineError

        try:
            workers = RayWorkers.connect(ray, directory)
        except EngineError as exc:
            print(f"underpaint serve: {exc}", file=sys.stderr)
            return 1
        print(f"Ray cluster {workers.address}: {len(workers.names)} paint workers", file=sys.stderr, flush=True)
    settings = ServerSettings(
        data_dir=directory, token=args.token, default_model=args.model, max_upload_bytes=args.max_upload_mb << 20,
        allowed_hosts=allowed_hosts(args.host, args.allow_host), retention_days=args.retention_days,
        workers=workers,
    )
    shown = f"[{host}]" if ":" in host else host
    print(f"Underpaint server on http://{shown}:{port}  (data: {directory})", flush=True)
    access = "info" if args.log_level == "debug" else "warning"  # uvicorn's request lines only when debugging
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level=access, timeout_graceful_shutdown=5))
    server.run(sockets=[sock])
    lock.close()
    return 0
