"""pairs.py: DataRaceBench-style scoring on the race pair."""

import json
import unittest

from helpers import FakeTree, run_script

HEADER = "lab\tbuild\ttool\tconfig\tmetric\tband_low\tband_high\tsuccesses\ttrials\tnote\n"


def record(trial, build, tool, findings, lab=1):
    return {"schema": "racelab.trial/1", "run": "r", "trial": trial, "lab": lab, "build": build,
            "tool": tool, "config": "spread", "outcome": "clean", "manifested": False,
            "detected": any(f.get("matched") for f in findings), "findings": findings}


PAIR = {"kind": "data-race", "matched": True, "pair": True}
ONE_SIDE = {"kind": "data-race", "matched": True, "pair": False}
NOISE = {"kind": "data-race", "matched": False, "pair": False}
CRASH = {"kind": "crash"}
LEAK = {"kind": "thread-leak", "matched": False, "pair": False}


class Pairs(unittest.TestCase):
    def setUp(self):
        self.tree = FakeTree(flavours=())
        self.addCleanup(self.tree.cleanup)
        self.tree.results.mkdir()
        (self.tree.root / "labs" / "lab-1-test" / "expected.tsv").write_text(
            HEADER + "1\tbroken\ttsan-clang\tspread\tdetection\t0.50\t1.00\t9\t10\tm\n")

    def write(self, name, recs):
        with open(self.tree.results / name, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in recs)

    def run_pairs(self, *args):
        return run_script("pairs.py", "--results", self.tree.results, "--expected",
                          self.tree.root / "labs", *args, env=self.tree.env())

    def row(self, out, tool, lab=1):
        line = next(l for l in out.splitlines() if l.startswith(f"| {tool} | {lab} |"))
        return [c.strip() for c in line.strip("|").split("|")]

    def test_pair_one_side_miss_and_noise(self):
        self.write("1-broken-tsan-clang-spread.jsonl", [
            record(1, "broken", "tsan-clang", [PAIR]),
            record(2, "broken", "tsan-clang", [ONE_SIDE]),
            record(3, "broken", "tsan-clang", [CRASH, LEAK]),    # no race claimed: FN
            record(4, "broken", "tsan-clang", [PAIR, NOISE])])   # TP, and one FP of noise
        self.write("1-fixed-tsan-clang-spread.jsonl", [
            record(1, "fixed", "tsan-clang", []),
            record(2, "fixed", "tsan-clang", [NOISE])])          # FP
        code, out, err = self.run_pairs("--check")
        self.assertEqual(code, 1, err)  # precision below 1
        # tool lab runs TP partial FN FP TN precision recall recall1 union
        self.assertEqual(self.row(out, "tsan-clang"),
                         ["tsan-clang", "1", "6", "2", "1", "1", "2", "1", "0.60", "0.50", "0.75",
                          "1/0/0/2/0"])
        self.assertIn("precision below 1: tsan-clang on lab 1", out)

    def test_a_race_free_lab_scores_any_finding_as_false(self):
        (self.tree.root / "labs" / "lab-1-test" / "expected.tsv").write_text(
            HEADER + "1\tbroken\thelgrind\tspread\tdetection\t0.00\t0.00\t0\t50\tby design\n")
        self.write("1-broken-helgrind-spread.jsonl", [
            record(1, "broken", "helgrind", []), record(2, "broken", "helgrind", [])])
        code, out, err = self.run_pairs("--check")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.row(out, "helgrind")[2:8], ["2", "0", "0", "0", "0", "2"])
        self.assertIn("precision 1.00 everywhere", out)

    def test_stress_records_are_not_scored(self):
        self.write("1-broken-stress-spread.jsonl", [record(1, "broken", "stress", [])])
        code, out, err = self.run_pairs()
        self.assertEqual(code, 2)
        self.assertIn("pairs.py: error: no detector trials", err)
        self.assertEqual(len(err.splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
