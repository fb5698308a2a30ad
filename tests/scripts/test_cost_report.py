"""The cost table, the CSV export, the HTML page, and the fields they need."""

import csv
import io
import json
import shutil
import sys
import unittest

from helpers import FakeTree, run_script
import check_rates  # noqa: E402  (scripts/ is on sys.path via helpers)
from racelab import cost, export, records, scenario, trial


def record(trial_no, build="fixed", tool="stress", config="spread", outcome="clean",
           elapsed=None, cpu=None, rss=None, **extra):
    # The short records of racelab.trial/1, which may lack the cost fields.
    r = {"schema": "racelab.trial/1", "run": "r1", "trial": trial_no, "lab": 1, "build": build,
         "tool": tool, "config": config, "outcome": outcome,
         "manifested": outcome in ("manifested", "crash", "hang"),
         "detected": outcome == "detected", "findings": []}
    if elapsed is not None:
        r["elapsed_s"] = elapsed
    if cpu is not None:
        r["cpu_s"] = cpu
    if rss is not None:
        r["peak_rss_kb"] = rss
    r.update(extra)
    return r


class Cost(unittest.TestCase):
    def recs(self):
        native = [record(i, config="spread-tsan-workload", elapsed=e, cpu=c, rss=20480)
                  for i, (e, c) in enumerate([(0.1, 0.05), (0.2, 0.1), (0.3, 0.2)], 1)]
        tsan = [record(1, tool="tsan-clang", elapsed=1.0, cpu=1.0, rss=30720),
                record(2, tool="tsan-clang", elapsed=2.0, cpu=0.9, rss=40960),
                record(3, tool="tsan-clang", elapsed=9.0, cpu=1.1, rss=51200),
                # a hang ran to the time limit, not to the end of its work: not timed
                record(4, tool="tsan-clang", outcome="hang", elapsed=99.0, cpu=99.0, rss=10**7)]
        # the full-workload stress cell must not be the baseline: unequal work
        full = [record(1, elapsed=50.0, cpu=50.0, rss=1024)]
        return native + tsan + full

    def test_slowdown_is_against_the_native_run_of_the_same_workload(self):
        rows = cost.table(self.recs())
        self.assertEqual(len(rows), 1)
        row = rows[0]
        self.assertEqual((row.lab, row.build, row.tool, row.config),
                         (1, "fixed", "tsan-clang", "spread"))
        self.assertEqual((row.n, row.n_native), (3, 3))
        self.assertAlmostEqual(row.slowdown, 2.0 / 0.2)
        self.assertAlmostEqual(row.cpu_slowdown, 1.0 / 0.1)
        self.assertEqual((row.rss_kb, row.max_rss_kb, row.native_rss_kb), (40960, 51200, 20480))
        self.assertEqual(cost.fmt_row(row), ("1", "fixed", "tsan-clang", "spread", "3 (3 native)",
                                             "2.00", "0.20", "10.0x", "10.0x", "40", "50", "20"))

    def test_a_native_run_of_milliseconds_is_not_shown_as_zero(self):
        row = cost.table(self.recs())[0]
        row.native_wall = 0.0034
        self.assertEqual(cost.fmt_row(row)[5:7], ("2.00", "0.003"))

    def test_no_baseline_no_row(self):
        self.assertEqual(cost.table([record(1, tool="helgrind", elapsed=3.0)]), [])

    def test_records_without_the_cost_fields_give_dashes(self):
        rows = cost.table([record(1, tool="helgrind", elapsed=3.0),
                           record(1, config="spread-valgrind-workload")])
        self.assertIsNone(rows[0].slowdown)
        self.assertEqual(cost.fmt_row(rows[0])[4:], ("1 (1 native)", "3.00", "-", "-", "-", "-",
                                                     "-", "-"))

    def test_baseline_names(self):
        self.assertEqual(cost.baseline_config("helgrind", "spread-buckets=8"),
                         "spread-buckets=8-valgrind-workload")
        self.assertEqual(cost.baseline_config("tsan-gcc", "spread"), "spread-tsan-workload")
        self.assertTrue(cost.is_baseline("spread-valgrind-workload"))
        self.assertFalse(cost.is_baseline("spread"))
        self.assertEqual(records.config_name("spread", None, 2, 2, sets=["buckets=8"],
                                             workload="tsan"), "spread-buckets=8-tsan-workload")

    def test_check_rates_plans_a_fixed_native_run_per_profile_after_each_lab(self):
        plan = [(1, b, t, []) for t in ("stress", "tsan-clang", "tsan-gcc", "helgrind")
                for b in ("broken", "fixed")] + [(2, "fixed", "tsan-gcc", [])]
        out = check_rates.with_baselines(plan)
        self.assertEqual(out[8:], [(1, "fixed", "stress", ["--workload", "tsan"]),
                                   (1, "fixed", "stress", ["--workload", "valgrind"]),
                                   (2, "fixed", "tsan-gcc", []),
                                   (2, "fixed", "stress", ["--workload", "tsan"])])
        self.assertEqual(check_rates.with_baselines([(1, "broken", "stress", [])]),
                         [(1, "broken", "stress", [])])

    def test_the_sched_flavour_is_costed_and_the_chaos_build_is_not(self):
        # The sched flavour runs its own smaller workload (sched.* keys), so
        # its cost needs a native run of that workload; the chaos build runs
        # the stress workload, whose cells are its comparison already.
        plan = [(3, "fixed", "sched", []), (3, "fixed", "chaos", [])]
        self.assertEqual(check_rates.with_baselines(plan),
                         plan + [(3, "fixed", "stress", ["--workload", "sched"])])
        self.assertEqual(cost.baseline_config("sched", "spread"), "spread-sched-workload")


class Workload(unittest.TestCase):
    """trials.py --workload: the native run of a detector's workload."""

    def setUp(self):
        self.tree = FakeTree(flavours=("release",))
        self.addCleanup(self.tree.cleanup)

    def trials(self, *args):
        return run_script("trials.py", "--lab", 1, "--build", "fixed", "--trials", 2,
                          "--results", self.tree.results, "--quiet", *args, env=self.tree.env())

    def test_named_apart_and_timed(self):
        code, _, err = self.trials("--tool", "stress", "--workload", "tsan")
        self.assertEqual(code, 0, err)
        recs = list(records.read(self.tree.results / "1-fixed-stress-spread-tsan-workload.jsonl"))
        self.assertEqual([r["config"] for r in recs], ["spread-tsan-workload"] * 2)
        # the scenario's tsan.time_limit_s, not its time_limit_s
        self.assertEqual(recs[0]["time_limit_s"], 7)
        self.assertTrue(all(r["peak_rss_kb"] > 0 and r["cpu_s"] >= 0 for r in recs))

    def test_only_for_the_stress_tool(self):
        code, out, err = self.trials("--tool", "tsan-clang", "--workload", "valgrind")
        self.assertEqual((code, out), (2, ""))
        self.assertEqual(err, "trials.py: error: --workload is for --tool stress; tsan-clang "
                              "runs its own (tsan) workload\n")
        self.assertFalse(self.tree.results.exists())


class Records(unittest.TestCase):
    def test_old_records_without_the_cost_fields_are_read(self):
        self.assertIsNone(records.problem(record(1)))
        self.assertIsNone(records.problem(record(1, elapsed=0.5, cpu=0.1, rss=2048)))
        self.assertIsNone(records.problem(record(1, peak_rss_kb=None)))

    def test_a_cost_field_of_the_wrong_type_is_refused(self):
        self.assertEqual(records.problem(record(1, peak_rss_kb="big")),
                         "field 'peak_rss_kb' should be an integer or null")
        self.assertEqual(records.problem(record(1, cpu_s=True)), "field 'cpu_s' should be a number or null")


class Execute(unittest.TestCase):
    def test_peak_memory_is_the_childs(self):
        # The child holds 64 MB; the runner itself holds far less of it.
        ran = trial.execute(
            [sys.executable, "-c", "b = bytearray(64 << 20); b[::4096] = b'x' * (len(b) // 4096);"
             "print('done')"], 30, None)
        self.assertEqual((ran.code, ran.out, ran.timed_out, ran.start_error),
                         (0, b"done\n", False, None))
        self.assertGreaterEqual(ran.usage["peak_rss_kb"], 64 << 10)
        self.assertGreater(ran.usage["cpu_s"], 0)
        self.assertGreater(ran.elapsed_s, 0)

    def test_a_small_program_s_peak_is_its_own_not_the_runner_s(self):
        # Linux keeps a process's peak memory across exec: started straight
        # from this runner, holding 256 MB here, `true` would report 256 MB.
        held = bytearray(256 << 20)
        held[::4096] = b"x" * (len(held) // 4096)
        self.assertTrue((scenario.build_dir() / trial.RUSAGE_LAUNCHER).is_file(),
                        "the trial launcher is not built: make build/bin/racelab-rusage")
        ran = trial.execute(["true"], 30, None)
        self.assertEqual(ran.code, 0)
        self.assertLess(ran.usage["peak_rss_kb"], 32 << 10)
        del held

    def test_the_launcher_ends_as_the_program_ended(self):
        for argv, code in ((["sh", "-c", "exit 3"], 3), (["sh", "-c", "kill -SEGV $$"], -11)):
            with self.subTest(argv=argv):
                ran = trial.execute(argv, 30, None)
                self.assertEqual((ran.code, ran.start_error), (code, None))
                self.assertIsNotNone(ran.usage["peak_rss_kb"])

    def test_time_limit_kills_and_the_peak_is_unknown(self):
        # The launcher dies with the trial's process group, before it can
        # say the program's peak: unknown, not the runner's.
        ran = trial.execute(["sleep", "30"], 0.3, None)
        self.assertTrue(ran.timed_out)
        self.assertEqual(ran.code, -9)
        self.assertLess(ran.elapsed_s, 10)
        self.assertIsNone(ran.usage["peak_rss_kb"])
        self.assertIsNotNone(ran.usage["cpu_s"])

    def test_output_larger_than_a_pipe_is_not_lost(self):
        ran = trial.execute(
            [sys.executable, "-c", "import sys; sys.stderr.write('e' * 300000); print('o' * 200000)"],
            30, None)
        self.assertEqual((ran.code, len(ran.out), len(ran.err)), (0, 200001, 300000))

    def test_a_missing_program_is_a_start_error(self):
        ran = trial.execute(["/nonexistent/racelab-stress"], 5, None)
        self.assertIn("cannot run", ran.start_error)
        self.assertIsNone(ran.code)
        self.assertIsNone(ran.usage)


class Csv(unittest.TestCase):
    def test_flatten(self):
        flat = export.flatten({"a": 1, "exit": {"code": None, "signal": "SIGSEGV"},
                               "cpus": [0, 1], "ok": True, "findings": [{"kind": "race"}],
                               "program": {"topology": {"nodes": 1}}, "empty": {}})
        self.assertEqual(flat, {"a": "1", "exit.code": "", "exit.signal": "SIGSEGV",
                                "cpus": "0 1", "ok": "true",
                                "findings": '[{"kind":"race"}]', "program.topology.nodes": "1",
                                "empty": ""})

    def test_one_row_per_trial_old_records_leave_new_columns_empty(self):
        buf = io.StringIO()
        n = export.write(buf, [record(1), record(2, elapsed=1.5, rss=100, exit={"code": 0})])
        self.assertEqual(n, 2)
        rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
        self.assertEqual(len(rows), 2)
        self.assertEqual(list(rows[0])[:3], ["schema", "run", "trial"])
        self.assertEqual((rows[0]["peak_rss_kb"], rows[1]["peak_rss_kb"]), ("", "100"))
        self.assertEqual(rows[1]["exit.code"], "0")


class ReportFiles(unittest.TestCase):
    """report.py --csv and --html end to end on a results folder."""

    def setUp(self):
        self.tree = FakeTree(flavours=())
        self.addCleanup(self.tree.cleanup)
        self.tree.results.mkdir()
        (self.tree.root / "labs" / "lab-1-test" / "expected.tsv").write_text(
            "lab\tbuild\ttool\tconfig\tmetric\tband_low\tband_high\tsuccesses\ttrials\tnote\n"
            "1\tbroken\tstress\tspread\tsymptom\t0.90\t1.00\t10\t10\tm\n"
            "1\tfixed\ttsan-clang\tspread\tfalse-positive\t0.00\t0.00\t0\t10\tby design\n")
        recs = ([record(i, "broken", outcome="manifested" if i < 2 else "clean", elapsed=0.5)
                 for i in range(1, 6)]
                + [record(i, tool="tsan-clang", elapsed=2.0, cpu=1.0, rss=40960)
                   for i in range(1, 4)]
                + [record(i, config="spread-tsan-workload", elapsed=0.2, cpu=0.1, rss=20480)
                   for i in range(1, 4)])
        with open(self.tree.results / "all.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in recs)

    def report(self, *args):
        return run_script("report.py", "--results", self.tree.results, "--expected",
                          self.tree.root / "labs", *args, env=self.tree.env(),
                          cwd=self.tree.root)

    def test_markdown_has_the_cost_table_and_no_baseline_cells(self):
        code, out, err = self.report()
        self.assertEqual(code, 0, err)
        self.assertIn("| 1 | fixed | tsan-clang | spread | 3 (3 native) | 2.00 | 0.20 | 10.0x | "
                      "10.0x | 40 | 40 | 20 |", out)
        self.assertNotIn("workload |", out.split("Cost per tool")[0])
        self.assertEqual(out.splitlines()[-1], "2 cells: 1 ok, 1 out")

    def test_csv(self):
        target = self.tree.root / "trials.csv"
        code, _, err = self.report("--csv", target)
        self.assertEqual(code, 0, err)
        with open(target) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 11)
        self.assertEqual(rows[5]["peak_rss_kb"], "40960")
        self.assertIn("wrote trials.csv (11 trials)", err)

    def test_csv_into_a_missing_folder_is_one_line(self):
        code, _, err = self.report("--csv", self.tree.root / "no" / "t.csv")
        self.assertEqual(code, 2)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("cannot write", err)

    @unittest.skipIf(shutil.which("gnuplot") is None,
                     "gnuplot is missing: scripts/deps.sh installs gnuplot-nox")
    def test_html_page_has_the_table_and_charts_that_exist(self):
        out_dir = self.tree.results
        code, _, err = self.report("--html", out_dir)
        self.assertEqual(code, 0, err)
        page = (out_dir / "report.html").read_text()
        self.assertIn("<table>", page)
        self.assertIn('<td class="v-ok">ok</td>', page)
        self.assertIn('<td class="v-out">OUT</td>', page)
        self.assertIn('<tr class="broken">', page)
        self.assertIn("10.0x", page)  # the cost table
        self.assertNotIn("workload</td>", page.split("Cost per tool")[0])
        charts = [part.split('"')[0] for part in page.split('<img src="')[1:]]
        self.assertEqual(charts, ["report-charts/lab-1.svg"])
        svg = (out_dir / charts[0]).read_text()
        self.assertIn("<svg", svg)
        self.assertIn("gnuplot", svg)  # drawn by gnuplot, not by hand
        data = (out_dir / "report-charts" / "lab-1.dat").read_text().splitlines()
        self.assertEqual(data[1], '"stress"\t0.2000\t0.0362\t0.6245\t-\t-\t-')

    def test_html_onto_a_file_is_one_line(self):
        blocker = self.tree.root / "blocker"
        blocker.write_text("")
        code, _, err = self.report("--html", blocker)
        self.assertEqual(code, 2)
        self.assertEqual(err.strip().splitlines()[-1],
                         "report.py: error: --html blocker is a file, not a directory")

    def test_html_needs_gnuplot(self):
        empty = self.tree.root / "nobin"
        empty.mkdir()
        env = self.tree.env(PATH=str(empty))
        code, _, err = run_script("report.py", "--results", self.tree.results, "--expected",
                                  self.tree.root / "labs", "--html", self.tree.root / "h",
                                  env=env, cwd=self.tree.root)
        self.assertEqual(code, 2)
        self.assertIn("gnuplot is not installed", err)
        self.assertEqual(len(err.splitlines()), 1, err)


if __name__ == "__main__":
    unittest.main()
