"""Is a finding at the lab's declared race site, and at which race point?

A detection counts only when the tool points at the race the lab is about
(ARCHITECTURE.md, principle 2). The declared site is a file and a set of function
names from scenario.conf (race_file, race_functions), never a line number:
lines move whenever the broken module is edited, function names do not.

  matched  at least one side (a or b) is in race_file, in a race function
  pair     both sides are
  race_point  the nearest RACE_POINT("name") at or above a matched side's
           line, in the same function of race_file (side a first, then
           b); a nicety for the report and the students, found by reading
           the source, None when absent

Crash findings are never matched: a program that dies in cache_put shows
the symptom, it does not show that the tool saw the race.
"""

import re

from .tsan import CRASH

_FUNC_START = re.compile(r"^[A-Za-z_][^;(]*?\b([A-Za-z_]\w*)\s*\([^;]*$")
_RACE_POINT = re.compile(r'RACE_POINT\s*\(\s*"([^"]+)"\s*\)')


class Site:
    """The declared race site of a lab, plus its source text when readable."""

    def __init__(self, race_file, race_functions, source=None):
        self.race_file = race_file
        self.race_functions = set(race_functions)
        self.lines = source.splitlines() if source is not None else None

    def holds(self, side):
        return (side is not None and side.get("file") == self.race_file
                and side.get("function") in self.race_functions)

    def race_point(self, line):
        """The race point governing `line` (1-based) of race_file, or None.

        Function bodies are found the way the C style of this repository
        lays them out: a definition line starting in column 0, the body
        ending at a '}' in column 0. The scan goes upwards from `line` and
        stops at the start of the enclosing function.
        """
        if not self.lines or line is None or not 1 <= line <= len(self.lines):
            return None
        for text in reversed(self.lines[:line]):
            m = _RACE_POINT.search(text)
            if m:
                return m.group(1)
            if text.startswith("}"):
                return None  # left the function without finding one
            if _FUNC_START.match(text):
                return None
        return None


def enclosing_function(lines, line):
    """The name of the function whose body holds `line` (1-based) of a C
    source's lines, laid out as Site.race_point expects, or None. racelab
    run turns a header's race pair (lines) into a site (functions) with it."""
    if not 1 <= line <= len(lines):
        return None
    for text in reversed(lines[:line]):
        m = _FUNC_START.match(text)
        if m:
            return m.group(1)
        if text.startswith("}"):
            return None
    return None


def judge(finding, site):
    """Fills in matched, pair and race_point of one finding, in place."""
    if finding["kind"] == CRASH:
        return finding
    a, b = site.holds(finding.get("a")), site.holds(finding.get("b"))
    finding["matched"] = a or b
    finding["pair"] = a and b
    # The read of a window is above its RACE_POINT and the write below it,
    # so a side without one yields to the other.
    points = [site.race_point(finding[k]["line"]) for k, held in (("a", a), ("b", b)) if held]
    finding["race_point"] = next((p for p in points if p), None)
    return finding
