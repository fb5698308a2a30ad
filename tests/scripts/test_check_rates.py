"""check_rates.py: which labs, and the refusals that come before any trial."""

import unittest

from helpers import FakeTree, run_script


class Refusals(unittest.TestCase):
    def setUp(self):
        self.tree = FakeTree()

    def tearDown(self):
        self.tree.cleanup()

    def assertRefused(self, message, *args):
        code, out, err = run_script("check_rates.py", "--trials", 1, "--tool", "stress", *args,
                                    env=self.tree.env(), cwd=self.tree.root)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("check_rates.py: error: "), err)
        self.assertIn(message, err)
        self.assertFalse(self.tree.results.exists(), "nothing was to be measured")

    def test_checking_needs_a_table(self):
        self.assertRefused("no lab to check: no labs/lab-N-<name>/ has its expected.tsv")

    def test_measuring_a_lab_without_a_table_refuses_an_existing_new_table(self):
        # No table at all: --write-expected still picks lab 1 from labs/, and
        # refuses before measuring because NEWDIR/lab-1-test/expected.tsv is there.
        new = self.tree.root / "new"
        (new / "lab-1-test").mkdir(parents=True)
        (new / "lab-1-test" / "expected.tsv").write_text("")
        self.assertRefused("new/lab-1-test/expected.tsv exists", "--write-expected", new)

    def test_write_expected_onto_the_labs_own_tables(self):
        self.assertRefused("--write-expected must not be labs/ itself", "--write-expected",
                           self.tree.root / "labs")

    def test_write_expected_onto_a_file(self):
        (self.tree.root / "new").write_text("")
        self.assertRefused("is a file, not a directory", "--write-expected", self.tree.root / "new")

    def test_results_is_a_file(self):
        blocker = self.tree.root / "blocker"
        blocker.write_text("")
        self.assertRefused("--results blocker is a file, not a directory", "--lab", 1,
                           "--results", blocker)

    def test_a_lab_without_a_table_is_refused(self):
        # lab 2 has a table, but not lab 1: before, lab 1 was measured and
        # passed with every cell "no expectation".
        (self.tree.root / "labs" / "lab-2-other").mkdir()
        (self.tree.root / "labs" / "lab-2-other" / "expected.tsv").write_text("")
        self.assertRefused("lab 1 has no expected table (labs/lab-1-test/expected.tsv)",
                           "--lab", 1)
        # and without --lab, lab 1 is in labs/: not left out of the check
        self.assertRefused("lab 1 has no expected table (labs/lab-1-test/expected.tsv)")

    def test_a_table_left_in_the_old_layout_is_not_read(self):
        (self.tree.root / "expected").mkdir()
        (self.tree.root / "expected" / "lab-1.tsv").write_text("")
        self.assertRefused("no lab to check: no labs/lab-N-<name>/ has its expected.tsv")


class Rerun(unittest.TestCase):
    """A broken-build cell out of its band is rerun, said out loud, and
    judged on all its trials; a fixed-build cell never is."""

    def setUp(self):
        self.tree = FakeTree()
        self.addCleanup(self.tree.cleanup)
        (self.tree.root / "labs" / "lab-1-test" / "expected.tsv").write_text(
            "lab\tbuild\ttool\tconfig\tmetric\tband_low\tband_high\tsuccesses\ttrials\tnote\n"
            "1\tbroken\tstress\tspread\tsymptom\t0.90\t1.00\t30\t30\tm\n"
            "1\tfixed\tstress\tspread\tviolation\t0.00\t0.00\t0\t30\tby design\n")

    def check(self, *args, **env):
        return run_script("check_rates.py", "--tool", "stress", "--results", self.tree.results,
                          *args, env=self.tree.env(**env), cwd=self.tree.root)

    def test_a_cell_that_stays_out_fails_after_its_rerun(self):
        # 0/4 manifested: out of 0.90-1.00 even at 99.99%; 0/7 after the rerun
        code, out, err = self.check("--trials", 4, "--rerun", 3, FAKE_MODE="clean")
        self.assertEqual(code, 1, err)
        self.assertIn("rerun: lab 1 broken stress was 0/4, out of its band 0.90-1.00: "
                      "3 more trials, then judged on all 7", err)
        self.assertEqual(err.count("rerun:"), 1, "the fixed cell is never rerun")
        self.assertIn("| 1 | broken | stress | spread | symptom | 0.00 | 0.00-0.35 | "
                      "0.00-0.68 | 0.90-1.00 | 7 | 0 | OUT |", out)

    def test_a_cell_back_in_its_band_after_the_rerun_passes(self):
        # Plan order: the broken cell's 3 trials, then the fixed cell's 3,
        # then the rerun. The first 6 runs are clean, every later one
        # manifests: broken 0/3 is out of 0.90-1.00, 0/3 + 20/20 is in.
        counter = self.tree.root / "counter"
        code, out, err = self.check("--trials", 3, "--rerun", 20, FAKE_MODE="late",
                                    FAKE_CLEAN=6, FAKE_COUNTER=counter)
        self.assertEqual(code, 0, out + err)
        self.assertIn("rerun: lab 1 broken stress was 0/3", err)
        self.assertIn("| 1 | broken | stress | spread | symptom | 0.87 | ", out)
        self.assertIn("| 0.90-1.00 | 23 | 0 | ok |", out)
        self.assertIn("| 1 | fixed | stress | spread | violation | 0.00 | ", out)

    def test_no_rerun_with_zero(self):
        code, out, err = self.check("--trials", 4, "--rerun", 0, FAKE_MODE="clean")
        self.assertEqual(code, 1, err)
        self.assertNotIn("rerun:", err)


class Explain(unittest.TestCase):
    """--explain: the chance that the quick check fails a correct build,
    from the real expected tables. This is the bound expected/README.md
    promises; a new cell with a rate that makes the check flaky fails here
    before it fails a course's CI."""

    def explain(self, *args):
        code, out, err = run_script("check_rates.py", "--explain", *args)
        self.assertEqual(code, 0, err)
        last = [l for l in out.splitlines() if l.startswith("at most ")][0]
        measured = float(last.split()[2])
        edge = float(last.split("; at most ")[1].split()[0])
        return measured, edge, out

    def test_quick_check_fails_a_correct_build_less_than_once_in_1000_runs(self):
        measured, edge, out = self.explain()
        self.assertLess(measured, 0.001, out)
        self.assertLess(edge, 0.001, out)

    def test_without_the_rerun_it_would_not(self):
        measured, edge, out = self.explain("--rerun", "0")
        self.assertGreater(edge, 0.001, out)


class Cells(unittest.TestCase):
    """The cells a lab's scenario asks for: every tool on both builds, plus
    its extra configurations, for the stress driver or for every tool."""

    def cells_for(self, extra_lines, extra=True, matrix=False):
        import os
        from unittest import mock
        tree = FakeTree()
        self.addCleanup(tree.cleanup)
        path = tree.root / "labs" / "lab-1-test" / "scenario.conf"
        path.write_text(path.read_text() + extra_lines)
        with mock.patch.dict(os.environ, tree.env()):
            import check_rates
            return check_rates.cells(1, extra=extra, matrix=matrix)

    def test_default_cells(self):
        cells = self.cells_for("")
        self.assertEqual(len(cells), 10)
        self.assertIn(("broken", "sched", []), cells)
        self.assertIn(("broken", "helgrind", []), cells)
        self.assertIn(("fixed", "tsan-gcc", []), cells)

    def test_extra_stress_is_for_the_driver_only(self):
        cells = self.cells_for("extra_stress = buckets=9\n")
        extra = [c for c in cells if c[2]]
        self.assertEqual(extra, [("broken", "stress", ["--set", "buckets=9"]),
                                 ("fixed", "stress", ["--set", "buckets=9"])])

    def test_extra_configs_are_for_every_tool(self):
        cells = self.cells_for("extra_configs = verbosity=0 verbosity=1\n")
        extra = [c for c in cells if c[2]]
        self.assertEqual(len(extra), 2 * 4 * 2)
        self.assertIn(("broken", "tsan-clang", ["--set", "verbosity=1"]), extra)
        self.assertIn(("fixed", "helgrind", ["--set", "verbosity=0"]), extra)

    def test_a_quick_run_leaves_the_extra_configurations_out(self):
        cells = self.cells_for("extra_configs = verbosity=0\nextra_stress = buckets=9\n",
                               extra=False)
        self.assertEqual(len(cells), 10)
        self.assertFalse([c for c in cells if c[2]])

    def test_the_matrix_adds_drd_one_cpu_and_chaos(self):
        cells = self.cells_for("", extra=False, matrix=True)
        self.assertEqual(len(cells), 10 + 8)
        self.assertIn(("broken", "stress", ["--pin", "same-cpu"]), cells)
        self.assertIn(("fixed", "chaos", []), cells)
        self.assertIn(("broken", "chaos", ["--pin", "same-cpu"]), cells)
        self.assertIn(("fixed", "drd", []), cells)

    def test_config_names_match_the_records(self):
        import os
        from unittest import mock
        tree = FakeTree()
        self.addCleanup(tree.cleanup)
        with mock.patch.dict(os.environ, tree.env()):
            import check_rates
            self.assertEqual(check_rates.config_of(1, "stress", []), "spread")
            self.assertEqual(check_rates.config_of(1, "chaos", ["--pin", "same-cpu"]), "same-cpu")
            self.assertEqual(check_rates.config_of(1, "helgrind", ["--set", "buckets=9"]),
                             "spread-buckets=9")


class IntendedFalsePositive(unittest.TestCase):
    """A fixed-build cell with an intended false positive has a measured
    band: it is rerun and explained like a broken-build cell."""

    def test_which_cells_are_left_to_chance(self):
        import check_rates
        row = {"metric": "expected-false-positive", "band": (0.88, 1.0)}
        self.assertTrue(check_rates.chancy("fixed", row))
        self.assertTrue(check_rates.chancy("broken", {"metric": "detection", "band": (0.5, 1)}))
        self.assertFalse(check_rates.chancy("broken", {"metric": "detection", "band": (0, 0)}))
        self.assertFalse(check_rates.chancy("fixed", {"metric": "false-positive", "band": (0, 0)}))
        self.assertFalse(check_rates.chancy("fixed", None))


if __name__ == "__main__":
    unittest.main()
