#!/usr/bin/env python3
"""answer.py: the reference fix of a lab, after your own attempt (make answer-N).

Prints `diff -u broken/<module>.c fixed/<module>.c` for each of lab N's
modules, then where the handout explains it. The lab's flow is: reproduce
(make lab-N), read the reports, fix your copy (work/lab-N/<module>.c), get
graded (make grade-N), and only then compare with the reference.

With no graded attempt yet (no work/lab-N/grade.json) it says so in one
line and, on a terminal, asks before it shows the answer. Without a
terminal (a script, CI), or with ANSWER=yes in the environment
(make answer-N ANSWER=yes) or --yes, it shows the answer without asking;
ANSWER=no declines without asking. A service lab (racelab/labs.py) is not
graded: its reference fix is shown at once.
"""

import argparse
import difflib
import json
import os
import sys

from racelab import cli, scenario, workcopy
from racelab.cli import Failure

PROG = "answer.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split(": ", 1)[1].strip(),
                   formatter_class=argparse.RawDescriptionHelpFormatter,
                   epilog="Exit status: 0 the answer shown, 1 you declined (nothing shown), "
                          "2 bad arguments or input.")
    p.add_argument("lab", type=cli.positive_int, help="the lab number")
    p.add_argument("--yes", action="store_true",
                   help="show the answer without asking (the same as ANSWER=yes)")
    return p


def answer_env():
    """ANSWER from the environment: 'yes', 'no' or None (unset or empty)."""
    value = os.environ.get("ANSWER", "").strip().lower()
    if not value:
        return None
    if value in ("y", "yes"):
        return "yes"
    if value in ("n", "no"):
        return "no"
    raise Failure(f"ANSWER must be yes or no, not '{os.environ['ANSWER']}'")


def last_grading(lab):
    """(path, passed) of the lab's last grading: passed is True, False or
    None (a JSON we cannot read); None when the lab was never graded."""
    path = workcopy.work_dir(lab) / "grade.json"
    if not path.is_file():
        return None
    try:
        passed = json.loads(path.read_text(encoding="utf-8")).get("passed")
    except (OSError, ValueError, AttributeError):
        passed = None
    return path, passed if isinstance(passed, bool) else None


def confirm(said):
    """Whether to show the answer to a student with no graded attempt:
    ANSWER (or --yes) decides, then the terminal; no terminal means yes."""
    if said is not None:
        return said == "yes"
    if not sys.stdin.isatty():
        return True
    sys.stdout.write("Show the reference fix anyway? [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def where_explained(lab):
    """The handout and the heading that introduces the reference fix
    (the one that names make answer-N), as 'path:line (heading)'."""
    handout = scenario.lab_dir(lab) / "README.md"
    try:
        lines = handout.read_text(encoding="utf-8").splitlines()
    except OSError:
        return scenario.shown(handout)
    for n, line in enumerate(lines, 1):
        if line.startswith("#") and f"make answer-{lab}" in line:
            title = line.lstrip("#").strip().replace("`", "")
            return f"{scenario.shown(handout)}:{n} ({title})"
    return scenario.shown(handout)


def reference_diff(module):
    """`diff -u broken/<module>.c fixed/<module>.c`, as lines."""
    root = scenario.root()
    texts = []
    for side in ("broken", "fixed"):
        path = root / side / f"{module}.c"
        try:
            texts.append(path.read_text(encoding="utf-8").splitlines())
        except OSError as e:
            raise Failure(f"cannot read {side}/{module}.c: {e.strerror}: "
                          "is this a racelab checkout?") from None
    return list(difflib.unified_diff(texts[0], texts[1], f"broken/{module}.c",
                                     f"fixed/{module}.c", lineterm=""))


def main(argv=None):
    args = parser().parse_args(argv)
    lab = args.lab
    service = scenario.is_service(scenario.lab_dir(lab))  # an unknown lab: one line, exit 2
    said = "yes" if args.yes else answer_env()
    modules = workcopy.modules(lab)
    diffs = [(m, reference_diff(m)) for m in modules]  # a missing file fails before asking
    copies = ", ".join(scenario.shown(workcopy.copy_of(lab, m)) for m in modules)

    graded = last_grading(lab)
    if service:
        print(f"lab {lab}: a service lab, not graded: its reference fix.")
    elif graded is None:
        print(f"lab {lab}: no graded attempt yet (no "
              f"{scenario.shown(workcopy.work_dir(lab) / 'grade.json')}): try your fix in "
              f"{copies} and make grade-{lab} first.", flush=True)
        if not confirm(said):
            print(f"lab {lab}: the reference fix is not shown; make answer-{lab} "
                  "shows it when you are ready.")
            return 1
    else:
        path, passed = graded
        state = {True: "PASSED", False: "not passed yet", None: "unreadable"}[passed]
        print(f"lab {lab}: your last grading ({scenario.shown(path)}): {state}.")

    for m, lines in diffs:
        print(f"\n== The reference fix: diff -u broken/{m}.c fixed/{m}.c\n")
        for line in lines:
            print(line)
    print(f"\n== The explanation: {where_explained(lab)}")
    for m in modules:
        if workcopy.copy_of(lab, m).is_file():
            print(f"   Your fix beside it: diff -u broken/{m}.c "
                  f"{scenario.shown(workcopy.copy_of(lab, m))}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
