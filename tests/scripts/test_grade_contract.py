"""Grading against wrong fixes: the contract workloads in SAFE's plan, the
reports a tool is known to make on correct code (advice, not failures),
findings that name the student's file first, the check functions a copy
may not change, and the self-test's catalogue format."""

import json
import re
import tempfile
import unittest
from unittest import mock
from pathlib import Path

from helpers import REPO
from racelab import cli, expected, frames, grading, honest, scenario

import grade_selftest

HEADER = "\t".join(expected.HEADER) + "\n"


def table(tmp, *rows):
    (tmp / "lab-1-test").mkdir(exist_ok=True)
    (tmp / "lab-1-test" / expected.TABLE).write_text(HEADER + "".join(
        f"1\tbroken\t{tool}\tspread\t{'symptom' if tool in ('stress', 'chaos', 'sched') else 'detection'}"
        f"\t0.00\t1.00\t{s}\t{n}\tnote\n"
        for tool, s, n in rows))
    return expected.read_dir(tmp)


class Plan(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_grade_sets_are_parsed_and_bad_ones_refused(self):
        self.assertEqual(grading.contract_sets("a=1,b=2 ; c=x.y"), [["a=1", "b=2"], ["c=x.y"]])
        self.assertEqual(grading.contract_sets(None), [])
        for bad in ("a", "a=1-2", "a=1,=2", "a=b c"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                grading.contract_sets(bad)

    def test_contract_cells_run_every_tool_and_add_nothing_to_the_bound(self):
        rows = table(self.dir, ("stress", 50, 50), ("tsan-clang", 50, 50), ("helgrind", 50, 50))
        bare = grading.plan(1, rows)
        plan = grading.plan(1, rows, grade_sets=[["evict=1"], ["keys=2", "get=1"]])
        contract = [c for c in plan if c.trials is None]
        # every tool but the scheduler, which runs them only when the lab's
        # table has its rows (test_the_scheduler_when_the_table_has_it)
        self.assertEqual(len(contract), 2 * (len(grading.TOOL_ORDER) - 1))
        self.assertEqual({c.config for c in contract}, {"spread-evict=1", "spread-keys=2-get=1"})
        self.assertEqual(grading.config_sets("spread-keys=2-get=1"), ["keys=2", "get=1"])
        self.assertAlmostEqual(grading.probability(plan), grading.probability(bare))
        # cheapest tool first, and the measured cell of a tool before its contract cells
        order = [(grading.TOOL_ORDER.index(c.tool), c.trials is None) for c in plan]
        self.assertEqual(order, sorted(order))
        self.assertIn("contract", "\n".join(grading.explain(1, plan)))

    def test_the_scheduler_when_the_table_has_it(self):
        # Its measured rate counts in the bound like any tool's, and it runs
        # the contract workloads: on one CPU it is what still finds the race.
        rows = table(self.dir, ("stress", 50, 50), ("sched", 50, 50))
        plan = grading.plan(1, rows, grade_sets=[["evict=1"]])
        sched = [c for c in plan if c.tool == "sched"]
        self.assertEqual([c.trials for c in sched], [50, None])
        self.assertEqual(sched[0].k, grading.MINIMUM["sched"])
        self.assertLess(grading.probability([c for c in plan if c.tool == "sched"]),
                        grading.TARGET, "the scheduler's cells alone keep the bound")

    def test_a_tool_blind_to_the_lab_s_race_counts_for_nothing(self):
        rows = table(self.dir, ("stress", 50, 50), ("helgrind", 50, 50))
        plan = grading.plan(1, rows, blind=("helgrind",))
        self.assertEqual(grading.miss(next(c for c in plan if c.tool == "helgrind")), 1.0)
        self.assertLess(grading.probability(plan), grading.TARGET)

    def test_a_lock_order_lab_is_judged_without_helgrind(self):
        class Scen(dict):
            get = dict.get
        self.assertEqual(grading.blind_tools(Scen(race_kind="lock-order")), ("helgrind",))
        self.assertEqual(grading.blind_tools(Scen()), ())

    def test_every_real_lab_meets_the_target_with_its_contract_workloads(self):
        real = expected.read_dir(REPO / "labs")
        for lab in sorted({k[0] for k in real}):
            with self.subTest(lab=lab):
                scen = scenario.load(lab)
                sets = grading.contract_sets(scen.get("grade_sets"))
                plan = grading.plan(lab, real, blind=grading.blind_tools(scen), grade_sets=sets)
                self.assertLess(grading.probability(plan), grading.TARGET)


def finding(kind, summary="", a_file="work/lab-1/m.c"):
    return {"kind": kind, "summary": summary, "matched": False, "race_point": None,
            "a": {"file": a_file, "line": 3, "function": "f"}, "b": None, "stack_a": []}


class Advice(unittest.TestCase):
    def test_helgrind_lock_order_and_dubious_signals_are_advice(self):
        self.assertIn("trylock", grading.advice("helgrind", finding("lock-order-inversion")))
        self.assertIn("dubious", grading.advice(
            "helgrind", finding("misc", "pthread_cond_signal: dubious: associated lock is not "
                                        "held by any thread")))
        # ThreadSanitizer's lock-order report counts: it ignores trylocks.
        self.assertIsNone(grading.advice("tsan-clang", finding("lock-order-inversion")))

    def test_helgrind_races_count_unless_the_copy_adds_atomics_or_once(self):
        broken = "int x; void f(void) { x++; }"
        plain = grading.blind_spots("int x; void f(void) { lock(); x++; unlock(); }", broken)
        self.assertIsNone(grading.advice("helgrind", finding("data-race"), plain))
        for code in ("_Atomic int x; void f(void) { atomic_fetch_add(&x, 1); }",
                     "static pthread_once_t once; void f(void) { pthread_once(&once, g); }",
                     "atomic_store_explicit(&r, 1, memory_order_release);"):
            with self.subTest(code=code):
                spots = grading.blind_spots(code, broken)
                self.assertIn("ThreadSanitizer", grading.advice("helgrind", finding("data-race"),
                                                                spots))
                self.assertIsNone(grading.advice("tsan-gcc", finding("data-race"), spots))
        # atomics the broken module already had are not the fix's doing
        same = grading.blind_spots("atomic_int n; atomic_load(&n);", "atomic_int n; atomic_load(&n);")
        self.assertIsNone(grading.advice("helgrind", finding("data-race"), same))

    def test_tsan_races_are_advice_only_in_a_copy_with_fences(self):
        # a fence orders memory only when both sides have one
        lone = grading.blind_spots("atomic_thread_fence(memory_order_release);", "")
        self.assertIsNone(grading.advice("tsan-clang", finding("data-race"), lone))
        spots = grading.blind_spots("atomic_thread_fence(memory_order_release); "
                                    "atomic_thread_fence(memory_order_acquire);", "")
        self.assertIn("atomic_thread_fence", grading.advice("tsan-clang", finding("data-race"),
                                                            spots))
        self.assertIsNone(grading.advice("tsan-clang", finding("heap-use-after-free"), spots))

    def test_fences_are_advice_only_when_both_sides_have_one(self):
        both = ("atomic_thread_fence(memory_order_release); atomic_store_explicit(&f, 1, "
                "memory_order_relaxed); if (atomic_load_explicit(&f, memory_order_relaxed)) "
                "atomic_thread_fence(memory_order_acquire);")
        self.assertEqual(grading.fences(both), ["atomic_thread_fence(memory_order_acquire)",
                                                "atomic_thread_fence(memory_order_release)"])
        # a release fence, but the reader loads relaxed with no fence: nothing orders it
        one = ("atomic_thread_fence(memory_order_release); atomic_store_explicit(&f, 1, "
               "memory_order_relaxed); x = atomic_load_explicit(&f, memory_order_relaxed);")
        self.assertEqual(grading.fences(one), [])
        # a release fence and an acquire load: the load is the acquire side
        self.assertTrue(grading.fences(one.replace("x = atomic_load_explicit(&f, "
                                                   "memory_order_relaxed)",
                                                   "x = atomic_load_explicit(&f, "
                                                   "memory_order_acquire)")))
        # a compiler barrier orders nothing between threads: its races count
        barrier = grading.blind_spots("atomic_signal_fence(memory_order_seq_cst);", "")
        self.assertIsNone(grading.advice("tsan-clang", finding("data-race"), barrier))

    def test_helgrind_s_spinlock_and_timed_wait_confusions_are_advice(self):
        spin = grading.blind_spots("pthread_spin_lock(&l);", "")
        bug = finding("misc", "Bug in libpthread: recursive write lock granted on mutex/wrlock "
                              "which does not support recursion")
        self.assertIn("spinlock", grading.advice("helgrind", bug, spin))
        self.assertIsNone(grading.advice("helgrind", bug, grading.blind_spots("", "")))
        timed = finding("misc", "pthread_cond_{timed}wait: associated lock is not held by "
                                "calling thread")
        self.assertIn("timed wait", grading.advice("helgrind", timed))

    def test_a_trial_with_only_advice_is_clean_and_a_crash_is_never_advice(self):
        rec = {"outcome": "detected", "manifested": False,
               "findings": [finding("lock-order-inversion")]}
        self.assertIsNone(grading.trial_failed(rec, "helgrind"))
        self.assertEqual(grading.trial_failed(rec, "tsan-clang"), "report")
        count, told = grading.judged("helgrind", rec)
        self.assertEqual((count, len(told)), ([], 1))
        crash = dict(rec, findings=[finding("crash", "dubious")])
        self.assertEqual(grading.judged("helgrind", crash)[0], crash["findings"])

    def test_the_failure_shown_is_one_that_counts(self):
        told = finding("lock-order-inversion")
        race = finding("data-race", a_file="labs/lab-1-cache/workload.c")
        rec = {"outcome": "detected", "manifested": False, "findings": [told, race]}
        reason, f = grading.failure_reason("helgrind", 1, 2, rec, "report")
        self.assertIs(f, race)
        self.assertNotIn("(and 1 more", reason)


class Naming(unittest.TestCase):
    def test_a_student_copy_is_own_code(self):
        self.assertEqual(frames.repo_relative("/tmp/x/work/lab-1/cache.c"), "work/lab-1/cache.c")
        self.assertEqual(frames.repo_relative("work/lab-4/refund.c"), "work/lab-4/refund.c")

    def test_the_copy_s_side_comes_first_then_the_driver(self):
        f = {"kind": "data-race", "race_point": None,
             "a": {"file": "labs/lab-1-cache/workload.c", "line": 90, "function": "worker",
                   "access": "read"},
             "b": {"file": "work/lab-1/cache.c", "line": 140, "function": "cache_put",
                   "access": "write"},
             "stack_a": ["memcpy libc.so", "worker labs/lab-1-cache/workload.c:90",
                         "thread_main stress/threads.c:106"]}
        text = grading.describe_finding(f)
        self.assertTrue(text.startswith("data race: write in cache_put (work/lab-1/cache.c:140) "
                                        "against read in worker"), text)
        self.assertTrue(text.endswith("called from worker labs/lab-1-cache/workload.c:90"), text)
        # The driver's first frame: stress/ when the workload is not on the stack.
        f["stack_a"] = ["memcpy libc.so", "cache_put work/lab-1/cache.c:140",
                        "thread_main stress/threads.c:106"]
        self.assertTrue(grading.describe_finding(f).endswith(
            "called from thread_main stress/threads.c:106"))
        # A lab's other files are not the driver.
        f["stack_a"] = ["memcpy libc.so", "t labs/lab-1-cache/test_cache.c:9"]
        self.assertNotIn("called from", grading.describe_finding(f))

    def test_a_workload_frame_is_own_code_wherever_the_tree_is(self):
        self.assertEqual(frames.repo_relative("/tmp/x/labs/lab-1-cache/workload.c"),
                         "labs/lab-1-cache/workload.c")
        fr = frames.frame("worker", "/tmp/x/labs/lab-2-ledger/workload.c", 176)
        self.assertEqual((fr["file"], fr["own"]), ("labs/lab-2-ledger/workload.c", True))
        self.assertTrue(frames.is_driver("labs/lab-2-ledger/workload.c"))
        self.assertTrue(frames.is_driver("stress/main.c"))
        self.assertFalse(frames.is_driver("labs/lab-2-ledger/test_ledger.c"))
        self.assertFalse(frames.is_driver("work/lab-2/ledger.c"))

    def test_a_lab_s_own_hint_comes_first(self):
        class Scen(dict):
            get = dict.get
        scen = Scen(grade_hint="a lost wakeup", grade_hang_hint="stuck")
        self.assertEqual(grading.hint_for("violation", None, scen), "a lost wakeup")
        self.assertEqual(grading.hint_for("hang", None, scen), "stuck")
        self.assertEqual(grading.hint_for("violation", None, Scen()), grading.HINTS["violation"])


class CheckCode(unittest.TestCase):
    """A copy whose check function differs from the broken module's is
    refused, so weakening a check can never turn a verdict into a pass."""

    def test_every_check_function_is_guarded(self):
        guarded = 0
        for broken in sorted((REPO / "broken").glob("*.c")):
            text = broken.read_text()
            checks = honest.check_functions(honest.strip_comments(text))
            for name in checks:
                with self.subTest(module=broken.stem, function=name):
                    # the body of the check, gutted: it now always says "fine"
                    m = re.search(r"^[^\n]*\b" + name + r"\([^)]*\)\n\{\n", text, re.M)
                    self.assertIsNotNone(m)
                    end = text.index("\n}", m.end())
                    weak = text[:m.end()] + "\treturn 0;" + text[end:]
                    found = honest.check_copy(1, broken.stem, weak, text, text, "c")
                    self.assertEqual([r.rule for r in found], ["check code"])
                    self.assertIn(name, found[0].reason)
                    guarded += 1
        self.assertGreaterEqual(guarded, 3)  # cache_check, evcache_check, gwclient_check

    def test_comments_and_spacing_may_differ(self):
        text = (REPO / "broken" / "cache.c").read_text()
        tidy = text.replace("return problems;", "return  problems; /* all of them */")
        self.assertEqual(honest.check_copy(1, "cache", tidy, text, text, "c"), [])


class Catalogue(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name) / "lab-1"
        self.dir.mkdir()

    def tearDown(self):
        self.tmp.cleanup()

    def entry(self, name, first):
        path = self.dir / name
        path.write_text(first + "\nint x;\n")
        return path

    def test_an_entry_says_what_it_is_on_its_first_line(self):
        e = grade_selftest.Entry(1, self.entry("wrong-only-put.c", "/* WRONG: get is unlocked */"))
        self.assertFalse(e.right)
        self.assertEqual(e.says, "get is unlocked")
        self.assertTrue(grade_selftest.Entry(1, self.entry("right-rw.c", "/* RIGHT: a rwlock */")).right)
        for name, first in (("wrong-x.c", "/* a comment */"), ("right-x.c", "/* WRONG: x */"),
                            ("fix.c", "/* RIGHT: x */")):
            with self.subTest(name=name), self.assertRaises(cli.Failure):
                grade_selftest.Entry(1, self.entry(name, first))

    def test_a_wrong_fix_can_be_unseen_on_a_kind_of_machine(self):
        first = "/* WRONG (unseen on x86_64, ppc64le): the store buffer hides it */"
        e = grade_selftest.Entry(1, self.entry("wrong-sb.c", first))
        self.assertEqual((e.unseen_on, e.says), ({"x86_64", "ppc64le"}, "the store buffer hides it"))
        with mock.patch.object(grade_selftest, "MACHINE", "x86_64"):
            self.assertEqual(e.expected, "unseen")
        with mock.patch.object(grade_selftest, "MACHINE", "aarch64"):
            self.assertEqual(e.expected, "wrong")
        with self.assertRaises(cli.Failure):
            grade_selftest.Entry(1, self.entry("right-x.c", "/* RIGHT (unseen on x86_64): x */"))

    def test_the_matrix_counts_each_lab_and_the_total(self):
        rows = [{"lab": 1, "expected": "wrong", "correct": True, "seconds": 1.0},
                {"lab": 1, "expected": "right", "correct": False, "seconds": 2.0},
                {"lab": 2, "expected": "wrong", "correct": False, "seconds": 3.0}]
        m = grade_selftest.matrix(rows)
        self.assertEqual([(c["lab"], c["wrong_rejected"], c["wrong"], c["right_passed"],
                           c["right"]) for c in m],
                         [(1, 1, 1, 0, 1), (2, 0, 1, 0, 0), (None, 1, 2, 0, 1)])

    def test_the_repository_s_catalogue_is_well_formed(self):
        base = REPO / "labs"
        catalogues = sorted(base.glob("lab-*/mutants"))
        self.assertTrue(catalogues, "no lab has a catalogue (labs/lab-N-*/mutants/)")
        for lab_dir in catalogues:
            lab = int(lab_dir.parent.name.split("-")[1])
            module = scenario.load(lab).words("broken_modules")[0]
            broken = (REPO / "broken" / f"{module}.c").read_text()
            for path in sorted(lab_dir.glob("*.c")):
                with self.subTest(entry=str(path.relative_to(base))):
                    grade_selftest.Entry(lab, path)
                    text = path.read_text()
                    fixed = (REPO / "fixed" / f"{module}.c").read_text()
                    found = honest.check_copy(lab, module, text, broken, fixed, "c")
                    self.assertEqual([r.reason for r in found], [],
                                     "HONEST must take every entry: the catalogue tests SAFE "
                                     "and FAST")


class Summary(unittest.TestCase):
    """--summary sums runs up per lab: an entry counts as graded right only
    if every run graded it right, and the table reads back as written."""

    def run_file(self, name, wrong_ok, load):
        rows = [{"lab": 1, "entry": "wrong-a", "expected": "wrong", "correct": wrong_ok,
                 "seconds": 3.0, "fast_ratio": None},
                {"lab": 1, "entry": "right-b", "expected": "right", "correct": True,
                 "seconds": 7.5, "fast_ratio": load}]
        path = Path(self.tmp.name) / name
        path.write_text(json.dumps({"schema": grade_selftest.SCHEMA, "entries": rows,
                                    "at": "2026-12-04T10:00:00Z", "load": load, "cpus": 2,
                                    "elapsed_s": 600.0}))
        return path

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_a_miss_in_one_run_is_not_rejected_in_every_run(self):
        rows, runs = grade_selftest.summary([self.run_file("a.json", True, 0.5),
                                             self.run_file("b.json", False, 1.5)])
        total = rows[-1]
        self.assertEqual((total["wrong"], total["wrong_rejected_every_run"]), (1, 0))
        self.assertEqual((total["right"], total["right_passed_every_run"]), (1, 1))
        self.assertEqual((total["runs"], total["trials"], total["misses"]), (2, 4, 1))
        self.assertEqual(total["miss_rate_low"], 0.0456)  # Wilson 95%, 1 of 4
        self.assertGreater(total["miss_rate_high"], 0.25)
        self.assertEqual([r["load"] for r in runs], [0.5, 1.5])
        self.assertEqual(total["lowest_right_fast"], 0.5)
        text = grade_selftest.render(rows, runs, markdown=True)
        self.assertIn("1 of 4 gradings went the wrong way", text)
        self.assertIn("load 1.5 on 2 CPUs", text)

    def test_an_unseen_entry_is_neither_rejected_nor_a_miss_and_runs_count_per_lab(self):
        a = self.run_file("a.json", True, 0.5)
        b = Path(self.tmp.name) / "b.json"
        b.write_text(json.dumps({"schema": grade_selftest.SCHEMA, "entries": [
            {"lab": 2, "entry": "wrong-c", "expected": "unseen", "correct": True,
             "seconds": 4.0, "fast_ratio": 1.0}],
            "at": "2026-12-04T11:00:00Z", "load": 1.0, "cpus": 2, "elapsed_s": 60.0}))
        rows, runs = grade_selftest.summary([a, b])
        by = {r["lab"]: r for r in rows}
        self.assertEqual((by[1]["runs"], by[2]["runs"], by["total"]["runs"]), (1, 1, 2))
        self.assertEqual((by[2]["wrong"], by[2]["unseen"], by[2]["misses"]), (0, 1, 0))
        text = grade_selftest.render(rows, runs, markdown=True)
        self.assertIn("1 wrong fix of lab 2 that no run on this kind of machine can show", text)

    def test_the_table_reads_back_as_written(self):
        rows, runs = grade_selftest.summary([self.run_file("a.json", True, 0.5)])
        tsv = Path(self.tmp.name) / "t.tsv"
        tsv.write_text(grade_selftest.render(rows, runs))
        self.assertEqual(grade_selftest.read_summary(tsv), (rows, runs))

    def test_a_file_that_is_not_a_run_is_one_clear_error(self):
        bad = Path(self.tmp.name) / "bad.json"
        bad.write_text("{}")
        with self.assertRaises(cli.Failure):
            grade_selftest.summary([bad])
        with self.assertRaises(cli.Failure):
            grade_selftest.read_summary(bad)


class Documented(unittest.TestCase):
    """GUIDE.md's self-test table is expected/grade-selftest.tsv, and that
    file counts the catalogue as it is: adding an entry to a lab the table
    lists, without measuring it again, fails here. A new lab's catalogue is
    not in the table until the next runs of make grade-selftest are summed
    up (a lab is new files only: GUIDE.md, "Adding a lab")."""

    def test_the_guide_shows_the_measured_table(self):
        rows, runs = grade_selftest.read_summary(REPO / "expected" / "grade-selftest.tsv")
        guide = (REPO / "GUIDE.md").read_text()
        m = re.search(r"<!-- grade-selftest: generated from expected/grade-selftest.tsv -->\n"
                      r"(.*?)<!-- end grade-selftest -->", guide, re.S)
        self.assertIsNotNone(m)
        self.assertEqual(m.group(1), grade_selftest.render(rows, runs, markdown=True))

    def test_a_handout_states_its_lab_s_fast_floor(self):
        for lab in sorted(scenario.known_labs()):
            scen = scenario.load(lab)
            if scen.get("fast_floor"):
                with self.subTest(lab=lab):
                    text = (scenario.lab_dir(lab) / "README.md").read_text()
                    self.assertIn(f"fast_floor = {scen.get('fast_floor')}",
                                  " ".join(text.split()))

    def test_the_table_counts_the_catalogue_as_it_is(self):
        rows, runs = grade_selftest.read_summary(REPO / "expected" / "grade-selftest.tsv")
        self.assertTrue(runs, "the table names the runs it sums up")
        self.assertTrue(all(1 <= r["runs"] <= len(runs) for r in rows))
        self.assertEqual(rows[-1]["runs"], len(runs))
        for row in rows:
            if row["lab"] == "total":
                continue
            with self.subTest(lab=row["lab"]):
                names = [p.name for p in (scenario.lab_dir(row["lab"]) / "mutants").glob("*.c")]
                self.assertEqual(row["wrong"] + row["unseen"],
                                 sum(n.startswith("wrong-") for n in names))
                self.assertEqual(row["right"], sum(n.startswith("right-") for n in names))
        labs = {int(p.parent.name.split("-")[1]) for p in (REPO / "labs").glob("lab-*/mutants")}
        self.assertLessEqual({r["lab"] for r in rows} - {"total"}, labs,
                             "the table lists a lab that has no catalogue")


if __name__ == "__main__":
    unittest.main()
