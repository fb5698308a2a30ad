"""racelab run on outside programs, and the course pack's check
(racelab/run.py, racelab/pack.py)."""

import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

from helpers import REPO
from racelab import cells, expected, frames, records, tools
from racelab import run as prog
from racelab.cli import Failure

PACK = REPO / "packs" / "intro"

RACY = """\
#include <pthread.h>
#include <stdio.h>

int counter;

void *inc(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		counter++;
	return NULL;
}

int main(void)
{
	pthread_t a, b;
	pthread_create(&a, NULL, inc, NULL);
	pthread_create(&b, NULL, inc, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("%d\\n", counter);
	return 0;
}
"""


def racelab(*args, cwd=None):
    r = subprocess.run([sys.executable, str(REPO / "racelab"), *map(str, args)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=cwd,
                       timeout=300)
    return r.returncode, r.stdout, r.stderr


class Headers(unittest.TestCase):
    def test_the_pack_declares_what_its_file_names_say(self):
        for path in sorted(PACK.glob("*.c")):
            with self.subTest(path.name):
                decl = prog.declared(prog.Program([path]))
                self.assertEqual(decl.build, "broken" if path.stem.endswith("-yes") else "fixed")

    def test_the_pack_compiles_cleanly_with_both_compilers(self):
        with tempfile.TemporaryDirectory() as tmp:
            for path in sorted(PACK.glob("*.c")):
                for cc in ("gcc", "clang"):
                    with self.subTest(path.name, cc=cc):
                        r = subprocess.run([cc, "-Wall", "-Wextra", "-Werror", "-O1", "-pthread",
                                            "-o", f"{tmp}/a.out", str(path)],
                                           capture_output=True, text=True)
                        self.assertEqual(r.returncode, 0, r.stderr)

    def test_a_pair_becomes_the_functions_holding_its_lines(self):
        decl = prog.declared(prog.Program([PACK / "counter-yes.c"]))
        self.assertEqual((decl.site.race_file, decl.site.race_functions, decl.kind),
                         ("counter-yes.c", {"worker"}, "data-race"))
        decl = prog.declared(prog.Program([PACK / "lock-order-yes.c"]))
        self.assertEqual((decl.site.race_functions, decl.kind),
                         ({"take_ab", "take_ba"}, "lock-order-inversion"))

    def test_a_stale_pair_line_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "p.c"
            path.write_text("/* Data race pair: x@3:1:W vs. x@3:1:R */\nint x;\nint main(void)"
                            "\n{\n\treturn 0;\n}\n")
            with self.assertRaisesRegex(Failure, "line 3, which does not mention x"):
                prog.header_pairs(path)

    def test_race_site_option(self):
        program = prog.Program([PACK / "counter-yes.c"])
        decl = prog.declared(program, "counter-yes.c:worker,main")
        self.assertEqual(decl.site.race_functions, {"worker", "main"})
        self.assertEqual(prog.declared(program, "none").build, "fixed")
        with self.assertRaises(Failure):
            prog.declared(program, "worker")


Ran = namedtuple("Ran", "code timed_out")


class Judging(unittest.TestCase):
    def test_classify(self):
        at_site = {"kind": "data-race", "matched": True}
        self.assertEqual(prog.classify(Ran(0, True), [], None)[0], "hang")
        self.assertEqual(prog.classify(Ran(-11, False), [], None)[:3], ("crash", True, False))
        self.assertEqual(prog.classify(Ran(1, False), [], None)[0], "manifested")
        self.assertEqual(prog.classify(Ran(0, False), [at_site], None)[:3],
                         ("detected", False, True))
        self.assertEqual(prog.classify(Ran(0, False), [], "FATAL")[0], "tool-error")
        self.assertEqual(prog.classify(Ran(0, False), [dict(at_site, matched=False)], None)[0],
                         "clean")

    def test_a_finding_seen_either_way_round_is_one(self):
        a = {"file": "p.c", "line": 9, "function": "inc"}
        b = {"file": "p.c", "line": 10, "function": "inc"}
        recs = [{"findings": [{"kind": "data-race", "a": a, "b": b}]},
                {"findings": [{"kind": "data-race", "a": b, "b": a}]}]
        self.assertEqual([n for _, n in prog.distinct(recs)], [2])

    def test_expect(self):
        race, = prog.parse_expect("race")
        self.assertEqual((race.kind, race.band), ("data-race", prog.DEFAULT_BAND))
        self.assertEqual(prog.parse_expect("lock-order:0.9-1")[0].band, (0.9, 1.0))
        for bad in ("none:0-1", "race:1-0", "race:x", "Race!"):
            with self.subTest(bad), self.assertRaises(Failure):
                prog.parse_expect(bad)

    def test_a_configured_root_wins_over_racelabs_work_folder(self):
        frames.set_roots(["/srv/work/course"])
        try:
            self.assertEqual(frames.own_path("/srv/work/course/prog.c"), "prog.c")
        finally:
            frames.set_roots(())


class RunProgram(unittest.TestCase):
    """racelab run itself, on a tiny racy program of its own (no header)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        (self.dir / "prog.c").write_text(RACY)

    def tearDown(self):
        self.tmp.cleanup()

    def test_tsan_detects_a_racy_counter_and_names_both_sites(self):
        # ThreadSanitizer reports a plain racy counter in essentially every
        # trial (its shadow memory sees the two unordered accesses whatever
        # the schedule); asking for 1 of 3, not 3 of 3, keeps the test from
        # failing on a rare miss while still failing if detection is broken.
        out_dir = self.dir / "out"
        rc, out, err = racelab("run", "--quiet", "--trials", "3", "--tools", "tsan-clang",
                               "--race-site", "prog.c:inc", "--expect", "race:0.01-1",
                               "--out", out_dir, "prog.c", cwd=self.dir)
        self.assertEqual(rc, 0, out + err)
        k = int(out.split("detection at the race site: ", 1)[1].split("/")[0])
        self.assertGreaterEqual(k, 1, out)
        self.assertRegex(out, r"data-race \[race site\]: prog\.c:\d+ inc \w+  vs\.  "
                              r"prog\.c:\d+ inc")
        self.assertIn("cost: wall", out)
        recs = list(records.read_dir(out_dir))
        self.assertEqual({(r["lab"], r["build"], r["tool"]) for r in recs},
                         {("prog", "broken", "tsan-clang"), ("prog", "broken", "stress")})
        rc, report, err = racelab("report", "--results", out_dir, "--expected", out_dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("| prog | broken | tsan-clang | default | detection |", report)

    def test_bad_input_is_one_line_and_exit_2(self):
        (self.dir / "bad.c").write_text("int main(void) { return nope; }\n")
        cases = {("missing.c",): "no such source file: missing.c",
                 ("--tools", "tsan-clang,asan", "prog.c"): "unknown tool 'asan'",
                 ("bad.c",): "could not compile bad",
                 ("--out", "o", "prog.c"): "--out needs the program's race declared",
                 ("--race-site", "prog.c", "prog.c"): "is not FILE:FUNCTION"}
        for args, message in cases.items():
            with self.subTest(args):
                rc, out, err = racelab("run", "--trials", "1", *args, cwd=self.dir)
                self.assertEqual(rc, 2, out + err)
                self.assertEqual(err.count("\n"), 1, err)
                self.assertIn(message, err)

    def test_a_hung_trial_is_killed_at_its_limit_and_counted(self):
        (self.dir / "hang.c").write_text("#include <unistd.h>\nint main(void)\n{\n"
                                         "\tfor (;;)\n\t\tpause();\n}\n")
        rc, out, err = racelab("run", "--quiet", "--trials", "1", "--timeout", "1", "--tools",
                               "stress", "hang.c", cwd=self.dir)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("symptom: 1/1 (95% CI 0.21-1.00): 1 hang", out)

    def test_an_expectation_missed_is_exit_1(self):
        rc, out, _ = racelab("run", "--quiet", "--trials", "2", "--tools", "tsan-clang",
                             "--expect", "none", "prog.c", cwd=self.dir)
        self.assertEqual(rc, 1, out)
        self.assertIn("MISSED", out)


class ProgramRecords(unittest.TestCase):
    """A program's name stands where a lab's number does (records.py)."""

    def record(self, lab="counter-yes", args=(), declared="broken", tool="tsan-clang",
               **changes):
        """What racelab run writes for one trial of counter-yes (run.record),
        then with another lab and changes."""
        program = prog.Program.__new__(prog.Program)
        program.name, program.args = "counter-yes", list(args)
        decl = prog.Declared(declared, None, None, "test")
        ran = SimpleNamespace(code=0, elapsed_s=0.25, usage={"peak_rss_kb": 900, "cpu_s": 0.3},
                              err=b"", timed_out=False)
        rec = prog.record(program, tools.TOOLS[tool], 60, decl, 1, ran, [],
                          ("clean", False, False, None))
        rec.update(lab=lab, **changes)
        return rec

    def test_what_racelab_run_writes_reads_back(self):
        for tool in prog.TOOL_NAMES:
            for build in ("broken", "fixed"):
                for args in ((), ("-n", "5", "x y")):
                    with self.subTest(tool=tool, build=build, args=args):
                        rec = self.record(args=args, declared=build, tool=tool)
                        self.assertIsNone(records.problem(rec))
                        self.assertEqual(rec["variant"], "counter-yes")
                        self.assertIn(rec["flavour"], records.PROGRAM_FLAVOURS)
                        self.assertRegex(rec["config"], r"^(default|args-[A-Za-z0-9=.+_-]+)$")
                        line = records.dumps(rec)
                        self.assertEqual(json.loads(line), rec)
        self.assertEqual(set(prog.FLAVOUR.values()), set(records.PROGRAM_FLAVOURS))

    def test_a_program_name_is_a_lab(self):
        self.assertIsNone(records.problem(self.record("counter-yes")))
        lab = self.record(3, variant="broken-3", threads=4, pinning="spread", seed=1)
        self.assertIsNone(records.problem(lab))
        for bad in ("12", "a b", "-x", "", True, 1.5):
            with self.subTest(bad):
                self.assertIsNotNone(records.problem(self.record(bad, variant=bad)))

    def test_a_programs_record_is_still_checked(self):
        cases = {"variant": "broken-1", "flavour": "release", "threads": 0,
                 "pinning": "anywhere", "program": {}, "build": "student-1"}
        for field, value in cases.items():
            with self.subTest(field):
                why = records.problem(self.record(**{field: value}))
                self.assertIsNotNone(why)
                self.assertIn(f"'{field}'", why)
        with self.assertRaisesRegex(ValueError, "'flavour'"):
            fields = {k: v for k, v in self.record().items() if k != "schema"}
            records.new(**{**fields, "flavour": "debug"})

    def test_a_labs_record_keeps_the_labs_rules(self):
        lab = dict(variant="broken-3", threads=4, pinning="spread", seed=1)
        for field, value in {"flavour": "native", "threads": None, "pinning": None,
                             "seed": None, "variant": "counter-yes"}.items():
            with self.subTest(field):
                why = records.problem(self.record(3, **{**lab, field: value}))
                self.assertIsNotNone(why)
                self.assertIn(f"'{field}'", why)

    def test_labs_sort_before_programs(self):
        found = [cells.Cell((lab, "broken", "stress", "spread")) for lab in ("b", 2, "a", 1)]
        self.assertEqual([c.lab for c in sorted(found, key=cells.Cell.sort_key)],
                         [1, 2, "a", "b"])

    def test_the_pack_table_reads_as_one_file(self):
        table = expected.read_dir(PACK / "expected.tsv")
        self.assertIn(("counter-yes", "broken", "tsan-clang", "default"), table)
        self.assertEqual({type(k[0]) for k in table}, {str})


class CheckPack(unittest.TestCase):
    def copy(self, tmp):
        dest = Path(tmp) / "intro"
        shutil.copytree(PACK, dest)
        return dest

    def test_a_pack_without_its_table_fails_the_check(self):
        with tempfile.TemporaryDirectory() as tmp:
            pack = self.copy(tmp)
            (pack / "expected.tsv").unlink()
            rc, out, err = racelab("check-pack", pack, cwd=tmp)
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(err.count("\n"), 1)
        self.assertIn("has no expectations table (expected.tsv)", err)

    def test_a_program_without_rows_fails_the_check(self):
        with tempfile.TemporaryDirectory() as tmp:
            pack = self.copy(tmp)
            table = pack / "expected.tsv"
            table.write_text("".join(l for l in table.read_text().splitlines(True)
                                     if not l.startswith("spin-flag-yes\t")))
            rc, _, err = racelab("check-pack", pack, cwd=tmp)
        self.assertEqual(rc, 1)
        self.assertIn("spin-flag-yes.c has no row", err)

    def test_the_intended_false_positive_row_passes(self):
        # global-lock-no.c is correct, and ThreadSanitizer flags it as
        # Helgrind does: its row says so (expected-false-positive).
        rc, out, err = racelab("check-pack", PACK, "--only", "global-lock-no", "--tools",
                               "tsan-clang", "--trials", "3", "--quiet", "--results",
                               Path(self.id_tmp()) / "r")
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(out, r"\| global-lock-no \| fixed \| tsan-clang \| default \| "
                              r"expected-false-positive \| 1\.00 \|.*\| ok \|")

    def id_tmp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        return tmp.name

    def test_the_tables_rows_are_programs_of_the_pack(self):
        with open(PACK / "expected.tsv") as f:
            rows = [l.split("\t") for l in f.read().splitlines()[1:] if l.strip()]
        self.assertTrue(rows)
        for row in rows:
            self.assertTrue((PACK / f"{row[0]}.c").is_file(), row[0])
        fp = [r for r in rows if r[4] == "expected-false-positive"]
        self.assertIn(("global-lock-no", "helgrind"), {(r[0], r[2]) for r in fp})
        self.assertTrue(all(r[9].strip() for r in fp))


if __name__ == "__main__":
    unittest.main()
