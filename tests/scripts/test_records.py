"""records: the schema of a trial record, checked field by field; read_dir:
every .jsonl under the results folder, but no unfinished run."""

import json
import tempfile
import unittest
from pathlib import Path

import helpers  # noqa: F401  (puts scripts/ on sys.path)
from racelab import records


def record(trial, run):
    return {"schema": "racelab.trial/1", "run": run, "trial": trial, "lab": 1, "build": "broken",
            "tool": "stress", "config": "spread", "outcome": "clean", "manifested": False,
            "detected": False, "findings": []}


class ReadDir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-records-")
        self.dir = Path(self._tmp.name) / "results"

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, run):
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record(1, run)) + "\n")

    def test_subfolders_are_read_and_dot_folders_skipped(self):
        self.write("1-broken-stress-spread.jsonl", "top")
        self.write("lab-1-20250101T000000Z/1-broken-stress-spread.jsonl", "make-lab")
        self.write("check-20250101T000000Z/1-broken-stress-spread.jsonl", "check")
        self.write("check-20250101T000000Z/deeper/1-broken-stress-spread.jsonl", "deeper")
        self.write(".partial/r1.jsonl", "unfinished")
        self.write("lab-1-20250101T000000Z/.partial/r2.jsonl", "unfinished-below")
        self.write(".1-broken-stress-spread.jsonl.42.tmp.jsonl", "hidden")
        (self.dir / "folder.jsonl").mkdir()  # a folder with a records-like name
        runs = sorted(r["run"] for r in records.read_dir(self.dir))
        self.assertEqual(runs, ["check", "deeper", "make-lab", "top"])

    def test_a_dot_in_the_folder_above_results_does_not_hide_it(self):
        self.dir = Path(self._tmp.name) / ".cache" / "results"
        self.write("lab-1-x/1-broken-stress-spread.jsonl", "kept")
        self.assertEqual([r["run"] for r in records.read_dir(self.dir)], ["kept"])


class Names(unittest.TestCase):
    def test_config_and_report_names(self):
        self.assertEqual(records.config_name("spread", None, 4, 4), "spread")
        self.assertEqual(records.config_name("spread", [0, 0, 1], 2, 4, 500, ["buckets=8"]),
                         "cpus-0+0+1-2t-500ops-buckets=8")
        self.assertEqual(records.report_name("1-broken-helgrind-spread.jsonl", "valgrind-xml"),
                         "1-broken-helgrind-spread.report.xml")
        self.assertEqual(records.report_name("1-broken-tsan-gcc-spread.jsonl", "tsan"),
                         "1-broken-tsan-gcc-spread.report.txt")


def full(**changes):
    """A racelab.trial/2 record as trial.py writes one, with changes."""
    finding = {"kind": "data-race", "tool": "tsan-clang", "summary": "data race",
               "a": {"access": "write", "size": 8, "file": "broken/cache.c", "line": 13,
                     "function": "cache_put", "thread": "T2"},
               "b": None, "stack_a": ["cache_put broken/cache.c:13"], "matched": True,
               "pair": False, "race_point": "cache.put.window", "incomplete": False}
    program = {"lab": 1, "variant": "broken-1", "build": "broken", "flavour": "tsan-clang",
               "trial": 1, "threads": 2, "pinning": "spread", "cpus": [0, 1],
               "mem_node": None, "topology": {"nodes": 1, "cpus": 2, "desc": "0:0-1"},
               "seed": 7, "ops": 100, "time_limit_s": 10, "rounds": 1, "ops_done": 200,
               "elapsed_s": 0.01, "outcome": "clean", "manifested": False,
               "invariants": {"lost": 0}, "first_violation": None}
    fields = dict(run="r", trial=1, lab=1, build="broken", variant="broken-1",
                  tool="tsan-clang", flavour="tsan-clang", config="spread", threads=2,
                  pinning="spread", cpus=[0, 1], seed=7, time_limit_s=10, outcome="detected",
                  manifested=False, detected=True, exit={"code": 0, "signal": None},
                  elapsed_s=0.5, peak_rss_kb=2048, cpu_s=0.4, invariants={"lost": 0},
                  program=program, findings=[finding], findings_total=1, findings_matched=1,
                  error=None, stderr_tail=None)
    fields.update(changes)
    return records.new(**fields)


class Shard(unittest.TestCase):
    """The optional shard field (check_rates.py --shard I/N): typed and
    checked like the others, absent from an unsharded run's records."""

    def test_a_shards_record_reads_back_with_its_shard(self):
        r = full(shard={"index": 2, "count": 4})
        self.assertEqual(list(r)[-1], "shard")
        self.assertEqual(json.loads(records.dumps(r))["shard"], {"index": 2, "count": 4})

    def test_a_bad_shard_is_refused(self):
        for shard, why in (({"index": 0, "count": 4}, "field 'shard.index' should be at least 1"),
                           ({"index": "2", "count": 4}, "field 'shard.index' should be an integer"),
                           ({"index": 2}, "missing field 'shard.count'"),
                           ({"index": 5, "count": 4}, "field 'shard' is 5 of 4: past the last"),
                           ("2/4", "field 'shard' should be an object")):
            with self.subTest(shard=shard):
                r = json.loads(records.dumps(full()))
                r["shard"] = shard
                self.assertEqual(records.problem(r), why)


class Schema(unittest.TestCase):
    def problem(self, path, value):
        """The problem of a full record with one field (a dotted path) changed."""
        r = json.loads(json.dumps(full()))
        *parents, last = path.split(".")
        target = r
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
        return records.problem(r)

    def test_a_full_record_reads_back(self):
        r = full()
        self.assertEqual(r["schema"], records.SCHEMA)
        self.assertEqual(list(r), [k for k in records.FIELDS if k not in records.OPTIONAL])
        self.assertIsNone(records.problem(json.loads(records.dumps(r))))

    def test_every_field_is_required_in_the_current_schema(self):
        for key in records.FIELDS:
            if key != "schema" and key not in records.OPTIONAL:
                with self.subTest(key=key):
                    self.assertEqual(self.problem(key, KeyError), f"missing field '{key}'")

    def test_each_problem_names_its_field(self):
        for path, value, why in (
                ("trial", True, "field 'trial' should be an integer"),
                ("trial", 0, "field 'trial' should be at least 1"),
                ("build", "half", "field 'build' should be one of broken, fixed, student "
                                  "(not \"half\")"),
                ("tool", "asan", "field 'tool' should be one of " + ", ".join(records.TOOLS)
                 + " (not \"asan\")"),
                ("variant", "broken", "field 'variant' should be fixed, broken-N or student-N "
                                      "(not \"broken\")"),
                ("pinning", "diagonal", "field 'pinning' should be one of spread, compact, "
                                        "same-cpu, none, list (not \"diagonal\")"),
                ("exit.signal", 9, "field 'exit.signal' should be a string or null"),
                ("invariants.lost", 1.5, "field 'invariants.lost' should be an integer"),
                ("findings.0.a.line", "13", "field 'findings[0].a.line' should be an integer "
                                            "or null"),
                ("findings.0.pair", None, "field 'findings[0].pair' should be true or false"),
                ("findings.0.colour", "red", "field 'findings[0].colour' unknown (not a field "
                                             f"of {records.SCHEMA})"),
                ("program.topology.desc", 3, "field 'program.topology.desc' should be a string"),
                ("program.outcome", "detected", "field 'program.outcome' should be one of "
                                                "clean, manifested, hang (not \"detected\")"),
                ("stderr_tail", "died", "field 'stderr_tail' should be a list or null"),
                ("extra", 1, f"field 'extra' unknown (not a field of {records.SCHEMA})"),
                ("findings_total", 2, "field 'findings_total' is 2, but the findings say 1"),
                ("detected", False, "outcome 'detected' but field 'detected' is false")):
            with self.subTest(path=path):
                self.assertEqual(self.problem(path, value), why)

    def test_the_sched_builds_schedule_is_optional_and_checked(self):
        sched = {"strategy": "pct:2", "steps": 12, "trace": "A3B2A/AB6"}
        program = dict(full()["program"], flavour="sched", schedule=sched)
        self.assertIsNone(records.problem(full(program=program)))
        deadlock = dict(program, outcome="hang", detail="deadlock", invariants=None)
        self.assertIsNone(records.problem(full(program=deadlock, outcome="hang")))
        for path, value, why in (
                ("program.schedule", "A3B", "field 'program.schedule' should be an object"),
                ("program.schedule.steps", -1, "field 'program.schedule.steps' should be at "
                                               "least 0"),
                ("program.schedule.strategy", "pct", "field 'program.schedule.strategy' should "
                                                     "be random, pct:D, replay or prefix "
                                                     "(not \"pct\")"),
                ("program.schedule.trace", "A3-B", "field 'program.schedule.trace' should be a "
                                                   "trace: thread letters, each with an "
                                                   "optional count, '/' between rounds "
                                                   "(not \"A3-B\")"),
                ("program.schedule.trace", KeyError, "missing field 'program.schedule.trace'"),
                ("program.detail", "stuck", "field 'program.detail' should be one of deadlock "
                                            "(not \"stuck\")")):
            with self.subTest(path=path):
                r = json.loads(json.dumps(full(program=dict(program, detail="deadlock"))))
                *parents, last = path.split(".")
                target = r
                for p in parents:
                    target = target[p]
                if value is KeyError:
                    del target[last]
                else:
                    target[last] = value
                self.assertEqual(records.problem(r), why)

    def test_schemas(self):
        self.assertIn("is not racelab.trial/2", self.problem("schema", "racelab.trial/9"))
        self.assertEqual(self.problem("schema", KeyError), "no field 'schema': not a trial record")
        # /1 records may lack fields, but the ones they have are checked.
        self.assertIsNone(records.problem(record(1, "r")))
        self.assertEqual(records.problem(dict(record(1, "r"), cpus="0,1")),
                         "field 'cpus' should be a list or null")

    def test_the_writer_refuses_what_would_not_read_back(self):
        with self.assertRaisesRegex(ValueError, "field 'outcome' should be one of"):
            full(outcome="maybe")
        with self.assertRaisesRegex(ValueError, "not fields of"):
            full(colour="red")
        bad = dict(full(), trial="one")
        with self.assertRaisesRegex(ValueError, "field 'trial'"):
            records.dumps(bad)

    def test_a_bad_line_is_named_by_file_line_and_field(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "1-broken-tsan-clang-spread.jsonl"
            bad = dict(full(), seed="seven")
            path.write_text(records.dumps(full()) + json.dumps(bad) + "\n")
            with self.assertRaises(records.Failure) as caught:
                list(records.read(path))
            self.assertTrue(str(caught.exception).endswith(
                "1-broken-tsan-clang-spread.jsonl:2: bad trial record: field 'seed' should "
                "be an integer"), caught.exception)


if __name__ == "__main__":
    unittest.main()
