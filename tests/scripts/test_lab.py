"""lab.py's pieces: finding this run's records, rates, showing a kept report."""

import io
import os
import unittest
from contextlib import redirect_stdout
from unittest import mock

from helpers import SCENARIO, FakeTree, run_script
import lab  # noqa: E402  (scripts/ is on sys.path via helpers)
from racelab import scenario


def rec(outcome, manifested=False):
    return {"outcome": outcome, "manifested": manifested}


class Pieces(unittest.TestCase):
    def setUp(self):
        self.tree = FakeTree()

    def tearDown(self):
        self.tree.cleanup()

    def test_rate_leaves_tool_errors_out(self):
        recs = [rec("manifested", True), rec("clean"), rec("tool-error"), rec("tool-error")]
        self.assertEqual(lab.rate_text(recs, "manifested"), "1/2 (95% CI 0.09-0.91; 2 tool errors)")
        self.assertEqual(lab.rate_text(recs[:2], "manifested"), "1/2 (95% CI 0.09-0.91)")
        self.assertEqual(lab.rate_text(recs[2:3], "manifested"), "0/0 (95% CI -; 1 tool error)")

    def test_records_are_found_for_any_pinning_and_profile(self):
        # A scenario that is not 'spread', with its own pinning for TSan: the
        # file lab.py looks for is the one trials.py wrote.
        conf = self.tree.root / "labs" / "lab-1-test" / "scenario.conf"
        conf.write_text(SCENARIO.replace("pinning = spread", "pinning = compact")
                        + "tsan.pinning = same-cpu\ntsan.threads = 3\n")
        with mock.patch.dict(os.environ, self.tree.env(FAKE_MODE="clean")):
            scen = scenario.load(1)
            for tool, extra, name in (
                    ("stress", [], "1-broken-stress-compact.jsonl"),
                    ("stress", ["--set", "buckets=8"], "1-broken-stress-compact-buckets=8.jsonl"),
                    ("tsan-clang", [], "1-broken-tsan-clang-same-cpu.jsonl")):
                with self.subTest(tool=tool, extra=extra):
                    with redirect_stdout(io.StringIO()):
                        recs, path = lab.run_trials(scen, 1, "broken", tool, 1,
                                                    self.tree.results, extra)
                    self.assertEqual(path.name, name)
                    self.assertEqual(len(recs), 1)

    def test_one_cpu_is_said_instead_of_a_placement(self):
        why = "one CPU here: the affinity mask allows CPU 0 alone"
        line = lab.placement_line(2, "spread", self.tree.root / "results" / "r", why)
        self.assertIn(why, line)
        self.assertNotIn("pinned", line)
        self.assertIn("pinned 'spread'", lab.placement_line(2, "spread", "r", None))

    def test_the_ending_puts_the_attempt_before_the_answer(self):
        conf = self.tree.root / "labs" / "lab-1-test" / "scenario.conf"
        conf.write_text(SCENARIO + "broken_modules = cache\n")
        out = io.StringIO()
        with mock.patch.dict(os.environ, self.tree.env()), redirect_stdout(out):
            lab.next_steps(1)
        text = out.getvalue()
        self.assertTrue((self.tree.root / "work" / "lab-1" / "cache.c").is_file())
        self.assertIn("work/lab-1/cache.c", text)
        self.assertLess(text.index("try a fix"), text.index("make grade-1"))
        self.assertLess(text.index("make grade-1"), text.index("make answer-1"))
        self.assertNotIn("diff -u", text)
        self.assertNotIn("fixed/", text)

    def show(self, path, tool):
        out = io.StringIO()
        with redirect_stdout(out):
            lab.show_report(path, tool, "broken/cache.c")
        return out.getvalue()

    def test_no_report_kept(self):
        for tool in ("tsan-clang", "helgrind"):
            out = self.show(self.tree.root / "absent.report.txt", tool)
            self.assertIn("trial matched the race site, so there is no report to show", out)
            self.assertEqual(len(out.splitlines()), 1)

    def test_unparsable_report(self):
        bad = self.tree.root / "1-broken-helgrind-spread.report.xml"
        bad.write_bytes(b"<valgrindoutput><error>")  # cut short
        out = self.show(bad, "helgrind")
        self.assertIn("is not valid XML", out)
        self.assertEqual(len(out.splitlines()), 1)

    def test_results_that_is_a_file(self):
        blocker = self.tree.root / "blocker"
        blocker.write_text("")
        code, out, err = run_script("lab.py", "1", "--results", blocker, env=self.tree.env(),
                                    cwd=self.tree.root)
        self.assertEqual((code, out), (2, ""))
        self.assertEqual(err, "lab.py: error: --results blocker is a file, not a directory\n")


if __name__ == "__main__":
    unittest.main()


class TrimStacks(unittest.TestCase):
    def test_threads_and_first_frames_without_addresses(self):
        import lab
        lines = [
            'Thread 4 (Thread 0x7fca1f4ee6c0 (LWP 27636) "racelab-stress"):',
            "#0  __lll_lock_wait (futex=0x55d0, private=0) at ./nptl/lowlevellock.c:49",
            "#1  0x00007f55 in lock_pair (a=0x1, b=0x2) at broken/refund.c:40",
            "#2  0x00007f56 in refund_transfer (bank=0x3) at broken/refund.c:61",
            "#3  0x00007f57 in worker (run=0x4) at labs/lab-4-refund/workload.c:80",
            'Thread 1 (Thread 0x7fca1fcef6c0 (LWP 27635) "racelab-stress"):',
            "#0  hash_str (s=0x7fca18003001 \"202\") at common/hash.h:14",
        ]
        self.assertEqual(lab.trim_stacks(lines), [
            "Thread 4:",
            "  #1 lock_pair (broken/refund.c:40)",
            "  #2 refund_transfer (broken/refund.c:61)",
            "  #3 worker (labs/lab-4-refund/workload.c:80)",
            "Thread 1:",
            "  #0 hash_str (common/hash.h:14)",
        ])
