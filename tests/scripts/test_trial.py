"""How a trial's outcome is decided from what was observed (trial.classify)."""

import unittest

import helpers  # noqa: F401  (puts scripts/ on sys.path)
from racelab import trial

CLEAN = {"outcome": "clean", "manifested": False}
MANIFESTED = {"outcome": "manifested", "manifested": True}
MATCHED = {"kind": "data-race", "matched": True}
UNMATCHED = {"kind": "data-race", "matched": False}
CRASHED = {"kind": "crash", "matched": False, "summary": "SEGV on unknown address"}


def classify(timed_out=False, returncode=0, program=CLEAN, findings=(), tool_error=None):
    return trial.classify(timed_out=timed_out, returncode=returncode, program=program,
                          findings=list(findings), tool_error=tool_error)


class Outcomes(unittest.TestCase):
    def test_clean(self):
        self.assertEqual(classify(), ("clean", False, False, None))

    def test_manifested(self):
        self.assertEqual(classify(returncode=1, program=MANIFESTED)[:3],
                         ("manifested", True, False))

    def test_detected_outranks_manifested(self):
        self.assertEqual(classify(returncode=66, program=MANIFESTED, findings=[MATCHED])[:3],
                         ("detected", True, True))

    def test_unmatched_finding_is_not_a_detection(self):
        self.assertEqual(classify(returncode=66, findings=[UNMATCHED])[:3], ("clean", False, False))

    def test_killed_by_a_signal_is_a_crash_that_manifested(self):
        outcome, manifested, detected, error = classify(returncode=-11, program=None)
        self.assertEqual((outcome, manifested, detected), ("crash", True, False))
        self.assertEqual(error, "killed by SIGSEGV")

    def test_tsan_segv_report_is_a_crash(self):
        outcome, manifested, _, error = classify(returncode=66, program=None, findings=[CRASHED])
        self.assertEqual((outcome, manifested), ("crash", True))
        self.assertIn("SEGV", error)

    def test_detected_outranks_crash(self):
        self.assertEqual(classify(returncode=-11, program=None, findings=[MATCHED])[0], "detected")

    def test_no_result_line_is_a_crash(self):
        outcome, _, _, error = classify(returncode=0, program=None)
        self.assertEqual(outcome, "crash")
        self.assertEqual(error, "no result line from racelab-stress (exit 0)")

    def test_hang_by_runner_or_by_driver_watchdog(self):
        self.assertEqual(classify(timed_out=True, returncode=-9, program=None)[:2], ("hang", True))
        watchdog = {"outcome": "hang", "manifested": True}
        self.assertEqual(classify(returncode=3, program=watchdog)[:2], ("hang", True))

    def test_hang_outranks_detected(self):
        self.assertEqual(classify(timed_out=True, returncode=-9, program=None,
                                  findings=[MATCHED])[:3], ("hang", True, True))

    def test_tool_error_outranks_everything_and_never_detects(self):
        outcome, _, detected, error = classify(
            timed_out=True, returncode=1, program=MANIFESTED, findings=[MATCHED],
            tool_error="Valgrind wrote no XML")
        self.assertEqual((outcome, detected, error), ("tool-error", False, "Valgrind wrote no XML"))


class Driver(unittest.TestCase):
    def test_result_line_among_other_output(self):
        out = 'starting\n{"manifested": true}\nnot json {\n'
        self.assertEqual(trial.program_result(out), {"manifested": True})
        self.assertIsNone(trial.program_result("{broken\n"))


if __name__ == "__main__":
    unittest.main()
