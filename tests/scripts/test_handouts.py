"""Every handout puts the student's attempt before the reference fix.

A lab's flow is: reproduce (make lab-N), read the reports, fix your copy,
get graded (make grade-N), and only then the reference fix (make answer-N)
and its explanation. Checked on the text of labs/lab-N-*/README.md, with
each handout's gdb demo (make demo-lab-N) checked against make itself. A
service lab's handout (kind = service: no grading, no gdb demo) has only to
be there.
"""

import os
import re
import subprocess
import unittest
from pathlib import Path

from helpers import REPO as ROOT

from racelab import scenario


def handouts(service=False):
    """(lab, path, text) of every stress lab's handout (and the service
    labs' too with service=True), in the order of the lab numbers (by
    name, lab-10 would come before lab-2)."""
    found = [(int(re.match(r"lab-(\d+)-", path.parent.name).group(1)), path)
             for path in (ROOT / "labs").glob("lab-*-*/README.md")
             if service or not scenario.is_service(path.parent)]
    for lab, path in sorted(found):
        yield lab, path, path.read_text(encoding="utf-8")


def heading_at(text, pattern):
    """Offset of the first heading line matching pattern, or -1."""
    m = re.search(r"^#+ .*" + pattern, text, re.M)
    return m.start() if m else -1


class Handouts(unittest.TestCase):
    def test_every_lab_has_one(self):
        numbers = sorted(int(re.match(r"lab-(\d+)-", p.name).group(1))
                         for p in (ROOT / "labs").glob("lab-*-*") if p.is_dir())
        self.assertEqual([lab for lab, _, _ in handouts(service=True)], numbers)

    def test_grade_before_answer_and_no_diff_before_it(self):
        for lab, path, text in handouts():
            with self.subTest(handout=path.parent.name):
                grade = text.find(f"make grade-{lab}")
                answer = text.find(f"make answer-{lab}")
                self.assertGreaterEqual(grade, 0, "no make grade-N")
                self.assertGreaterEqual(answer, 0, "no make answer-N")
                self.assertLess(grade, answer, "make answer-N before make grade-N")
                self.assertNotIn("diff -u broken/", text[:answer])

    def test_your_turn_comes_before_the_reference_fix(self):
        for lab, path, text in handouts():
            with self.subTest(handout=path.parent.name):
                turn = heading_at(text, r"Your turn: fix it and get graded")
                fix = heading_at(text, rf"after your graded attempt: `make answer-{lab}`")
                self.assertGreaterEqual(turn, 0, "no 'Your turn' section")
                self.assertGreaterEqual(fix, 0, "no reference fix section naming make answer-N")
                self.assertLess(turn, fix)
                before = text[:turn]
                self.assertNotIn("diff -u broken/", before)
                # Before the attempt, make answer-N is named only in the
                # header's summary of the flow.
                self.assertNotIn(f"make answer-{lab}", before[before.find("\n## "):])
                between = text[turn:fix]
                self.assertIn(f"make grade-{lab}", between)
                self.assertIn(f"work/lab-{lab}/", between)
                self.assertIn(f"make demo-lab-{lab}", text[:fix])

    def test_no_section_called_the_fix_before_the_attempt(self):
        for lab, path, text in handouts():
            with self.subTest(handout=path.parent.name):
                self.assertIsNone(re.search(r"^## The fix\s*$", text, re.M))


def make(*args):
    """make -s ARGS at the top of the checkout, outside any make that runs
    the tests: (exit status, stdout)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    r = subprocess.run(["make", "-s", "-C", str(ROOT), *args], env=env, capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=60)
    return r.returncode, r.stdout


class GdbDemos(unittest.TestCase):
    """Each handout names its own gdb demo, and make has it."""

    def test_each_handout_names_its_demo_and_make_help_lists_it(self):
        code, listed = make("help")
        self.assertEqual(code, 0)
        targets = set(re.findall(r"^  (\S+)", listed, re.M))
        for lab, path, text in handouts():
            with self.subTest(handout=path.parent.name):
                self.assertIn(f"`make demo-lab-{lab}`", text)
                self.assertIn(f"demo-lab-{lab}", targets)
                self.assertIn(f"gdb-lab-{lab}", targets)

    def test_each_demo_is_a_rule(self):
        demos = [f"demo-lab-{lab}" for lab, _, _ in handouts()]
        code, out = make("-n", *demos)  # a dry run: nothing is built or run
        self.assertEqual(code, 0, out)
        for lab in (lab for lab, _, _ in handouts()):
            self.assertIn(f"scripts/gdb_walkthrough.py --lab {lab}", out)


if __name__ == "__main__":
    unittest.main()
