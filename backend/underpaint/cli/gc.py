"""`underpaint gc`: remove old failed takes and the uploads nothing needs any more.

Done takes are never touched, nor the lineage of any take that is kept, nor
what a queued or running job will read (see `underpaint.takes.housekeeping`).
Safe beside a running server: blobs younger than the grace period are kept,
so a shot being uploaded for a job not yet submitted survives.
"""

from __future__ import annotations

import argparse
import sys

from underpaint.blobs import BlobStore
from underpaint.cli import add_data_dir_argument
from underpaint.database import Database
from underpaint.jobs.store import JobStore
from underpaint.paths import data_dir
from underpaint.takes.housekeeping import collect, hashes_in
from underpaint.takes.store import DB_FILE, TAKES_DIR, TakeStore

MIB = 1 << 20


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gc", help="remove old failed takes and unreferenced uploads",
        description="Remove failed and cancelled takes older than --older-than days and every uploaded blob "
        "that no kept take and no queued or running job refers to. Done takes are never removed.",
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
    db = Database(directory / DB_FILE)
    jobs = JobStore(db)
    references: set[str] = set()
    for job in jobs.unfinished():
        references |= hashes_in(job.params) | ({job.shot} if job.shot else set())
    result = collect(
        BlobStore(directory / "blobs"), TakeStore(db, directory / TAKES_DIR), references,
        older_than_days=args.older_than, grace_hours=args.grace_hours, dry_run=args.dry_run,
    )
    verb = "would remove" if args.dry_run else "removed"
    for take in result.takes:
        print(f"{verb} take {take}")
    print(f"{verb} {len(result.takes)} takes and {len(result.blobs)} blobs, "
          f"{result.freed_bytes / MIB:.1f} MiB, from {directory}")
    return 0
