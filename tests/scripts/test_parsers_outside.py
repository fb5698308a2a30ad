"""The parsers on output racelab did not write: a plain program outside the
source roots, in a folder whose name is not UTF-8 (tests/fixtures/*-outside*,
captured by capture_fixtures.py), and the forms of other tool versions."""

import unittest

from helpers import FIXTURES
from racelab import frames, tsan, valgrind


def raw(name):
    return (FIXTURES / name).read_bytes()


def text(name):
    # as trial.py reads a trial's stderr
    return raw(name).decode("utf-8", "replace")


def sides(f):
    return [(s["function"], s["file"], s["line"]) if s else None for s in (f["a"], f["b"])]


LOCK_PAIR = [("take_ab", "outside.c", 9), ("take_ba", "outside.c", 16)]


class OutsideProgram(unittest.TestCase):
    def test_tsan_sites_are_kept_outside_the_source_roots(self):
        for cc in ("clang", "gcc"):
            findings, fatal = tsan.parse(text(f"tsan-{cc}-outside.txt"), f"tsan-{cc}")
            self.assertIsNone(fatal)
            self.assertEqual([f["kind"] for f in findings], ["lock-order-inversion", "data-race"])
            self.assertEqual(sides(findings[0]), LOCK_PAIR, cc)
            self.assertEqual(sides(findings[1]), [("main", "outside.c", 32),
                                                  ("worker", "outside.c", 23)], cc)
            self.assertFalse(any(f["incomplete"] for f in findings))

    def test_valgrind_xml_with_a_latin1_folder_name_parses(self):
        data = raw("helgrind-outside.xml")
        self.assertIn(b"caf\xe9", data)  # really not UTF-8
        for tool in ("helgrind", "drd"):
            findings, problem = valgrind.parse(raw(f"{tool}-outside.xml"), tool)
            self.assertIsNone(problem, tool)
            races = [f for f in findings if f["kind"] == "data-race"]
            self.assertTrue(races, tool)
            self.assertEqual((races[0]["a"]["function"], races[0]["a"]["file"]),
                             ("main", "outside.c"))

    def test_lock_order_pair_is_the_same_for_helgrind_and_tsan(self):
        # a: L2 taken while holding L1 (the order established), b: L1 taken
        # while holding L2 (the inversion); Helgrind prints b first and the
        # first lock of the required order (line 8) in between.
        findings, _ = valgrind.parse(raw("helgrind-outside.xml"), "helgrind")
        lock = [f for f in findings if f["kind"] == "lock-order-inversion"]
        self.assertEqual(len(lock), 1)
        self.assertEqual(sides(lock[0]), LOCK_PAIR)
        self.assertEqual(lock[0]["stack_a"][1], "take_ab outside.c:9")

    def test_configured_root_names_the_folder(self):
        frames.set_roots(["/home/user/proj"])
        try:
            findings, _ = tsan.parse(text("tsan-clang-outside.txt"))
            self.assertEqual(findings[0]["a"]["file"], "caf\ufffd/outside.c")
        finally:
            frames.set_roots(())

    def test_cxx_function_with_a_parameter_list(self):
        f = tsan.parse(text("tsan-clang-outside-cxx.txt"))[0][0]
        self.assertEqual(sides(f), [("handler(int, siginfo_t*, void*)", "outside.cc", 9)] * 2)
        # gcc prints the bare name
        f = tsan.parse(text("tsan-gcc-outside-cxx.txt"))[0][0]
        self.assertEqual(f["a"]["function"], "handler")

    def test_ansi_colours_are_stripped(self):
        coloured = text("tsan-clang-outside-color.txt")
        self.assertIn("\x1b[", coloured)
        plain = tsan.parse(text("tsan-clang-outside.txt"))[0]
        got = tsan.parse(coloured)[0]
        self.assertEqual([sides(f) for f in got], [sides(f) for f in plain])


class OtherForms(unittest.TestCase):
    """Hand-made from the real fixtures: forms this machine's tools do not print."""

    def test_starred_culprit_frame(self):
        # newer ThreadSanitizer: "  * #0 ..." marks the culprit frame
        src = text("tsan-clang-outside.txt").replace("    #0 main /home", "  * #0 main /home")
        self.assertIn("  * #0 main", src)
        f = tsan.parse(src)[0][1]
        self.assertEqual(f["a"]["function"], "main")
        self.assertEqual(f["stack_a"][0], "main outside.c:32")

    def test_warning_glued_after_program_output(self):
        src = text("tsan-clang-outside.txt").replace(
            "==================\nWARNING: ThreadSanitizer: data race",
            "progress: 40%WARNING: ThreadSanitizer: data race")
        self.assertIn("40%WARNING", src)
        findings, _ = tsan.parse(src)
        self.assertEqual([f["kind"] for f in findings], ["lock-order-inversion", "data-race"])
        self.assertEqual(findings[1]["a"]["function"], "main")

    def test_tsan_report_cut_short_is_kept_and_flagged(self):
        src = text("tsan-clang-outside.txt")
        cut = src[:src.index("  Location is global 'counter'")]
        findings, _ = tsan.parse(cut)
        self.assertEqual([f["incomplete"] for f in findings], [False, True])
        self.assertEqual(sides(findings[1])[1], ("worker", "outside.c", 23))

    def test_valgrind_error_cut_short_is_kept_and_flagged(self):
        data = raw("helgrind-outside.xml")
        cut = data[:data.index(b"Lock at ")]  # inside the LockOrder error
        findings, problem = valgrind.parse(cut, "helgrind")
        self.assertIn("invalid Valgrind XML", problem)
        self.assertEqual([(f["kind"], f["incomplete"]) for f in findings],
                         [("lock-order-inversion", True)])
        self.assertEqual(sides(findings[0]), LOCK_PAIR)


class SystemFrames(unittest.TestCase):
    def test_own_and_system(self):
        own = frames.own_path
        self.assertEqual(own("/tmp/x/work/lab-3/payflow.c"), "work/lab-3/payflow.c")
        self.assertEqual(own("./broken/cache.c"), "broken/cache.c")
        self.assertEqual(own("src/a.c"), "src/a.c")
        self.assertEqual(own("/home/u/p/a.c", "prog"), "a.c")
        for path, obj in (("./nptl/pthread_create.c", None),
                          ("./misc/../sysdeps/unix/sysv/linux/x86_64/clone.S", "/usr/lib/libc.so.6"),
                          ("../../../../src/libsanitizer/tsan/x.cpp", "libtsan.so.2"),
                          ("/build/valgrind/helgrind/hg_intercepts.c", None),
                          ("/x/vg_replace_strmem.c", None),
                          ("/usr/include/x86_64-linux-gnu/bits/stdio2.h", "prog"),
                          ("/home/u/p/a.c", "libfoo.so.1"), (None, None)):
            self.assertIsNone(own(path, obj), path)


if __name__ == "__main__":
    unittest.main()
