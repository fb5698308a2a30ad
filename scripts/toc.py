#!/usr/bin/env python3
"""toc.py: a Markdown file's table of contents, written from its headings.

The list goes between the lines `<!-- toc -->` and `<!-- /toc -->` of the
file (GUIDE.md by default), one link per heading of levels 2 and 3 (the
anchors GitHub and most renderers give them), nested by level; headings
inside fenced code blocks are not headings. With --check nothing is
written: the exit status says whether the list agrees with the headings,
so a heading added, renamed or moved without `make toc` fails the tests.
A link in the file to one of its own anchors (`[text](#anchor)`) must
name a heading of the file (any level), so moving or renaming a section
cannot leave a link behind; such a link is reported in both modes.
"""

import argparse
import re
import sys
from pathlib import Path

from racelab import cli, scenario
from racelab.cli import Failure

PROG = "toc.py"
START = "<!-- toc -->"
END = "<!-- /toc -->"
DEPTH = 3


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split(": ", 1)[1].strip(),
                   formatter_class=argparse.RawDescriptionHelpFormatter,
                   epilog="Exit status: 0 written (or, with --check, up to date), 1 with "
                          "--check when a list disagrees with its file's headings, or in "
                          "either mode when a link names an anchor no heading gives, 2 bad "
                          "arguments or input.")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="Markdown files with the two markers (default: GUIDE.md at the "
                        "top of the checkout)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a list is not the one its headings give")
    return p


def outside_fences(lines):
    """(line number, line) of the lines outside fenced code (``` or ~~~,
    closed by a fence of the same character at least as long)."""
    fence = None
    for number, line in enumerate(lines, 1):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


def headings(text):
    """[(level, title)] of the ATX headings (`## Title`) outside fenced code."""
    out = []
    for _, line in outside_fences(text.splitlines()):
        m = re.match(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$", line)
        if m:
            out.append((len(m.group(1)), m.group(2).strip()))
    return out


LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")


def slug(title):
    """The anchor GitHub gives a heading: its text (link targets and
    formatting dropped) in lower case, punctuation removed, spaces as
    hyphens."""
    text = LINK.sub(r"\1", title)
    text = re.sub(r"<[^>]+>", "", text).lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " _-")
    return text.replace(" ", "-")


def toc(text, depth=DEPTH):
    """The list's lines, from the headings of levels 2 to depth."""
    seen, lines = {}, []
    for level, title in headings(text):
        anchor = slug(title)
        n = seen.get(anchor, 0)
        seen[anchor] = n + 1
        if n:
            anchor = f"{anchor}-{n}"
        if 2 <= level <= depth:
            shown = LINK.sub(lambda m: m.group(1), title)  # no link inside a link
            lines.append(f"{'  ' * (level - 2)}- [{shown}](#{anchor})")
    return lines


def anchors(text):
    """Every anchor the file's headings give, at any level."""
    seen, out = {}, set()
    for _, title in headings(text):
        anchor = slug(title)
        n = seen.get(anchor, 0)
        seen[anchor] = n + 1
        out.add(f"{anchor}-{n}" if n else anchor)
    return out


def dead_links(text):
    """[(line number, anchor)] of the links to #anchor, outside fenced
    code and outside the list (a stale list is reported as such), that no
    heading of the text gives."""
    have, out, listing = anchors(text), [], False
    for number, line in outside_fences(text.splitlines()):
        if line.strip() in (START, END):
            listing = line.strip() == START
            continue
        if not listing:
            out += [(number, a) for a in re.findall(r"\]\(#([^)\s]+)\)", line) if a not in have]
    return out


def rewrite(text, name):
    """The text with its list between the markers rewritten."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() == START]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise Failure(f"{name}: needs one '{START}' line and, after it, one '{END}' line")
    new = lines[:starts[0] + 1] + [""] + toc(text) + [""] + lines[ends[0]:]
    return "\n".join(new)


def main(argv=None):
    args = parser().parse_args(argv)
    files = [Path(f) for f in args.files] or [scenario.root() / "GUIDE.md"]
    stale, dead = [], []
    for path in files:
        name = scenario.shown(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise Failure(f"cannot read {name}: {e.strerror or e}") from None
        new = rewrite(text, name)
        for number, anchor in dead_links(text if args.check else new):
            dead.append(f"{PROG}: {name}:{number}: a link to #{anchor}, which no heading "
                        f"gives (a section moved or renamed?)")
        if new == text:
            continue
        if args.check:
            stale.append(name)
            continue
        try:
            path.write_text(new, encoding="utf-8")
        except OSError as e:
            raise Failure(f"cannot write {name}: {e.strerror or e}") from None
        print(f"wrote the table of contents of {name}")
    for name in stale:
        print(f"{PROG}: {name}: the table of contents disagrees with the headings: "
              f"run make toc", file=sys.stderr)
    for line in dead:
        print(line, file=sys.stderr)
    return 1 if stale or dead else 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
