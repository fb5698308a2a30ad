"""The documents' facts (scripts/check_docs.py, make check-docs): the tree's
documents hold, and a number changed by hand, a quoted line that moved or a
document cited that is not in the tree each fail with file:line."""

import contextlib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from helpers import REPO, SCRIPTS

import check_docs

HANDOUT = "labs/lab-1-cache/README.md"


def tree_copy(dest):
    """The tree's files (not build/, results/, work/) copied under dest."""
    for f in check_docs.repo_files(REPO):
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, dest / f)
    return dest


class Tree(unittest.TestCase):
    def test_every_fact_of_the_tree_s_documents_holds(self):
        self.assertEqual(check_docs.run(REPO), [])

    def test_no_file_cites_a_document_that_is_not_in_the_tree(self):
        problems = check_docs.Problems()
        check_docs.check_citations(REPO, check_docs.repo_files(REPO), problems)
        self.assertEqual(problems, [])

    def test_the_code_cites_principles_the_architecture_numbers(self):
        arch = (REPO / "ARCHITECTURE.md").read_text()
        for f in ("Makefile", "scripts/report.py", "scripts/racelab/match.py",
                  "scripts/racelab/stats.py"):
            text = (REPO / f).read_text()
            self.assertIn("ARCHITECTURE.md", text, f)
            for n in re.findall(r"[Pp]rinciple (\d+)", text):
                self.assertIn(f"\n{n}. **", arch, f"{f} cites principle {n}")


class Planted(unittest.TestCase):
    """Each test edits a copy of the tree and expects one clear line."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.clean = tree_copy(Path(cls.tmp.name) / "clean")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.root = Path(self.tmp.name) / self.id().rsplit(".", 1)[-1]
        shutil.copytree(self.clean, self.root)

    def edit(self, path, old, new, count=1):
        text = (self.root / path).read_text()
        self.assertIn(old, text)
        (self.root / path).write_text(text.replace(old, new, count))

    def problems(self):
        return check_docs.run(self.root)

    def test_the_copy_holds(self):
        self.assertEqual(self.problems(), [])

    def test_a_rate_changed_by_hand_fails_and_make_docs_puts_it_back(self):
        marker = "<!-- fact rate 1 broken stress spread-buckets=65536 -->"
        self.edit(HANDOUT, marker + "50 of 50", marker + "49 of 50")
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], r"^labs/lab-1-cache/README\.md:\d+: says '49 of 50', "
                                      r"labs/lab-1-cache/expected\.tsv says '50 of 50'")
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(check_docs.run(self.root, write=True), [])
        self.assertIn(marker + "50 of 50", (self.root / HANDOUT).read_text())

    def row_of(self, table, prefix):
        return next(line for line in (self.root / table).read_text().splitlines()
                    if line.startswith(prefix))

    def one_cpu_row(self, lab):
        """GUIDE's row of `lab` ("2 ledger") in the generated one-cpu table."""
        text = (self.root / "GUIDE.md").read_text()
        region = text[text.index("<!-- one-cpu:"):text.index("<!-- end one-cpu -->")]
        return next(line for line in region.splitlines() if line.startswith(f"| {lab} | "))

    def test_a_re_measured_table_makes_the_document_stale(self):
        # lab 7's chaos row on one CPU, which GUIDE quotes, measured again
        table = "labs/lab-7-settle/expected.tsv"
        row = self.row_of(table, "7\tbroken\tchaos\tsame-cpu\t")
        cells = row.split("\t")
        cells[5:9] = ["0.00", "0.30", "7", "37"]
        self.edit(table, row, "\t".join(cells))
        problems = self.problems()
        self.assertTrue(any(p.startswith("GUIDE.md:") and "'7/37'" in p for p in problems),
                        problems)
        self.assertTrue(any("region 'one-cpu'" in p and "7/37" in p for p in problems),
                        problems)

    def test_lab_11_s_table_and_the_overhead_table_are_read_for_their_facts(self):
        # A service lab's table (read by replicas.read_table, not read_dir)
        # and expected/http/overhead.tsv: a row measured again makes the
        # documents that quote it stale.
        table = "labs/lab-11-replicas/expected.tsv"
        text = (self.root / table).read_text()
        row = next(line for line in text.splitlines()
                   if line.startswith("11\tfixed\treplicas\treplicas=2,connections=8,"))
        cells = row.split("\t")
        cells[7] = "1"
        self.edit(table, row, "\t".join(cells))
        lines = (self.root / "expected/http/overhead.tsv").read_text().splitlines()
        old = next(x for x in lines if x.startswith("PostgreSQL\t"))
        pg = old.split("\t")
        pg[9] = "+99.9"
        self.edit("expected/http/overhead.tsv", old, "\t".join(pg))
        problems = self.problems()
        self.assertTrue(any(f"1 of {cells[8]}" in p and "lab-11-replicas" in p for p in problems),
                        problems)
        self.assertTrue(any("+99.9" in p and "overhead.tsv" in p for p in problems), problems)

    def test_a_re_measured_self_test_makes_fast_s_bar_table_stale(self):
        # lab 1's slowest right fix measured again, now below the bar
        self.edit("expected/grade-selftest.tsv", "\t24.8\t1.034\t0\n", "\t24.8\t0.7\t0\n")
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], r"^GUIDE\.md:\d+: region 'fast-bar' says '\| 1 cache \| 3 "
                                      r"\| 1\.03 .*as fast \|', expected/grade-selftest\.tsv says "
                                      r"'\| 1 cache \| 3 \| 0\.70 .*correct and slower \|'")
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(check_docs.run(self.root, write=True), [])
        self.assertIn("| 1 cache | 3 | 0.70 |", (self.root / "GUIDE.md").read_text())

    def test_a_constant_changed_in_the_code_makes_the_guide_stale(self):
        self.edit("scripts/racelab/fast.py", "FAST_MIN = 0.75", "FAST_MIN = 0.8")
        # the copy's check_docs reads the copy's library
        run = subprocess.run([sys.executable, str(self.root / "scripts" / "check_docs.py")],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertRegex(run.stdout, r"GUIDE\.md:\d+: says '0\.75', scripts/racelab/fast\.py says "
                                     r"'0\.8'")

    def test_a_region_edited_by_hand_fails(self):
        # lab 2's one-CPU cell (0/N, bold) made 1/N by hand
        row = self.one_cpu_row("2 ledger")
        cells = row.split(" | ")
        n = cells[2].strip("*").split("/")[1]
        cells[2] = f"**1/{n}**"
        self.edit("GUIDE.md", row, " | ".join(cells))
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], r"^GUIDE\.md:\d+: region 'one-cpu' says '\| 2 ledger \| "
                                      rf"\d+/\d+ \| \*\*1/{n}\*\*")

    def test_a_quoted_line_that_moved_fails(self):
        # one line more at the top of the broken module moves every line below
        self.edit("broken/cache.c", "#include", "/* one more line */\n#include")
        problems = self.problems()
        self.assertTrue(any(p.startswith(f"{HANDOUT}:") and "says broken/cache.c:96 (cache_get) "
                            "calls find_link; broken/cache.c:96 is" in p for p in problems),
                        problems)
        self.assertTrue(any("quotes `while (*link && ...` at line 87" in p for p in problems),
                        problems)

    def test_a_caller_frame_that_moved_fails_and_make_docs_follows_the_call(self):
        self.edit("labs/lab-1-cache/workload.c", "#include", "/* one more line */\n#include")
        problems = self.problems()
        self.assertTrue(any("labs/lab-1-cache/workload.c:" in p and "calls cache_" in p
                            for p in problems), problems)
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(check_docs.run(self.root, write=True), [])

    def test_a_workload_named_by_its_base_name_is_the_handout_s_lab_s(self):
        # Valgrind names a file by its base name, and every lab has a
        # workload.c: in lab 3's handout it is lab 3's.
        self.edit("labs/lab-3-payflow/README.md", "by worker (workload.c:239)",
                  "by worker (workload.c:1)")
        problems = self.problems()
        self.assertTrue(any(p.startswith("labs/lab-3-payflow/README.md:") and
                            "says workload.c:1 is in worker; labs/lab-3-payflow/workload.c:1 is "
                            "in no function" in p for p in problems), problems)
        # Outside a lab's folder the base name is ambiguous.
        self.edit("GUIDE.md", "\n### Adding a lab (checklist)",
                  "\n`workload.c:1`\n\n### Adding a lab (checklist)")
        self.assertTrue(any(p.startswith("GUIDE.md:") and "'workload.c' is ambiguous" in p
                            for p in self.problems()))

    def test_a_line_number_that_names_the_wrong_function_fails(self):
        self.edit(HANDOUT, "#0 cache_put broken/cache.c:145", "#0 cache_get broken/cache.c:145")
        problems = self.problems()
        self.assertTrue(any("says broken/cache.c:145 is in cache_get; broken/cache.c:145 is in "
                            "cache_put" in p for p in problems), problems)

    def test_a_scenario_value_in_a_handout_is_the_scenario_s(self):
        self.edit("labs/lab-4-refund/README.md", "`tsan.time_limit_s = 2`",
                  "`tsan.time_limit_s = 3`")
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("says `tsan.time_limit_s = 3`; its scenario.conf says "
                      "tsan.time_limit_s = 2", problems[0])

    def test_a_note_naming_another_time_limit_fails(self):
        table = "labs/lab-1-cache/expected.tsv"
        row = self.row_of(table, "1\tbroken\tstress\tspread\t")
        self.assertIn(" s limit when measured", row)
        self.edit(table, row, re.sub(r"\d+ s limit when measured", "1 s limit", row))
        problems = self.problems()
        self.assertTrue(any(re.match(r"labs/lab-1-cache/expected\.tsv:\d+: the note says "
                                     r"'1 s limit'; "
                                     r"labs/lab-1-\*/scenario\.conf's limit for stress is 10 s", p)
                            for p in problems), problems)

    def test_a_clause_of_a_note_is_quoted_by_its_word(self):
        # note-clause quotes one ';'-clause of a row's note: the first that
        # holds the word; make docs writes it, a note without one fails
        marker = "<!-- fact note-clause 1 broken stress spread why: -->"
        text = (self.root / HANDOUT).read_text()
        (self.root / HANDOUT).write_text(text + f"\nQuoted: {marker}stale<!-- /fact -->.\n")
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("says 'stale'", problems[0])
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(check_docs.run(self.root, write=True), [])
        quoted = (self.root / HANDOUT).read_text().rsplit(marker, 1)[1].split("<!--", 1)[0]
        self.assertTrue(quoted.startswith("why: ") and ";" not in quoted, quoted)
        text = (self.root / HANDOUT).read_text()
        (self.root / HANDOUT).write_text(text.replace("spread why: -->", "spread no-such-word -->"))
        problems = self.problems()
        self.assertTrue(any("has no clause with 'no-such-word'" in p for p in problems), problems)

    def test_a_document_cited_that_is_not_in_the_tree_fails(self):
        # (spelt in two parts, or this file would cite it)
        self.edit("scripts/racelab/stats.py", "ARCHITECTURE.md", "DESIGN" + ".md")
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], r"^scripts/racelab/stats\.py:\d+: cites DESIGN\.md, which "
                                      r"is not in the tree")

    def test_an_unpaired_or_unknown_marker_fails(self):
        row = self.one_cpu_row("2 ledger")
        self.edit("GUIDE.md", "<!-- end one-cpu -->", "")
        self.assertTrue(any("a marker without its pair" in p for p in self.problems()))
        self.edit("GUIDE.md", "<!-- one-cpu: generated from", "<!-- no-such: generated from")
        self.edit("GUIDE.md", row, row + "\n<!-- end no-such -->")
        self.assertTrue(any("unknown region 'no-such'" in p for p in self.problems()))

    def test_an_explore_table_with_the_old_header_fails_in_one_line(self):
        self.edit("expected/explore.tsv", "\ttrials\t", "\tinterleavings\t")
        problems = self.problems()
        self.assertEqual(len(problems), 1, problems)
        self.assertRegex(problems[0], r"^GUIDE\.md:\d+: region 'explore': expected/explore\.tsv:1: "
                                      r"no column trials \(an old table")

    def test_the_grade_selftest_region_is_left_to_its_own_test(self):
        self.edit("GUIDE.md", "### The lab list", "<!-- grade-selftest: generated from "
                  "expected/grade-selftest.tsv -->\n| anything |\n<!-- end grade-selftest -->\n\n"
                  "### The lab list")
        self.assertEqual(self.problems(), [])

    def test_the_command_exits_1_with_one_line_a_fact_and_2_on_bad_input(self):
        self.edit(HANDOUT, "<!-- fact scenario 1 time_limit_s -->10", "<!-- fact scenario 1 "
                  "time_limit_s -->1")
        run = subprocess.run([sys.executable, str(SCRIPTS / "check_docs.py"), "--root",
                              str(self.root)], capture_output=True, text=True)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertRegex(run.stdout, r"^labs/lab-1-cache/README\.md:\d+: says '1', "
                                     r"labs/lab-1-\*/scenario\.conf says '10'")
        bad = subprocess.run([sys.executable, str(SCRIPTS / "check_docs.py"), "--root",
                              str(self.root / "nowhere")], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertEqual(len(bad.stderr.splitlines()), 1, bad.stderr)
        self.assertEqual(subprocess.run([sys.executable, str(SCRIPTS / "check_docs.py"),
                                         "--help"], capture_output=True).returncode, 0)


class Generated(unittest.TestCase):
    def test_the_error_table_counts_the_quick_check_s_trials(self):
        import check_rates
        self.assertEqual(check_docs.QUICK_TOOLS, check_rates.TOOLS)
        self.assertEqual(check_docs.QUICK_RERUN, check_rates.RERUN)
        self.assertEqual(check_docs.QUICK_FIRST, {"helgrind": check_rates.QUICK_VALGRIND})
        self.assertEqual(check_rates.PROFILES["quick"], check_docs.QUICK_TRIALS)

    def test_the_check_s_arithmetic(self):
        # expected/README.md's figures: the verdict and the power
        self.assertEqual(check_docs.check_fact("check-fails-at", ["10", "0.92"]), "5")
        self.assertEqual(check_docs.check_fact("check-fails-at", ["10", "0.92", "95"]), "7")
        self.assertEqual(check_docs.check_fact("check-passes", ["0.92", "0.5"]), "38%")
        self.assertEqual(check_docs.check_fact("check-passes", ["0.92", "0"]), "0%")
        for kind, args in (("check-fails-at", ["ten", "0.92"]), ("check-passes", ["0.92"]),
                           ("check-fails-at", ["10", "0.92", "99"])):
            with self.subTest(kind=kind, args=args):
                with self.assertRaises(check_docs.Failure):
                    check_docs.check_fact(kind, args)

    def test_a_code_fact_of_a_script(self):
        tables = check_docs.Tables(REPO)
        self.assertEqual(check_docs.fact_value(tables, "code", ["check_rates.RERUN"]),
                         (str(__import__("check_rates").RERUN), "scripts/check_rates.py"))
        with self.assertRaises(check_docs.Failure):
            check_docs.fact_value(tables, "code", ["check_rates.NO_SUCH"])


class Functions(unittest.TestCase):
    def test_the_c_function_spanning_a_line(self):
        funcs = check_docs._c_functions([
            "/* a comment { */", "static int f(int a,", "             int b)", "{",
            "\tif (a) {", "\t\treturn \"}\";", "\t}", "\treturn b;", "}", "int g;",
            "void h(void) { }"])
        self.assertEqual(funcs.get(1), None)
        self.assertEqual([funcs.get(n) for n in range(2, 10)], ["f"] * 8)
        self.assertEqual(funcs.get(10), None)
        self.assertEqual(funcs.get(11), "h")

    def test_quoted_code_with_an_elision(self):
        self.assertTrue(check_docs.code_on_line("while (*link && ...",
                                                "\twhile (*link && strcmp(a, b))"))
        self.assertFalse(check_docs.code_on_line("*link = fresh", "\tlink = &(*link)->next;"))


if __name__ == "__main__":
    unittest.main()
