"""explore.py and replay.py on a toy lost update (fake_sched.py stands in
for the sched flavour): the search's counts, its bounds, replays that
agree, and the walkthrough schedule a replay writes."""

import unittest

from helpers import HERE, FakeTree, run_script
from racelab import records, sched, schedule

WALKTHROUGH = "args  --lab 1 --threads 2 --ops 1 --rounds 1 --pin none\nstep A to end\nfinish\n"


class SchedTree(FakeTree):
    """A FakeTree whose sched flavour is fake_sched.py, with a walkthrough."""

    def __init__(self):
        super().__init__(flavours=("release",))
        for variant in ("broken-1", "fixed"):
            d = self.root / "build" / "sched" / variant
            d.mkdir(parents=True)
            (d / "racelab-stress").symlink_to(HERE / "fake_sched.py")
        (self.root / "labs" / "lab-1-test" / "walkthrough.sched").write_text(WALKTHROUGH)


class Traces(unittest.TestCase):
    def test_run_length_encoding(self):
        self.assertEqual(sched.decode("A3BA2/AB2"), ["AAABAA", "ABB"])
        self.assertEqual(sched.encode("AAABAA"), "A3BA2")
        self.assertEqual(sched.flat("A2/B"), "AAB")
        for bad in ("A1", "A-B", "3A"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                sched.decode(bad)

    def test_what_is_a_preemption(self):
        step = sched.Step(3, 1, "B", "AB", "A", "ledger.add.window")
        self.assertTrue(sched.preempts(step))
        self.assertFalse(sched.preempts(step._replace(ran="A")))       # A goes on
        self.assertFalse(sched.preempts(step._replace(enabled="B")))   # A is blocked
        self.assertFalse(sched.preempts(step._replace(point="yield")))  # A handed over
        self.assertFalse(sched.preempts(step._replace(by="-", point="start")))


class Explore(unittest.TestCase):
    def setUp(self):
        self.tree = SchedTree()
        self.addCleanup(self.tree.cleanup)

    def explore(self, *args):
        return run_script("explore.py", "--lab", 1, *args, env=self.tree.env(),
                          cwd=self.tree.root)

    def test_every_interleaving_within_the_bound(self):
        # Two threads of three stretches each: 20 interleavings in all, 14
        # of them with at most two preemptions, 2 with none (who starts).
        # The count is lost when both read before either writes.
        code, out, err = self.explore()
        self.assertEqual(code, 0, err)
        self.assertIn("lab 1 broken: 14 interleavings with at most 2 preemptions", out)
        self.assertIn("6 of 14 broke an invariant: lost in 6", out)
        self.assertIn("replay it: make replay LAB=1 SMALL=1 TRACE=ABA2B2", out)
        self.assertIn("lab 1 fixed: 14 interleavings", out)
        self.assertIn("none broke an invariant", out)
        code, out, _ = self.explore("--preemptions", 0)
        self.assertIn("lab 1 broken: 2 interleavings with at most 0 preemptions", out)
        code, out, _ = self.explore("--preemptions", 9, "--build", "broken")
        self.assertIn("lab 1 broken: 20 interleavings", out)

    def test_the_shortest_side_by_side(self):
        code, out, _ = self.explore("--build", "broken")
        columns = [l for l in out.splitlines() if "toy.add.window" in l]
        self.assertEqual(len(columns), 2, out)
        # A's stretch in the first column, B's in the second
        self.assertLess(columns[0].index("->"), columns[1].index("->"))

    def test_a_cut_search_says_so(self):
        code, out, _ = self.explore("--max-runs", 5, "--build", "broken")
        self.assertEqual(code, 0)
        self.assertIn("lab 1 broken: 5 interleavings", out)
        self.assertIn("the search was cut by --max-runs 5:", out)
        self.assertIn("these counts are a lower bound", out)

    def test_the_table_written_then_checked(self):
        code, out, err = self.explore("--check")
        self.assertEqual(code, 2, "--lab with --check is fine, but there is no table yet")
        self.assertIn("cannot read expected/explore.tsv", err)
        code, out, err = run_script("explore.py", "--write", env=self.tree.env(),
                                    cwd=self.tree.root)
        self.assertEqual(code, 0, err)
        table = (self.tree.root / "expected" / "explore.tsv").read_text().splitlines()
        self.assertEqual(table[1].split("\t")[:8],
                         ["1", "broken", "2", "14", "yes", "6", "lost=6", "6"])
        self.assertEqual(table[2].split("\t")[:7], ["1", "fixed", "2", "14", "yes", "0", "-"])
        code, out, err = self.explore("--check")
        self.assertEqual(code, 0, err)
        self.assertIn("every count agrees with expected/explore.tsv", out)
        path = self.tree.root / "expected" / "explore.tsv"
        path.write_text(path.read_text().replace("\t14\tyes\t6\t", "\t14\tyes\t5\t"))
        code, out, err = self.explore("--check")
        self.assertEqual(code, 1)
        self.assertIn("lab 1 broken: broken is 6, expected/explore.tsv says 5", err)

    def test_the_header_names_trials(self):
        # a rate states its trial count, as every expected table does
        code, out, err = run_script("explore.py", "--write", env=self.tree.env(),
                                    cwd=self.tree.root)
        self.assertEqual(code, 0, err)
        path = self.tree.root / "expected" / "explore.tsv"
        self.assertEqual(path.read_text().splitlines()[0].split("\t")[3], "trials")
        path.write_text(path.read_text().replace("\ttrials\t", "\tinterleavings\t", 1))
        code, out, err = self.explore("--check")
        self.assertEqual(code, 2, out + err)
        self.assertIn("explore.tsv:1: an old table (its column 'interleavings' is now "
                      "'trials')", err)
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_refusals(self):
        for args, message in ((("--write", "--check"), "exclude each other"),
                              (("--write",), "--write explores every lab")):
            with self.subTest(args=args):
                code, out, err = self.explore(*args)
                self.assertEqual(code, 2)
                self.assertIn(message, err)
                self.assertEqual(len(err.splitlines()), 1, err)


class Replay(unittest.TestCase):
    def setUp(self):
        self.tree = SchedTree()
        self.addCleanup(self.tree.cleanup)

    def replay(self, *args):
        return run_script("replay.py", *args, env=self.tree.env(), cwd=self.tree.root)

    def test_a_seed_replays_the_same(self):
        code, out, err = self.replay("--lab", 1, "--seed", 4, "--repeat", 5)
        self.assertEqual(code, 0, err)
        self.assertIn("trace: ABAB2A (6 steps)", out)
        self.assertIn("outcome: manifested (exit 1): round 1: the counter is 1, not 2", out)
        self.assertIn("the invariant was found broken after step 5 (round 1)", out)
        self.assertIn("step 1, A stopped at toy.add.window and B ran", out)
        self.assertIn("replayed 5 times: 5 of 5 gave the same trace, steps and symptom", out)

    def test_a_trace_and_the_schedule_it_writes(self):
        code, out, err = self.replay("--lab", 1, "--small", "--trace", "ABA2B2",
                                     "--gdb-schedule", "mine.sched", "--expect-symptom")
        self.assertEqual(code, 0, err)
        text = (self.tree.root / "mine.sched").read_text()
        steps = [l for l in text.splitlines() if l.startswith("step ")]
        self.assertEqual(steps, ["step A to toy.add.window", "step B to toy.add.window",
                                 "step A to end"])
        parsed = schedule.parse(self.tree.root / "mine.sched")
        self.assertEqual(schedule.option(parsed["args"], "ops"), "1")
        self.assertEqual(schedule.option(parsed["args"], "seed"), "1")
        self.assertIn("make gdb-lab-1 SCHEDULE=mine.sched", out)

    @unittest.skipUnless("schedule" in records.PROGRAM,
                         "the records' schedule field comes with the sched flavour")
    def test_a_recorded_trial(self):
        # trials.py records sched trials; replay takes the first that went wrong
        code, out, err = run_script("trials.py", "--lab", 1, "--build", "broken", "--tool",
                                    "sched", "--trials", 6, "--seed", 1, "--results",
                                    self.tree.results, "--quiet", env=self.tree.env(),
                                    cwd=self.tree.root)
        self.assertIn(code, (0, 1), err)
        path = self.tree.results / "1-broken-sched-spread.jsonl"
        code, out, err = self.replay("--record", path, "--repeat", 3)
        self.assertEqual(code, 0, err)
        self.assertIn("1-broken-sched-spread.jsonl trial ", out)
        self.assertIn("outcome: manifested", out)
        self.assertIn("3 of 3 gave the same", out)

    def test_a_diverging_trace_is_one_line(self):
        code, out, err = self.replay("--lab", 1, "--small", "--trace", "A9")
        self.assertEqual(code, 2)
        self.assertIn("the driver refused the replay: replay diverged at step", err)
        self.assertEqual(len(err.splitlines()), 1, err)

    def test_refusals(self):
        for args, message in ((("--lab", 1), "--lab needs --seed S"),
                              (("--trial", 2), "--trial goes with --record"),
                              (("--lab", 1, "--seed", 2, "--strategy", "pct:99"),
                               "is not a strategy"),
                              (("--lab", 1, "--trace", "A1B"), "--trace: count 1"),
                              (("--record", "x.jsonl", "--lab", 1), "--record names the trial")):
            with self.subTest(args=args):
                code, out, err = self.replay(*args)
                self.assertEqual(code, 2, out + err)
                self.assertIn(message, err)
                self.assertEqual(len(err.splitlines()), 1, err)


class TheTable(unittest.TestCase):
    """expected/explore.tsv, written by explore.py --write: a row for every
    lab and build, and the fast labs' counts found again by a search."""

    def test_every_lab_and_build_has_a_row(self):
        import explore
        from racelab import scenario
        table = explore.read_table()
        for lab in sorted(scenario.known_labs()):
            for build in ("broken", "fixed"):
                with self.subTest(lab=lab, build=build):
                    self.assertIn((lab, build), table)
                    self.assertGreater(int(table[(lab, build)]["trials"]), 0)
                    if build == "fixed":
                        self.assertEqual(table[(lab, build)]["broken"], "0")

    @unittest.skipUnless(all(sched.binary(b, 2).is_file() and sched.binary(b, 6).is_file()
                             for b in ("broken", "fixed")), "the sched flavour is not built")
    def test_the_counts_are_found_again(self):
        code, out, err = run_script("explore.py", "--check", "--lab", 2, "--lab", 6)
        self.assertEqual(code, 0, out + err)
        self.assertIn("every count agrees with expected/explore.tsv", out)


if __name__ == "__main__":
    unittest.main()
