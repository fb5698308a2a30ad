"""racelab, the one command: its dispatch, every subcommand's --help, and
make install into a temporary prefix, run from another directory."""

import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from helpers import REPO
from racelab import commands

LAUNCHER = REPO / "racelab"


def racelab(*args, cwd=None):
    r = subprocess.run([sys.executable, str(LAUNCHER), *map(str, args)], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, cwd=cwd, timeout=120)
    return r.returncode, r.stdout, r.stderr


class Dispatch(unittest.TestCase):
    def test_help_lists_every_subcommand(self):
        rc, out, _ = racelab("--help")
        self.assertEqual(rc, 0)
        for name, *_ in commands.COMMANDS:
            self.assertRegex(out, rf"(?m)^  {name} ")

    def test_every_subcommand_has_its_help(self):
        for name, module, _, _ in commands.COMMANDS:
            with self.subTest(name):
                self.assertTrue((REPO / "scripts" / f"{module}.py").is_file())
                rc, out, err = racelab(name, "--help")
                self.assertEqual(rc, 0, err)
                self.assertIn("usage:", out)

    def test_a_subcommand_is_named_in_its_own_messages(self):
        _, out, _ = racelab("trials", "--help")
        self.assertIn("usage: racelab trials", out)
        rc, _, err = racelab("report", "--lab", "x")
        self.assertEqual(rc, 2)
        self.assertTrue(err.startswith("racelab report: error:"), err)

    def test_an_unknown_subcommand_is_one_line_and_exit_2(self):
        rc, out, err = racelab("frobnicate")
        self.assertEqual((rc, out), (2, ""))
        self.assertEqual(err.count("\n"), 1)
        self.assertIn("unknown subcommand 'frobnicate'", err)

    def test_no_subcommand_prints_the_list_and_exits_2(self):
        rc, _, err = racelab()
        self.assertEqual(rc, 2)
        self.assertIn("subcommands", err)

    def test_help_SUB_is_SUB_help(self):
        self.assertEqual(racelab("help", "run")[1], racelab("run", "--help")[1])

    def test_the_launcher_works_from_another_directory(self):
        with tempfile.TemporaryDirectory() as tmp:
            rc, out, _ = racelab("run", "--help", cwd=tmp)
        self.assertEqual(rc, 0)
        self.assertIn("usage: racelab run", out)


class Install(unittest.TestCase):
    """make install PREFIX=<temporary>: the launcher finds the installed
    tree from anywhere, and make uninstall removes both."""

    def make(self, target, prefix):
        return subprocess.run(["make", "-s", "-C", str(REPO), target, f"PREFIX={prefix}"],
                              capture_output=True, text=True, timeout=120)

    def check_installed(self, prefix, elsewhere):
        launcher = prefix / "bin" / "racelab"
        self.assertTrue(os.access(launcher, os.X_OK))
        share = prefix / "share" / "racelab"
        for needed in ("labs", "scripts/racelab/run.py", "packs/intro/expected.tsv",
                       "Makefile", "mk/install.mk", "expected"):
            self.assertTrue((share / needed).exists(), needed)
        self.assertFalse((share / "build").exists())
        r = subprocess.run([str(launcher), "--help"], capture_output=True, text=True,
                           cwd=elsewhere, timeout=60)
        self.assertEqual(r.returncode, 0)
        self.assertIn("check-pack", r.stdout)
        # One cheap subcommand that needs the installed data: a pack's check.
        r = subprocess.run([str(launcher), "check-pack", str(share / "packs" / "intro"),
                            "--only", "condvar-no", "--tools", "stress", "--trials", "2",
                            "--quiet"], capture_output=True, text=True, cwd=elsewhere,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("| condvar-no | fixed | stress |", r.stdout)
        self.assertTrue(list((elsewhere / "results").glob("pack-intro-*/*.jsonl")))

    def test_install_run_uninstall(self):
        with tempfile.TemporaryDirectory() as tmp:
            prefix, elsewhere = Path(tmp) / "prefix", Path(tmp) / "elsewhere"
            elsewhere.mkdir()
            r = self.make("install", prefix)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_installed(prefix, elsewhere)
            r = self.make("uninstall", prefix)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse((prefix / "share" / "racelab").exists())
            self.assertFalse((prefix / "bin" / "racelab").exists())

    def test_a_relative_prefix_is_refused(self):
        r = self.make("install", "relative/prefix")
        self.assertEqual(r.returncode, 2)
        self.assertIn("PREFIX must be an absolute path", r.stderr)


if __name__ == "__main__":
    unittest.main()
