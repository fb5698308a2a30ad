"""check_rates.py --shard I/N and report.py's merge of the shards' folders:
the same cells, the same trials (seeds) and the same verdict as one
unsharded run; a merge with a shard missing or given twice fails."""

import json
import sys
import unittest

from helpers import HERE, FakeTree, run_script

from racelab import shards

FAKE = HERE / "fake_stress.py"
TABLE = ("lab\tbuild\ttool\tconfig\tmetric\tband_low\tband_high\tsuccesses\ttrials\tnote\n"
         "1\tbroken\tstress\tspread\tsymptom\t0.30\t1.00\t30\t30\tm\n"
         "1\tfixed\tstress\tspread\tviolation\t0.00\t0.00\t0\t30\tby design\n"
         "1\tbroken\tstress\tspread-b=2\tsymptom\t0.30\t1.00\t30\t30\tm\n"
         "1\tfixed\tstress\tspread-b=2\tviolation\t0.00\t0.00\t0\t30\tby design\n")
# Ten cells: stress and tsan-clang on both builds, and three extra stress
# configurations on both.
ARGS = ("--tool", "stress", "--tool", "tsan-clang", "--all-configs", "--trials", 3,
        "--rerun", 0)


class Assignment(unittest.TestCase):
    def test_dearest_first_to_the_least_loaded(self):
        costs = {"a": 10, "b": 3, "c": 3, "d": 1, "e": 1, "f": 1}
        which = shards.assign(list(costs), 2, cost=costs.get, name=str)
        self.assertEqual(which, [1, 2, 2, 2, 2, 2])  # loads 10 and 9
        self.assertEqual(shards.assign(list(costs), 1, cost=costs.get, name=str), [1] * 6)

    def test_the_seed_is_the_cells_and_the_campaigns(self):
        one = shards.cell_seed(1, 1, "broken", "stress", "spread")
        self.assertEqual(one, shards.cell_seed(1, 1, "broken", "stress", "spread"))
        self.assertNotEqual(one, shards.cell_seed(2, 1, "broken", "stress", "spread"))
        self.assertNotEqual(one, shards.cell_seed(1, 1, "fixed", "stress", "spread"))
        self.assertLess(one + 10**6, 2**31)


class Merge(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tree = FakeTree()
        lab = cls.tree.root / "labs" / "lab-1-test"
        with open(lab / "scenario.conf", "a") as f:
            f.write("extra_stress = a=1 b=2 c=3\n")
        (lab / "expected.tsv").write_text(TABLE)
        # The broken builds say so to fake_stress.py (FAKE_MODE=seeded).
        for flavour in ("release", "tsan-clang"):
            exe = cls.tree.root / "build" / flavour / "broken-1" / "racelab-stress"
            exe.unlink()
            exe.write_text(f"#!/bin/sh\nFAKE_BROKEN=1 exec {sys.executable} {FAKE} \"$@\"\n")
            exe.chmod(0o755)
        cls.env = cls.tree.env(FAKE_MODE="seeded")
        cls.whole = cls.tree.root / "whole"
        cls.parts = [cls.tree.root / f"shard-{i}" for i in range(1, 5)]
        cls.runs = [cls.check("--results", cls.whole)]
        cls.runs += [cls.check("--results", d, "--shard", f"{i}/4")
                     for i, d in enumerate(cls.parts, 1)]

    @classmethod
    def tearDownClass(cls):
        cls.tree.cleanup()

    @classmethod
    def check(cls, *args):
        return run_script("check_rates.py", *ARGS, *args, env=cls.env, cwd=cls.tree.root)

    def report(self, *folders):
        args = [a for d in folders for a in ("--results", d)]
        return run_script("report.py", "--check", "--format", "tsv", "--no-cost", *args,
                          env=self.env, cwd=self.tree.root)

    def listing(self, *args):
        code, out, err = self.check("--list", *args)
        self.assertEqual(code, 0, err)
        return out.splitlines()

    def records(self, folder):
        return [json.loads(line) for p in sorted(folder.glob("*.jsonl"))
                for line in p.read_text().splitlines()]

    def test_every_run_passed(self):
        for code, out, err in self.runs:
            self.assertEqual(code, 0, out + err)

    def test_the_shards_share_the_cells_once_each(self):
        whole = self.listing()
        parts = [self.listing("--shard", f"{i}/4") for i in range(1, 5)]
        self.assertEqual(len(whole), 10)
        self.assertEqual(sorted(sum(parts, [])), sorted(whole))
        self.assertTrue(all(parts), "every shard has a cell")
        # balanced by cost: a tsan-clang trial counts 3, a stress trial 1
        loads = [sum(3 * shards.TRIAL_COST[line.split()[2]] for line in p) for p in parts]
        self.assertLessEqual(max(loads) - min(loads), 9, loads)

    def test_records_carry_their_shard_and_the_cells_seed(self):
        whole = {(r["build"], r["tool"], r["config"], r["trial"]): r["seed"]
                 for r in self.records(self.whole)}
        for i, folder in enumerate(self.parts, 1):
            recs = self.records(folder)
            self.assertTrue(recs)
            for r in recs:
                self.assertEqual(r["shard"], {"index": i, "count": 4})
                self.assertEqual(r["seed"], whole[(r["build"], r["tool"], r["config"],
                                                    r["trial"])])
            given = json.loads((folder / shards.SHARD_FILE).read_text())
            self.assertEqual(given["shard"], {"index": i, "count": 4})
        self.assertNotIn("shard", self.records(self.whole)[0])

    def test_the_merge_gives_the_unsharded_cells_and_verdict(self):
        code, merged, err = self.report(*self.parts)
        self.assertEqual(code, 0, err)
        code_whole, whole, err_whole = self.report(self.whole)
        self.assertEqual(code_whole, 0, err_whole)
        self.assertEqual(merged, whole)
        self.assertEqual(err.splitlines()[-1], err_whole.splitlines()[-1])
        # and the broken cells are a mix: a seed that depended on the run
        # order or the shard would change the counts
        rows = [line.split("\t") for line in whole.splitlines()[1:]]
        broken = [int(r[5]) for r in rows if r[1] == "broken" and r[2] == "stress"]
        self.assertTrue(any(0 < k < 3 for k in broken), whole)

    def test_a_missing_shard_fails_the_check(self):
        code, _, err = self.report(*self.parts[:3])
        self.assertEqual(code, 1)
        self.assertIn("report.py: check failed: shard 4/4 missing from the merge", err)

    def test_tables_are_written_from_every_shard_only(self):
        new = self.tree.root / "new"
        args = [a for d in self.parts[:3] for a in ("--results", d)]
        code, out, err = run_script("report.py", *args, "--write-expected", new,
                                    env=self.env, cwd=self.tree.root)
        self.assertEqual(code, 1, out + err)
        self.assertIn("shard 4/4 missing from the merge", err)
        self.assertFalse(new.exists())
        args += ["--results", self.parts[3]]
        code, out, err = run_script("report.py", *args, "--write-expected", new,
                                    env=self.env, cwd=self.tree.root)
        self.assertEqual(code, 0, out + err)
        self.assertEqual(len((new / "lab-1-test" / "expected.tsv").read_text().splitlines()), 11)

    def test_a_shard_given_twice_is_refused(self):
        code, out, err = self.report(*self.parts, self.parts[0])
        self.assertEqual(code, 2, out + err)
        self.assertIn("read twice: is a folder given twice, or inside another?", err)

    def test_a_shard_without_trials_of_its_cell_fails(self):
        folder = self.tree.root / "emptied"
        folder.mkdir()
        (folder / shards.SHARD_FILE).write_text(
            (self.parts[3] / shards.SHARD_FILE).read_text())
        code, _, err = self.report(*self.parts[:3], folder)
        self.assertEqual(code, 1)
        self.assertIn("shard 4/4 was given lab 1", err)
        self.assertIn("but has no trial of it", err)

    def test_bad_shards_are_refused(self):
        for shard, why in (("5/4", "'5/4' is not a shard I/N"), ("0/4", "not a shard"),
                           ("1/11", "only 10 cells to share; use at most 10 shards")):
            with self.subTest(shard=shard):
                code, out, err = self.check("--shard", shard, "--list")
                self.assertEqual(code, 2, out + err)
                self.assertIn(why, err)
                self.assertEqual(len(err.splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
