#!/usr/bin/env python3
"""twin_diff.py: how much of each `diff -u broken/X.c fixed/X.c` is code.

The diff between a module's broken and fixed twins is the lesson, so it
should be mostly the fix: comments that say the same thing in both twins
are byte-identical and drop out of the diff. For every module with both
twins, this script takes the unified diff (difflib, default context of 3
lines) and sorts its changed lines (the - and + lines, not the headers or
the context) into code lines (anything outside a comment, a trailing
comment included) and the rest (lines only of comment, or blank). It
prints, per module, the changed lines, the code lines and the code's share.
With --check the exit status says whether every share is at least 0.5.
"""

import argparse
import difflib
import sys
from pathlib import Path

from racelab import cli

PROG = "twin_diff.py"
ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.5
CONTEXT = 3


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split(": ", 1)[1].strip(),
                   formatter_class=argparse.RawDescriptionHelpFormatter,
                   epilog="Exit status: 0 printed (with --check: every module meets the "
                          "target), 1 with --check when a module's code share is below "
                          f"{TARGET}, 2 bad arguments or input.")
    p.add_argument("modules", nargs="*", metavar="MODULE",
                   help="module names, e.g. evcache (default: every broken/*.c with a "
                        "fixed twin)")
    p.add_argument("--root", type=Path, default=ROOT,
                   help="the checkout holding broken/ and fixed/ (default: this one)")
    p.add_argument("--check", action="store_true",
                   help=f"exit 1 when a module's code share is below {TARGET}")
    return p


def code_lines(lines):
    """One flag per line: True when the line has C code outside comments.

    Block comments may span lines; strings and character constants are
    skipped so that a "/*" inside one opens no comment.
    """
    flags = []
    in_block = False
    for line in lines:
        code = False
        i, n = 0, len(line)
        while i < n:
            if in_block:
                end = line.find("*/", i)
                if end < 0:
                    break
                in_block = False
                i = end + 2
                continue
            if line.startswith("/*", i):
                in_block = True
                i += 2
                continue
            if line.startswith("//", i):
                break
            c = line[i]
            if c in "\"'":
                code = True
                i += 1
                while i < n and line[i] != c:
                    i += 2 if line[i] == "\\" else 1
                i += 1
                continue
            if not c.isspace():
                code = True
            i += 1
        flags.append(code)
    return flags


def measure(broken, fixed):
    """(changed, code) for the unified diff of two lists of lines."""
    fa, fb = code_lines(broken), code_lines(fixed)
    changed = code = 0
    matcher = difflib.SequenceMatcher(None, broken, fixed, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT):
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                continue
            changed += (i2 - i1) + (j2 - j1)
            code += sum(fa[i1:i2]) + sum(fb[j1:j2])
    return changed, code


def share(changed, code):
    return code / changed if changed else 1.0


def modules(root, names):
    if names:
        return names
    return sorted(p.stem for p in (root / "broken").glob("*.c")
                  if (root / "fixed" / p.name).is_file())


def main(argv=None):
    args = parser().parse_args(argv)
    names = modules(args.root, args.modules)
    rows = []
    for name in names:
        pair = [args.root / side / f"{name}.c" for side in ("broken", "fixed")]
        for path in pair:
            if not path.is_file():
                parser().error(f"{path.relative_to(args.root)}: no such file")
        broken, fixed = (p.read_text().splitlines() for p in pair)
        changed, code = measure(broken, fixed)
        rows.append((name, changed, code, share(changed, code)))
    print(f"{'module':<12} {'changed':>7} {'code':>5} {'share':>6}")
    low = []
    for name, changed, code, s in rows:
        mark = "" if s >= TARGET else "  below target"
        print(f"{name:<12} {changed:>7} {code:>5} {s:>6.2f}{mark}")
        if s < TARGET:
            low.append(name)
    if args.check and low:
        print(f"{PROG}: code is under half of the twin diff of: {', '.join(low)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
