"""How a trial's command line is built, and when TSan runs with ASLR off."""

import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from helpers import REPO
from racelab import tools, valgrind


class AslrWrapper(unittest.TestCase):
    def test_decision_from_mmap_rnd_bits(self):
        self.assertEqual(tools.aslr_wrapper(28, "x86_64"), ())
        self.assertEqual(tools.aslr_wrapper(8, "x86_64"), ())
        self.assertEqual(tools.aslr_wrapper(29, "x86_64"), ("setarch", "x86_64", "-R"))
        self.assertEqual(tools.aslr_wrapper(32, "aarch64"), ("setarch", "aarch64", "-R"))

    def test_value_read_from_the_file(self):
        for text, want in (("32\n", ("setarch", "x86_64", "-R")), ("28\n", ()), ("junk", ())):
            with self.subTest(text=text), \
                    mock.patch("builtins.open", mock.mock_open(read_data=text)):
                self.assertEqual(tools.aslr_wrapper(machine="x86_64"), want)

    def test_no_file_no_wrapper(self):
        with mock.patch.object(tools, "MMAP_RND_BITS", "/nonexistent/mmap_rnd_bits"):
            self.assertEqual(tools.aslr_wrapper(), ())

    def test_only_tsan_tools_are_wrapped(self):
        with mock.patch.object(tools, "aslr_wrapper", return_value=("setarch", "x86_64", "-R")):
            self.assertEqual(tools.command(tools.TOOLS["tsan-clang"], "bin", ["--seed", "1"]),
                             ["setarch", "x86_64", "-R", "bin", "--seed", "1"])
            self.assertEqual(tools.command(tools.TOOLS["tsan-gcc"], "bin", [])[:3],
                             ["setarch", "x86_64", "-R"])
            self.assertEqual(tools.command(tools.TOOLS["stress"], "bin", []), ["bin"])
            self.assertEqual(tools.command(tools.TOOLS["helgrind"], "bin", [], "x.xml"),
                             ["valgrind", "--tool=helgrind", "--xml=yes", "--xml-file=x.xml",
                              "bin"])
        with mock.patch.object(tools, "aslr_wrapper", return_value=()):
            self.assertEqual(tools.command(tools.TOOLS["tsan-clang"], "bin", []), ["bin"])


class RunnerEnvironment(unittest.TestCase):
    def test_user_tsan_options_are_replaced(self):
        user = {"TSAN_OPTIONS": "color=always log_path=/tmp/t", "VALGRIND_OPTS": "--xml=no",
                "PATH": "/bin"}
        env = tools.environment(tools.TOOLS["tsan-clang"], user)
        self.assertEqual(env["TSAN_OPTIONS"], "color=never log_path=stderr")
        self.assertEqual(env["PATH"], "/bin")
        env = tools.environment(tools.TOOLS["helgrind"], user)
        self.assertNotIn("TSAN_OPTIONS", env)
        self.assertNotIn("VALGRIND_OPTS", env)
        self.assertEqual(user["TSAN_OPTIONS"], "color=always log_path=/tmp/t")  # untouched

    def test_helgrind_runs_without_glibc_s_stack_cache(self):
        env = tools.environment(tools.TOOLS["helgrind"], {"GLIBC_TUNABLES": "glibc.malloc.check=0"})
        self.assertEqual(env["GLIBC_TUNABLES"], "glibc.malloc.check=0:" + tools.NO_STACK_CACHE)
        self.assertNotIn("GLIBC_TUNABLES", tools.environment(tools.TOOLS["drd"], {}))
        self.assertNotIn("GLIBC_TUNABLES", tools.environment(tools.TOOLS["tsan-clang"], {}))


@unittest.skipUnless(shutil.which("valgrind") and shutil.which("gcc"), "needs valgrind and gcc")
class NestedThreads(unittest.TestCase):
    """Threads that start threads, race-free: Helgrind, run as the runner
    runs it, reports nothing in five runs (with glibc's stack cache on it
    reported a race inside pthread_create in 16 of 20)."""

    def test_helgrind_reports_nothing_on_a_race_free_program(self):
        with tempfile.TemporaryDirectory() as tmp:
            exe = Path(tmp) / "nested"
            subprocess.run(["gcc", "-g", "-O0", "-pthread", "-o", str(exe),
                            str(REPO / "tests" / "fixtures" / "race-free-nested-threads.c")],
                           check=True)
            env = tools.environment(tools.TOOLS["helgrind"])
            for run in range(5):
                xml = Path(tmp) / f"{run}.xml"
                proc = subprocess.run(["valgrind", "--tool=helgrind", "--xml=yes",
                                       f"--xml-file={xml}", str(exe)], env=env,
                                      capture_output=True, text=True, timeout=120)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                found, problem = valgrind.parse(xml.read_bytes(), "helgrind")
                self.assertIsNone(problem)
                self.assertEqual(found, [], f"run {run + 1}: Helgrind reported {found[:1]}")


if __name__ == "__main__":
    unittest.main()
