"""ThreadSanitizer parser, on real output from clang 14 and gcc 12."""

import unittest

from helpers import fixture
from racelab import frames, tsan


class Lab1Reports(unittest.TestCase):
    def test_clang_reports_have_both_sites_with_repo_relative_files(self):
        findings, fatal = tsan.parse(fixture("tsan-clang-broken.txt"), "tsan-clang")
        self.assertIsNone(fatal)
        self.assertEqual(len(findings), 3)
        first = findings[0]
        self.assertEqual((first["a"]["function"], first["a"]["line"], first["a"]["access"]),
                         ("find_link", 85, "read"))
        self.assertEqual((first["b"]["function"], first["b"]["line"], first["b"]["access"]),
                         ("cache_put", 143, "write"))
        for f in findings:
            self.assertEqual(f["kind"], "data-race")
            self.assertEqual(f["tool"], "tsan-clang")
            self.assertEqual(f["a"]["file"], "broken/cache.c")
            self.assertIn(f["a"]["access"], ("read", "write"))
            self.assertIsInstance(f["a"]["size"], int)
            self.assertRegex(f["a"]["thread"], r"^T\d+$")
            self.assertIsInstance(f["a"]["line"], int)
            self.assertIn(f"{f['a']['function']} broken/cache.c:{f['a']['line']}", f["stack_a"])
            self.assertLessEqual(len(f["stack_a"]), 5)

    def test_interceptor_frame_is_skipped_for_the_site(self):
        # The second report's read happens inside strcmp's interceptor.
        f = tsan.parse(fixture("tsan-clang-broken.txt"))[0][1]
        self.assertEqual(f["stack_a"][0], "strcmp")
        self.assertEqual((f["a"]["function"], f["a"]["line"]), ("find_link", 85))

    def test_gcc_dialect_without_columns(self):
        findings, fatal = tsan.parse(fixture("tsan-gcc-broken.txt"), "tsan-gcc")
        self.assertIsNone(fatal)
        self.assertEqual(len(findings), 3)
        self.assertEqual([(f["a"]["function"], f["a"]["line"]) for f in findings],
                         [("cache_put", 143), ("cache_grow", 121), ("cache_grow", 122)])
        self.assertEqual([(f["b"]["function"], f["b"]["line"]) for f in findings],
                         [("find_link", 85), ("find_link", 84), ("find_link", 84)])
        self.assertEqual(findings[0]["stack_a"][0], "cache_put broken/cache.c:143")

    def test_previous_access_whose_stack_was_lost(self):
        # TSan keeps a bounded history; an old access prints as
        # "[failed to restore the stack]" (seen in a gcc run): no site for b.
        text = fixture("tsan-gcc-broken.txt")
        head, sep, rest = text.partition("  Previous read of size 8 at 0x7b2000000240 by thread T2:\n")
        self.assertTrue(sep)
        rest = rest[rest.index("\n\n"):]
        lost = head + sep + "    [failed to restore the stack]\n" + rest
        findings, _ = tsan.parse(lost, "tsan-gcc")
        self.assertIsNone(findings[0]["b"])
        self.assertEqual(findings[0]["a"]["function"], "cache_put")

    def test_a_workload_frame_in_its_lab_folder_is_own_code(self):
        # The fixture was captured when lab 1's workload was
        # stress/lab1_cache.c; it is labs/lab-1-cache/workload.c now. The
        # same report with that path, as -ffile-prefix-map writes it and as
        # a build without it would (absolute).
        for prefix in ("", "/home/user/racelab/"):
            text = fixture("tsan-clang-broken.txt").replace(
                "stress/lab1_cache.c", prefix + "labs/lab-1-cache/workload.c")
            findings, _ = tsan.parse(text, "tsan-clang")
            stacks = [fr for f in findings for fr in f["stack_a"]]
            self.assertIn("worker labs/lab-1-cache/workload.c:99", stacks)
            self.assertEqual([f["a"]["file"] for f in findings], ["broken/cache.c"] * 3)

    def test_fixed_build_reports_nothing(self):
        for name in ("tsan-clang-fixed.txt", "tsan-gcc-fixed.txt"):
            self.assertEqual(tsan.parse(fixture(name)), ([], None), name)


class OtherKinds(unittest.TestCase):
    """Reports from a tiny program of our own (see capture_fixtures.py)."""

    def parse_one(self, name):
        findings, fatal = tsan.parse(fixture(name))
        self.assertIsNone(fatal)
        self.assertEqual(len(findings), 1, name)
        return findings[0]

    def test_lock_order_inversion_sides_are_the_two_acquisitions(self):
        for cc in ("clang", "gcc"):
            f = self.parse_one(f"tsan-{cc}-kinds-lock.txt")
            self.assertEqual(f["kind"], "lock-order-inversion")
            # the interceptor frame (<null> or libsanitizer) is skipped
            self.assertEqual((f["a"]["file"], f["a"]["line"]), ("broken/kinds.c", 21))
            self.assertEqual((f["b"]["file"], f["b"]["line"]), ("broken/kinds.c", 23))
            self.assertEqual(f["a"]["thread"], "main")

    def test_heap_use_after_free(self):
        for cc in ("clang", "gcc"):
            f = self.parse_one(f"tsan-{cc}-kinds-uaf.txt")
            self.assertEqual(f["kind"], "heap-use-after-free")
            self.assertEqual(f["a"]["function"], "use_freed")
            self.assertEqual(f["b"]["function"], "main")  # where free() was called

    def test_segv_is_a_crash_finding(self):
        for cc in ("clang", "gcc"):
            f = self.parse_one(f"tsan-{cc}-kinds-segv.txt")
            self.assertEqual(f["kind"], tsan.CRASH)
            self.assertIn("SEGV on unknown address", f["summary"])
            self.assertEqual((f["a"]["function"], f["a"]["access"]), ("main", "write"))

    def test_thread_leak_points_at_pthread_create_caller(self):
        for cc in ("clang", "gcc"):
            f = self.parse_one(f"tsan-{cc}-kinds-leak.txt")
            self.assertEqual(f["kind"], "thread-leak")
            self.assertEqual(f["a"]["function"], "main")
            self.assertIsNone(f["b"])


class Edges(unittest.TestCase):
    def test_deadly_signal_without_error_line_is_still_a_crash(self):
        findings, _ = tsan.parse("ThreadSanitizer:DEADLYSIGNAL\nThreadSanitizer:DEADLYSIGNAL\n")
        self.assertEqual([f["kind"] for f in findings], [tsan.CRASH])

    def test_fatal_is_a_tool_failure(self):
        _, fatal = tsan.parse("FATAL: ThreadSanitizer: unexpected memory mapping 0x7f-0x80\n")
        self.assertEqual(fatal, "FATAL: ThreadSanitizer: unexpected memory mapping 0x7f-0x80")

    def test_inline_helper_in_a_header_is_not_the_site(self):
        # hash_str is a static inline in common/hash.h: its frame is ours, but
        # the site is the .c function that called it (cache_grow).
        text = (
            "==================\n"
            "WARNING: ThreadSanitizer: data race (pid=1)\n"
            "  Read of size 1 at 0x7b0400000010 by thread T2:\n"
            "    #0 hash_str common/hash.h:14:10 (racelab-stress+0x1)\n"
            "    #1 cache_grow broken/cache.c:121:15 (racelab-stress+0x2)\n"
            "    #2 cache_put broken/cache.c:140:3 (racelab-stress+0x3)\n"
            "\n"
            "  Previous write of size 1 at 0x7b0400000010 by thread T1:\n"
            "    #0 hash_str common/hash.h:14:10 (racelab-stress+0x1)\n"
            "    #1 main stress/main.c:10:3 (racelab-stress+0x4)\n"
            "\n"
            "SUMMARY: ThreadSanitizer: data race common/hash.h:14:10 in hash_str\n"
            "==================\n")
        findings, fatal = tsan.parse(text, "tsan-clang")
        self.assertIsNone(fatal)
        f = findings[0]
        self.assertEqual((f["a"]["function"], f["a"]["file"], f["a"]["line"]),
                         ("cache_grow", "broken/cache.c", 121))
        self.assertEqual(f["stack_a"][0], "hash_str common/hash.h:14")  # the stack is kept whole
        self.assertEqual((f["b"]["function"], f["b"]["file"]), ("main", "stress/main.c"))

    def test_header_frame_is_the_site_when_no_other_frame_is_ours(self):
        only = [frames.frame("hash_str", "common/hash.h", 14), frames.frame("start", None, None)]
        self.assertEqual(frames.site(only)["file"], "common/hash.h")
        self.assertIsNone(frames.site([frames.frame("strcmp", None, None)]))

    def test_kind_names(self):
        self.assertEqual(tsan.kind_name("data race"), "data-race")
        self.assertEqual(tsan.kind_name("lock-order-inversion (potential deadlock)"),
                         "lock-order-inversion")

    def test_frame_forms(self):
        clang = tsan.parse_frame("cache_put /home/x/racelab/broken/cache.c:145:7 (bin+0x1) (BuildId: ab)")
        self.assertEqual((clang["file"], clang["line"], clang["own"]), ("broken/cache.c", 145, True))
        gcc = tsan.parse_frame("pthread_create ../../../../src/libsanitizer/tsan/x.cpp:1001 (libtsan.so.2+0x5)")
        self.assertEqual((gcc["file"], gcc["own"]), ("x.cpp", False))
        null = tsan.parse_frame("pthread_create <null> (bin+0x513ad)")
        self.assertEqual((null["function"], null["file"], null["own"]), ("pthread_create", None, False))


class Trim(unittest.TestCase):
    """tsan.trim: the report lab.py and war_story.py show a student."""

    def test_the_first_warning_at_the_race_file_three_frames_a_side(self):
        text = tsan.trim(fixture("tsan-clang-broken.txt"), "broken/cache.c")
        lines = text.splitlines()
        self.assertEqual(lines[0], "WARNING: ThreadSanitizer: data race")
        self.assertIn("    #2 worker stress/lab1_cache.c:99", lines)
        self.assertFalse(any("#3 " in line or "racelab-stress+" in line for line in lines))
        self.assertTrue(lines[-1].startswith("SUMMARY: ThreadSanitizer: data race broken/cache.c"))

    def test_no_warning_at_the_race_file(self):
        self.assertIsNone(tsan.trim(fixture("tsan-clang-broken.txt"), "fixed/cache.c"))
        self.assertIsNone(tsan.trim(fixture("tsan-clang-fixed.txt"), "broken/cache.c"))


if __name__ == "__main__":
    unittest.main()
