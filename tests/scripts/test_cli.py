"""The command-line conventions every script shares (racelab/cli.py)."""

import io
import unittest
from contextlib import redirect_stderr

import helpers  # noqa: F401  (puts scripts/ on the path)
from racelab import cli


class Run(unittest.TestCase):
    def run_main(self, exc):
        def main(argv):
            raise exc
        err = io.StringIO()
        with redirect_stderr(err):
            rc = cli.run("prog.py", main, [])
        return rc, err.getvalue()

    def test_a_failure_is_one_line_and_exit_2(self):
        rc, err = self.run_main(cli.Failure("no such lab: 12"))
        self.assertEqual((rc, err), (2, "prog.py: error: no such lab: 12\n"))

    def test_ctrl_c_is_one_line_and_exit_130_not_a_traceback(self):
        rc, err = self.run_main(KeyboardInterrupt())
        self.assertEqual((rc, err), (130, "prog.py: interrupted\n"))

    def test_a_closed_pipe_is_not_an_error(self):
        self.assertEqual(self.run_main(BrokenPipeError())[0], 0)

    def test_a_bug_is_not_hidden(self):
        with self.assertRaises(ZeroDivisionError):
            self.run_main(ZeroDivisionError())


class ScriptParser(unittest.TestCase):
    def test_help_is_the_docstring_s_first_paragraph_and_the_exits(self):
        doc = "prog.py: does one thing,\nwell.\n\nMore, not in --help."
        p = cli.script_parser("prog.py", doc, "0 done, 2 bad arguments.")
        self.assertEqual(p.description, "does one thing,\nwell.")
        self.assertEqual(p.epilog, "Exit status: 0 done, 2 bad arguments.")
        err = io.StringIO()
        with redirect_stderr(err), self.assertRaises(SystemExit) as e:
            p.parse_args(["--nope"])
        self.assertEqual(e.exception.code, 2)
        self.assertEqual(len(err.getvalue().splitlines()), 1, err.getvalue())


if __name__ == "__main__":
    unittest.main()
