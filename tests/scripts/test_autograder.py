"""The Gradescope bundle (make autograder) and its run_autograder, run in
a temporary folder laid out as Gradescope lays out /autograder (source,
submission, results; RACELAB_AUTOGRADER_ROOT points there).

Every submission that is refused (no module, an edit outside it, a link)
is refused before anything is built, in a second or so. SlowRealGrading is
the slow one: it grades lab 10 for real (builds and trials: the reference
fix, the broken module, a compiled-in suppression, a copy that does not
compile), about 10 s on 2 busy CPUs once the tree is built, minutes before
(its make grading-build)."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import zipfile
from pathlib import Path

from helpers import REPO, run_script
from racelab import gradeformats

import autograder

LAB = 10  # the lab that grades fastest
MODULE = "claim"
# What Gradescope's harness must not see from the environment of the tests.
DROPPED = ("RACELAB_ROOT", "RACELAB_WORK", "RACELAB_BUILD_DIR", "RACELAB_LAB", "MAKEFLAGS",
           "MFLAGS", "MAKELEVEL")


def make_bundle(out, *args):
    code, stdout, err = run_script("autograder.py", "bundle", "--out", out, *args)
    if code != 0:
        raise AssertionError(stdout + err)
    return out


def unpack(zpath, dest):
    """Extracts as Gradescope's unzip does, modes and times kept (the times
    keep make from rebuilding what setup.sh built)."""
    with zipfile.ZipFile(zpath) as z:
        for info in z.infolist():
            path = z.extract(info, dest)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(path, mode)
            t = time.mktime(info.date_time + (0, 0, -1))
            os.utime(path, (t, t))


class Layout:
    """/autograder in a temporary folder: source/ (the bundle unpacked),
    submission/, results/."""

    def __init__(self, bundle, where=None):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-autograder-", dir=where)
        self.root = Path(self._tmp.name)
        self.source = self.root / "source"
        unpack(bundle, self.source)
        self.new_submission()

    def new_submission(self, files=None):
        for d in ("submission", "results"):
            shutil.rmtree(self.root / d, ignore_errors=True)
            (self.root / d).mkdir()
        for rel, text in (files or {}).items():
            path = self.root / "submission" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def run(self, **env):
        full = {k: v for k, v in os.environ.items() if k not in DROPPED}
        full.update(RACELAB_AUTOGRADER_ROOT=str(self.root), **env)
        proc = subprocess.run([str(self.source / "run_autograder")], cwd=self.root, env=full,
                              capture_output=True, text=True, timeout=600)
        self.log = proc.stdout + proc.stderr
        assert proc.returncode == 0, self.log
        return json.loads((self.root / "results" / "results.json").read_text())

    def cleanup(self):
        self._tmp.cleanup()


def reference(module=MODULE):
    return (REPO / "fixed" / f"{module}.c").read_text()


class Bundle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="racelab-bundle-")
        tmp = Path(cls._tmp.name)
        cls.any_lab = make_bundle(tmp / "any.zip")
        cls.lab10 = make_bundle(tmp / "lab10.zip", "--lab", LAB)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def setUp(self):
        self.ag = Layout(self.any_lab)

    def tearDown(self):
        self.ag.cleanup()

    def check_zero(self, data, *words):
        self.assertEqual(data["score"], 0)
        for w in words:
            self.assertIn(w, data["output"])
        self.assertLessEqual(set(data), {"score", "output", "visibility", "stdout_visibility",
                                         "tests"})

    def test_what_gradescope_needs_is_at_the_top(self):
        with zipfile.ZipFile(self.lab10) as z:
            infos = {i.filename: i for i in z.infolist()}
        for name in ("setup.sh", "run_autograder"):
            self.assertTrue((infos[name].external_attr >> 16) & 0o100, name)
        self.assertIn("scripts/grade.py", infos)
        self.assertIn("scripts/deps.sh", infos)
        self.assertFalse([n for n in infos if n.startswith(("work/", "build/", "results/"))])
        with zipfile.ZipFile(self.lab10) as z:
            self.assertIn(f"lab = {LAB}", z.read(autograder.CONF).decode())
            setup = z.read("setup.sh").decode()
        self.assertIn("scripts/deps.sh", setup)
        self.assertIn("make -s -j2 grading-build", setup)
        self.assertIn("\ngrading-build:", (REPO / "mk" / "grade.mk").read_text())
        with zipfile.ZipFile(self.any_lab) as z:
            self.assertNotIn(autograder.CONF, z.namelist())

    def test_no_module_file_is_a_zero_with_the_files_to_submit(self):
        self.ag.new_submission({"README.md": "my notes\n"})
        data = self.ag.run()
        self.check_zero(data, "no lab's module file", "cache.c (lab 1)", f"{MODULE}.c (lab {LAB})")
        self.assertEqual(data["tests"], [])

    def test_two_labs_cannot_be_told_apart(self):
        self.ag.new_submission({"cache.c": reference("cache"), "ledger.c": reference("ledger")})
        self.check_zero(self.ag.run(), "more than one lab")

    def test_an_edit_outside_the_module_is_refused_before_any_build(self):
        broken = (REPO / "broken" / f"{MODULE}.c").read_text()
        self.ag.new_submission({f"{MODULE}.c": reference(),
                                f"broken/{MODULE}.c": broken + "/* easier */\n",
                                "common/extra.c": "int x;\n"})
        data = self.ag.run()
        self.check_zero(data, "changes files outside your module", f"broken/{MODULE}.c",
                        "common/extra.c (new)")
        self.assertEqual([t["name"] for t in data["tests"]],
                         [f"Lab {LAB} {v.upper()}" for v in gradeformats.VERDICTS])
        self.assertFalse((self.ag.source / "work").exists(), "nothing was copied")

    def test_a_link_out_of_the_submission_is_refused(self):
        self.ag.new_submission()
        sub = self.ag.root / "submission"
        (sub / f"{MODULE}.c").symlink_to(f"../source/fixed/{MODULE}.c")
        self.check_zero(self.ag.run(), "symbolic links", f"{MODULE}.c")

    def test_the_bundles_lab_wins_over_the_file_names(self):
        ag = Layout(self.lab10)
        try:
            ag.new_submission({"cache.c": reference("cache")})
            data = ag.run()
            self.check_zero(data, f"lab {LAB} grades {MODULE}.c", f"no {MODULE}.c")
            data = ag.run(RACELAB_LAB="x")
            self.check_zero(data, "cannot run", "not a lab number")
        finally:
            ag.cleanup()

    def test_a_whole_checkout_is_its_module_and_the_courses_files(self):
        files = [f"work/lab-{LAB}/{MODULE}.c", f"broken/{MODULE}.c", "Makefile", "notes.txt"]
        sub = self.ag.root / "submission"
        for rel in files[1:3]:
            (sub / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / rel, sub / rel)
        owners = autograder.module_labs(REPO)
        self.assertEqual(autograder.choose(files, owners, None),
                         (LAB, {MODULE: f"work/lab-{LAB}/{MODULE}.c"}))
        self.assertEqual(autograder.outside_edits(sub, files[1:3], REPO), [])
        with self.assertRaises(autograder.Refused):
            autograder.choose([f"a/{MODULE}.c", f"b/{MODULE}.c"], owners, None)


class SlowRealGrading(unittest.TestCase):
    """The slow one: run_autograder grades for real, on the builds setup.sh
    would make (make grading-build, a no-op once the tree is built; copied,
    times kept, so only the student's module is compiled)."""

    @classmethod
    def setUpClass(cls):
        env = {k: v for k, v in os.environ.items() if k not in DROPPED}
        subprocess.run(["make", "-s", "-j2", "grading-build"], cwd=REPO, env=env, check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=1800)
        build = REPO / "build"
        cls._tmp = tempfile.TemporaryDirectory(prefix="racelab-bundle-")
        cls.ag = Layout(make_bundle(Path(cls._tmp.name) / "lab.zip", "--lab", LAB))
        for part in ["gen", "release/fixed"] + [f"{f}/obj" for f in
                                                ("release", "chaos", "debug", "tsan-clang",
                                                 "tsan-gcc")]:
            shutil.copytree(build / part, cls.ag.source / "build" / part, symlinks=True)

    @classmethod
    def tearDownClass(cls):
        cls.ag.cleanup()
        cls._tmp.cleanup()

    def test_the_reference_fix_is_honest_and_safe(self):
        self.ag.new_submission({f"work/lab-{LAB}/{MODULE}.c": reference()})
        data = self.ag.run()
        tests = {t["name"]: t for t in data["tests"]}
        self.assertEqual(tests[f"Lab {LAB} HONEST"]["status"], "passed", self.ag.log)
        self.assertEqual(tests[f"Lab {LAB} SAFE"]["status"], "passed", self.ag.log)
        self.assertEqual(tests[f"Lab {LAB} SAFE"]["score"], gradeformats.POINTS["safe"])
        # FAST is measured on a shared machine: its score follows its status.
        fast = tests[f"Lab {LAB} FAST"]
        self.assertEqual(fast["score"], gradeformats.POINTS["fast"] * (fast["status"] == "passed"))
        self.assertEqual(data["score"], sum(t["score"] for t in data["tests"]))
        self.assertIn("all clean", tests[f"Lab {LAB} SAFE"]["output"])

    def test_the_broken_module_fails_safe_with_a_hint(self):
        broken = (REPO / "broken" / f"{MODULE}.c").read_text()
        self.ag.new_submission({f"{MODULE}.c": broken})
        data = self.ag.run()
        tests = {t["name"]: t for t in data["tests"]}
        self.assertEqual(data["score"], 0, self.ag.log)
        self.assertEqual(tests[f"Lab {LAB} SAFE"]["status"], "failed")
        self.assertIn("hint: ", tests[f"Lab {LAB} SAFE"]["output"])
        self.assertIn("not run: not SAFE", tests[f"Lab {LAB} FAST"]["output"])

    def test_a_compiled_in_suppression_is_refused_by_honest(self):
        self.ag.new_submission({f"{MODULE}.c": reference() + "\nconst char *"
                                "__tsan_default_suppressions(void)\n{\n\treturn \"race:*\";\n}\n"})
        data = self.ag.run()
        tests = {t["name"]: t for t in data["tests"]}
        self.assertEqual(data["score"], 0, self.ag.log)
        self.assertIn("__tsan_default_suppressions", tests[f"Lab {LAB} HONEST"]["output"])
        self.assertIn("HONEST refused", tests[f"Lab {LAB} SAFE"]["output"])

    def test_a_copy_that_does_not_compile_scores_zero_with_the_compiler_lines(self):
        self.ag.new_submission({f"{MODULE}.c": reference() + "\nint broken(void) { return }\n"})
        data = self.ag.run()
        self.assertEqual(data["score"], 0, self.ag.log)
        safe = next(t for t in data["tests"] if t["name"] == f"Lab {LAB} SAFE")
        self.assertIn("does not compile", safe["output"])
        self.assertIn(f"work/lab-{LAB}/{MODULE}.c", safe["output"])


if __name__ == "__main__":
    unittest.main()
