"""A schedule is checked before it runs (racelab.schedule, gdb_walkthrough.py).

Without gdb's help: every race point a step names is one of the lab's, and
every thread letter one of the workers its args start; each mistake is one
line naming the schedule's file and line. The checks against the build
(state expressions) need gdb and the debug builds:
tests/cli/test_gdb_walkthroughs.sh.
"""

import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from helpers import REPO, SCRIPTS

from racelab import schedule

LAB2 = """\
title a test
args  --lab 2 --threads 2 --ops 1 --rounds 1 --set accounts=1 --pin none
state account 0's total | main lab2_round | l->total[0]
state what A read (t)   | A ledger_add    | t
step A to ledger.add.window
step B to end
step A to end
finish
"""


class Check(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "my.sched"

    def tearDown(self):
        self.dir.cleanup()

    def check(self, text):
        self.path.write_text(text)
        return schedule.check(schedule.parse(self.path), REPO)

    def error(self, text):
        with self.assertRaises(schedule.ScheduleError) as cm:
            self.check(text)
        msg = str(cm.exception)
        self.assertNotIn("\n", msg)
        return msg

    def test_every_walkthrough_passes(self):
        for path in sorted(REPO.glob("labs/lab-*/walkthrough.sched")):
            with self.subTest(schedule=path.parent.name):
                lab = schedule.check(schedule.parse(path), REPO)
                self.assertTrue(path.parent.name.startswith(f"lab-{lab.number}-"))

    def test_a_good_schedule_passes(self):
        self.assertEqual(self.check(LAB2).number, 2)

    def test_misspelled_race_point(self):
        msg = self.error(LAB2.replace("A to ledger.add.window", "A to ledger.add.windw"))
        self.assertEqual(msg, f"{self.path}:5: lab 2 has no race point 'ledger.add.windw' "
                              "(its points: ledger.add.window; or end)")

    def test_marked_points_beyond_the_scenario_list(self):
        # Lab 1's scenario lists the points its detectors are matched on;
        # cache.evict.window is marked in both twins and is a stop point too.
        conf = (REPO / "labs/lab-1-cache/scenario.conf").read_text()
        self.assertNotIn("cache.evict.window", conf)
        text = ("args --lab 1 --threads 2\nstep A to cache.evict.window\nfinish\n")
        self.assertEqual(self.check(text).number, 1)
        msg = self.error(text.replace("evict", "evicts"))
        self.assertIn("(its points: cache.evict.window, cache.get.window, cache.grow.window, "
                      "cache.put.window; or end)", msg)

    def test_step_thread_beyond_the_workers(self):
        msg = self.error(LAB2.replace("step B to end", "step C to end"))
        self.assertEqual(msg, f"{self.path}:6: there is no thread C: the args start 2 "
                              "workers (A, B)")

    def test_threads_from_the_args(self):
        text = LAB2.replace("--threads 2", "--threads 3").replace("step B to end",
                                                                  "step C to end")
        self.assertEqual(self.check(text).number, 2)
        # Without --threads, the lab's own count (scenario.conf: 2).
        msg = self.error(LAB2.replace("--threads 2 ", "").replace("step B", "step C"))
        self.assertIn("there is no thread C: the args start 2 workers (A, B)", msg)

    def test_state_thread_beyond_the_workers(self):
        msg = self.error(LAB2.replace("A ledger_add", "D ledger_add"))
        self.assertEqual(msg, f"{self.path}:4: there is no thread D: the args start 2 "
                              "workers (A, B), and main")

    def test_no_lab(self):
        msg = self.error(LAB2.replace("--lab 2 ", ""))
        self.assertEqual(msg, f"{self.path}:2: args must name the lab (--lab N)")
        msg = self.error(LAB2.replace("--lab 2 ", "--lab 77 "))
        self.assertRegex(msg, rf"^{self.path}:2: args name lab 77; the labs are 1, ")

    def test_malformed_line(self):
        msg = self.error(LAB2.replace("step B to end", "step B end"))
        self.assertEqual(msg, f"{self.path}:6: step takes THREAD to POINT (e.g. A to x.y.window)")

    def test_check_names_state_labels(self):
        text = LAB2.replace("step A to end", "step A to end\n"
                            "check {account 0's total} == {what A read (t)}")
        self.assertEqual(self.check(text).number, 2)
        msg = self.error(text.replace("{what A read (t)}", "{what A reads}"))
        self.assertEqual(msg, f"{self.path}:8: check names {{what A reads}}, which is not a "
                              "state label (the state lines' first field)")
        msg = self.error(LAB2.replace("finish", "check.fixed\nfinish"))
        self.assertIn(":8: check takes a condition over {state labels}", msg)

    def test_predict_over_lines_is_one_question(self):
        self.path.write_text(LAB2.replace("step A to end", "predict What will the total be?\n"
                                          "predict A's, B's, or both?\nstep A to end"))
        sched = schedule.parse(self.path)
        asked = [a for a in sched["actions"] if a[0] == "predict"]
        self.assertEqual(len(asked), 1)
        self.assertEqual(asked[0][1], "What will the total be?\nA's, B's, or both?")
        self.assertEqual(asked[0][3], f"{self.path}:7")
        self.assertEqual([a[0] for a in sched["actions"]],
                         ["step", "step", "predict", "step", "finish"])

    def test_points(self):
        self.path.write_text(LAB2)
        self.assertEqual(schedule.points(schedule.parse(self.path), REPO), {"ledger.add.window"})


@unittest.skipIf(shutil.which("gdb") is None, "gdb is not installed")
class Walkthrough(unittest.TestCase):
    """gdb_walkthrough.py refuses a bad schedule before gdb starts: one line
    on stderr, nothing on stdout, exit 2 (no build is needed for that)."""

    def run_with(self, text, lab="2", *more):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "bad.sched"
            path.write_text(text)
            p = subprocess.run([sys.executable, str(SCRIPTS / "gdb_walkthrough.py"), "--lab",
                                lab, "--schedule", str(path), *more],
                               capture_output=True, text=True, timeout=60)
        return p, str(path)

    def assert_one_line(self, p, want):
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr, f"gdb_walkthrough.py: error: {want}\n")

    def test_misspelled_point_batch_and_live(self):
        bad = LAB2.replace("A to ledger.add.window", "A to ledger.add.windw")
        for more in ((), ("--interactive",)):
            with self.subTest(more=more):
                p, path = self.run_with(bad, "2", *more)
                self.assert_one_line(p, f"{path}:5: lab 2 has no race point 'ledger.add.windw' "
                                        "(its points: ledger.add.window; or end)")

    def test_another_labs_schedule(self):
        p, path = self.run_with(LAB2, "7")
        self.assert_one_line(p, f"{path}:2: the schedule runs lab 2 (--lab in its args), "
                                "not lab 7")


if __name__ == "__main__":
    unittest.main()
