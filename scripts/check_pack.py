#!/usr/bin/env python3
"""check_pack.py: run a course pack's programs and check their rates against its table.

racelab check-pack packs/intro: every program of the pack under every tool
its rows in DIR/expected.tsv name, K trials a cell, judged as report.py
--check judges a lab (racelab/pack.py). The records go to a fresh folder,
which racelab report --results reads.
"""

import sys
import time
from pathlib import Path

from racelab import cells, cli, pack
from racelab import run as prog
from racelab.cli import Failure
from racelab.scenario import shown

PROG = "check_pack.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0 every cell ok, 1 a cell out of band, with tool "
                          "errors or no trials, a pack without a table or a program without a "
                          "row; 2 bad input (a compile error, a table that disagrees with a "
                          "program's header).")
    p.add_argument("pack", metavar="DIR", help="the pack's folder, e.g. packs/intro")
    p.add_argument("--trials", type=cli.positive_int, default=10, metavar="K",
                   help="trials a cell (default: 10)")
    p.add_argument("--valgrind-trials", type=cli.positive_int, default=6, metavar="K",
                   help="trials a Helgrind or DRD cell, which are slower (default: 6)")
    p.add_argument("--timeout", type=cli.positive_int, default=60, metavar="S",
                   help="seconds a trial before it is a hang (default: 60)")
    p.add_argument("--only", metavar="NAMES",
                   help="these programs only, comma-separated (file names without .c)")
    p.add_argument("--tools", metavar="LIST", help="these tools only, comma-separated")
    p.add_argument("--results", metavar="DIR",
                   help="where records go (default: results/pack-NAME-<time>/)")
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    the_pack = pack.Pack(args.pack)
    problems = the_pack.problems()
    for line in problems:
        print(f"{PROG}: check failed: {line}", file=sys.stderr)
    if problems:
        return 1
    only = args.only.split(",") if args.only else None
    tool_names = args.tools.split(",") if args.tools else None
    for name in only or ():
        if name not in the_pack.programs:
            raise Failure(f"--only: no program {name}.c in {shown(the_pack.folder)}")
    if tool_names:
        prog.check_tools(tool_names)
    results = Path(args.results or Path("results") / time.strftime(
        f"pack-{the_pack.folder.name}-%Y%m%dT%H%M%S"))
    say = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    for name, builds in the_pack.cells(only, tool_names):
        by_tool = pack.run_program(the_pack, name, builds, (args.trials, args.valgrind_trials),
                                   args.timeout, say)
        prog.write_records(results, by_tool)
    judged = cells.collect(results, the_pack.table_path, None)
    if only or tool_names:  # the cells left out on purpose are not judged
        judged = [c for c in judged if c.n or c.tool_errors]
    print(cells.markdown(judged))
    print()
    print(cells.summary(judged) + f"; records in {shown(results)}")
    failing = cells.FAILING + ("no data", "no expectation")
    return 1 if any(c.verdict in failing for c in judged) else 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
