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
