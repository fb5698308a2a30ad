#!/usr/bin/env python3
"""labs.py: the lab registry, read from every labs/lab-N-<name>/scenario.conf.

  generate DIR   write DIR/labs.mk, DIR/walkthroughs.mk and DIR/stress_labs.c, what
                 the build knows of the labs (the Makefile runs it)
  check          every lab folder complete and agreeing with its modules,
                 and GUIDE.md's lab table current; each problem is one
                 line (exit 1); a lab without a grading catalogue
                 (mutants/) is a note, not a problem
  tables         rewrite the lab table of GUIDE.md (make docs);
                 with --check, only say whether it is current (exit 1 if not)
  list           one line per lab: number, folder, modules, title;
                 --kind service lists the service labs, --kind all both
                 (the stress labs alone by default)

A service lab (kind = service in its manifest) is checked for what it
holds (manifest, handout, expected table, demo script, modules), not for
a workload, walkthrough, unit test or grading catalogue.
"""

import argparse
import sys

from racelab import cli, labs, scenario
from racelab.cli import Failure

PROG = "labs.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   formatter_class=argparse.RawDescriptionHelpFormatter,
                   epilog=__doc__.split("\n\n", 1)[1] +
                   "\nExit status: 0 done, 1 a problem found (check, tables --check), "
                   "2 bad arguments or an unreadable manifest.")
    p.add_argument("action", choices=("generate", "check", "tables", "list"),
                   help="what to do")
    p.add_argument("dir", nargs="?", help="generate: where the files go (build/gen)")
    p.add_argument("--check", action="store_true",
                   help="tables: change nothing, exit 1 when the table is not current")
    p.add_argument("--kind", choices=("stress", "service", "all"), default="stress",
                   help="list: which labs (default: stress)")
    return p


STALE_TABLE = ("GUIDE.md's lab table is not what labs/*/scenario.conf says: "
               "make docs rewrites it")


def guide(all_labs):
    """GUIDE.md's path, its text, and its text with the manifests' lab table."""
    path = scenario.root() / "GUIDE.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise Failure(f"cannot read GUIDE.md: {e.strerror}") from None
    return path, text, labs.docs_with_table(text, all_labs)


def tables(all_labs, check):
    path, text, new = guide(all_labs)
    if new == text:
        return 0
    if check:
        print(f"{PROG}: {STALE_TABLE}", file=sys.stderr)
        return 1
    path.write_text(new, encoding="utf-8")
    print("GUIDE.md: lab table rewritten")
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    if (args.action == "generate") != (args.dir is not None):
        raise Failure("generate takes the folder to write to, and only generate takes one")
    if args.kind != "stress" and args.action != "list":
        raise Failure("--kind is list's option")
    all_labs = labs.every_lab()
    if args.action == "generate":
        labs.generate(args.dir, all_labs)
        return 0
    if args.action == "tables":
        return tables(all_labs, args.check)
    if args.action == "list":
        for lab in all_labs:
            if args.kind != "all" and (lab.kind == scenario.SERVICE) != (args.kind == "service"):
                continue
            print(f"{lab.number}\tlabs/{lab.dir.name}\t{' '.join(lab.modules)}\t"
                  f"{lab.get('title')}")
        return 0
    found = labs.problems(all_labs)
    _, text, new = guide(all_labs)
    if new != text:
        found.append(STALE_TABLE)
    for line in found:
        print(f"{PROG}: {line}", file=sys.stderr)
    for line in labs.notes(all_labs):
        print(f"{PROG}: note: {line}", file=sys.stderr)
    if not found:
        service = [str(lab.number) for lab in all_labs if lab.service]
        print(f"{len(all_labs)} labs" + (f" (service lab{'s' * (len(service) > 1)}: "
                                          f"{', '.join(service)})" if service else "")
              + ", each folder complete and agreeing with its modules; "
              "GUIDE.md's lab table current")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
