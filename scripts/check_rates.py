#!/usr/bin/env python3
"""check_rates.py: measure every cell of a lab and check it against expected/.

A cell is one (build, tool, configuration): the broken and the fixed build,
each under the stress driver, ThreadSanitizer (clang and gcc) and Helgrind,
plus the configurations a lab lists in its scenario file: for the stress
driver only (`extra_stress = KEY=VALUE ...`) or for every tool
(`extra_configs = KEY=VALUE ...`). Each cell runs K trials through
trials.py into a fresh results folder, so the check judges this run only;
then report.py compares every measured interval with its expected band and
fails only when the two cannot meet.

Profiles: quick (10 trials a cell, each lab's own configuration only:
what `make test` runs) and full (50 trials a cell, every configuration:
for re-measuring expected/ on new hardware, with --write-expected NEWDIR
to write tables for review, never over expected/). --all-configs adds the
extra configurations to a quick run.
"""

import subprocess
import sys
import time
from pathlib import Path

from racelab import cli, scenario
from racelab.cli import Failure

PROG = "check_rates.py"
PROFILES = {"quick": 10, "full": 50}
TOOLS = ("stress", "tsan-clang", "tsan-gcc", "helgrind")
HERE = Path(__file__).resolve().parent


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0 every cell within its band, 1 a cell out of its band "
                          "(or with tool errors, or with no data), 2 bad arguments.")
    p.add_argument("--lab", type=cli.positive_int, action="append", metavar="N",
                   help="a lab to check (repeatable; default: every lab with a table in "
                        "expected/, or with --write-expected every lab in labs/)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                   help="quick: 10 trials a cell; full: 50 (default: quick)")
    p.add_argument("--trials", type=cli.positive_int, metavar="K",
                   help="trials a cell, instead of the profile's")
    p.add_argument("--tool", choices=TOOLS, action="append",
                   help="only this tool (repeatable; default: all)")
    p.add_argument("--results", metavar="DIR",
                   help="where the records go (default: results/check-<time>; must be new "
                        "or empty)")
    p.add_argument("--all-configs", action="store_true",
                   help="also the configurations a scenario lists (extra_stress, "
                        "extra_configs); the full profile always measures them")
    p.add_argument("--write-expected", metavar="NEWDIR",
                   help="after measuring, write expected tables to NEWDIR for review "
                        "instead of checking")
    return p


def cells(lab, extra=True):
    """[(build, tool, [extra trials.py args])] for one lab: every tool on
    both builds in the scenario's own configuration, and with extra=True
    also the configurations the scenario lists."""
    scen = scenario.load(lab)
    out = [(build, tool, []) for tool in TOOLS for build in ("broken", "fixed")]
    if not extra:
        return out
    for kv in scen.words("extra_stress") if scen.get("extra_stress") else []:
        out += [(build, "stress", ["--set", kv]) for build in ("broken", "fixed")]
    for kv in scen.words("extra_configs") if scen.get("extra_configs") else []:
        out += [(build, tool, ["--set", kv]) for tool in TOOLS for build in ("broken", "fixed")]
    return out


def labs_with_tables():
    """The labs that expected/ has a lab-N.tsv table for."""
    labs = []
    for path in sorted((scenario.root() / "expected").glob("lab-*.tsv")):
        number = path.stem.removeprefix("lab-")
        if not number.isdigit():
            raise Failure(f"{scenario.shown(path)}: not a table name (expected/lab-N.tsv, "
                          "N a lab number)")
        labs.append(int(number))
    return sorted(labs)


def main(argv=None):
    args = parser().parse_args(argv)
    if args.lab:
        labs = args.lab
    elif args.write_expected:  # measuring: a new lab has no table yet
        labs = sorted(scenario.known_labs())
        if not labs:
            raise Failure("no lab to measure: labs/ has no lab-N-<name>/ directory")
    else:
        labs = labs_with_tables()
        if not labs:
            raise Failure("no lab to check: expected/ has no lab-N.tsv table")
    trials = args.trials or PROFILES[args.profile]
    results = Path(args.results or scenario.root() / "results" /
                   time.strftime("check-%Y%m%dT%H%M%SZ", time.gmtime()))
    if results.exists() and not results.is_dir():
        raise Failure(f"--results {scenario.shown(results)} is a file, not a directory")
    if results.exists() and any(results.iterdir()):
        raise Failure(f"{scenario.shown(results)} is not empty: the check must judge one run")
    every = args.all_configs or args.profile == "full"
    plan = [(lab, *cell) for lab in labs for cell in cells(lab, extra=every)
            if not args.tool or cell[1] in args.tool]
    if args.write_expected:
        newdir = Path(args.write_expected)
        if newdir.resolve() == (scenario.root() / "expected").resolve():
            raise Failure("--write-expected must not be expected/ itself: write, review, then copy")
        if newdir.exists() and not newdir.is_dir():
            raise Failure(f"--write-expected {scenario.shown(newdir)} is a file, not a directory")
        # report.py refuses too, but only after the whole measurement has run.
        for lab in sorted({lab for lab, *_ in plan}):
            table = newdir / f"lab-{lab}.tsv"
            if table.exists():
                raise Failure(f"{scenario.shown(table)} exists: write to a new directory "
                              "and compare")

    started = time.monotonic()
    for i, (lab, build, tool, extra) in enumerate(plan, 1):
        spent = time.monotonic() - started
        eta = f", about {spent / (i - 1) * (len(plan) - i + 1):.0f} s left" if i > 1 else ""
        what = " ".join([f"lab {lab}", build, tool] + extra[1::2])
        print(f"[{i}/{len(plan)}] {what}: {trials} trials{eta}", file=sys.stderr, flush=True)
        cmd = [sys.executable, str(HERE / "trials.py"), "--lab", str(lab), "--build", build,
               "--tool", tool, "--trials", str(trials), "--results", str(results), "--quiet",
               *extra]
        rc = subprocess.run(cmd).returncode
        if rc == 2:
            raise Failure(f"trials.py could not run {what} (see above)")
        if rc not in (0, 1):  # 1: some tool errors, which the report counts
            raise Failure(f"trials.py stopped with exit {rc} on {what}")

    report = [sys.executable, str(HERE / "report.py"), "--results", str(results)]
    if args.write_expected:
        return subprocess.run(report + ["--write-expected", args.write_expected]).returncode
    for lab in labs:
        report += ["--lab", str(lab)] if len(labs) == 1 else []
    print(f"records: {scenario.shown(results)} ({time.monotonic() - started:.0f} s)",
          file=sys.stderr)
    # Every expected cell needs data, unless this run left some out on
    # purpose (a quick run, --tool): then only what was measured is shown.
    partial = not every or args.tool
    return subprocess.run(report + ["--check"] + (["--measured-only"] if partial else
                                                  ["--require-data"])).returncode


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
