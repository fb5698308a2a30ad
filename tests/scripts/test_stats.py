"""Wilson intervals, the interval-meets-band rule, and what each metric counts."""

import unittest

import helpers  # noqa: F401  (puts scripts/ on sys.path)
from racelab import stats


class Wilson(unittest.TestCase):
    def assertInterval(self, got, low, high):
        self.assertAlmostEqual(got[0], low, places=4)
        self.assertAlmostEqual(got[1], high, places=4)

    def test_known_values(self):
        # Published values of the Wilson score interval, z = 1.959964.
        self.assertInterval(stats.wilson(0, 10), 0.0, 0.2775)
        self.assertInterval(stats.wilson(10, 10), 0.7225, 1.0)
        self.assertInterval(stats.wilson(5, 10), 0.2366, 0.7634)
        self.assertInterval(stats.wilson(28, 30), 0.7868, 0.9815)
        self.assertInterval(stats.wilson(1, 1), 0.2065, 1.0)

    def test_edges_are_exact(self):
        self.assertEqual(stats.wilson(0, 30)[0], 0.0)
        self.assertEqual(stats.wilson(30, 30)[1], 1.0)

    def test_no_trials_no_interval(self):
        self.assertIsNone(stats.wilson(0, 0))

    def test_impossible_counts(self):
        with self.assertRaises(ValueError):
            stats.wilson(11, 10)


class Bands(unittest.TestCase):
    def test_meets(self):
        self.assertTrue(stats.meets((0.2, 0.5), (0.5, 0.9)))   # touching counts
        self.assertTrue(stats.meets((0.0, 0.12), (0.0, 0.0)))  # 0/30 vs "by design"
        self.assertTrue(stats.meets((0.3, 0.4), (0.0, 1.0)))
        self.assertFalse(stats.meets((0.0, 0.28), (0.5, 1.0)))
        self.assertFalse(stats.meets((0.72, 1.0), (0.0, 0.7)))

    def test_round_outward(self):
        self.assertEqual(stats.round_outward(0.4361, 0.9987), (0.43, 1.0))
        self.assertEqual(stats.round_outward(0.29000000000000004, 0.5), (0.29, 0.5))
        self.assertEqual(stats.round_outward(0.0, 0.2775), (0.0, 0.28))


class Metrics(unittest.TestCase):
    def test_metric_by_build_and_tool(self):
        self.assertEqual(stats.metric("broken", "stress"), "symptom")
        self.assertEqual(stats.metric("broken", "helgrind"), "detection")
        self.assertEqual(stats.metric("fixed", "stress"), "violation")
        self.assertEqual(stats.metric("fixed", "tsan-gcc"), "false-positive")

    def test_false_positive_is_any_finding_but_a_crash(self):
        record = {"manifested": False, "detected": False, "findings": [{"kind": "crash"}]}
        self.assertFalse(stats.success(record, "false-positive"))
        record["findings"].append({"kind": "data-race", "matched": False})
        self.assertTrue(stats.success(record, "false-positive"))
        self.assertFalse(stats.success(record, "detection"))


if __name__ == "__main__":
    unittest.main()
