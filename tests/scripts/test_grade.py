"""Grading: the SAFE trial-count calculation, and grade.py end to end on a
throw-away checkout whose racelab-stress is fake_stress.py (no real build:
--no-build; a real grading takes 5 to 25 s a lab on a quiet machine, see
GUIDE.md)."""

import json
import math
import shutil
import subprocess
import unittest
from pathlib import Path

from helpers import CACHE_C, SCENARIO, FakeTree, run_script
from racelab import expected, fast, gradeformats, grading

HEADER = "\t".join(expected.HEADER) + "\n"


def row(tool, s, n, build="broken", config="spread"):
    metric = {"broken": "symptom" if tool in ("stress", "chaos") else "detection",
              "fixed": "violation" if tool in ("stress", "chaos") else "false-positive"}[build]
    band = "0.00\t0.00" if build == "fixed" else "0.00\t1.00"  # a fixed band is 0-0
    return f"1\t{build}\t{tool}\t{config}\t{metric}\t{band}\t{s}\t{n}\tnote\n"


def table(tmp, *rows):
    (tmp / "lab-1-test").mkdir(exist_ok=True)
    (tmp / "lab-1-test" / expected.TABLE).write_text(HEADER + "".join(rows))
    return expected.read_dir(tmp)


class Calculation(unittest.TestCase):
    def setUp(self):
        self.tree = FakeTree()
        self.dir = self.tree.root / "expected"
        self.dir.mkdir()

    def tearDown(self):
        self.tree.cleanup()

    def test_product_of_miss_rates(self):
        plan = grading.plan(1, table(self.dir, row("stress", 50, 50), row("tsan-clang", 50, 50),
                                     row("helgrind", 0, 50), row("stress", 0, 50, "fixed")))
        self.assertEqual([c.tool for c in plan], ["stress", "tsan-clang", "helgrind"])
        z2 = grading.stats.Z95 ** 2
        q = 1 - 1 / (1 + z2 / 50)  # the Wilson low end of 50/50 is 1 / (1 + z^2/n)
        for c in plan[:2]:
            self.assertAlmostEqual(grading.miss(c), q, places=6)
        self.assertEqual(grading.miss(plan[2]), 1.0)  # a tool that never sees it adds nothing
        want = q ** (grading.MINIMUM["stress"] + grading.MINIMUM["tsan-clang"])
        self.assertAlmostEqual(math.log(grading.probability(plan)), math.log(want), places=6)
        text = "\n".join(grading.explain(1, plan))
        self.assertIn("50/50", text)
        self.assertIn("< 0.001", text)

    def test_trials_are_added_until_below_the_target(self):
        # Rates so low that the minimum counts are not enough.
        plan = grading.plan(1, table(self.dir, row("stress", 3, 30), row("tsan-clang", 2, 30)))
        self.assertLess(grading.probability(plan), grading.TARGET)
        self.assertGreater(sum(c.k for c in plan), sum(grading.MINIMUM[c.tool] for c in plan))
        # and not one trial more than needed: removing the last one breaks it
        best = max(range(len(plan)), key=lambda i: plan[i].k - grading.MINIMUM[plan[i].tool])
        fewer = list(plan)
        fewer[best] = fewer[best]._replace(k=fewer[best].k - 1)
        self.assertGreaterEqual(grading.probability(fewer), grading.TARGET)

    def test_extra_configurations_are_cells_of_their_own(self):
        plan = grading.plan(1, table(self.dir, row("stress", 50, 50),
                                     row("stress", 50, 50, config="spread-buckets=65536"),
                                     row("stress", 50, 50, config="compact")))
        self.assertEqual([(c.config, c.sets) for c in plan],
                         [("spread", []), ("spread-buckets=65536", ["buckets=65536"])])

    def test_the_chaos_build_is_a_cell_after_the_stress_driver(self):
        # Only its spread row: same-cpu is a matrix column, not a grading one.
        plan = grading.plan(1, table(self.dir, row("tsan-clang", 50, 50), row("chaos", 50, 50),
                                     row("chaos", 50, 50, config="same-cpu"),
                                     row("stress", 50, 50)))
        self.assertEqual([(c.tool, c.config) for c in plan],
                         [("stress", "spread"), ("chaos", "spread"), ("tsan-clang", "spread")])
        self.assertEqual(plan[1].k, grading.MINIMUM["chaos"])

    def test_nothing_catches_the_broken_build(self):
        with self.assertRaises(ValueError):
            grading.plan(1, table(self.dir, row("tsan-clang", 0, 50)))
        with self.assertRaises(ValueError):
            grading.plan(2, table(self.dir, row("stress", 50, 50)))

    def test_every_real_lab_meets_the_target(self):
        from helpers import REPO
        real = expected.read_dir(REPO / "labs")
        for lab in sorted({k[0] for k in real}):
            with self.subTest(lab=lab):
                self.assertLess(grading.probability(grading.plan(lab, real)), grading.TARGET)


class Reasons(unittest.TestCase):
    def test_the_report_shown_is_the_one_in_the_students_copy(self):
        driver = {"kind": "data-race", "matched": False,
                  "a": {"file": "labs/lab-8-publish/workload.c", "line": 76,
                        "function": "sender"},
                  "b": {"file": "labs/lab-8-publish/workload.c", "line": 64,
                        "function": "computer"}}
        copy = {"kind": "data-race", "matched": False, "race_point": "m.put.window",
                "a": {"file": "work/lab-8/publish.c", "line": 5, "function": "publish_get",
                      "access": "read"}, "b": None}
        rec = {"outcome": "detected", "manifested": False, "findings": [driver, copy]}
        self.assertEqual(grading.trial_failed(rec), "report")
        reason, f = grading.failure_reason("tsan-clang", 1, 4, rec, "report")
        self.assertIs(f, copy)
        self.assertIn("read in publish_get (work/lab-8/publish.c:5), at "
                      'RACE_POINT("m.put.window") (and 1 more report)', reason)
        self.assertIn("same lock", grading.hint_for("report", f))

    def test_clean_and_failed_trials(self):
        clean = {"outcome": "clean", "manifested": False, "findings": []}
        self.assertIsNone(grading.trial_failed(clean))
        self.assertIsNone(grading.trial_failed(dict(clean, outcome="tool-error")))
        self.assertEqual(grading.trial_failed(dict(clean, outcome="hang")), "hang")
        self.assertEqual(grading.trial_failed(dict(clean, outcome="manifested",
                                                   manifested=True)), "violation")


class EndToEnd(unittest.TestCase):
    """grade.py on a fake checkout: HONEST, SAFE and FAST from
    fake_stress.py, the JSON result. The table has the stress driver alone,
    so that SAFE's plan runs few processes (a fast test)."""

    def setUp(self):
        self.tree = FakeTree(flavours=("release",),
                             variants=("student-1", "fixed"))
        root = self.tree.root
        (root / "labs" / "lab-1-test" / "scenario.conf").write_text(
            SCENARIO + "broken_modules = cache\ntitle = a test\nfast.buckets = 8\n")
        (root / "fixed").mkdir()
        (root / "fixed" / "cache.c").write_text(CACHE_C)
        (root / "labs" / "lab-1-test" / "expected.tsv").write_text(
            HEADER + row("stress", 50, 50))
        (root / ".gitignore").write_text("work/\nbuild/\n")
        git = ["git", "-C", str(root)]
        subprocess.run(git + ["init", "-q"], check=True)
        subprocess.run(git + ["add", "."], check=True)
        subprocess.run(git + ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                       check=True)
        run_script("workcopy.py", "start", 1, env=self.tree.env())
        self.json = root / "work" / "lab-1" / "grade.json"

    def tearDown(self):
        self.tree.cleanup()

    def grade(self, *args, **env):
        return run_script("grade.py", *args, env=self.tree.env(**env))

    def result(self):
        return json.loads(self.json.read_text())

    def check_shape(self, r):
        self.assertEqual(r["schema"], "racelab.grade/1")
        self.assertEqual(r["lab"], 1)
        self.assertEqual(list(r["copies"]), ["work/lab-1/cache.c"])
        self.assertEqual(len(r["copies"]["work/lab-1/cache.c"]["sha256"]), 64)
        for v in ("honest", "safe", "fast"):
            self.assertIn(r[v]["pass"], (True, False, None))
            self.assertIsInstance(r[v]["reason"], str)
            self.assertIn("hint", r[v])
        self.assertIsInstance(r["passed"], bool)

    def test_a_clean_fast_build_passes_and_all_adds_the_total(self):
        code, out, err = self.grade("--all", "--no-build", FAKE_MODE="clean")
        self.assertEqual(code, 0, out + err)
        r = self.result()
        self.check_shape(r)
        self.assertTrue(r["passed"])
        self.assertEqual([c["clean"] for c in r["safe"]["cells"]], [grading.MINIMUM["stress"]])
        self.assertLess(r["safe"]["probability_broken_passes"], 0.001)
        self.assertEqual(r["fast"]["ratio"], 1.0)
        self.assertEqual(len(r["fast"]["student_ops_per_s"]), 7)
        self.assertIn("total: 1 of 1 started labs", out)
        total = json.loads((self.tree.root / "work" / "grade.json").read_text())
        self.assertEqual((total["passed"], total["graded"]), (1, 1))
        self.assertEqual(total["labs"][0], r)

    def test_a_slow_build_is_safe_but_not_fast(self):
        code, out, _ = self.grade(1, "--no-build", FAKE_MODE="clean", FAKE_STUDENT_OPS=400)
        self.assertEqual(code, 1)
        r = self.result()
        self.assertTrue(r["safe"]["pass"])
        self.assertFalse(r["fast"]["pass"])
        self.assertEqual(r["fast"]["ratio"], 0.4)
        self.assertEqual(len(r["fast"]["student_ops_per_s"]), 14, "a failure is confirmed")
        self.assertIn("lock held across slow work", r["fast"]["hint"])
        self.assertIn("0.40 of the reference", out)

    def test_a_correct_slower_build_passes_as_slower(self):
        code, out, _ = self.grade(1, "--no-build", FAKE_MODE="clean", FAKE_STUDENT_OPS=600)
        self.assertEqual(code, 0, out)
        r = self.result()
        self.assertTrue(r["fast"]["pass"])
        self.assertTrue(r["fast"]["slower"])
        self.assertEqual(r["fast"]["fast_floor"], fast.FAST_FLOOR)
        self.assertIn("correct and slower", r["fast"]["reason"])

    def test_an_unsafe_build_stops_at_its_first_failure(self):
        code, out, _ = self.grade(1, "--no-build", FAKE_MODE="manifested")
        self.assertEqual(code, 1)
        r = self.result()
        self.check_shape(r)
        self.assertFalse(r["safe"]["pass"])
        self.assertIn("trial 1 of", r["safe"]["reason"])
        self.assertIn("lost 3", r["safe"]["reason"])
        self.assertIn("read of shared state", r["safe"]["hint"])
        self.assertIsNone(r["fast"]["pass"])
        self.assertEqual(len(r["safe"]["cells"]), 1)

    def test_a_suppression_is_refused_before_anything_runs(self):
        code, out, _ = self.grade(1, "--no-build", FAKE_MODE="clean",
                                  TSAN_OPTIONS="suppressions=quiet.supp")
        self.assertEqual(code, 1)
        r = self.result()
        self.check_shape(r)
        self.assertFalse(r["honest"]["pass"])
        self.assertEqual(r["honest"]["refusals"][0]["rule"], "suppression")
        self.assertIsNone(r["safe"]["pass"])
        self.assertIn("HONEST NO", " ".join(out.split()))

    def test_the_chaos_build_runs_with_the_measured_settings_only(self):
        # A student's RACELAB_CHAOS_EVERY would make the chaos build hunt
        # harder (honest fixes time out) or not at all (SAFE's counts assume
        # 1 in 256): grading drops it, and says so.
        root = self.tree.root
        for variant in ("student-1", "fixed"):
            # A copy, not a link: the runner resolves links, and the log
            # must show which build ran.
            d = root / "build" / "chaos" / variant
            d.mkdir(parents=True)
            shutil.copy(Path(__file__).with_name("fake_stress.py"), d / "racelab-stress")
        with open(root / "labs" / "lab-1-test" / "expected.tsv", "a") as f:
            f.write(row("chaos", 30, 30))
        subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t",
                        "commit", "-qam", "chaos row"], check=True)
        log = root / "runs.log"
        code, out, err = self.grade(1, "--no-build", FAKE_MODE="clean", FAKE_LOG=log,
                                    RACELAB_CHAOS_EVERY=1)
        self.assertEqual(code, 0, out + err)
        self.assertIn("graded without RACELAB_CHAOS_EVERY", out)
        runs = [line.split("\t") for line in log.read_text().splitlines()]
        chaos = [every for path, every in runs if "/chaos/student-1/" in path]
        self.assertEqual(chaos, ["-"] * grading.MINIMUM["chaos"])
        self.assertEqual({every for _, every in runs}, {"-"})
        self.assertEqual([c["tool"] for c in self.result()["safe"]["cells"]], ["stress", "chaos"])
        self.assertIn("release and chaos builds", self.result()["safe"]["reason"])

    def test_gradescope_and_junit_come_from_the_same_result(self):
        gs, xml = self.tree.root / "out" / "results.json", self.tree.root / "out" / "junit.xml"
        code, out, _ = self.grade(1, "--no-build", "--gradescope", gs, "--junit", xml,
                                  FAKE_MODE="manifested")
        self.assertEqual(code, 1)
        r = self.result()
        data = json.loads(gs.read_text())
        self.assertEqual(data, gradeformats.gradescope(r))
        self.assertEqual(xml.read_bytes(), gradeformats.junit(r))
        self.assertEqual(data["score"], 0)
        self.assertIn("lost 3", data["tests"][1]["output"])
        self.assertIn("(Gradescope: ", out)

    def test_a_lab_that_cannot_be_graded_still_writes_its_results(self):
        (self.tree.root / "work" / "lab-1" / "cache.c").unlink()
        gs, xml = self.tree.root / "results.json", self.tree.root / "junit.xml"
        code, _, err = self.grade(1, "--gradescope", gs, "--junit", xml)
        self.assertEqual(code, 2)
        data = json.loads(gs.read_text())
        self.assertEqual(data["score"], 0)
        self.assertIn("no working copy", data["output"])
        self.assertEqual([t["name"] for t in data["tests"]],
                         ["Lab 1 HONEST", "Lab 1 SAFE", "Lab 1 FAST"])
        self.assertIn(b"<error", xml.read_bytes())
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_plan_only_prints_the_calculation(self):
        code, out, _ = self.grade(1, "--plan")
        self.assertEqual(code, 0)
        self.assertIn("P(the broken module passes SAFE)", out)
        self.assertIn("with buckets = 8; passes when the median ops/s is at least 0.75", out)
        self.assertFalse(self.json.exists())

    def test_bad_input_is_one_line(self):
        (self.tree.root / "work" / "lab-1" / "cache.c").unlink()
        for args in ((1,), (42,), ("--all",), ()):
            with self.subTest(args=args):
                code, out, err = self.grade(*args)
                self.assertEqual(code, 2)
                self.assertEqual(len(err.splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
