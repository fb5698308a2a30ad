#!/usr/bin/env python3
"""run_program.py: compile a C program and run it K times under each race detector.

racelab run: the program's own main(), unmodified. Per tool it prints the
symptom rate (non-zero exit, signal, hang), the detection rate by finding
kind with 95% Wilson intervals, each distinct finding with both sites and
the number of trials it appeared in, and the tool's cost against the
native run. racelab/run.py says how trials are judged and where the race
site comes from.
"""

import shlex
import sys

from racelab import cli
from racelab import run as prog
from racelab.cli import Failure

PROG = "run_program.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   usage=f"{PROG} [options] SOURCE.c... [-- ARGS]",
                   epilog="The race site: a 'Data race pair: VAR@LINE:COL:W vs. VAR@LINE:COL:R' "
                          "or 'Lock-order pair: ...' or 'Data race pair: none' line in a "
                          "source (DataRaceBench's header), or --race-site. Exit status: 0 "
                          "done, 1 an --expect missed or a trial was a tool error, 2 bad "
                          "input (a missing file, a compile error, an unknown tool).")
    p.add_argument("sources", nargs="+", metavar="SOURCE.c", help="the program's C sources")
    p.add_argument("--tools", default=",".join(prog.TOOL_NAMES), metavar="LIST",
                   help=f"comma-separated, from {','.join(prog.TOOL_NAMES)} (default: all); "
                        f"the native run is always made, as the cost's baseline")
    p.add_argument("--trials", type=cli.positive_int, default=10, metavar="K",
                   help="trials per tool (default: 10)")
    p.add_argument("--timeout", type=cli.positive_int, default=60, metavar="S",
                   help="seconds per trial before it is killed and counted a hang (default: 60)")
    p.add_argument("--cflags", default="", metavar="FLAGS",
                   help="more compiler flags, e.g. '-DN=1000 -std=c11'")
    p.add_argument("--ldflags", default="", metavar="FLAGS", help="more linker flags, e.g. -lm")
    p.add_argument("--race-site", metavar="FILE:FUNCTION[,FUNCTION]",
                   help="where a finding must be to count as a detection, or 'none' for a "
                        "race-free program (default: the source's header, else none judged)")
    p.add_argument("--expect", type=prog.parse_expect, metavar="WHAT[:LOW-HIGH]",
                   help="race, lock-order, none or a finding kind, comma-separated, each with "
                        "an optional band (default 0.8-1; none is 0-0): exit 1 when a "
                        "detector's 95%% interval misses it")
    p.add_argument("--name", metavar="NAME",
                   help="the program's name in records (default: the first source's stem)")
    p.add_argument("--out", metavar="DIR",
                   help="append the trial records to DIR/<name>-<build>-<tool>-<config>.jsonl "
                        "(racelab report --results DIR reads them)")
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    return p


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args_at = argv.index("--") if "--" in argv else len(argv)
    args = parser().parse_args(argv[:args_at])
    try:
        cflags, ldflags = shlex.split(args.cflags), shlex.split(args.ldflags)
    except ValueError as e:
        raise Failure(f"--cflags or --ldflags: {e}") from None
    program = prog.Program(args.sources, argv[args_at + 1:], args.name, cflags, ldflags)
    chosen = prog.check_tools([t.strip() for t in args.tools.split(",") if t.strip()])
    decl = prog.declared(program, args.race_site)
    if args.out and decl.build is None:
        raise Failure("--out needs the program's race declared (a 'Data race pair:' line, "
                      "or --race-site FILE:FUNCTION or none): records are judged by it")
    print(f"{program.name}: race site "
          + (f"{decl.site.race_file}: {', '.join(sorted(decl.site.race_functions))} "
             f"(from {decl.source})" if decl.site else
             f"none, race-free (from {decl.source})" if decl.build else
             "not declared: findings listed, none judged"))
    return prog.measure(program, chosen, decl, args)


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
