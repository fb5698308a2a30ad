"""The gdb walkthroughs name their stop points, never their lines.

Each labs/lab-N-*/walkthrough.sched is followed by scripts/gdb/racesched.py
(tested end to end in tests/cli/test_gdb_walkthroughs.sh). Here, without
gdb: every race point a step waits for is marked in both twins of the
lab's module, every function a state line reads from exists, and nothing in
a schedule is a line number, so moving code cannot break a walkthrough.
"""

import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def schedules():
    return sorted(ROOT.glob("labs/lab-*/walkthrough.sched"))


def directives(path):
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            yield word, rest.strip()


def modules(lab_dir):
    conf = (lab_dir / "scenario.conf").read_text()
    return re.search(r"^broken_modules\s*=\s*(.+)$", conf, re.M).group(1).split()


class Walkthroughs(unittest.TestCase):
    def test_there_are_walkthroughs(self):
        self.assertTrue(schedules(), "no labs/lab-*/walkthrough.sched")

    def test_steps_wait_for_marked_race_points(self):
        for path in schedules():
            marked = {}
            for m in modules(path.parent):
                for twin in ("broken", "fixed"):
                    text = (ROOT / twin / f"{m}.c").read_text()
                    marked[twin] = marked.get(twin, set()) | set(
                        re.findall(r'RACE_POINT\("([^"]+)"\)', text))
            for word, rest in directives(path):
                if word != "step":
                    continue
                point = rest.split()[-1]
                if point == "end":
                    continue
                with self.subTest(schedule=path.parent.name, point=point):
                    self.assertIn(point, marked["broken"], "not marked in the broken twin")
                    self.assertIn(point, marked["fixed"], "not marked in the fixed twin")

    def test_state_functions_exist(self):
        sources = "\n".join(p.read_text() for d in ("stress", "broken", "fixed", "common",
                                                    "labs/lab-*")
                            for p in ROOT.glob(f"{d}/*.c"))
        for path in schedules():
            for word, rest in directives(path):
                if word != "state":
                    continue
                func = rest.split("|")[1].split()[1]
                with self.subTest(schedule=path.parent.name, function=func):
                    self.assertRegex(sources, rf"\b{re.escape(func)}\(")

    def test_no_line_numbers(self):
        # A stop point or command by file:line (or a bare line) would rot.
        for path in schedules():
            for word, rest in directives(path):
                if word not in ("gdb", "step", "state"):
                    continue
                with self.subTest(schedule=path.parent.name, line=f"{word} {rest}"):
                    self.assertNotRegex(rest, r"\.[ch]:\d|^(break|b|tbreak|until|advance)\s+\d")


if __name__ == "__main__":
    unittest.main()
