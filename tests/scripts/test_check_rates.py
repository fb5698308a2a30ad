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
        self.assertRefused("no lab to check: expected/ has no lab-N.tsv table")

    def test_measuring_a_lab_without_a_table_refuses_an_existing_new_table(self):
        # No expected/ at all: --write-expected still picks lab 1 from labs/,
        # and refuses before measuring because NEWDIR/lab-1.tsv is there.
        new = self.tree.root / "new"
        new.mkdir()
        (new / "lab-1.tsv").write_text("")
        self.assertRefused("new/lab-1.tsv exists", "--write-expected", new)

    def test_write_expected_onto_a_file(self):
        (self.tree.root / "new").write_text("")
        self.assertRefused("is a file, not a directory", "--write-expected", self.tree.root / "new")

    def test_results_is_a_file(self):
        blocker = self.tree.root / "blocker"
        blocker.write_text("")
        self.assertRefused("--results blocker is a file, not a directory", "--lab", 1,
                           "--results", blocker)

    def test_stray_table_name(self):
        (self.tree.root / "expected").mkdir()
        (self.tree.root / "expected" / "lab-x.tsv").write_text("")
        self.assertRefused("expected/lab-x.tsv: not a table name")


if __name__ == "__main__":
    unittest.main()


class Cells(unittest.TestCase):
    """The cells a lab's scenario asks for: every tool on both builds, plus
    its extra configurations, for the stress driver or for every tool."""

    def cells_for(self, extra_lines, extra=True):
        import os
        from unittest import mock
        tree = FakeTree()
        self.addCleanup(tree.cleanup)
        path = tree.root / "labs" / "lab-1-test" / "scenario.conf"
        path.write_text(path.read_text() + extra_lines)
        with mock.patch.dict(os.environ, tree.env()):
            import check_rates
            return check_rates.cells(1, extra=extra)

    def test_default_cells(self):
        cells = self.cells_for("")
        self.assertEqual(len(cells), 8)
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
        self.assertEqual(len(cells), 8)
        self.assertFalse([c for c in cells if c[2]])
