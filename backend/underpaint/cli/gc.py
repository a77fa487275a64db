"""`underpaint gc`: remove old failed takes and the uploads nothing needs any more.

Done takes are never touched, nor the lineage of any take that is kept, nor
what a queued or running job will read (see `underpaint.takes.housekeeping`).
Safe beside a running server: blobs younger than the grace period are kept,
so a shot being uploaded for a job not yet submitted survives.
"""

from __future__ import annotations

import argparse
import sys

from underpaint.cli import add_data_dir_argument
from underpaint.paths import data_dir
from underpaint.server.retention import MIB, collect_garbage
from underpaint.server.services import open_services


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gc", help="remove old failed takes and unreferenced uploads",
        description="Remove failed and cancelled takes older than --older-than days and every uploaded blob "
        "that no kept take and no queued or running job refers to, and any checkpoint left beside a take that "
        "is no longer running. Done takes are never removed.",
    )
    parser.add_argument("--older-than", type=float, default=7.0, metavar="DAYS",
                        help="remove failed or cancelled takes finished more than DAYS ago (default: 7)")
    parser.add_argument("--grace-hours", type=float, default=24.0, metavar="HOURS",
                        help="keep any blob uploaded in the last HOURS, referenced or not (default: 24)")
    parser.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    add_data_dir_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.older_than < 0 or args.grace_hours < 0:
        print("underpaint gc: --older-than and --grace-hours must be 0 or more", file=sys.stderr)
        return 2
    directory = data_dir(args.data_dir)
    result = collect_garbage(open_services(directory), args.older_than, args.grace_hours, args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for take in result.takes:
        print(f"{verb} take {take}")
    print(f"{verb} {len(result.takes)} takes, {len(result.blobs)} blobs and {len(result.checkpoints)} stale "
          "checkpoints, "
          f"{result.freed_bytes / MIB:.1f} MiB, from {directory}")
    return 0
