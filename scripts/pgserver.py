#!/usr/bin/env python3
"""pgserver.py: a throwaway PostgreSQL server that outlives this command.

  scripts/pgserver.py start DIR      start a server whose files live in DIR;
                                     prints its conninfo once it accepts
                                     connections, and leaves it running
  scripts/pgserver.py conninfo DIR   print the conninfo of DIR's server
  scripts/pgserver.py stop DIR       stop DIR's server and remove DIR

For make targets that start a server, run things against it, and stop it:

  ci=$(scripts/pgserver.py start build/pg) && ...; scripts/pgserver.py stop build/pg

The conninfo is a libpq keyword string ("host=/tmp/rlpg-... port=N
dbname=racelab user=racelab"): a Unix socket, trust authentication, user and
database racelab. As root the server runs as nobody (uid 65534), so DIR must
be in a directory others may enter. Tests use racelab.pgserver.Server, the
same server as a context manager.

Exit 0: done; 2: bad arguments, or the server could not be started, found
or stopped (one line on stderr).
"""

import argparse
import os
import sys

from racelab import cli, pgserver
from racelab.cli import Failure

PROG = "pgserver.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split(": ", 1)[1].strip(),
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    start = sub.add_parser("start", help="start a server in DIR and print its conninfo")
    start.add_argument("dir", metavar="DIR", help="where its files live (new or empty)")
    start.add_argument("--timeout", type=cli.positive_int, default=30, metavar="S",
                       help="seconds to wait for it to accept connections (default 30)")
    start.add_argument("--fast", action="store_true",
                       help="fsync and synchronous_commit off (no durability)")
    for name, what in (("conninfo", "print the conninfo of DIR's server"),
                       ("stop", "stop DIR's server and remove DIR")):
        sp = sub.add_parser(name, help=what)
        sp.add_argument("dir", metavar="DIR", help="the DIR given to start")
    # Subcommands' errors are one line too.
    for sp in sub.choices.values():
        sp.error = p.error
    return p


def start(args):
    if os.path.exists(args.dir):
        if not os.path.isdir(args.dir):
            raise Failure(f"{args.dir} is not a directory")
        if os.listdir(args.dir):
            what = ("holds a server already (stop it first)"
                    if os.path.exists(os.path.join(args.dir, pgserver.STATE)) else "is not empty")
            raise Failure(f"{args.dir} {what}")
    srv = pgserver.Server(timeout_s=args.timeout, fast=args.fast, _root=args.dir)
    srv.start()
    print(srv.conninfo, flush=True)


def conninfo(args):
    srv = pgserver.Server.attach(args.dir)
    if not srv.pid or not pgserver.living(srv.pid):
        raise Failure(f"the server in {args.dir} is not running")
    print(srv.conninfo)


def stop(args):
    pgserver.Server.attach(args.dir).stop()


def main(argv=None):
    args = parser().parse_args(argv)
    {"start": start, "conninfo": conninfo, "stop": stop}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
