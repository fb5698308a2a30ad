"""racelab's tab-separated tables (the labs' expected tables, lab 11's,
expected/explore.tsv): one reader for the file and its header, so each
table's own code checks only its rows, and every table's errors name the
file and line the same way."""

from pathlib import Path

from .cli import Failure
from .scenario import shown


def rows(path, header, old=None):
    """[(where, fields)] of the table at `path`, where is "file:line" for
    an error about that row; blank lines are skipped. Failure, naming the
    file, when it cannot be read or its first line is not `header`; `old`
    maps the header of an older form of the table to what to say of it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise Failure(f"cannot read {shown(path)}: {getattr(e, 'strerror', None) or e}") from None
    first = tuple(lines[0].split("\t")) if lines else ()
    if first in (old or {}):
        raise Failure(f"{shown(path)}:1: {old[first]}")
    if first != tuple(header):
        raise Failure(f"{shown(path)}:1: the header must be: {' '.join(header)} (tab-separated)")
    return [(f"{shown(path)}:{number}", line.split("\t"))
            for number, line in enumerate(lines[1:], 2) if line.strip()]
