"""How a trial's command line is built, and when TSan runs with ASLR off."""

import unittest
from unittest import mock

import helpers  # noqa: F401  (puts scripts/ on sys.path)
from racelab import tools


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


if __name__ == "__main__":
    unittest.main()
