"""Helgrind XML parser, on real output, and Valgrind's own failures."""

import re
import unittest

from helpers import fixture
from racelab import frames, valgrind


class Helgrind(unittest.TestCase):
    def test_races_have_current_and_conflicting_access(self):
        findings, problem = valgrind.parse(fixture("helgrind-broken.xml", "rb"))
        self.assertIsNone(problem)
        self.assertEqual(len(findings), 3)
        first = findings[0]
        self.assertEqual(first["kind"], "data-race")
        self.assertEqual(first["a"]["file"], "broken/cache.c")  # <dir> + <file>, normalised
        self.assertEqual(first["a"]["access"], "read")
        self.assertEqual(first["a"]["size"], 8)
        self.assertRegex(first["a"]["thread"], r"^#\d+$")
        self.assertEqual(first["b"]["access"], "write")
        self.assertEqual(first["b"]["file"], "broken/cache.c")
        self.assertIn("Possible data race", first["summary"])

    def test_a_workload_frame_in_its_lab_folder_is_own_code(self):
        # Captured when lab 1's workload was stress/lab1_cache.c; Valgrind
        # names it by <dir> and <file>, labs/lab-1-cache and workload.c now.
        data = re.sub(r"<dir>stress</dir>(\s*)<file>lab1_cache\.c</file>",
                      r"<dir>labs/lab-1-cache</dir>\1<file>workload.c</file>",
                      fixture("helgrind-broken.xml"))
        self.assertIn("<file>workload.c</file>", data)
        findings, problem = valgrind.parse(data)
        self.assertIsNone(problem)
        stacks = [fr for f in findings for fr in f["stack_a"]]
        self.assertTrue(any(fr.startswith("worker labs/lab-1-cache/workload.c:")
                            for fr in stacks), stacks)

    def test_fixed_build_is_clean_and_finished(self):
        self.assertEqual(valgrind.parse(fixture("helgrind-fixed.xml", "rb")), ([], None))

    def test_cut_short_keeps_earlier_errors_and_says_so(self):
        data = fixture("helgrind-broken.xml", "rb")
        cut = data[:data.index(b"</error>") + len(b"</error>") + 1]
        findings, problem = valgrind.parse(cut)
        self.assertEqual(len(findings), 1)
        self.assertIn("invalid Valgrind XML", problem)

    def test_missing_finished_status(self):
        data = fixture("helgrind-fixed.xml")
        findings, problem = valgrind.parse(data.replace("FINISHED", "RUNNING"))
        self.assertEqual(problem, "Valgrind did not finish (no FINISHED status)")

    def test_no_xml(self):
        self.assertEqual(valgrind.parse(b""), ([], "Valgrind wrote no XML"))

    def test_own_failure_lines(self):
        self.assertEqual(valgrind.own_failure("==1== Helgrind\nvalgrind: Bad option: --foo\n"),
                         "valgrind: Bad option: --foo")
        self.assertIsNone(valgrind.own_failure("==1== Helgrind, a thread error detector\n"))

    def test_kind_names(self):
        self.assertEqual(valgrind.kind_name("LockOrder"), "lock-order-inversion")
        self.assertEqual(valgrind.kind_name("SomethingNew"), "something-new")


class Paths(unittest.TestCase):
    def test_last_source_root_wins(self):
        self.assertEqual(frames.repo_relative("/home/fixed/racelab/broken/cache.c"), "broken/cache.c")
        self.assertEqual(frames.repo_relative("./stress/main.c"), "stress/main.c")
        self.assertIsNone(frames.repo_relative("./nptl/pthread_create.c"))
        self.assertIsNone(frames.repo_relative("/usr/lib/unbroken/x.c"))


class Trim(unittest.TestCase):
    """valgrind.trim: Helgrind's first race at the race file, for lab.py."""

    def test_the_first_race_in_helgrinds_words(self):
        text = valgrind.trim(fixture("helgrind-broken.xml", "rb"), "broken/cache.c")
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("Possible data race during read of size 8"))
        self.assertEqual(lines[1], "   at find_link (broken/cache.c:84)")
        self.assertIn("This conflicts with a previous write of size 8 by thread #4", lines)

    def test_nothing_at_the_race_file_and_broken_xml(self):
        self.assertIsNone(valgrind.trim(fixture("helgrind-fixed.xml", "rb"), "broken/cache.c"))
        with self.assertRaises(valgrind.ParseError):
            valgrind.trim(b"<valgrindoutput><error>", "broken/cache.c")


if __name__ == "__main__":
    unittest.main()
