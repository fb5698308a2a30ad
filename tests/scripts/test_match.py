"""Matching findings to the declared race site, and finding race points."""

import unittest

from helpers import CACHE_C, fixture
from racelab import match, tsan

SITE = match.Site("broken/cache.c", ["cache_put", "cache_get", "find_link"], CACHE_C)


def side(file, function, line=1):
    return {"file": file, "function": function, "line": line}


def finding(a, b, kind="data-race"):
    return {"kind": kind, "a": a, "b": b, "matched": False, "pair": False, "race_point": None}


class Matching(unittest.TestCase):
    def test_both_sides_at_the_site_is_a_pair(self):
        f = match.judge(finding(side("broken/cache.c", "cache_put", 10),
                                side("broken/cache.c", "find_link", 3)), SITE)
        self.assertEqual((f["matched"], f["pair"]), (True, True))

    def test_one_side_is_matched_but_not_a_pair(self):
        f = match.judge(finding(side("broken/cache.c", "hash_str"),
                                side("broken/cache.c", "cache_put", 10)), SITE)
        self.assertEqual((f["matched"], f["pair"]), (True, False))

    def test_right_function_in_another_file_does_not_match(self):
        # fixed/cache.c has the same function names: never a detection.
        f = match.judge(finding(side("fixed/cache.c", "cache_put"),
                                side("fixed/cache.c", "cache_get")), SITE)
        self.assertEqual((f["matched"], f["pair"]), (False, False))

    def test_missing_sides_do_not_match(self):
        f = match.judge(finding(None, None), SITE)
        self.assertFalse(f["matched"])

    def test_a_crash_in_a_race_function_is_not_a_detection(self):
        f = match.judge(finding(side("broken/cache.c", "cache_put", 10), None, tsan.CRASH), SITE)
        self.assertFalse(f["matched"])

    def test_real_reports_match_lab_1(self):
        findings, _ = tsan.parse(fixture("tsan-gcc-broken.txt"))
        site = match.Site("broken/cache.c", ["cache_put", "cache_grow", "find_link"])
        self.assertTrue(all(match.judge(f, site)["pair"] for f in findings))
        site = match.Site("broken/cache.c", ["cache_evict"])
        self.assertFalse(any(match.judge(f, site)["matched"] for f in findings))


class RacePoints(unittest.TestCase):
    def test_line_below_the_race_point(self):
        self.assertEqual(SITE.race_point(10), "cache.put.window")  # *link = fresh

    def test_line_above_the_race_point_has_none(self):
        self.assertIsNone(SITE.race_point(8))  # the read, before the window

    def test_another_function_has_none(self):
        self.assertIsNone(SITE.race_point(3))

    def test_out_of_range_or_unknown_source(self):
        self.assertIsNone(SITE.race_point(999))
        self.assertIsNone(match.Site("broken/cache.c", []).race_point(10))

    def test_judge_takes_the_point_from_whichever_side_has_one(self):
        f = match.judge(finding(side("broken/cache.c", "cache_put", 8),
                                side("broken/cache.c", "cache_put", 10)), SITE)
        self.assertEqual(f["race_point"], "cache.put.window")


if __name__ == "__main__":
    unittest.main()
