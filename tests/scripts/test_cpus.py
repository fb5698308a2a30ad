"""racelab/cpus.py: how many CPUs, and which cells need two; check_rates.py
and report.py on one CPU (run under `taskset -c 0`)."""

import shutil
import tempfile
import unittest
from pathlib import Path

from helpers import FakeTree, run_script
from racelab import cpus


def row(metric, low, note="m"):
    return {"metric": metric, "band": (low, 1.0 if low else 0.0), "note": note}


class Count(unittest.TestCase):
    def test_the_affinity_mask(self):
        self.assertIsNone(cpus.one_cpu({0, 1}, quota=False))
        self.assertEqual(cpus.one_cpu({3}, quota=False),
                         "one CPU here: the affinity mask allows CPU 3 alone")
        self.assertEqual(cpus.available({0, 1, 2, 5}, quota=False),
                         (4, "the affinity mask allows CPUs 0-2,5"))

    def test_the_cgroup_quota_wins_when_smaller(self):
        self.assertEqual(cpus.one_cpu({0, 1, 2, 3}, quota=1.5),
                         "one CPU here: the cgroup's CPU quota is 1.5 CPU")
        self.assertIsNone(cpus.one_cpu({0, 1, 2, 3}, quota=2.0))
        self.assertEqual(cpus.available({0, 1}, quota=0.25)[0], 1)

    def test_quota_files_v2_and_v1(self):
        root = Path(tempfile.mkdtemp(prefix="racelab-cgroup-"))
        self.addCleanup(shutil.rmtree, root)
        # v2: the process's folder says no limit, its parent 1.5 CPUs
        (root / "box" / "job").mkdir(parents=True)
        (root / "box" / "job" / "cpu.max").write_text("max 100000\n")
        (root / "box" / "cpu.max").write_text("150000 100000\n")
        self.assertEqual(cpus.cgroup_quota(root, "0::/box/job\n"), 1.5)
        self.assertIsNone(cpus.cgroup_quota(root, "0::/\n"))
        # v1: the cpu controller's tree; -1 is no limit
        (root / "cpu" / "ci").mkdir(parents=True)
        (root / "cpu" / "ci" / "cpu.cfs_quota_us").write_text("50000\n")
        (root / "cpu" / "ci" / "cpu.cfs_period_us").write_text("100000\n")
        (root / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
        (root / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
        self.assertEqual(cpus.cgroup_quota(root, "3:cpu,cpuacct:/ci\n0::/\n"), 0.5)
        self.assertIsNone(cpus.cgroup_quota(root, "3:cpu,cpuacct:/\n0::/\n"))


class WhichCells(unittest.TestCase):
    def test_a_symptom_measured_spread_needs_two(self):
        self.assertTrue(cpus.needs_two("stress", "spread", row("symptom", 0.9)))
        self.assertTrue(cpus.needs_two("chaos", "spread-verbosity=1", row("symptom", 0.5)))
        self.assertTrue(cpus.needs_two("stress", "cpus-0+2", row("symptom", 0.5)))

    def test_what_holds_on_one_cpu(self):
        # measured on one CPU, a 0-0 band, a detector, the scheduler's own
        self.assertFalse(cpus.needs_two("stress", "same-cpu", row("symptom", 0.9)))
        self.assertFalse(cpus.needs_two("stress", "cpus-0+0", row("symptom", 0.9)))
        self.assertFalse(cpus.needs_two("stress", "spread", row("violation", 0)))
        self.assertFalse(cpus.needs_two("stress", "spread", row("symptom", 0)))
        self.assertFalse(cpus.needs_two("tsan-clang", "spread", row("detection", 0.9)))
        self.assertFalse(cpus.needs_two("sched", "spread", row("symptom", 0.9)))
        self.assertFalse(cpus.needs_two("stress", "spread", None))

    def test_a_row_can_say_so(self):
        self.assertTrue(cpus.needs_two("tsan-gcc", "spread",
                                       row("detection", 0.4, "the path needs an overlap; "
                                                             "needs 2 CPUs")))

    def test_a_record_that_ran_on_one_cpu(self):
        self.assertTrue(cpus.ran_on_one({"threads": 2, "cpus": [0, 0], "program": None}))
        self.assertTrue(cpus.ran_on_one({"threads": 2, "cpus": [0, 1],
                                         "program": {"topology": {"cpus": 1}}}))
        self.assertFalse(cpus.ran_on_one({"threads": 2, "cpus": [0, 1], "program": {}}))
        self.assertFalse(cpus.ran_on_one({"threads": 2, "cpus": None, "program": None}))


TABLE = ("lab\tbuild\ttool\tconfig\tmetric\tband_low\tband_high\tsuccesses\ttrials\tnote\n"
         "1\tbroken\tstress\tspread\tsymptom\t0.90\t1.00\t30\t30\tm\n"
         "1\tfixed\tstress\tspread\tviolation\t0.00\t0.00\t0\t30\tby design\n")


@unittest.skipUnless(shutil.which("taskset"), "taskset is not installed")
class OnOneCpu(unittest.TestCase):
    """check_rates.py under taskset -c 0: the broken cell's band needs two
    CPUs, so it is left out and said to; the fixed cell still runs."""

    def setUp(self):
        self.tree = FakeTree()
        self.addCleanup(self.tree.cleanup)
        (self.tree.root / "labs" / "lab-1-test" / "expected.tsv").write_text(TABLE)

    def check(self, prefix, mode):
        return run_script("check_rates.py", "--tool", "stress", "--trials", 3, "--results",
                          self.tree.results, env=self.tree.env(FAKE_MODE=mode),
                          cwd=self.tree.root, prefix=prefix)

    def test_a_two_cpu_cell_is_left_out_and_said_to(self):
        code, out, err = self.check(("taskset", "-c", "0"), "clean")
        self.assertEqual(code, 0, out + err)
        self.assertIn("one CPU here: the affinity mask allows CPU 0 alone: 1 of 2 cells need "
                      "2 CPUs and are left out", err)
        self.assertIn("| 1 | broken | stress | spread | symptom | - | - | - | 0.90-1.00 | 0 | "
                      "0 | needs 2 CPUs here |", out)
        self.assertIn("| 1 | fixed | stress | spread | violation | 0.00 |", out)
        self.assertIn("2 cells: 1 ok, 0 out, 1 needs 2 CPUs here", out)
        self.assertIn("1 cells need 2 CPUs here and were not run (one CPU here: the affinity "
                      "mask allows CPU 0 alone): lab 1 broken stress", err)
        self.assertFalse(list(self.tree.results.glob("1-broken-*.jsonl")), "not run")

    def test_the_fixed_build_still_fails_on_one_cpu(self):
        code, out, err = self.check(("taskset", "-c", "0"), "manifested")
        self.assertEqual(code, 1, out + err)
        self.assertIn("| 1 | fixed | stress | spread | violation | 1.00 |", out)

    def test_on_two_cpus_nothing_is_left_out(self):
        if cpus.one_cpu():
            self.skipTest("this machine has one CPU")
        code, out, err = self.check((), "clean")
        self.assertEqual(code, 1, out + err)  # 0/3 then rerun 0/43: out of 0.90-1.00
        self.assertNotIn("needs 2 CPUs", out + err)

    def test_report_judges_records_measured_on_one_cpu(self):
        # Records of a broken cell whose threads all ran on one CPU (the
        # driver's placement, [0, 0]), measured elsewhere: the report says
        # so instead of OUT, without being told (--one-cpu).
        import json
        self.tree.results.mkdir()
        recs = []
        for trial in (1, 2, 3):
            recs.append(json.dumps(fake_record(trial, [0, 0])))
        (self.tree.results / "1-broken-stress-spread.jsonl").write_text("\n".join(recs) + "\n")
        code, out, err = run_script("report.py", "--results", self.tree.results, "--check",
                                    "--measured-only", env=self.tree.env(), cwd=self.tree.root)
        self.assertEqual(code, 0, out + err)
        self.assertIn("| 0.90-1.00 | 3 | 0 | needs 2 CPUs here |", out)


def fake_record(trial, placed):
    from racelab import records
    return records.new(
        run="20261204T000000Z-abcd", trial=trial, lab=1, build="broken", variant="broken-1",
        tool="stress", flavour="release", config="spread", threads=2, pinning="spread",
        cpus=placed, seed=trial, time_limit_s=5, outcome="clean", manifested=False,
        detected=False, exit={"code": 0, "signal": None}, elapsed_s=0.01, peak_rss_kb=None,
        cpu_s=None, invariants={"lost": 0}, program=None, findings=[], findings_total=0,
        findings_matched=0, error=None, stderr_tail=None)


if __name__ == "__main__":
    unittest.main()
