"""trials.py end to end, with fake_stress.py standing in for racelab-stress."""

import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from contextlib import redirect_stderr
from unittest import mock

from helpers import FIXTURES, HERE, SCRIPTS, FakeTree, run_script
import trials  # noqa: E402  (scripts/ is on sys.path via helpers)
from racelab import cli, trial

# Runs a command as nobody: root may write anywhere, nobody may not.
AS_NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def closed_to_others(path):
    """The first of path and the directories above it that others (nobody)
    cannot enter or read, or None when nobody can reach and read path."""
    path = Path(path)
    if not path.stat().st_mode & stat.S_IROTH:
        return path
    for d in path.parents:
        if not d.stat().st_mode & stat.S_IXOTH:
            return d
    return None


def python_for_nobody():
    """A Python 3.9+ that nobody can run (a pyenv under /root is not one)."""
    for candidate in (sys.executable, shutil.which("python3", path="/usr/bin:/bin")):
        if candidate and closed_to_others(Path(candidate).resolve()) is None:
            ok = subprocess.run(
                [candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 9))"],
                stdin=subprocess.DEVNULL, capture_output=True)
            if ok.returncode == 0:
                return candidate
    return None


class BadArguments(unittest.TestCase):
    """Each bad invocation: exit 2, one line naming the problem, nothing written."""

    def setUp(self):
        self.tree = FakeTree()

    def tearDown(self):
        self.tree.cleanup()

    def assertRefused(self, args, message, env=None, **how):
        code, out, err = run_script("trials.py", *args, env=env or self.tree.env(), **how)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("trials.py: error: "), err)
        self.assertIn(message, err)
        self.assertEqual(self.tree.files(), [])

    def base(self, **over):
        args = {"--lab": 1, "--build": "broken", "--tool": "stress", "--trials": 2,
                "--results": self.tree.results}
        args.update(over)
        return [str(x) for kv in args.items() for x in kv]

    def test_unknown_lab(self):
        self.assertRefused(self.base(**{"--lab": 7}), "unknown lab 7")

    def test_zero_threads(self):
        self.assertRefused(self.base() + ["--threads", "0"], "must be at least 1")

    def test_zero_trials(self):
        self.assertRefused(self.base(**{"--trials": 0}), "must be at least 1")

    def test_bad_cpu_lists(self):
        for bad in ("0,x", "3-1", "1-", ""):
            with self.subTest(cpus=bad):
                self.assertRefused(self.base() + ["--cpus", bad], "--cpus")

    def test_cpu_not_usable_here(self):
        self.assertRefused(self.base() + ["--cpus", "4095"], "cpu 4095 is not usable here")

    def test_unknown_tool(self):
        self.assertRefused(self.base(**{"--tool": "asan"}), "invalid choice: 'asan'")

    def test_missing_binary(self):
        self.assertRefused(self.base(**{"--tool": "tsan-gcc"}),
                           "build/tsan-gcc/broken-1/racelab-stress is missing: run make")

    def test_results_dir_under_a_file(self):
        blocker = self.tree.root / "blocker"
        blocker.write_text("")
        code, _, err = run_script("trials.py", *self.base(**{"--results": blocker / "results"}),
                                  env=self.tree.env())
        self.assertEqual(code, 2)
        self.assertIn("is not a directory", err)
        self.assertFalse((blocker.parent / "results").exists())

    def test_unwritable_results_dir(self):
        locked = self.tree.root / "locked"
        locked.mkdir()
        args = self.base(**{"--results": locked / "results"})
        if os.geteuid() != 0:
            locked.chmod(0o555)
            self.assertRefused(args, "not writable")
            return
        # Root may write anywhere, so the command runs as nobody against a
        # directory of root's with mode 0755. nobody must reach the tree, the
        # scripts, the fake binary and a Python: the tree is opened to others
        # and gets copies of the scripts and the fake, since the checkout (or
        # the Python) may be in a folder closed to others, such as /root.
        if shutil.which("setpriv") is None:
            self.skipTest("setpriv (util-linux) is not installed")
        locked.chmod(0o755)
        self.tree.root.chmod(0o755)
        exe = self.tree.root / "build" / "release" / "broken-1" / "racelab-stress"
        exe.unlink()
        shutil.copy(HERE / "fake_stress.py", exe)
        exe.chmod(0o755)
        with tempfile.TemporaryDirectory(prefix="racelab-scripts-") as aside:
            Path(aside).chmod(0o755)
            scripts = Path(aside) / "scripts"
            shutil.copytree(SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
            closed = closed_to_others(self.tree.root) or closed_to_others(scripts / "trials.py")
            if closed:
                self.skipTest(f"nobody cannot enter {closed}, where the temporary files are")
            python = python_for_nobody()
            if python is None:
                self.skipTest("no Python 3.9+ that nobody may run (sys.executable is in a "
                              "folder closed to others and /usr/bin has none)")
            self.assertRefused(args, "not writable", prefix=AS_NOBODY, scripts=scripts,
                               python=python, cwd=self.tree.root)

    def test_driver_rejecting_its_arguments(self):
        self.assertRefused(self.base(), "racelab-stress rejected the arguments: threads must be",
                           env=self.tree.env(FAKE_MODE="usage"))


class Runs(unittest.TestCase):
    def setUp(self):
        self.tree = FakeTree()

    def tearDown(self):
        self.tree.cleanup()

    def run_trials(self, *extra, mode="clean", tool="stress", build="broken", **env):
        code, out, err = run_script(
            "trials.py", "--lab", 1, "--build", build, "--tool", tool, "--trials", 3,
            "--results", self.tree.results, "--seed", 100, *extra,
            env=self.tree.env(FAKE_MODE=mode, **env))
        return code, err, self.records(tool, build)

    def records(self, tool, build, config="spread"):
        path = self.tree.results / f"1-{build}-{tool}-{config}.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def test_clean_run_records_and_summary(self):
        code, err, recs = self.run_trials()
        self.assertEqual(code, 0, err)
        self.assertEqual([r["outcome"] for r in recs], ["clean"] * 3)
        self.assertEqual([r["seed"] for r in recs], [100, 101, 102])
        self.assertEqual([r["trial"] for r in recs], [1, 2, 3])
        self.assertEqual(len({r["run"] for r in recs}), 1)
        self.assertEqual(recs[0]["time_limit_s"], 5)  # the scenario's
        lines = err.splitlines()
        self.assertRegex(lines[0], r"^\[1/3\] stress broken: clean \(\d+\.\ds\) eta \d+s$")
        self.assertTrue(lines[-1].startswith("lab 1 broken stress: 0/3 manifested (95% CI 0.00-0.56)"),
                        lines[-1])
        self.assertFalse((self.tree.results / ".partial").exists())

    def test_runs_append(self):
        self.run_trials()
        _, _, recs = self.run_trials(mode="manifested")
        self.assertEqual([r["outcome"] for r in recs], ["clean"] * 3 + ["manifested"] * 3)

    def test_crash(self):
        _, _, recs = self.run_trials(mode="crash")
        self.assertEqual(recs[0]["outcome"], "crash")
        self.assertEqual(recs[0]["exit"], {"code": None, "signal": "SIGSEGV"})
        self.assertIsNone(recs[0]["invariants"])

    def test_threads_not_started_is_a_tool_error(self):
        code, _, recs = self.run_trials(mode="resources")
        self.assertEqual(code, 1)  # done, but with tool errors
        self.assertTrue(recs)
        for r in recs:
            self.assertEqual(r["outcome"], "tool-error")
            self.assertFalse(r["manifested"])
            self.assertIn("cannot create thread", r["error"])

    def test_driver_watchdog_hang(self):
        _, _, recs = self.run_trials(mode="watchdog")
        self.assertEqual(recs[0]["outcome"], "hang")
        self.assertEqual(recs[0]["exit"]["code"], 3)

    def test_tsan_report_is_matched_and_kept(self):
        code, err, recs = self.run_trials(
            "--keep-output", mode="tsan", tool="tsan-clang",
            FAKE_REPORT=FIXTURES / "tsan-clang-broken.txt")
        self.assertEqual(code, 0, err)
        self.assertEqual(recs[0]["outcome"], "detected")
        self.assertEqual(recs[0]["time_limit_s"], 7)  # tsan.time_limit_s
        self.assertEqual((recs[0]["findings_total"], recs[0]["findings_matched"]), (3, 3))
        self.assertEqual(recs[0]["findings"][0]["race_point"], None)  # find_link: no point
        kept = self.tree.results / "1-broken-tsan-clang-spread.report.txt"
        self.assertEqual(kept.read_text(), (FIXTURES / "tsan-clang-broken.txt").read_text())
        self.assertIn("3/3 detected", err)

    def test_a_cpu_named_twice_weights_it(self):
        # As in the driver's --cpus: '1,1,0' puts two of three threads on CPU 1.
        self.assertEqual(cli.cpu_list("1,1,0"), [1, 1, 0])
        self.assertEqual(cli.cpu_list("0-1,1"), [0, 1, 1])
        cpu = min(os.sched_getaffinity(0))
        code, err, _ = self.run_trials("--cpus", f"{cpu},{cpu}")
        self.assertEqual(code, 0, err)
        self.assertEqual(len(self.records("stress", "broken", f"cpus-{cpu}+{cpu}")), 3)

    def assertOneLineFailure(self, code, err, message):
        self.assertEqual(code, 2, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("trials.py: error: "), err)
        self.assertIn(message, err)

    def test_partial_file_cannot_be_written(self):
        self.tree.results.mkdir()
        (self.tree.results / ".partial").write_text("")  # a file where a folder must go
        code, err, _ = self.run_trials("--quiet")
        self.assertOneLineFailure(code, err, "cannot write ")

    def test_results_file_cannot_be_written(self):
        (self.tree.results / "1-broken-stress-spread.jsonl").mkdir(parents=True)
        code, err, _ = self.run_trials("--quiet")
        self.assertOneLineFailure(code, err, "cannot add the records to ")
        self.assertIn("the 3 finished trials are in ", err)
        self.assertEqual(len(list((self.tree.results / ".partial").glob("*.jsonl"))), 1)

    def test_report_cannot_be_kept(self):
        (self.tree.results / "1-broken-tsan-clang-spread.report.txt").mkdir(parents=True)
        code, err, recs = self.run_trials(
            "--keep-output", "--quiet", mode="tsan", tool="tsan-clang",
            FAKE_REPORT=FIXTURES / "tsan-clang-broken.txt")
        self.assertEqual(code, 2, err)
        self.assertEqual(len(recs), 3)  # the records were added before
        self.assertTrue(err.splitlines()[-1].startswith("trials.py: error: cannot keep the report"),
                        err)
        self.assertNotIn("Traceback", err)

    def test_sigterm_is_an_interrupt(self):
        with self.assertRaises(KeyboardInterrupt):
            trials.interrupted_by_sigterm(signal.SIGTERM, None)

    def test_config_names_what_differs(self):
        self.run_trials("--threads", 4, "--pin", "same-cpu")
        self.assertEqual(len(self.records("stress", "broken", "same-cpu-4t")), 3)

    def test_hang_is_killed_and_interrupt_leaves_results_untouched(self):
        # In-process, so the kill grace can be shortened and Ctrl-C simulated.
        env = self.tree.env(FAKE_MODE="hang")
        argv = ["--lab", "1", "--build", "broken", "--tool", "stress", "--trials", "1",
                "--results", str(self.tree.results), "--time-limit", "1", "--quiet"]
        with mock.patch.dict(os.environ, env), mock.patch.object(trial, "KILL_GRACE_S", 0.3), \
                redirect_stderr(io.StringIO()):
            try:
                self.assertEqual(trials.main(argv), 0)
            finally:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
        recs = self.records("stress", "broken")
        self.assertEqual(recs[0]["outcome"], "hang")
        self.assertEqual(recs[0]["exit"]["signal"], "SIGKILL")

        before = (self.tree.results / "1-broken-stress-spread.jsonl").read_bytes()
        calls = []

        def interrupted(plan, number, seed):
            calls.append(number)
            if number == 2:
                raise KeyboardInterrupt
            return real(plan, number, seed)
        real = trial.run_trial
        err = io.StringIO()
        with mock.patch.dict(os.environ, self.tree.env(FAKE_MODE="clean")), \
                mock.patch.object(trial, "run_trial", interrupted), redirect_stderr(err):
            try:
                code = trials.main(argv[:-1] + ["--trials", "3"])
            finally:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.assertEqual(code, 130)
        self.assertIn("interrupted after 1/3 trials; nothing added", err.getvalue())
        self.assertEqual((self.tree.results / "1-broken-stress-spread.jsonl").read_bytes(), before)


if __name__ == "__main__":
    unittest.main()
