"""Grading's results as Gradescope's results.json and as JUnit XML, from
canned grade results (a pass, a SAFE failure, an HONEST refusal, a copy
that does not compile), checked against the fields Gradescope's
autograder specification names and against JUnit's structure (parsed with
xml.etree)."""

import copy
import json
import unittest
import xml.etree.ElementTree as ET

import helpers  # noqa: F401  (puts scripts/ on the path)
from racelab import gradeformats as gf

# Gradescope's results.json: the fields its autograder specification names.
TOP_FIELDS = {"score", "execution_time", "output", "output_format", "test_output_format",
              "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
              "leaderboard"}
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output",
               "output_format", "tags", "visibility", "extra_data"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}

PASS = {
    "schema": "racelab.grade/1", "lab": 2, "title": "the revenue ledger's lost update",
    "modules": ["ledger"], "graded_at": "2026-12-04T18:00:00Z", "cpus": 2, "load": 1.5,
    "honest": {"pass": True, "refusals": [], "reason": "no suppressions", "hint": None},
    "safe": {"pass": True, "reason": "62 trials, all clean", "hint": None,
             "advice": [{"tool": "helgrind", "why": "Helgrind does not model C11 atomics",
                         "trials": 2, "example": "data race: write in ledger_add"}],
             "cells": [{"seconds": 12.5}]},
    "fast": {"pass": True, "reason": "at 2 threads your build does 1.02 of the reference",
             "hint": None},
    "passed": True, "elapsed_s": 31.4}

SAFE_FAILS = copy.deepcopy(PASS)
SAFE_FAILS.update(passed=False, safe={
    "pass": False, "reason": "work/lab-2/ledger.c:40 (ledger_add): the stress driver, trial 3 "
                             "of 10: invariants broken (lost 7)",
    "hint": "Find where the named invariant's data is read and written.",
    "stacks": ["T1 ledger_add ledger.c:40"], "advice": []},
    fast={"pass": None, "reason": "not run: not SAFE: speed only counts for a correct fix",
          "hint": None})

REFUSED = copy.deepcopy(PASS)
REFUSED.update(passed=False, honest={
    "pass": False, "reason": "a; b",
    "refusals": [{"rule": "suppression", "reason": "TSAN_OPTIONS has a suppressions file",
                  "hint": "Remove the suppression."},
                 {"rule": "race point", "reason": 'no longer has RACE_POINT("ledger.add")',
                  "hint": "Put each one back."}],
    "hint": "Remove the suppression."},
    safe={"pass": None, "reason": "not run: HONEST refused the copy", "hint": None},
    fast={"pass": None, "reason": "not run: HONEST refused the copy", "hint": None})

NO_COMPILE = copy.deepcopy(PASS)
NO_COMPILE.update(passed=False, build={"pass": False, "reason": "your copy does not compile",
                                       "errors": ["work/lab-2/ledger.c:12: error: expected ';'"]},
                  safe={"pass": False, "reason": "your copy does not compile: work/lab-2/"
                                                 "ledger.c:12: error: expected ';'",
                        "hint": "Build it yourself"},
                  fast={"pass": None, "reason": "not run: the build failed", "hint": None})

# The reference build failed in FAST: not the student's doing.
NOT_JUDGED = copy.deepcopy(PASS)
NOT_JUDGED.update(passed=False, fast={"pass": None, "reason": "the reference build failed: x",
                                      "hint": "Not your fix"})


class Gradescope(unittest.TestCase):
    def check_spec(self, data):
        """The fields and types Gradescope's specification gives."""
        json.dumps(data)  # it is JSON
        self.assertLessEqual(set(data), TOP_FIELDS)
        self.assertIsInstance(data["score"], (int, float))
        self.assertIn(data["visibility"], VISIBILITIES)
        self.assertIn(data["stdout_visibility"], VISIBILITIES)
        self.assertIsInstance(data["output"], str)
        for t in data["tests"]:
            self.assertLessEqual(set(t), TEST_FIELDS)
            self.assertLessEqual({"name", "score", "max_score", "status", "output", "visibility"},
                                 set(t))
            self.assertIn(t["status"], ("passed", "failed"))
            self.assertIn(t["visibility"], VISIBILITIES)
            self.assertLessEqual(0, t["score"])
            self.assertLessEqual(t["score"], t["max_score"])
        self.assertEqual(data["score"], sum(t["score"] for t in data["tests"]))

    def named(self, data):
        return {t["name"]: t for t in data["tests"]}

    def test_a_pass_has_every_point(self):
        data = gf.gradescope(PASS)
        self.check_spec(data)
        tests = self.named(data)
        self.assertEqual(list(tests), ["Lab 2 HONEST", "Lab 2 SAFE", "Lab 2 FAST"])
        self.assertEqual(data["score"], sum(gf.POINTS.values()))
        self.assertEqual({t["status"] for t in tests.values()}, {"passed"})
        self.assertIn("not counted", tests["Lab 2 SAFE"]["output"])  # the advice is shown
        self.assertIn("100 of 100 points", data["output"])
        self.assertEqual(data["execution_time"], 31)

    def test_a_safe_failure_scores_nothing_for_safe_and_fast(self):
        data = gf.gradescope(SAFE_FAILS)
        self.check_spec(data)
        tests = self.named(data)
        self.assertEqual(data["score"], 0)
        self.assertEqual(tests["Lab 2 HONEST"]["status"], "passed")
        self.assertEqual(tests["Lab 2 SAFE"]["status"], "failed")
        out = tests["Lab 2 SAFE"]["output"]
        self.assertIn("invariants broken (lost 7)", out)
        self.assertIn("hint: Find where", out)
        self.assertIn("| T1 ledger_add", out)
        self.assertIn("not run: not SAFE", tests["Lab 2 FAST"]["output"])

    def test_an_honest_refusal_gates_the_other_verdicts(self):
        data = gf.gradescope(REFUSED)
        self.check_spec(data)
        tests = self.named(data)
        self.assertEqual(data["score"], 0)
        self.assertEqual({t["status"] for t in tests.values()}, {"failed"})
        out = tests["Lab 2 HONEST"]["output"]
        self.assertIn("- TSAN_OPTIONS has a suppressions file", out)
        self.assertIn('RACE_POINT("ledger.add")', out)
        self.assertIn("hint: Put each one back.", out)
        self.assertIn("HONEST refused", tests["Lab 2 SAFE"]["output"])

    def test_the_gate_holds_even_if_a_verdict_says_pass(self):
        # A result edited by hand cannot score SAFE without HONEST.
        odd = copy.deepcopy(REFUSED)
        odd["safe"] = PASS["safe"]
        self.assertEqual(gf.gradescope(odd)["score"], 0)

    def test_a_copy_that_does_not_compile_shows_the_compiler(self):
        data = gf.gradescope(NO_COMPILE)
        self.check_spec(data)
        out = self.named(data)["Lab 2 SAFE"]["output"]
        self.assertIn("the compiler said:\n  work/lab-2/ledger.c:12: error", out)
        self.assertEqual(data["score"], 0)

    def test_all_labs_are_one_result(self):
        data = gf.gradescope({"schema": "racelab.grade/1", "passed": 1, "graded": 2,
                              "labs": [PASS, dict(SAFE_FAILS, lab=3)]})
        self.check_spec(data)
        self.assertEqual(len(data["tests"]), 6)
        self.assertEqual(data["score"], sum(gf.POINTS.values()))
        self.assertEqual(len(data["output"].splitlines()), 3)

    def test_a_submission_not_graded_scores_zero_with_its_message(self):
        data = gf.gradescope_failure("Not graded: no module file.", 2)
        self.check_spec(data)
        self.assertEqual(data["score"], 0)
        self.assertEqual([t["max_score"] for t in data["tests"]],
                         [gf.POINTS[v] for v in gf.VERDICTS])
        self.check_spec(gf.gradescope_failure("x"))
        self.assertEqual(gf.gradescope_failure("x")["tests"], [])


class JUnit(unittest.TestCase):
    def parse(self, result):
        data = gf.junit(result)
        self.assertTrue(data.startswith(b"<?xml"))
        root = ET.fromstring(data)
        self.assertEqual(root.tag, "testsuites")
        for suite in root.iter("testsuite"):
            cases = suite.findall("testcase")
            self.assertEqual(int(suite.get("tests")), len(cases))
            for kind, attr in (("failure", "failures"), ("error", "errors"),
                               ("skipped", "skipped")):
                self.assertEqual(int(suite.get(attr)), sum(len(c.findall(kind)) for c in cases))
        for attr in ("tests", "failures", "errors", "skipped"):
            self.assertEqual(int(root.get(attr)),
                             sum(int(s.get(attr)) for s in root.iter("testsuite")))
        return root

    def cases(self, root):
        return {c.get("name"): c for c in root.iter("testcase")}

    def test_a_pass_has_no_failure(self):
        root = self.parse(PASS)
        suite = root.find("testsuite")
        self.assertEqual(suite.get("name"), "lab-2")
        self.assertEqual(suite.get("time"), "31.4")
        cases = self.cases(root)
        self.assertEqual(list(cases), ["HONEST", "SAFE", "FAST"])
        self.assertEqual(root.get("failures"), "0")
        self.assertEqual({c.get("classname") for c in cases.values()}, {"racelab.lab-2"})

    def test_a_safe_failure_is_a_failure_with_its_reason(self):
        cases = self.cases(self.parse(SAFE_FAILS))
        failure = cases["SAFE"].find("failure")
        self.assertEqual(failure.get("message"), SAFE_FAILS["safe"]["reason"])
        self.assertEqual(failure.get("type"), "SAFE")
        self.assertIn("hint: Find where", failure.text)
        self.assertIsNotNone(cases["FAST"].find("skipped"))
        self.assertIsNone(cases["HONEST"].find("failure"))

    def test_an_honest_refusal_fails_honest_and_skips_the_rest(self):
        root = self.parse(REFUSED)
        cases = self.cases(root)
        self.assertIn("suppressions file", cases["HONEST"].find("failure").text)
        self.assertEqual(cases["SAFE"].find("skipped").get("message"),
                         "not run: HONEST refused the copy")
        self.assertEqual((root.get("failures"), root.get("skipped")), ("1", "2"))

    def test_a_verdict_that_could_not_be_judged_is_an_error(self):
        root = self.parse(NOT_JUDGED)
        self.assertIsNotNone(self.cases(root)["FAST"].find("error"))
        self.assertEqual(root.get("errors"), "1")

    def test_one_testsuite_per_lab(self):
        root = self.parse({"labs": [PASS, dict(REFUSED, lab=5)]})
        self.assertEqual([s.get("name") for s in root.iter("testsuite")], ["lab-2", "lab-5"])

    def test_a_grading_that_did_not_happen_is_one_error(self):
        root = ET.fromstring(gf.junit_failure("not graded: no copy", 4))
        self.assertEqual(root.find("testsuite").get("name"), "lab-4")
        self.assertEqual(root.find("testsuite/testcase/error").get("message"),
                         "not graded: no copy")


if __name__ == "__main__":
    unittest.main()
