"""The lab registry (racelab.labs, scripts/labs.py): the manifests are the one
list of labs, and every lab folder is complete and agrees with its modules.

The repository's own labs are checked here (make check-labs says the same);
a throw-away tree shows each kind of disagreement is caught, and that what
the build is generated from the manifests is what the Makefile and the
driver expect. tests/cli/test_new_lab.sh adds a lab to a copy of the tree.
A service lab (kind = service: replicas of the service over one database)
is a fake one in the throw-away tree: its folder holds less, and nothing
of the stress driver's is made for it or runs it.
"""

import os
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from helpers import REPO, SCRIPTS, run_script

from racelab import expected, labs
from racelab.cli import Failure

MANIFEST = """\
lab = {n}
title = a demo
teaches = a demo's race
broken_modules = {m}
race_file = broken/{m}.c
race_functions = {m}_add
race_points = {m}.add.window
threads = 2
"""

BROKEN = """\
int {m}_add(int x)
{{
	RACE_POINT("{m}.add.window");
	return x + 1;
}}
"""

WORKLOAD = """\
const struct stress_lab stress_lab{n} = {{
	.params = keys,
}};
"""

TABLE = "lab\tbuild\ttool\tconfig\tmetric\n{n}\tbroken\tstress\tspread\tsymptom\n"


def add_lab(root, n, m, name=None):
    """Lab n of module m, complete, in the tree at root: its folder and
    its module's three files."""
    folder = root / "labs" / f"lab-{n}-{name or m}"
    (folder / "mutants").mkdir(parents=True)
    (folder / "scenario.conf").write_text(MANIFEST.format(n=n, m=m))
    (folder / "README.md").write_text("# a demo\n")
    (folder / "walkthrough.sched").write_text("args --lab 1\n")
    (folder / "workload.c").write_text(WORKLOAD.format(n=n))
    (folder / "expected.tsv").write_text(TABLE.format(n=n))
    files = {f"include/{m}.h": "", f"fixed/{m}.c": BROKEN.format(m=m),
             f"broken/{m}.c": BROKEN.format(m=m), f"labs/lab-{n}-{name or m}/test_{m}.c": ""}
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return folder


SERVICE_MANIFEST = """\
lab = {n}
kind = service
title = the double charge across replicas
teaches = check-then-insert across processes: the database decides
broken_modules = {m}
race_file = broken/{m}.c
race_functions = {m}_reserve
demo = scripts/replicas.py demo
"""

SERVICE_BROKEN = """\
int {m}_reserve(const char *key)
{{
	return key != 0;
}}
"""

SERVICE_TABLE = ("\t".join(expected.HEADER) + "\n"
                 "{n}\tbroken\treplicas\treplicas=2,connections=8\tsymptom\t0.5\t1\t28\t30\t"
                 "two replicas\n"
                 "{n}\tfixed\treplicas\treplicas=2,connections=8\tviolation\t0\t0\t0\t30\t"
                 "the unique key\n"
                 "{n}\tbroken\ttsan-clang\treplicas=2,connections=8\tdetection\t0\t0\t0\t3\t"
                 "no two threads race\n")


def add_service_lab(root, n, m):
    """Service lab n of module m, complete: manifest, handout, table, the
    module's three files and the demo script; no workload, walkthrough,
    unit test or catalogue."""
    folder = root / "labs" / f"lab-{n}-{m}"
    folder.mkdir(parents=True)
    (folder / "scenario.conf").write_text(SERVICE_MANIFEST.format(n=n, m=m))
    (folder / "README.md").write_text("# replicas\n")
    (folder / "expected.tsv").write_text(SERVICE_TABLE.format(n=n))
    files = {f"include/{m}.h": "", f"fixed/{m}.c": SERVICE_BROKEN.format(m=m),
             f"broken/{m}.c": SERVICE_BROKEN.format(m=m), "scripts/replicas.py": ""}
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return folder


class Tree(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-labs-")
        self.root = Path(self._tmp.name)
        add_lab(self.root, 2, "ledger")
        add_lab(self.root, 10, "tally")

    def tearDown(self):
        self._tmp.cleanup()

    def problems(self):
        return labs.problems(labs.every_lab(self.root), self.root)

    def edit(self, path, old, new):
        p = self.root / path
        p.write_text(p.read_text().replace(old, new))

    def test_complete_tree_has_no_problems(self):
        self.assertEqual(self.problems(), [])

    def test_labs_come_in_number_order(self):
        self.assertEqual([lab.number for lab in labs.load_all(self.root)], [2, 10])

    def test_a_missing_module_file_is_named(self):
        (self.root / "broken" / "tally.c").unlink()
        self.assertIn("labs/lab-10-tally: broken/tally.c (of module tally) is missing",
                      self.problems())

    def test_a_missing_unit_test_is_named(self):
        (self.root / "labs" / "lab-2-ledger" / "test_ledger.c").unlink()
        self.assertIn("labs/lab-2-ledger: labs/lab-2-ledger/test_ledger.c (of module ledger) "
                      "is missing",
                      self.problems())

    def test_folder_and_lab_number_must_agree(self):
        self.edit("labs/lab-2-ledger/scenario.conf", "lab = 2", "lab = 3")
        self.assertIn("labs/lab-2-ledger/scenario.conf: 'lab = 3', but the folder is lab 2",
                      self.problems())

    def test_the_workload_must_define_the_labs_symbol(self):
        self.edit("labs/lab-10-tally/workload.c", "stress_lab10", "stress_lab2")
        self.assertIn("labs/lab-10-tally/workload.c does not define 'const struct stress_lab "
                      "stress_lab10' (lab 10's workload)", self.problems())

    def test_a_missing_workload_is_named(self):
        (self.root / "labs" / "lab-10-tally" / "workload.c").unlink()
        self.assertIn("labs/lab-10-tally/workload.c is missing (the stress driver's workload, "
                      "which defines stress_lab10)", self.problems())

    def test_the_old_workload_key_is_named(self):
        self.edit("labs/lab-2-ledger/scenario.conf", "threads = 2",
                  "workload = stress/lab2_ledger.c\nthreads = 2")
        self.assertIn("labs/lab-2-ledger/scenario.conf: 'workload = stress/lab2_ledger.c' is "
                      "the old layout: the workload is labs/lab-2-ledger/workload.c (drop the "
                      "line)", self.problems())

    def test_a_module_belongs_to_one_lab(self):
        self.edit("labs/lab-10-tally/scenario.conf", "broken_modules = tally",
                  "broken_modules = tally ledger")
        self.assertIn("module ledger is named by lab 2 and lab 10: a module belongs to one lab",
                      self.problems())

    def test_a_module_no_lab_names(self):
        (self.root / "broken" / "stray.c").write_text("")
        self.assertIn("broken/stray.c belongs to no lab (no broken_modules names stray)",
                      self.problems())

    def test_files_left_in_the_old_layout_are_named(self):
        (self.root / "stress").mkdir()
        (self.root / "stress" / "lab2_ledger.c").write_text("")
        (self.root / "stress" / "lab4_old.c").write_text("")
        (self.root / "expected").mkdir()
        (self.root / "expected" / "lab-10.tsv").write_text(TABLE.format(n=10))
        (self.root / "tests" / "mutants" / "lab-2").mkdir(parents=True)
        self.assertEqual(self.problems(), [
            "stress/lab2_ledger.c is the old layout, read by nothing: git mv it to "
            "labs/lab-2-ledger/workload.c",
            "stress/lab4_old.c is the old layout, read by nothing: git mv it to "
            "labs/lab-N-<name>/workload.c",
            "expected/lab-10.tsv is the old layout, read by nothing: git mv it to "
            "labs/lab-10-tally/expected.tsv",
            "tests/mutants/lab-2/ is the old layout, read by nothing: git mv it to "
            "labs/lab-2-ledger/mutants/"])

    def test_the_race_site_is_in_the_module(self):
        self.edit("broken/tally.c", 'RACE_POINT("tally.add.window");', "")
        self.edit("labs/lab-10-tally/scenario.conf", "race_functions = tally_add",
                  "race_functions = tally_add tally_sub")
        found = self.problems()
        self.assertIn("labs/lab-10-tally/scenario.conf: race point tally.add.window is not "
                      "marked in broken/tally.c", found)
        self.assertIn("labs/lab-10-tally/scenario.conf: race function tally_sub is not in "
                      "broken/tally.c", found)

    def test_the_expected_table_is_the_labs(self):
        (self.root / "labs" / "lab-10-tally" / "expected.tsv").write_text(TABLE.format(n=2))
        self.assertIn("labs/lab-10-tally/expected.tsv has rows of lab 2", self.problems())
        (self.root / "labs" / "lab-10-tally" / "expected.tsv").unlink()
        self.assertIn("labs/lab-10-tally/expected.tsv is missing (make measure writes one)",
                      self.problems())

    def test_a_lab_without_a_catalogue_is_a_note_not_a_problem(self):
        (self.root / "labs" / "lab-10-tally" / "mutants").rmdir()
        self.assertEqual(self.problems(), [])
        self.assertEqual(labs.notes(labs.load_all(self.root)), [
            "labs/lab-10-tally/mutants/ is missing: make grade-selftest has no wrong or right "
            "fixes of lab 10 to grade"])

    def test_a_missing_folder_file_and_key(self):
        (self.root / "labs" / "lab-2-ledger" / "walkthrough.sched").unlink()
        self.edit("labs/lab-2-ledger/scenario.conf", "teaches = a demo's race\n", "")
        found = self.problems()
        self.assertIn("labs/lab-2-ledger/walkthrough.sched is missing", found)
        self.assertIn("labs/lab-2-ledger/scenario.conf: no 'teaches = ...' line", found)

    def test_two_folders_of_one_number(self):
        add_lab(self.root, 2, "other")
        with self.assertRaisesRegex(Failure, "lab 2 twice: labs/lab-2-ledger and labs/lab-2-other"):
            labs.load_all(self.root)

    def test_a_folder_not_named_lab_n_name(self):
        (self.root / "labs" / "lab-x").mkdir()
        (self.root / "labs" / "lab-x" / "scenario.conf").write_text("lab = 1\n")
        with self.assertRaisesRegex(Failure, "labs/lab-x: a lab folder is named lab-<N>-<name>"):
            labs.load_all(self.root)

    def test_generated_makefile_lists_every_lab(self):
        self.edit("labs/lab-2-ledger/scenario.conf", "threads = 2",
                  "test_deps = fixed/tally.c\nthreads = 2")
        text = labs.make_include(labs.load_all(self.root))
        self.assertIn("LABS := 2 10\n", text)
        self.assertIn("LAB_MODULES_10 := tally\n", text)
        self.assertIn("LAB_WORKLOAD_10 := labs/lab-10-tally/workload.c\n", text)
        self.assertIn("TEST_DEPS_ledger := fixed/tally.c\n", text)
        self.assertIn("TEST_DEPS_tally :=\n", text)
        self.assertIn("UNIT_TEST_tally := labs/lab-10-tally/test_tally.c\n", text)

    def test_generated_help_lines(self):
        self.edit("labs/lab-10-tally/scenario.conf", "threads = 2",
                  "gdb_help = lab 10 in gdb: something else\nthreads = 2")
        text = labs.walkthroughs_include(labs.load_all(self.root))
        self.assertIn("gdb-lab-2: ## lab 2 in gdb: step through the forced interleaving "
                      "(GDB_BUILD=fixed for the fix)\n", text)
        self.assertIn("gdb-lab-10: ## lab 10 in gdb: something else\n", text)
        self.assertIn("demo-lab-10: ## lab 10's walkthrough in batch, broken then fixed: "
                      "the symptom in numbers\n", text)

    def test_generated_driver_registry(self):
        text = labs.driver_registry(labs.load_all(self.root))
        self.assertIn("extern const struct stress_lab stress_lab10;\n", text)
        self.assertIn("\t{ 2, &stress_lab2 },\n\t{ 10, &stress_lab10 },\n", text)
        self.assertIn("const int stress_nlabs = 2;\n", text)
        self.assertNotIn("/*/", text, "a '/*' inside a C comment (gcc -Wcomment)")

    def test_generate_keeps_an_unchanged_registry(self):
        out = self.root / "gen"
        all_labs = labs.load_all(self.root)
        labs.generate(out, all_labs)
        c = out / "stress_labs.c"
        old = c.stat().st_mtime_ns - 10**9
        os.utime(c, ns=(old, old))
        mk_before = (out / "labs.mk").stat().st_mtime_ns
        time.sleep(0.01)
        labs.generate(out, all_labs)
        self.assertEqual(c.stat().st_mtime_ns, old, "unchanged registry rewritten")
        self.assertGreater((out / "labs.mk").stat().st_mtime_ns, mk_before,
                           "labs.mk must be newer than the manifests after a run")
        add_lab(self.root, 11, "sum")
        labs.generate(out, labs.load_all(self.root))
        self.assertIn("stress_lab11", c.read_text())

    def test_the_guide_table_is_replaced_between_its_markers(self):
        all_labs = labs.load_all(self.root)
        text = f"before\n{labs.TABLE_BEGIN}\n| old |\n{labs.TABLE_END}\nafter\n"
        new = labs.docs_with_table(text, all_labs)
        self.assertTrue(new.startswith("before\n") and new.endswith("\nafter\n"))
        self.assertIn("| 10 | `tally` | a demo's race |", new)
        self.assertNotIn("| old |", new)
        with self.assertRaisesRegex(Failure, "GUIDE.md: no lab table between"):
            labs.docs_with_table("no table\n", all_labs)


class ServiceLab(unittest.TestCase):
    """A tree of two stress labs and service lab 11 (module pgledger)."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-labs-")
        self.root = Path(self._tmp.name)
        add_lab(self.root, 2, "ledger")
        add_lab(self.root, 10, "tally")
        self.folder = add_service_lab(self.root, 11, "pgledger")

    def tearDown(self):
        self._tmp.cleanup()

    def problems(self):
        return labs.problems(labs.every_lab(self.root), self.root)

    def edit(self, path, old, new):
        p = self.root / path
        self.assertIn(old, p.read_text())
        p.write_text(p.read_text().replace(old, new))

    def test_complete_tree_has_no_problems(self):
        self.assertEqual(self.problems(), [])
        self.assertEqual(labs.notes(labs.every_lab(self.root)), [],
                         "a service lab has no catalogue to miss")

    def test_the_kinds_are_listed_apart(self):
        self.assertEqual([lab.number for lab in labs.load_all(self.root)], [2, 10])
        self.assertEqual([lab.number for lab in labs.service_labs(self.root)], [11])
        self.assertEqual([lab.number for lab in labs.every_lab(self.root)], [2, 10, 11])

    def test_without_the_service_labs_their_modules_are_no_labs(self):
        # What problems() is given must be every lab.
        found = labs.problems(labs.load_all(self.root), self.root)
        self.assertIn("broken/pgledger.c belongs to no lab (no broken_modules names pgledger)",
                      found)

    def test_a_missing_demo_script(self):
        (self.root / "scripts" / "replicas.py").unlink()
        self.assertEqual(self.problems(), [
            "labs/lab-11-pgledger/scenario.conf: demo runs scripts/replicas.py, which is "
            "missing"])
        self.edit("labs/lab-11-pgledger/scenario.conf", "demo = scripts/replicas.py demo\n", "")
        self.assertEqual(self.problems(), ["labs/lab-11-pgledger/scenario.conf: no "
                                           "'demo = ...' line"])

    def test_a_missing_expected_table(self):
        (self.folder / "expected.tsv").unlink()
        self.assertEqual(self.problems(), [
            "labs/lab-11-pgledger/expected.tsv is missing (the replicas' measured rates)"])

    def test_the_table_is_the_labs_and_a_service_table(self):
        (self.folder / "expected.tsv").write_text(SERVICE_TABLE.format(n=2))
        self.assertEqual(self.problems(), ["labs/lab-11-pgledger/expected.tsv has rows of lab 2"])
        (self.folder / "expected.tsv").write_text(
            SERVICE_TABLE.format(n=11).replace("replicas\treplicas=2", "wrk\treplicas=2"))
        self.assertEqual(self.problems(), [
            "labs/lab-11-pgledger/expected.tsv:2: tool 'wrk' is not a service lab's "
            "(replicas, or a detector's name)"])
        (self.folder / "expected.tsv").write_text(
            SERVICE_TABLE.format(n=11).replace("symptom", "detection"))
        found = self.problems()
        self.assertEqual(len(found), 1, found)
        self.assertRegex(found[0], r"expected.tsv:2: metric 'detection' does not fit broken "
                                   r"replicas \(it is 'symptom'")

    def test_a_kind_typo(self):
        self.edit("labs/lab-11-pgledger/scenario.conf", "kind = service", "kind = servce")
        # Not a service lab then: counted with the stress labs, so that
        # what it lacks as one is named too.
        self.assertEqual([lab.number for lab in labs.load_all(self.root)], [2, 10, 11])
        found = self.problems()
        self.assertIn("labs/lab-11-pgledger/scenario.conf: 'kind = servce': a lab's kind is "
                      "stress (the default) or service", found)
        self.assertIn("labs/lab-11-pgledger/walkthrough.sched is missing", found)

    def test_a_module_owned_by_a_stress_lab_and_a_service_lab(self):
        self.edit("labs/lab-11-pgledger/scenario.conf", "broken_modules = pgledger",
                  "broken_modules = pgledger ledger")
        self.assertIn("module ledger is named by lab 2 and lab 11: a module belongs to one lab",
                      self.problems())

    def test_the_modules_and_race_site(self):
        (self.root / "fixed" / "pgledger.c").unlink()
        self.edit("broken/pgledger.c", "pgledger_reserve", "pgledger_take")
        self.assertEqual(self.problems(), [
            "labs/lab-11-pgledger: fixed/pgledger.c (of module pgledger) is missing",
            "labs/lab-11-pgledger/scenario.conf: race function pgledger_reserve is not in "
            "broken/pgledger.c"])

    def test_stress_files_in_a_service_lab_are_named(self):
        (self.folder / "workload.c").write_text(WORKLOAD.format(n=11))
        (self.folder / "walkthrough.sched").write_text("args --lab 11\n")
        found = self.problems()
        self.assertIn("labs/lab-11-pgledger/workload.c: a service lab has no stress workload, "
                      "and nothing reads this one (remove it)", found)
        self.assertIn("labs/lab-11-pgledger/walkthrough.sched: a service lab has no gdb "
                      "walkthrough, and nothing reads this one (remove it)", found)

    def test_one_number_across_kinds(self):
        add_service_lab(self.root, 10, "other")
        with self.assertRaisesRegex(Failure, "lab 10 twice: labs/lab-10-other and "
                                             "labs/lab-10-tally"):
            labs.load_all(self.root)

    def test_the_makefile_knows_it_apart(self):
        text = labs.make_include(labs.every_lab(self.root))
        self.assertIn("LABS := 2 10\n", text)
        self.assertIn("SERVICE_LABS := 11\n", text)
        self.assertIn("LAB_DIR_11 := labs/lab-11-pgledger\n", text)
        self.assertIn("LAB_MODULES_11 := pgledger\n", text)
        self.assertNotIn("LAB_WORKLOAD_11", text)
        self.assertNotIn("UNIT_TEST_pgledger", text)
        self.assertIn("SERVICE_LABS :=\n", labs.make_include(labs.load_all(self.root)))

    def test_the_driver_and_the_walkthroughs_leave_it_out(self):
        every = labs.every_lab(self.root)
        text = labs.driver_registry(every)
        self.assertNotIn("stress_lab11", text)
        self.assertIn("const int stress_nlabs = 2;\n", text)
        self.assertNotIn("lab-11", labs.walkthroughs_include(every))
        out = self.root / "gen"
        labs.generate(out, every)
        self.assertNotIn("stress_lab11", (out / "stress_labs.c").read_text())

    def test_the_guide_table_has_it(self):
        text = f"{labs.TABLE_BEGIN}\n{labs.TABLE_END}\n"
        new = labs.docs_with_table(text, labs.every_lab(self.root))
        self.assertIn("| 10 | `tally` | a demo's race |\n| 11 | `pgledger` (a service lab: the "
                      "race is across processes; `make lab-11`) | check-then-insert across "
                      "processes: the database decides |", new)

    def test_the_stress_tables_leave_it_out(self):
        for n, folder in ((2, "lab-2-ledger"), (10, "lab-10-tally")):
            (self.root / "labs" / folder / "expected.tsv").write_text(
                "\t".join(expected.HEADER) + f"\n{n}\tbroken\tstress\tspread\tsymptom\t0.5\t1"
                "\t9\t10\tmeasured\n")
        self.assertEqual(sorted({k[0] for k in expected.read_dir(self.root / "labs")}), [2, 10])
        service = expected.service_dir(self.root / "labs")
        self.assertEqual(sorted(service), [
            (11, "broken", "replicas", "replicas=2,connections=8"),
            (11, "broken", "tsan-clang", "replicas=2,connections=8"),
            (11, "fixed", "replicas", "replicas=2,connections=8")])

    def env(self):
        return dict(os.environ, RACELAB_ROOT=str(self.root),
                    RACELAB_BUILD_DIR=str(self.root / "build"))

    def test_stress_only_commands_refuse_it_in_one_line(self):
        line = ("lab 11 is a service lab (service processes sharing a database, not the "
                "stress driver): make lab-11 runs it")
        for name, args in (("lab.py", ["11"]), ("check_rates.py", ["--lab", "11"]),
                           ("trials.py", ["--lab", "11", "--build", "broken", "--tool", "stress",
                                          "--trials", "1"]),
                           ("grade.py", ["11"]), ("report.py", ["--lab", "11"]),
                           ("replay.py", ["--lab", "11", "--seed", "1"]),
                           ("explore.py", ["--lab", "11"]), ("workcopy.py", ["start", "11"])):
            with self.subTest(script=name):
                code, out, err = run_script(name, *args, env=self.env(), cwd=self.root)
                self.assertEqual(code, 2, err)
                self.assertEqual(err, f"{name}: error: {line}\n")
        code, out, err = run_script("labs.py", "list", "--kind", "service", env=self.env())
        self.assertEqual((code, out), (0, "11\tlabs/lab-11-pgledger\tpgledger\t"
                                          "the double charge across replicas\n"), err)
        code, out, err = run_script("labs.py", "list", env=self.env())
        self.assertNotIn("lab-11", out)


class Repository(unittest.TestCase):
    """The tree as committed."""

    def test_every_lab_is_complete_and_agrees(self):
        self.assertEqual(labs.problems(labs.every_lab(REPO), REPO), [])

    def test_check_labs_passes_and_the_guide_table_is_current(self):
        run = subprocess.run([sys.executable, str(SCRIPTS / "labs.py"), "check"],
                             capture_output=True, text=True, cwd=REPO)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("GUIDE.md's lab table current", run.stdout)

    def test_nothing_else_lists_the_labs(self):
        # The lists the manifests replaced stay gone.
        makefile = (REPO / "Makefile").read_text()
        self.assertNotRegex(makefile, r"(?m)^LABS :=|^LAB_MODULES_\d|^TEST_DEPS_")
        self.assertNotRegex((REPO / "stress" / "stress.h").read_text(), r"stress_lab\d")
        self.assertNotRegex((REPO / "stress" / "main.c").read_text(), r"stress_lab\d")
        self.assertNotRegex((REPO / "mk" / "gdb.mk").read_text(), r"(?m)^(gdb|demo)-lab-\d")

    def test_bad_arguments_are_one_line(self):
        for args in (["generate"], ["check", "x"], ["nonsense"]):
            run = subprocess.run([sys.executable, str(SCRIPTS / "labs.py")] + args,
                                 capture_output=True, text=True, cwd=REPO)
            self.assertEqual(run.returncode, 2, args)
            self.assertEqual(len(run.stderr.splitlines()), 1, run.stderr)


if __name__ == "__main__":
    unittest.main()
