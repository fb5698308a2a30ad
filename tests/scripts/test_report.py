"""report.py: cells, verdicts, --check, corrupt input, --write-expected, the
HTML page's matrix."""

import json
import shutil
import tempfile
import unittest
from html.parser import HTMLParser
from pathlib import Path

from helpers import FakeTree, run_script
from racelab import expected

HEADER = "\t".join(expected.HEADER)


def record(trial, build="broken", tool="stress", outcome="manifested", findings=()):
    return {"schema": "racelab.trial/1", "run": "r1", "trial": trial, "lab": 1, "build": build,
            "tool": tool, "config": "spread", "outcome": outcome,
            "manifested": outcome in ("manifested", "crash", "hang"),
            "detected": outcome == "detected", "findings": list(findings)}


class ReportTree(unittest.TestCase):
    """A results folder and a folder of expected tables (the tree's labs/);
    report.py run on them."""

    def setUp(self):
        self.tree = FakeTree(flavours=())
        self.results = self.tree.results
        self.results.mkdir()
        self.expected = self.tree.root / "labs"
        self.table = self.expected / "lab-1-test" / "expected.tsv"

    def tearDown(self):
        self.tree.cleanup()

    def write_records(self, name, recs, extra=""):
        with open(self.results / name, "w") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")
            f.write(extra)

    def write_expected(self, *rows):
        self.table.write_text(HEADER + "\n" + "".join(r + "\n" for r in rows))

    def report(self, *args):
        return run_script("report.py", "--results", self.results, "--expected", self.expected,
                          *args, env=self.tree.env())

    def fill(self):
        # broken stress: 8/10 manifested; fixed helgrind: 0/10 with findings, 1 tool error
        self.write_records("1-broken-stress-spread.jsonl",
                           [record(i, outcome="manifested" if i <= 8 else "clean") for i in range(1, 11)])
        self.write_records("1-fixed-helgrind-spread.jsonl",
                           [record(i, "fixed", "helgrind", "clean") for i in range(1, 11)]
                           + [record(11, "fixed", "helgrind", "tool-error")])


class Report(ReportTree):
    def test_table_and_summary(self):
        self.fill()
        self.write_expected("1\tbroken\tstress\tspread\tsymptom\t0.50\t1.00\t9\t10\tmeasured")
        code, out, err = self.report()
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "| lab | build | tool | config | metric | rate | 95% CI | "
                                   "99.99% CI | expected | n | tool errors | verdict |")
        self.assertEqual(lines[2], "| 1 | broken | stress | spread | symptom | 0.80 | 0.49-0.94 | "
                                   "0.26-0.98 | 0.50-1.00 | 10 | 0 | ok |")
        self.assertEqual(lines[3], "| 1 | fixed | helgrind | spread | false-positive | 0.00 | "
                                   "0.00-0.28 | 0.00-0.60 | - | 10 | 1 | no expectation |")
        self.assertEqual(lines[-1], "2 cells: 1 ok, 0 out, 1 no expectation")

    def test_check_passes_when_interval_meets_band(self):
        self.fill()
        self.write_expected("1\tbroken\tstress\tspread\tsymptom\t0.90\t1.00\t30\t30\tmeasured")
        code, out, _ = self.report("--check")
        self.assertEqual(code, 0)  # 0.49-0.94 meets 0.90-1.00: not a failure
        self.assertEqual(out.splitlines()[-1], "2 cells: 1 ok, 0 out, 1 no expectation")

    def test_check_fails_when_out(self):
        self.fill()
        self.write_expected("1\tbroken\tstress\tspread\tsymptom\t0.99\t1.00\t30\t30\tmeasured")
        code, out, _ = self.report("--check")
        self.assertEqual(code, 1)  # 8/10: even the 99.99% interval ends at 0.98
        self.assertIn("| OUT |", out)
        self.assertEqual(out.splitlines()[-1], "2 cells: 0 ok, 1 out, 1 no expectation")

    def test_the_verdict_uses_the_wider_interval(self):
        # 8/10: the 95% interval 0.49-0.94 misses 0.95-1.00, the 99.99%
        # interval 0.26-0.98 meets it: not a failure (stats.Z_CHECK).
        self.fill()
        self.write_expected("1\tbroken\tstress\tspread\tsymptom\t0.95\t1.00\t30\t30\tmeasured")
        code, out, _ = self.report("--check")
        self.assertEqual(code, 0)
        self.assertIn("| 0.49-0.94 | 0.26-0.98 | 0.95-1.00 | 10 | 0 | ok |", out)

    def test_one_finding_on_a_zero_band_is_out(self):
        self.write_records("1-fixed-stress-spread.jsonl",
                           [record(i, "fixed", "stress", "manifested" if i == 1 else "clean")
                            for i in range(1, 11)])
        self.write_expected("1\tfixed\tstress\tspread\tviolation\t0.00\t0.00\t0\t30\tby design")
        code, out, _ = self.report("--check")
        self.assertEqual(code, 1)
        self.assertIn("| OUT |", out)

    def test_check_fails_on_tool_errors_in_an_expected_cell(self):
        self.fill()
        self.write_expected("1\tfixed\thelgrind\tspread\tfalse-positive\t0.00\t0.00\t0\t30\tby design")
        code, out, _ = self.report("--check")
        self.assertEqual(code, 1)
        self.assertIn("| tool errors |", out)

    def test_expected_cell_without_results(self):
        self.write_expected("1\tbroken\ttsan-gcc\tspread\tdetection\t0.80\t1.00\t30\t30\tmeasured")
        code, out, _ = self.report("--check")
        self.assertEqual(code, 0)
        self.assertEqual(out.splitlines()[-1], "1 cells: 0 ok, 0 out, 1 no data")

    def test_expected_cell_without_results_with_require_data_fails(self):
        self.write_expected("1\tbroken\ttsan-gcc\tspread\tdetection\t0.80\t1.00\t30\t30\tmeasured")
        code, out, _ = self.report("--check", "--require-data")
        self.assertEqual(code, 1)

    def test_measured_only_leaves_out_cells_without_trials(self):
        self.fill()
        self.write_expected("1\tbroken\ttsan-gcc\tspread\tdetection\t0.80\t1.00\t30\t30\tmeasured")
        code, out, _ = self.report("--check", "--measured-only")
        self.assertNotIn("tsan-gcc", out)
        self.assertIn("| 1 | broken | stress |", out)

    def test_tsv_format(self):
        self.fill()
        code, out, err = self.report("--format", "tsv")
        self.assertEqual(code, 0)
        self.assertEqual(out.splitlines()[1].split("\t")[:10],
                         ["1", "broken", "stress", "spread", "symptom", "8", "10", "0.8000",
                          "0.4902", "0.9433"])
        self.assertEqual(err.strip(), "2 cells: 0 ok, 0 out, 2 no expectation")

    def fixed_helgrind(self, with_findings):
        race = {"kind": "data-race"}
        self.write_records("1-fixed-helgrind-spread.jsonl",
                           [record(i, "fixed", "helgrind", "clean",
                                   [race] if i <= with_findings else [])
                            for i in range(1, 11)])

    FP_ROW = ("1\tfixed\thelgrind\tspread\texpected-false-positive\t0.88\t1.00\t30\t30\t"
              "LockOrder on two locks always taken under one global lock: Helgrind "
              "does not know the global lock orders them")

    def test_intended_false_positive_row(self):
        self.fixed_helgrind(10)
        self.write_expected(self.FP_ROW)
        code, out, err = self.report("--check")
        self.assertEqual(code, 0, err)
        self.assertIn("| 1 | fixed | helgrind | spread | expected-false-positive | 1.00 | "
                      "0.72-1.00 | 0.40-1.00 | 0.88-1.00 | 10 | 0 | ok |", out)

    def test_intended_false_positive_that_went_away_is_out(self):
        self.fixed_helgrind(0)
        self.write_expected(self.FP_ROW)
        code, out, _ = self.report("--check")
        self.assertEqual(code, 1)
        self.assertIn("| expected-false-positive | 0.00 |", out)
        self.assertIn("| OUT |", out)

    def test_fixed_band_above_zero_needs_the_intended_metric_and_a_reason(self):
        self.fixed_helgrind(10)
        for row, message in (
                ("1\tfixed\thelgrind\tspread\tfalse-positive\t0.88\t1.00\t30\t30\twhy",
                 "expected.tsv:2: a fixed build's band is 0-0"),
                ("1\tfixed\tstress\tspread\tviolation\t0.10\t0.50\t3\t30\twhy",
                 "expected.tsv:2: a fixed build's band is 0-0"),
                ("1\tfixed\thelgrind\tspread\texpected-false-positive\t0.88\t1.00\t30\t30\t"
                 "by design", "needs a note saying why"),
                ("1\tfixed\thelgrind\tspread\texpected-false-positive\t0.00\t0.00\t0\t30\twhy",
                 "needs a band above 0"),
                ("1\tfixed\tstress\tspread\texpected-false-positive\t0.5\t1.00\t30\t30\twhy",
                 "metric 'expected-false-positive' does not fit fixed stress"),
                ("1\tbroken\thelgrind\tspread\texpected-false-positive\t0.5\t1.00\t30\t30\twhy",
                 "metric 'expected-false-positive' does not fit broken helgrind")):
            with self.subTest(row=row):
                self.write_expected(row)
                self.assertBadInput(message, "--check")

    def test_check_fails_for_a_lab_without_a_table(self):
        self.fill()  # lab 1's records, and no table
        code, out, err = self.report("--check")
        self.assertEqual(code, 1)
        self.assertIn("2 cells: 0 ok, 0 out, 2 no expectation", out)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertRegex(err, r"^report.py: check failed: no expected table for lab 1 "
                              r"\(lab-1-test/expected.tsv in \S*labs\): its rates cannot be "
                              r"checked$")
        code, _, err = self.report("--check", "--lab", 1)
        self.assertEqual(code, 1)
        self.assertIn("no expected table for lab 1", err)
        code, _, _ = self.report()  # without --check, a report is only a report
        self.assertEqual(code, 0)

    def test_check_of_a_lab_without_records_or_table(self):
        self.write_expected("1\tbroken\tstress\tspread\tsymptom\t0.50\t1.00\t9\t10\tmeasured")
        code, _, err = self.report("--check", "--lab", 1)
        self.assertEqual(code, 0, err)
        self.table.unlink()
        code, _, err = self.report("--check", "--lab", 1)
        self.assertEqual(code, 1)
        self.assertIn("no expected table for lab 1", err)

    def assertBadInput(self, message, *args):
        code, out, err = self.report(*args)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("report.py: error: "), err)
        self.assertIn(message, err)

    def test_corrupt_records_name_file_and_line(self):
        self.write_records("1-broken-stress-spread.jsonl", [record(1)], extra="{not json\n")
        self.assertBadInput("1-broken-stress-spread.jsonl:2: bad JSON")
        bad = record(1)
        del bad["outcome"]
        self.write_records("1-broken-stress-spread.jsonl", [record(1), record(2), bad])
        self.assertBadInput("1-broken-stress-spread.jsonl:3: bad trial record: missing field 'outcome'")
        self.write_records("1-broken-stress-spread.jsonl", [dict(record(1), trial=True)])
        self.assertBadInput(":1: bad trial record: field 'trial' should be an integer")

    def test_bad_expected_tables(self):
        self.table.write_text("lab\tbuild\n")
        self.assertBadInput("lab-1-test/expected.tsv:1: the header must be")
        self.write_expected("1\tfixed\tstress\tspread\tdetection\t0\t0\t0\t30\tx")
        self.assertBadInput("expected.tsv:2: metric 'detection' does not fit fixed stress")
        self.write_expected("1\tbroken\tstress\tspread\tsymptom\t0.9\t0.5\t0\t30\tx")
        self.assertBadInput("expected.tsv:2: the band 0.9-0.5")

    def test_a_folder_of_tables_in_the_old_layout_is_refused(self):
        old = self.tree.root / "expected"
        old.mkdir()
        (old / "lab-1.tsv").write_text(HEADER + "\n")
        code, _, err = run_script("report.py", "--results", self.results, "--expected", old,
                                  env=self.tree.env())
        self.assertEqual(code, 2)
        self.assertIn("lab-1.tsv: the old layout; a lab's table is now "
                      "<DIR>/lab-N-<name>/expected.tsv", err)

    def test_unknown_lab_and_missing_results(self):
        self.assertBadInput("unknown lab 4", "--lab", "4")
        self.results.rmdir()
        self.assertBadInput("no results directory")

    def test_write_expected(self):
        self.fill()
        with tempfile.TemporaryDirectory() as tmp:
            newdir = Path(tmp) / "new"
            code, out, err = self.report("--write-expected", newdir)
            self.assertEqual(code, 0, err)
            lines = (newdir / "lab-1-test" / "expected.tsv").read_text().splitlines()
            self.assertEqual(lines, [
                HEADER,
                "1\tbroken\tstress\tspread\tsymptom\t0.49\t0.95\t8\t10\t8 of 10; measured "
                "(one run), load average not recorded",
                "1\tfixed\thelgrind\tspread\tfalse-positive\t0.00\t0.00\t0\t10\tby design: "
                "any report on the fixed build is a false positive; 0 of 10; 10 clean, 1 tool-error; "
                "measured (one run), load average not recorded"])
            # the written table is accepted as input, and refuses to be overwritten
            code, _, err = run_script("report.py", "--results", self.results, "--expected",
                                      newdir, "--check", env=self.tree.env())
            self.assertEqual(code, 1, err)  # the fixed cell had a tool error
            code, _, err = self.report("--write-expected", newdir)
            self.assertEqual(code, 2)
            self.assertIn("exists", err)

    def test_write_expected_keeps_a_broken_builds_zero_by_design(self):
        # lab 3's detectors: 0-0 by design, measured 0 again, stays 0-0 and
        # keeps its reason; measured above 0, it gets the measured interval
        self.write_records("1-broken-drd-spread.jsonl",
                           [record(i, tool="drd", outcome="clean") for i in range(1, 11)])
        self.write_expected("1\tbroken\tdrd\tspread\tdetection\t0.00\t0.00\t0\t30\t"
                            "0 of 30; why: not a data race; measured under load")
        with tempfile.TemporaryDirectory() as tmp:
            code, _, err = self.report("--write-expected", Path(tmp) / "new")
            self.assertEqual(code, 0, err)
            row = (Path(tmp) / "new" / "lab-1-test" / "expected.tsv").read_text().splitlines()[1]
            self.assertTrue(row.startswith("1\tbroken\tdrd\tspread\tdetection\t0.00\t0.00\t0\t10\t"
                                           "0 of 10; why: not a data race; measured"), row)
        self.write_records("1-broken-drd-spread.jsonl",
                           [record(i, tool="drd", outcome="detected" if i == 1 else "clean")
                            for i in range(1, 11)])
        with tempfile.TemporaryDirectory() as tmp:
            code, _, err = self.report("--write-expected", Path(tmp) / "new")
            self.assertEqual(code, 0, err)
            row = (Path(tmp) / "new" / "lab-1-test" / "expected.tsv").read_text().splitlines()[1]
            self.assertIn("\tdetection\t0.01\t0.41\t1\t10\t", row)

    def write_program_records(self):
        # racelab run's: the program's name where a lab's number is
        self.write_records("prog-broken-stress-default.jsonl",
                           [{**record(i, outcome="manifested" if i <= 2 else "clean"),
                             "lab": "prog", "config": "default"} for i in range(1, 5)])

    def test_write_expected_puts_the_programs_in_one_table(self):
        self.fill()
        self.write_program_records()
        with tempfile.TemporaryDirectory() as tmp:
            newdir = Path(tmp) / "new"
            code, out, err = self.report("--write-expected", newdir)
            self.assertEqual(code, 0, err)
            self.assertTrue((newdir / "lab-1-test" / "expected.tsv").is_file())
            self.assertIn("then copy it over the pack's expected.tsv", out)
            table = expected.read_dir(newdir / "expected.tsv")
            self.assertEqual(list(table), [("prog", "broken", "stress", "default")])
            # a .tsv file takes the programs' rows alone
            code, _, err = self.report("--write-expected", Path(tmp) / "pack.tsv")
            self.assertEqual(code, 2)
            self.assertIn("a lab's table goes in a folder", err)

    def test_write_expected_of_programs_alone_to_a_file(self):
        self.write_program_records()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pack.tsv"
            code, out, err = self.report("--write-expected", path)
            self.assertEqual(code, 0, err)
            self.assertEqual(path.read_text().splitlines()[1:],
                             ["prog\tbroken\tstress\tdefault\tsymptom\t0.15\t0.85\t2\t4\t2 of 4; "
                              "measured (one run), load average not recorded"])


class Tables(HTMLParser):
    """Every <table> of a page: [(class, [[(tag, attrs, text), ...] per row])]."""

    def __init__(self, page):
        super().__init__()
        self.tables, self._cell = [], None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append((dict(attrs).get("class", ""), []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = (tag, dict(attrs), [])
            self.tables[-1][1][-1].append(self._cell)
        elif tag == "span" and self._cell:
            self._cell[2].append(" ")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data):
        if self._cell:
            self._cell[2].append(data)

    def table(self, klass):
        rows = next(rows for k, rows in self.tables if k == klass)
        return [[(tag, attrs, "".join(text).strip()) for tag, attrs, text in row]
                for row in rows]


@unittest.skipIf(shutil.which("gnuplot") is None,
                 "gnuplot is missing: scripts/deps.sh installs gnuplot-nox")
class HtmlMatrix(ReportTree):
    """The page opens with one compact matrix of the measured cells: labs and
    configurations by builds and tools, k/n and the verdict in each cell,
    coloured by the rate; what nobody measured is left out, not listed."""

    def setUp(self):
        super().setUp()
        self.write_expected(
            "1\tbroken\tstress\tspread\tsymptom\t0.50\t1.00\t9\t10\tmeasured",
            "1\tbroken\tstress\tsame-cpu\tsymptom\t0.50\t1.00\t9\t10\tmeasured",
            "1\tbroken\ttsan-gcc\tspread\tdetection\t0.80\t1.00\t30\t30\tmeasured",
            "1\tfixed\tdrd\tspread\tfalse-positive\t0.00\t0.00\t0\t30\tby design",
            "1\tfixed\thelgrind\tspread\tfalse-positive\t0.00\t0.00\t0\t30\tby design",
            "1\tbroken\tstress\tspread-buckets=65536\tsymptom\t0.99\t1.00\t30\t30\tmeasured",
            "1\tbroken\tchaos\tspread\tsymptom\t0.50\t1.00\t9\t10\tmeasured")
        self.fill()  # broken stress spread 8/10; fixed helgrind 0/10 and a tool error
        self.write_records("1-broken-stress-buckets.jsonl",
                           [dict(record(i, outcome="manifested" if i <= 2 else "clean"),
                                 config="spread-buckets=65536") for i in range(1, 6)])
        self.write_records("1-broken-chaos-spread.jsonl",
                           [record(i, tool="chaos", outcome="tool-error") for i in range(1, 4)])
        out = self.tree.root / "html"
        code, _, err = self.report("--html", out)
        self.assertEqual(code, 0, err)
        self.page = (out / "report.html").read_text()
        self.tables = Tables(self.page)

    def grid(self):
        """{(lab, config): {(build, tool): (attrs, text)}} from the matrix."""
        rows = self.tables.table("matrix")
        builds = []
        for tag, attrs, text in rows[0][2:]:
            builds += [text] * int(attrs.get("colspan", 1))
        tools = [text for _, _, text in rows[1]]
        self.assertEqual(len(builds), len(tools))
        grid = {}
        for row in rows[2:]:
            (_, _, lab), (_, _, config), *cells = row
            self.assertEqual(len(cells), len(tools), row)
            grid[(lab, config)] = {(b, t): (attrs, text)
                                   for b, t, (_, attrs, text) in zip(builds, tools, cells)}
        return grid

    def test_the_page_opens_with_the_matrix(self):
        self.assertEqual(self.tables.tables[0][0], "matrix")
        self.assertLess(self.page.index('<table class="matrix">'), self.page.index("<h2>Rates"))

    def test_measured_cells_show_k_of_n_the_verdict_and_a_colour_by_rate(self):
        grid = self.grid()
        attrs, text = grid[("1 test", "spread")][("broken", "stress")]
        self.assertEqual(text, "8/10 ok")
        self.assertIn("hsl(215, 65%, 49%)", attrs["style"])  # 97% light at 0, 37% at 1
        attrs, text = grid[("1 test", "spread")][("fixed", "helgrind")]
        self.assertEqual(text, "0/10 tool errors")
        self.assertIn("v-errors", attrs["class"])
        self.assertIn("hsl(215, 65%, 97%)", attrs["style"])
        attrs, text = grid[("1 test", "spread-buckets=65536")][("broken", "stress")]
        self.assertEqual(text, "2/5 OUT")
        self.assertIn("v-out", attrs["class"])
        self.assertIn("symptom 2/5", attrs["title"])
        self.assertIn("expected 0.99-1.00", attrs["title"])
        # a cell with tool errors only: 0/0, no rate to colour it by
        attrs, text = grid[("1 test", "spread")][("broken", "chaos")]
        self.assertEqual(text, "0/0 tool errors")
        self.assertNotIn("style", attrs)

    def test_cells_without_data_are_left_out(self):
        grid = self.grid()
        # rows: the configurations with a measured cell, spread first
        self.assertEqual(list(grid), [("1 test", "spread"), ("1 test", "spread-buckets=65536")])
        # columns: the tools with a measured cell, per build, in the tools' order
        self.assertEqual(list(grid[("1 test", "spread")]),
                         [("broken", "stress"), ("broken", "chaos"), ("fixed", "helgrind")])
        self.assertEqual(grid[("1 test", "spread-buckets=65536")][("fixed", "helgrind")], ({}, ""))
        matrix = self.page[self.page.index('<table class="matrix">'):]
        matrix = matrix[:matrix.index("</table>")]
        self.assertNotIn("no data", matrix)
        self.assertNotIn("tsan-gcc", matrix)
        self.assertNotIn("drd", matrix)
        self.assertNotIn("same-cpu", matrix)

    def test_the_detailed_table_follows_without_its_no_data_rows(self):
        self.assertEqual(self.tables.tables[1][0], "")
        rows = self.tables.table("")
        verdicts = [text for _, _, text in (row[-1] for row in rows)]
        self.assertEqual(verdicts, ["verdict", "ok", "OUT", "tool errors", "tool errors"])
        self.assertIn("Left out: 3 cells with an expectation but no trial", self.page)
        self.assertLess(self.page.index('<table class="matrix">'),
                        self.page.index("<h2>Every cell</h2>"))

    def test_no_measured_cell_no_matrix(self):
        for f in self.results.glob("*.jsonl"):
            f.unlink()
        code, _, err = self.report("--html", self.tree.root / "empty")
        self.assertEqual(code, 0, err)
        page = (self.tree.root / "empty" / "report.html").read_text()
        self.assertIn("No cell has trials: no matrix.", page)
        self.assertIn("Left out: 7 cells", page)


if __name__ == "__main__":
    unittest.main()
