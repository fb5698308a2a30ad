"""The student's working copy: start keeps work, reset asks and keeps a .bak."""

import unittest

from helpers import CACHE_C, SCENARIO, FakeTree, run_script


class WorkCopy(unittest.TestCase):
    def setUp(self):
        self.tree = FakeTree()
        conf = self.tree.root / "labs" / "lab-1-test" / "scenario.conf"
        conf.write_text(SCENARIO + "broken_modules = cache\n")
        self.copy = self.tree.root / "work" / "lab-1" / "cache.c"

    def tearDown(self):
        self.tree.cleanup()

    def run_wc(self, *args):
        return run_script("workcopy.py", *args, env=self.tree.env())

    def test_start_copies_the_broken_module(self):
        code, out, err = self.run_wc("start", 1)
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(self.copy.read_text(), CACHE_C)
        self.assertIn("work/lab-1/cache.c", out)
        self.assertIn("make grade-1", out)

    def test_start_again_keeps_the_students_work(self):
        self.run_wc("start", 1)
        self.copy.write_text(CACHE_C + "/* my fix */\n")
        code, out, _ = self.run_wc("start", 1)
        self.assertEqual(code, 0)
        self.assertIn("already there, kept", out)
        self.assertIn("1 line changed", out)
        self.assertTrue(self.copy.read_text().endswith("/* my fix */\n"))

    def test_reset_without_a_terminal_refuses_and_keeps_the_work(self):
        self.run_wc("start", 1)
        self.copy.write_text(CACHE_C + "/* my fix */\n")
        code, out, err = self.run_wc("reset", 1)
        self.assertEqual(code, 2)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("no terminal to ask", err)
        self.assertTrue(self.copy.read_text().endswith("/* my fix */\n"))
        self.assertFalse(self.copy.with_name("cache.c.bak").exists())

    def test_reset_yes_keeps_a_backup(self):
        self.run_wc("start", 1)
        self.copy.write_text(CACHE_C + "/* my fix */\n")
        code, out, _ = self.run_wc("reset", 1, "--yes")
        self.assertEqual(code, 0)
        self.assertEqual(self.copy.read_text(), CACHE_C)
        self.assertTrue(self.copy.with_name("cache.c.bak").read_text().endswith("/* my fix */\n"))

    def test_reset_of_an_untouched_copy_does_not_ask(self):
        self.run_wc("start", 1)
        code, out, err = self.run_wc("reset", 1)
        self.assertEqual((code, err), (0, ""))
        self.assertIn("nothing to throw away", out)

    def test_reset_before_start_makes_the_copy(self):
        code, out, _ = self.run_wc("reset", 1)
        self.assertEqual(code, 0)
        self.assertEqual(self.copy.read_text(), CACHE_C)

    def test_bad_input_is_one_line(self):
        for args in (("start", 42), ("begin", 1), ("start", "x")):
            with self.subTest(args=args):
                code, out, err = self.run_wc(*args)
                self.assertEqual(code, 2)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertEqual(out, "")


if __name__ == "__main__":
    unittest.main()
