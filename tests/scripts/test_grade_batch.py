"""grade_batch.py: a folder of submissions graded into one CSV and a
summary. The limits (a time limit, an output cap) on real processes; the
rows from canned results.json; the merge of shards; then SlowRealBatch,
which grades six submissions of lab 10 for real with -j2 (right, wrong,
not compiling, an edit outside the module, one that hangs, one that
crashes), one to two minutes on 2 busy CPUs once the tree is built."""

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from argparse import Namespace
from pathlib import Path

from helpers import REPO, run_script

import grade_batch

LAB = 10


def args(**changes):
    base = dict(lab=None, time_limit=60, output_cap=1000, shard=None)
    base.update(changes)
    return Namespace(**base)


def wait_dead(pid, limit_s):
    """True once pid is gone or a zombie (its new parent reaps it later)."""
    status = Path(f"/proc/{pid}/status")
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if "State:\tZ" in status.read_text():
                return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.05)
    return False


class Limits(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-batch-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = Path(self._tmp.name)

    def test_a_flood_is_stopped_at_the_cap_and_the_log_keeps_its_start(self):
        log = self.tmp / "log"
        started = time.monotonic()
        why = grade_batch.capped_run([sys.executable, "-c", "while True: print('x' * 999)"],
                                     None, self.tmp, log, 60, 10000)
        self.assertEqual(why, "output cap")
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(log.read_bytes(), (b"x" * 999 + b"\n") * 10)

    def test_a_hang_is_stopped_at_the_limit_with_what_it_started(self):
        pid_file = self.tmp / "pid"
        started = time.monotonic()
        why = grade_batch.capped_run(["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"],
                                     None, self.tmp, self.tmp / "log", 1, 1000)
        self.assertEqual(why, "time limit")
        self.assertLess(time.monotonic() - started, 30)
        pid = int(pid_file.read_text())
        # SIGKILL is sent to the whole group, but the kernel finishes a
        # process's exit on its own time: its pipe closes (which ends the
        # reader) before it becomes a zombie, so it may still show as running
        # for a moment. Dead means gone or a zombie within a few seconds; a
        # survivor of the kill would stay asleep in sleep(1) and fail here.
        self.assertTrue(wait_dead(pid, 10), f"pid {pid} outlived the time limit")

    def test_a_quick_quiet_run_is_not_stopped(self):
        self.assertIsNone(grade_batch.capped_run(["true"], None, self.tmp, self.tmp / "log",
                                                 5, 10))


def results(tests, graded=True, output="Lab 10: ..."):
    """A results.json: tests are (verdict, score, status, output, max_score)."""
    data = {"score": sum(t[1] for t in tests), "output": output,
            "tests": [{"name": f"Lab 10 {name}", "score": score, "max_score": top,
                       "status": status, "output": text}
                      for name, score, status, text, top in tests]}
    if graded:
        data["extra_data"] = {"racelab": [{"lab": 10}]}
    return data


class Rows(unittest.TestCase):
    def row(self, data, stopped=None, **changes):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "results.json"
            if data is not None:
                path.write_text(json.dumps(data))
            return grade_batch.row_of(path, "ann", stopped, args(**changes), 1.0)

    def test_a_failed_safe_and_fast_not_run(self):
        row = self.row(results([("HONEST", 0, "passed", "ok", 0),
                                ("SAFE", 0, "failed", "trial 3 of 10: lost 2\nhint", 70),
                                ("FAST", 0, "failed", "not run: not SAFE", 30)]))
        self.assertEqual((row["status"], row["honest"], row["safe"], row["fast"], row["lab"]),
                         ("graded", "pass", "FAIL", "-", 10))
        self.assertEqual((row["reason"], row["score"], row["max_score"]),
                         ("trial 3 of 10: lost 2", 0, 100))

    def test_a_refused_submission(self):
        row = self.row(results([("HONEST", 0, "failed", "Not graded: an edit", 0)],
                               graded=False, output="Not graded: an edit outside.\nmore"))
        self.assertEqual((row["status"], row["reason"], row["honest"]),
                         ("not graded", "an edit outside.", "-"))

    def test_no_results_and_the_limits(self):
        self.assertEqual(self.row(None)["status"], "error")
        row = self.row(None, "time limit", time_limit=7)
        self.assertEqual((row["status"], row["score"]), ("time limit", 0))
        self.assertIn("after 7 s", row["reason"])
        self.assertIn("passed 1000 bytes", self.row(None, "output cap")["reason"])


class Batch(unittest.TestCase):
    """Refusals, the shares and the merge, without grading."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-batch-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = Path(self._tmp.name)

    def refused(self, why, *argv):
        code, out, err = run_script("grade_batch.py", *argv)
        self.assertEqual(code, 2, out + err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(why, err)

    def test_refusals(self):
        (self.tmp / "subs").mkdir()
        self.refused("has no submission", self.tmp / "subs", "--out", self.tmp / "o")
        self.refused("no folder", self.tmp / "nowhere", "--out", self.tmp / "o")
        for name in ("a", "b"):
            (self.tmp / "subs" / name).mkdir()
        self.refused("only 2 submissions to share", self.tmp / "subs", "--shard", "3/3",
                     "--out", self.tmp / "o")
        self.refused("not a shard I/N", self.tmp / "subs", "--shard", "3/2")
        self.refused("--merge takes --out OUT alone", self.tmp / "subs", "--merge",
                     "--out", self.tmp / "o")
        self.refused("inside the submissions' folder", self.tmp / "subs", "--out",
                     self.tmp / "subs" / "out")
        self.assertFalse((self.tmp / "o").exists())

    def test_shares_are_round_robin_by_name(self):
        subs = [Path(n) for n in "abcde"]
        self.assertEqual([p.name for p in grade_batch.share(subs, (1, 2))], ["a", "c", "e"])
        self.assertEqual([p.name for p in grade_batch.share(subs, (2, 2))], ["b", "d"])

    def write_shard(self, index, count, students):
        folder = self.tmp / "out" / f"shard-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        rows = [dict.fromkeys(grade_batch.COLUMNS, "") | {
            "student": s, "lab": 10, "status": "graded", "score": 70, "max_score": 100,
            "honest": "pass", "safe": "pass", "fast": "FAIL", "reason": "slow: 0.4 of it",
            "shard": f"{index}/{count}"} for s in students]
        grade_batch.write_csv(folder / "grades.csv", rows)

    def test_the_merge_joins_every_shard_once(self):
        self.write_shard(1, 2, ["a", "c"])
        self.write_shard(2, 2, ["b"])
        code, out, err = run_script("grade_batch.py", "--merge", "--out", self.tmp / "out")
        self.assertEqual(code, 0, out + err)
        with open(self.tmp / "out" / "grades.csv") as f:
            self.assertEqual([r["student"] for r in csv.DictReader(f)], ["a", "b", "c"])
        summary = (self.tmp / "out" / "summary.txt").read_text()
        self.assertIn("| 10 | 3 | 3 | 3/3 | 3/3 | 0/3 | 0/3 (0%) |", summary)
        self.assertIn("- 3 x slow: N of it", summary)

    def test_the_merge_refuses_a_missing_or_doubled_shard(self):
        self.write_shard(1, 3, ["a"])
        self.write_shard(3, 3, ["c"])
        self.refused("shard 2 missing", "--merge", "--out", self.tmp / "out")
        self.write_shard(2, 3, ["b"])
        (self.tmp / "out" / "again").mkdir()
        (self.tmp / "out" / "again" / "grades.csv").write_text(
            (self.tmp / "out" / "shard-1" / "grades.csv").read_text())
        self.refused("shard 1/3 twice", "--merge", "--out", self.tmp / "out")


def with_claim_try_starting(code):
    """The reference fix with `code` first in claim_try."""
    text = (REPO / "fixed" / "claim.c").read_text()
    head = "bool claim_try(struct claim *c, enum claim_side side)\n{\n"
    assert head in text
    return text.replace(head, head + code, 1)


HANGS = "\twhile (atomic_load(&c->up[side]) != 7) /* a spin nothing ends */\n\t\t;\n"
CRASHES = "\tvolatile int *nowhere = 0; /* a write through a null pointer */\n" \
          "\tif (side)\n\t\t*nowhere = 1;\n"


class SlowRealBatch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env = {k: v for k, v in os.environ.items()
               if k not in ("RACELAB_ROOT", "RACELAB_BUILD_DIR", "MAKEFLAGS", "MFLAGS",
                            "MAKELEVEL")}
        subprocess.run(["make", "-s", "-j2", "grading-build"], cwd=REPO, env=env, check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=1800)
        cls._tmp = tempfile.TemporaryDirectory(prefix="racelab-batch-")
        tmp = Path(cls._tmp.name)
        mutants = REPO / "labs" / "lab-10-claim" / "mutants"
        broken = (REPO / "broken" / "claim.c").read_text()
        subs = {"right/claim.c": (mutants / "right-exchange.c").read_text(),
                "wrong/work/lab-10/claim.c": (mutants / "wrong-relaxed.c").read_text(),
                "nocompile/claim.c": broken + "int oops(void) { return }\n",
                "outside/claim.c": broken,
                "outside/broken/claim.c": broken + "/* mine now */\n",
                "hangs/claim.c": with_claim_try_starting(HANGS),
                "crashes/claim.c": with_claim_try_starting(CRASHES)}
        for rel, text in subs.items():
            (tmp / "subs" / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / "subs" / rel).write_text(text)
        cls.out = tmp / "out"
        cls.code, cls.stdout, cls.stderr = run_script(
            "grade_batch.py", tmp / "subs", "-j", 2, "--out", cls.out, env=env, timeout=900)
        with open(cls.out / "grades.csv") as f:
            cls.rows = {r["student"]: r for r in csv.DictReader(f)}

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def verdicts(self, student):
        r = self.rows[student]
        return r["status"], r["honest"], r["safe"]

    def test_every_submission_has_its_row_and_the_run_ends_well(self):
        self.assertEqual(self.code, 0, self.stdout + self.stderr)
        self.assertEqual(sorted(self.rows),
                         ["crashes", "hangs", "nocompile", "outside", "right", "wrong"])
        self.assertEqual(sorted(p.name for p in self.out.iterdir() if p.is_dir()), [],
                         "each submission's folder is thrown away")

    def test_each_gets_its_verdict(self):
        self.assertEqual(self.verdicts("right"), ("graded", "pass", "pass"))
        self.assertEqual(self.verdicts("wrong"), ("graded", "pass", "FAIL"))
        self.assertEqual(self.verdicts("nocompile"), ("graded", "pass", "FAIL"))
        self.assertIn("does not compile", self.rows["nocompile"]["reason"])
        self.assertEqual(self.verdicts("outside"), ("not graded", "-", "-"))
        self.assertIn("broken/claim.c", self.rows["outside"]["reason"])
        self.assertEqual(self.verdicts("hangs"), ("graded", "pass", "FAIL"))
        self.assertIn("hung", self.rows["hangs"]["reason"])
        self.assertEqual(self.verdicts("crashes"), ("graded", "pass", "FAIL"))
        self.assertIn("SIGSEGV", self.rows["crashes"]["reason"])
        for r in self.rows.values():
            self.assertEqual(r["lab"], "10")
            self.assertEqual(int(r["score"]) > 0, r["student"] == "right", r)

    def test_the_summary(self):
        summary = (self.out / "summary.txt").read_text()
        self.assertIn("| 10 | 6 | 5 | 5/6 | 1/6 |", summary)
        self.assertIn("Throughput: 6 submissions in ", summary)
        self.assertIn("a minute with -j2", summary)
        self.assertIn("Most common failing reasons", summary)


if __name__ == "__main__":
    unittest.main()
