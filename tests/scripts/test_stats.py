"""Wilson intervals, the interval-meets-band rule, and what each metric counts."""

import math
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



class CheckFailureChance(unittest.TestCase):
    """stats.check_fails and check_fails_posterior, against a brute-force
    walk over every sequence of trial outcomes (independent of the
    binomial and beta-binomial algebra they use)."""

    @staticmethod
    def brute(band, weight, first, rerun):
        import itertools
        total = 0.0
        for seq in itertools.product((0, 1), repeat=first + rerun):
            k1, k = sum(seq[:first]), sum(seq)
            if stats.out_of_band(k1, first, band) and \
                    (rerun == 0 or stats.out_of_band(k, first + rerun, band)):
                total += weight(seq)
        return total

    def test_fixed_rate_matches_brute_force(self):
        band = (0.7, 1.0)
        for p in (0.0, 0.3, 0.72, 0.95, 1.0):
            for first, rerun in ((6, 0), (4, 5)):
                want = self.brute(band, lambda s: math.prod(p if x else 1 - p for x in s),
                                  first, rerun)
                self.assertAlmostEqual(stats.check_fails(band, p, first, rerun), want, places=12)

    def test_posterior_matches_brute_force(self):
        # Beta(a, b) prior moments: E[p^k (1-p)^(n-k)] = B(a+k, b+n-k) / B(a, b)
        band, successes, trials = (0.4, 1.0), 5, 6
        a, b = successes + 1, trials - successes + 1

        def weight(seq):
            k, n = sum(seq), len(seq)
            beta = lambda x, y: math.gamma(x) * math.gamma(y) / math.gamma(x + y)
            return beta(a + k, b + n - k) / beta(a, b)
        for first, rerun in ((6, 0), (4, 5)):
            self.assertAlmostEqual(stats.check_fails_posterior(band, successes, trials, first,
                                                               rerun),
                                   self.brute(band, weight, first, rerun), places=12)

    def test_edges(self):
        self.assertEqual(stats.check_fails((0.92, 1.0), 1.0, 10, 40), 0.0)
        self.assertAlmostEqual(stats.check_fails((0.92, 1.0), 0.0, 10, 40), 1.0)

    def test_the_rerun_only_lowers_the_chance_for_a_rate_in_the_band(self):
        for p in (0.92, 0.95, 0.99):
            self.assertLess(stats.check_fails((0.92, 1.0), p, 10, 40),
                            stats.check_fails((0.92, 1.0), p, 10, 0))


if __name__ == "__main__":
    unittest.main()
