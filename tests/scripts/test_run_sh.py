"""tests/run.sh: make test runs every part, make check (--check) the unit
tests alone; both end with "N passed, N failed" and exit 1 on a failure.

Run on a throw-away tree holding a copy of run.sh and stand-ins for each
part, so the real suites are not run from inside themselves.
"""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from helpers import REPO

CMOCKA = """#!/bin/sh
echo "[==========] 2 test(s) run."
echo "[  PASSED  ] 2 test(s)."
"""
SCRIPTS = """import sys
print("scripts: 3 passed, {failed} failed, 0 skipped")
sys.exit(1 if {failed} else 0)
"""
DOCS = """print("check_docs.py: every fact checked holds")
"""
CLI = """echo "ok - one"
echo "not ok - two"
"""


class RunSh(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="racelab-runsh-")
        self.addCleanup(tmp.cleanup)
        self.root = Path(tmp.name)
        (self.root / "tests" / "scripts").mkdir(parents=True)
        (self.root / "tests" / "cli").mkdir()
        (self.root / "build" / "tests").mkdir(parents=True)
        shutil.copy(REPO / "tests" / "run.sh", self.root / "tests" / "run.sh")
        suite = self.root / "build" / "tests" / "test_fake"
        suite.write_text(CMOCKA)
        suite.chmod(0o755)
        self.scripts(failed=0)
        (self.root / "scripts").mkdir()
        (self.root / "scripts" / "check_docs.py").write_text(DOCS)
        (self.root / "tests" / "cli" / "test_cmdline.sh").write_text(CLI)

    def scripts(self, failed):
        (self.root / "tests" / "scripts" / "run.py").write_text(SCRIPTS.format(failed=failed))

    def run_sh(self, *args):
        env = dict(os.environ, RACELAB_SKIP_RATES="1", RACELAB_SKIP_SELFTEST="1")
        r = subprocess.run(["sh", str(self.root / "tests" / "run.sh"), *args], env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def test_check_runs_the_unit_tests_alone(self):
        code, out, err = self.run_sh("--check")
        self.assertEqual(code, 0, out + err)
        self.assertEqual(out.splitlines()[-1], "6 passed, 0 failed")
        self.assertRegex(out.splitlines()[-2], r"^== took \d+ s \(load average ")
        self.assertIn("== documents' facts (check-docs): 1 passed, 0 failed", out)
        self.assertNotIn("test_cmdline", out)  # no command-line tests

    def test_everything_counts_the_command_line_tests(self):
        code, out, _ = self.run_sh()
        self.assertEqual(code, 1)
        self.assertIn("== test_cmdline: 1 passed, 1 failed", out)
        self.assertEqual(out.splitlines()[-1], "7 passed, 1 failed")

    def test_check_fails_when_a_script_test_fails(self):
        self.scripts(failed=2)
        code, out, _ = self.run_sh("--check")
        self.assertEqual(code, 1)
        self.assertEqual(out.splitlines()[-1], "6 passed, 2 failed")

    def test_arguments(self):
        code, out, _ = self.run_sh("--help")
        self.assertEqual(code, 0)
        self.assertIn("--check", out)
        for args in (("--bogus",), ("--check", "--check")):
            with self.subTest(args=args):
                code, out, err = self.run_sh(*args)
                self.assertEqual(code, 2)
                self.assertEqual(out, "")
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertTrue(err.startswith("run.sh: error: "), err)


if __name__ == "__main__":
    unittest.main()
