#!/usr/bin/env python3
"""workcopy.py: the student's working copy of a lab (make start-N, make reset-N).

  start N   copy lab N's broken module(s) to work/lab-N/ (an existing copy is kept)
  reset N   put the broken module back; a copy with changes is replaced only
            after you say yes, and the old one is kept as <module>.c.bak
"""

import sys

from racelab import cli, scenario, workcopy
from racelab.cli import Failure

PROG = "workcopy.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0 done, 1 a reset you declined (nothing changed), "
                          "2 bad arguments.")
    p.add_argument("action", choices=("start", "reset"), help="start or reset")
    p.add_argument("lab", type=cli.positive_int, help="the lab number")
    p.add_argument("--yes", action="store_true",
                   help="reset without asking (the old copy is still kept as .bak)")
    return p


def next_steps(lab):
    for m in workcopy.modules(lab):
        print(f"  Edit {scenario.shown(workcopy.copy_of(lab, m))} until it is safe; "
              f"diff -u broken/{m}.c {scenario.shown(workcopy.copy_of(lab, m))} is your fix.")
    print(f"  Then: make grade-{lab}   (HONEST, SAFE, FAST; GUIDE.md says how it grades)")
    print(f"  After your graded attempt: make answer-{lab}   (the reference fix, to compare)")


def ask(lab):
    """confirm() for workcopy.reset: asks on the terminal; without one
    (a script, CI) the answer is no, said in one line."""
    def confirm(module, n):
        path = scenario.shown(workcopy.copy_of(lab, module))
        if not sys.stdin.isatty():
            raise Failure(f"{path} has {n} changed line{'s' if n != 1 else ''} and there is no "
                          f"terminal to ask: run make reset-{lab} in one, or "
                          f"scripts/workcopy.py reset {lab} --yes")
        sys.stdout.write(f"{path} has {n} line{'s' if n != 1 else ''} changed from "
                         f"broken/{module}.c. Throw that work away and start again? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        return answer in ("y", "yes")
    return confirm


def main(argv=None):
    args = parser().parse_args(argv)
    scenario.stress_lab_dir(args.lab)  # an unknown or a service lab is one line, exit 2
    if args.action == "start":
        for m, made in workcopy.start(args.lab):
            state = "made" if made else "already there, kept as it is"
            print(f"lab {args.lab}: your working copy {workcopy.describe(args.lab, m)}: {state}.")
        next_steps(args.lab)
        return 0
    confirm = (lambda m, n: True) if args.yes else ask(args.lab)
    declined = False
    for m, what in workcopy.reset(args.lab, confirm):
        path = scenario.shown(workcopy.copy_of(args.lab, m))
        if what == "made":
            print(f"lab {args.lab}: {path} made from broken/{m}.c.")
        elif what == "unchanged":
            print(f"lab {args.lab}: {path} is still the broken module: nothing to throw away.")
        elif what == "reset":
            print(f"lab {args.lab}: {path} is the broken module again; your old copy is "
                  f"{path}.bak.")
        else:
            print(f"lab {args.lab}: {path} kept as it is.")
            declined = True
    return 1 if declined else 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
