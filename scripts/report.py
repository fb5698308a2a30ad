#!/usr/bin/env python3
"""report.py: measured rates per lab, build, tool and config, against the expected tables.

Reads only trial records (*.jsonl anywhere under results/) and expected tables
(labs/lab-N-<name>/expected.tsv), so it can be rerun on old results or on results from
another machine. A cell is ok when its Wilson interval meets the expected
band (ARCHITECTURE.md, principle 3). The 95% interval is shown; the verdict uses
the wider 99.99% interval (stats.Z_CHECK), because a check that judges
dozens of cells on every `make test` must not fail a correct build on an
unlucky run (expected/README.md has the calculation).

With --check, a lab measured in the results but with no row in any expected
table fails the check (one line, exit 1): a lab nobody wrote expectations
for has nothing its rates could be out of, which must not read as a pass.
"""

import sys
import textwrap
from collections import defaultdict
from pathlib import Path

from racelab import (cli, cost, expected, export, htmlreport, measurenote, records, scenario,
                     shards, stats, tools)
from racelab.cells import FAILING, ONE_CPU, collect, markdown, read_all, summary
from racelab.cli import Failure

PROG = "report.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0 ok, 1 with --check when a cell with an expectation "
                          "is OUT or has tool errors, 2 bad arguments or bad input.")
    p.add_argument("--results", action="append", metavar="DIR",
                   help="trial records, *.jsonl at any depth (default: results); repeat "
                        "to merge folders, e.g. the N shards of check_rates.py --shard: "
                        "with --check, a missing shard or a shard's cell without trials "
                        "fails")
    p.add_argument("--expected", default="labs", metavar="DIR",
                   help="expected tables, DIR/lab-N-<name>/expected.tsv (default: labs)")
    p.add_argument("--lab", type=cli.positive_int, metavar="N", help="only this lab")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when a cell with an expectation is OUT or has tool errors")
    p.add_argument("--require-data", action="store_true",
                   help="with --check: a cell with an expectation but no trials also "
                        "fails (a check run that forgot a cell must not pass)")
    p.add_argument("--part", action="store_true",
                   help="the folders are some of a sharded run's shards (check_rates.py "
                        "--shard judging its own): with --check, the other shards' "
                        "absence is no failure")
    p.add_argument("--measured-only", action="store_true",
                   help="leave out the cells that have an expectation but no trials "
                        "(a run that measured some configurations on purpose)")
    p.add_argument("--one-cpu", action="store_true",
                   help="the records were measured where threads cannot run at once (one "
                        "CPU): a cell whose band holds only on two CPUs is shown as 'needs "
                        "2 CPUs here', measured or not, and fails neither --check nor "
                        "--require-data (make check-rates on one CPU passes this)")
    p.add_argument("--format", choices=("markdown", "tsv"), default="markdown",
                   help="markdown table (default) or TSV with raw numbers; with tsv "
                        "the summary line goes to stderr")
    p.add_argument("--html", metavar="DIR",
                   help="also write DIR/report.html: a matrix of the measured cells "
                        "coloured by rate, a chart of the rates per lab drawn by gnuplot "
                        "(DIR/report-charts/), the table without its no-data rows, the "
                        "cost table")
    p.add_argument("--csv", metavar="FILE",
                   help="also write every trial record as CSV, one row per trial, nested "
                        "fields flattened (exit.code, invariants.lost); - for stdout")
    p.add_argument("--no-cost", action="store_true",
                   help="leave out the cost table (slowdown and memory per tool)")
    p.add_argument("--write-expected", metavar="NEWDIR",
                   help="write expected tables (NEWDIR/lab-N-<name>/expected.tsv; "
                        "programs' rows, racelab run's, in NEWDIR/expected.tsv, or in "
                        "NEWDIR itself when it ends in .tsv) from the measured rates for "
                        "review, instead of reporting")
    return p


def labs_without_table(cells, expected_dir, lab):
    """The labs with measured cells (or the --lab asked for) that no expected
    table has a row for."""
    have = set(expected.labs(expected.read_dir(expected_dir)))
    measured = {c.lab for c in cells if c.n or c.tool_errors}
    if lab is not None:
        measured.add(lab)
    return sorted(measured - have, key=records.lab_key)


def tsv(cells):
    head = ("lab", "build", "tool", "config", "metric", "successes", "n", "rate",
            "ci_low", "ci_high", "check_low", "check_high", "band_low", "band_high",
            "tool_errors", "verdict")
    lines = ["\t".join(head)]
    for c in cells:
        ci = c.interval or ("", "")
        check = c.check_interval or ("", "")
        band = [f"{x:.2f}" for x in c.expected["band"]] if c.expected else ("", "")
        rate = "" if c.rate is None else f"{c.rate:.4f}"
        fields = (c.lab, c.build, c.tool, c.config, c.metric, c.successes, c.n, rate,
                  *(f"{x:.4f}" if x != "" else "" for x in (*ci, *check)),
                  *band, c.tool_errors, c.verdict)
        lines.append("\t".join(map(str, fields)))
    return "\n".join(lines)


def table_targets(labs, newdir):
    """{lab: the table file --write-expected NEWDIR writes its rows to}: a
    lab's NEWDIR/lab-N-<name>/expected.tsv; every program's (racelab run's
    records) one table, a course pack's: NEWDIR itself when it ends in .tsv,
    else NEWDIR/expected.tsv."""
    one_file = newdir.suffix == ".tsv"
    if one_file and any(isinstance(lab, int) for lab in labs):
        raise Failure(f"--write-expected {scenario.shown(newdir)}: a lab's table goes in a "
                      f"folder (NEWDIR/lab-N-<name>/{expected.TABLE}); a .tsv file takes "
                      f"programs' rows alone")
    programs = newdir if one_file else newdir / expected.TABLE
    return {lab: expected.table_path(lab, newdir) if isinstance(lab, int) else programs
            for lab in labs}


def expected_row(cell, recs):
    """A measured cell as a row of a new table: a fixed build's band is 0-0
    by design, a broken build's the rate's interval rounded outward (or
    0-0 again, where its old row was 0-0 and it measured 0); its
    note says when and how the trials `recs` were measured (racelab.
    measurenote), keeping what the old row's note says that code reads."""
    if cell.build == "fixed":
        low, high = 0.0, 0.0
    elif cell.successes == 0 and (cell.expected or {}).get("band") == (0, 0):
        # A broken build's 0 by design (lab 3's detectors: no data race to
        # see) stays 0-0 while it measures 0: one report there is news.
        low, high = 0.0, 0.0
    else:
        low, high = stats.round_outward(*cell.interval)
    note = measurenote.note(cell, recs, (cell.expected or {}).get("note", ""))
    return {"lab": cell.lab, "build": cell.build, "tool": cell.tool, "config": cell.config,
            "metric": cell.metric, "band_low": f"{low:.2f}", "band_high": f"{high:.2f}",
            "successes": cell.successes, "trials": cell.n, "note": note}


def write_expected(cells, newdir, recs):
    """Expected tables from the measured cells and their records `recs`:
    one file per lab, one for all the programs (table_targets)."""
    newdir = Path(newdir)
    recs_of = defaultdict(list)
    for r in recs:
        recs_of[(r["lab"], r["build"], r["tool"], r["config"])].append(r)
    by_lab = defaultdict(list)
    for c in cells:
        if c.n and c.build in ("broken", "fixed"):  # a student's build has no table
            by_lab[c.lab].append(c)
    if not by_lab:
        raise Failure("no measured cells to write expectations from")
    targets = table_targets(by_lab, newdir)
    for path in set(targets.values()):
        if path.exists():
            raise Failure(f"{scenario.shown(path)} exists: write to a new directory and compare")
    if newdir.suffix != ".tsv" and newdir.exists() and not newdir.is_dir():
        raise Failure(f"{newdir} is not a directory")
    tables = {}
    for lab, lab_cells in sorted(by_lab.items(), key=lambda item: records.lab_key(item[0])):
        tables.setdefault(targets[lab], []).extend(
            expected_row(c, recs_of[c.key]) for c in lab_cells)
    for path, rows in tables.items():
        lab = rows[0]["lab"]
        path.parent.mkdir(parents=True, exist_ok=True)
        expected.write(path, rows)
        over = (scenario.shown(expected.table_path(lab)) if isinstance(lab, int)
                else f"the pack's {expected.TABLE}")
        print(f"wrote {scenario.shown(path)} ({len(rows)} rows): review it, "
              f"then copy it over {over}")
    return 0


def extras(args, cells, recs, cost_rows):
    """The files besides the terminal report: --html, then --csv (which
    may go into the folder --html made)."""
    if args.html:
        # The page's table leaves out the cells nobody measured here; its
        # matrix shows only measured cells (racelab.htmlreport).
        table = markdown([c for c in cells if c.verdict != "no data"])
        page = htmlreport.write(args.html, cells=cells, table_markdown=table,
                                summary=summary(cells),
                                cost_markdown=cost.markdown(cost_rows) if cost_rows else "",
                                cost_footnote=cost.FOOTNOTE,
                                source=", ".join(map(scenario.shown, args.results)),
                                n_records=len(recs))
        print(f"wrote {scenario.shown(page)}", file=sys.stderr)
    if args.csv == "-":
        export.write(sys.stdout, recs)
    elif args.csv:
        try:
            with open(args.csv, "w", encoding="utf-8", newline="") as out:
                n = export.write(out, recs)
        except OSError as e:
            raise Failure(f"cannot write {args.csv}: {e.strerror or e}") from None
        print(f"wrote {scenario.shown(args.csv)} ({n} trials)", file=sys.stderr)


def whole(folders, recs, lab, part=False):
    """Whether the shards among the folders (check_rates.py --shard's
    shard.json files) make one whole run: every shard of the count there,
    once, each with trials of every cell it was given (with part, only
    the latter). Says what is missing on stderr. No shard file: nothing
    to check."""
    measured = {(r["lab"], r["build"], r["tool"], r["config"]) for r in recs}
    problems = shards.complete(shards.read(folders), measured, lab, part)
    for problem in problems:
        print(f"{PROG}: check failed: {problem}", file=sys.stderr)
    return not problems


def measured(cells):
    """The cells measured, plus, on one CPU (--one-cpu), the cells left out
    because they need two: those whose lab was measured under their tool
    and in their configuration, in other cells (check_rates.py skips them
    from a plan of every tool in every configuration)."""
    done = [c for c in cells if c.n or c.tool_errors]
    tools_of = {(c.lab, c.tool) for c in done}
    configs_of = {(c.lab, c.config) for c in done}
    return [c for c in cells if c.n or c.tool_errors or (
        c.verdict == ONE_CPU and (c.lab, c.tool) in tools_of and (c.lab, c.config) in configs_of)]


def main(argv=None):
    args = parser().parse_args(argv)
    args.results = args.results or ["results"]
    if args.lab is not None:
        scenario.stress_lab_dir(args.lab)  # Failure for an unknown or a service lab
    if args.write_expected and (args.html or args.csv):
        raise Failure("--html and --csv go with a report, not with --write-expected")
    cells = collect(args.results, args.expected, args.lab, one_cpu=args.one_cpu)
    # The native runs of a detector's workload are the cost table's
    # baselines, not cells of the matrix (racelab.cost).
    cells = [c for c in cells if not cost.is_baseline(c.config)]
    if args.measured_only:
        cells = measured(cells)
    recs = [r for r in read_all(args.results) if args.lab is None or r["lab"] == args.lab]
    if args.write_expected:
        # A table from some shards only would lack their cells' rows.
        if not whole(args.results, recs, args.lab):
            return 1
        return write_expected(cells, args.write_expected, recs)
    cost_rows = [] if args.no_cost else cost.table(recs)
    if args.format == "tsv":
        print(tsv(cells))
        print(summary(cells), file=sys.stderr)
    else:
        print(markdown(cells))
        print()
        if cost_rows:
            print(f"Cost per tool (slowdown against the native run of the same work; "
                  f"memory):\n\n{cost.markdown(cost_rows)}\n\n{textwrap.fill(cost.FOOTNOTE, 78)}\n")
        print(summary(cells))
    extras(args, cells, recs, cost_rows)
    if args.check:
        missing = labs_without_table(cells, args.expected, args.lab)
        programs = [m for m in missing if isinstance(m, str)]  # racelab run's
        missing = [m for m in missing if isinstance(m, int)]
        if missing:
            names = ", ".join(expected.table_name(n) for n in missing)
            print(f"{PROG}: check failed: no expected table for lab "
                  f"{', '.join(map(str, missing))} ({names} in {scenario.shown(args.expected)}"
                  f"): its rates cannot be checked", file=sys.stderr)
        if programs:
            print(f"{PROG}: check failed: no expected row for program "
                  f"{', '.join(programs)} in {scenario.shown(args.expected)}: its rates "
                  f"cannot be checked", file=sys.stderr)
        if missing or programs:
            return 1
    if args.check and not whole(args.results, recs, args.lab, args.part):
        return 1
    failing = FAILING + (("no data",) if args.require_data else ())
    if args.check and any(c.verdict in failing and (c.expected or c.verdict != "no data")
                          for c in cells):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
