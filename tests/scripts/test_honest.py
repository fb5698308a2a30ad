"""HONEST: suppressions, hiding annotations, removed race points and edits
outside the working copy are refused, each with a reason and a hint."""

import subprocess
import tempfile
import unittest
from pathlib import Path

from helpers import REPO
from racelab import honest

BROKEN = """\
#include "racepoint.h"
void put(void)
{
	int x = head;
	RACE_POINT("m.put.window");
	head = x + 1;
}
"""
FIXED = BROKEN.replace("\tint x", "\tlock();\n\tint x").replace("x + 1;", "x + 1;\n\tunlock();")


def refusals(copy, fixed=FIXED, lab=1):
    return honest.check_copy(lab, "m", copy, BROKEN, fixed, "work/lab-1/m.c")


def rules(found):
    return [r.rule for r in found]


class Copy(unittest.TestCase):
    def test_a_real_fix_passes(self):
        self.assertEqual(refusals(FIXED), [])
        self.assertEqual(refusals(BROKEN), [])  # honest, if not safe

    def test_the_reference_of_every_lab_passes(self):
        for fixed in sorted((REPO / "fixed").glob("*.c")):
            with self.subTest(module=fixed.stem):
                text, broken = fixed.read_text(), (REPO / "broken" / fixed.name).read_text()
                self.assertEqual(honest.check_copy(1, fixed.stem, text, broken, text, "c"), [])

    def test_helgrind_annotations_are_refused(self):
        for line in ("#include <valgrind/helgrind.h>\n", "\tANNOTATE_HAPPENS_AFTER(&head);\n",
                     "\tVALGRIND_HG_DISABLE_CHECKING(&head, sizeof(head));\n",
                     "__attribute__((no_sanitize(\"thread\")))\n"):
            with self.subTest(line=line):
                found = refusals(BROKEN.replace("void put", line + "void put"))
                self.assertEqual(rules(found), ["annotation"])
                self.assertIn("hint", found[0]._asdict())
                self.assertIn("lock or an atomic", found[0].hint)

    def test_annotations_the_reference_uses_are_allowed_and_no_others(self):
        # Lab 8's way: the reference annotates its atomics for Helgrind.
        fixed = "#include <valgrind/helgrind.h>\n" + FIXED.replace(
            "\tunlock();", "\tANNOTATE_HAPPENS_BEFORE(&head);\n\tunlock();")
        same = fixed
        self.assertEqual(refusals(same, fixed, lab=8), [])
        more = same.replace("\tint x", "\tVALGRIND_HG_DISABLE_CHECKING(&head, 8);\n\tint x")
        found = refusals(more, fixed, lab=8)
        self.assertEqual(rules(found), ["annotation"])
        self.assertIn("VALGRIND_HG_DISABLE_CHECKING", found[0].reason)
        self.assertIn("lab 8's reference uses only ANNOTATE_HAPPENS_BEFORE", found[0].reason)

    def test_a_word_in_a_comment_is_not_an_annotation(self):
        self.assertEqual(refusals("/* no ANNOTATE_HAPPENS_BEFORE here */\n" + FIXED), [])

    def test_removed_race_points_are_refused(self):
        for copy in (BROKEN.replace('\tRACE_POINT("m.put.window");\n', ""),
                     BROKEN.replace('\tRACE_POINT', '\t// RACE_POINT'),
                     BROKEN.replace('\tRACE_POINT', '\t/* RACE_POINT').replace(
                         'window");', 'window"); */'),
                     BROKEN.replace('\tRACE_POINT("m.put.window");\n',
                                    '#if 0\n\tRACE_POINT("m.put.window");\n#endif\n')):
            with self.subTest(copy=copy):
                found = refusals(copy)
                self.assertEqual(rules(found), ["race point"])
                self.assertIn('RACE_POINT("m.put.window")', found[0].reason)

    def test_redefined_race_point_is_refused(self):
        copy = "#undef RACE_POINT\n#define RACE_POINT(n) ((void)0)\n" + FIXED
        self.assertEqual(rules(refusals(copy)), ["race point"])

    def test_compiled_in_suppressions_and_build_aware_code_are_refused(self):
        hook = 'const char *__tsan_default_suppressions(void) { return "race:put"; }\n'
        self.assertEqual(rules(refusals(hook + FIXED)), ["suppression"])
        for cond in ("#ifdef __SANITIZE_THREAD__\n", "#ifdef RACELAB_RACEPOINTS\n",
                     "#if __has_feature(thread_sanitizer)\n"):
            with self.subTest(cond=cond):
                copy = cond + "#define FAST 1\n#endif\n" + FIXED
                self.assertEqual(rules(refusals(copy)), ["build-aware"])


class Environment(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-test-")
        self.root = Path(self._tmp.name)
        self.work = self.root / "work" / "lab-1"
        self.work.mkdir(parents=True)
        self.home = self.root / "home"
        self.home.mkdir()

    def tearDown(self):
        self._tmp.cleanup()

    def check(self, env):
        return honest.check_environment(env, self.root, self.home, self.work)

    def test_nothing_set(self):
        self.assertEqual(self.check({}), [])
        self.assertEqual(self.check({"TSAN_OPTIONS": "halt_on_error=0"}), [])

    def test_suppressions_are_refused_wherever_they_are(self):
        self.assertEqual(rules(self.check({"TSAN_OPTIONS": "suppressions=x.supp"})),
                         ["suppression"])
        self.assertEqual(rules(self.check({"VALGRIND_OPTS": "--suppressions=x.supp"})),
                         ["suppression"])
        (self.home / ".valgrindrc").write_text("--suppressions=/tmp/mine.supp\n")
        found = self.check({})
        self.assertEqual(rules(found), ["suppression"])
        self.assertIn("your home", found[0].reason)
        (self.home / ".valgrindrc").unlink()
        (self.work / "quiet.supp").write_text("{\n x\n Helgrind:Race\n}\n")
        found = self.check({})
        self.assertEqual(rules(found), ["suppression"])
        self.assertIn("quiet.supp", found[0].reason)


class Tree(unittest.TestCase):
    """Edits outside the working copy, read from git in a throw-away checkout."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-test-")
        self.root = Path(self._tmp.name)
        for d in ("common", "labs/lab-1-x", "work/lab-1"):
            (self.root / d).mkdir(parents=True)
        (self.root / "common" / "gateway.c").write_text("int g;\n")
        (self.root / "labs/lab-1-x/scenario.conf").write_text("lab = 1\n")
        (self.root / ".gitignore").write_text("work/\n")
        self.git("init", "-q", "-b", "main")
        self.git("add", ".")
        self.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")

    def tearDown(self):
        self._tmp.cleanup()

    def git(self, *args):
        subprocess.run(["git", "-C", str(self.root), *args], check=True, capture_output=True)

    def test_clean_checkout_and_work_edits_pass(self):
        (self.root / "work/lab-1/m.c").write_text("int mine;\n")
        self.assertEqual(honest.check_tree(self.root, 1), [])

    def test_edits_and_new_files_outside_are_refused(self):
        (self.root / "common" / "gateway.c").write_text("int g; /* faster */\n")
        (self.root / "common" / "helper.c").write_text("int h;\n")
        (self.root / "labs/lab-1-x/scenario.conf").write_text("lab = 1\nops = 1\n")
        found = honest.check_tree(self.root, 1)
        self.assertEqual(rules(found), ["outside edit"])
        for name in ("common/gateway.c", "common/helper.c", "labs/lab-1-x/scenario.conf"):
            self.assertIn(name, found[0].reason)
        self.assertIn("git stash", found[0].hint)

    def clone(self):
        other = Path(self._tmp.name + "-clone")
        subprocess.run(["git", "clone", "-q", str(self.root), str(other)], check=True,
                       capture_output=True)
        self.addCleanup(subprocess.run, ["rm", "-rf", str(other)])
        return other

    def commit(self, root, path, text):
        (root / path).write_text(text)
        subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t",
                        "commit", "-qam", "edit"], check=True, capture_output=True)

    def git_in(self, root, *args):
        subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t",
                        *args], check=True, capture_output=True)

    def assert_refused(self, root, *names):
        found = honest.check_tree(root, 1)
        self.assertEqual(rules(found), ["outside edit"])
        self.assertEqual(len(found[0].reason.splitlines()), 1)
        for name in names:
            self.assertIn(name, found[0].reason)
        return found[0]

    def test_a_committed_edit_outside_is_refused(self):
        mine = self.clone()
        self.assertEqual(honest.check_tree(mine, 1), [])
        self.commit(mine, "common/gateway.c", "int g; /* committed */\n")
        found = self.assert_refused(mine, "common/gateway.c (committed)")
        self.assertIn("git log --stat HEAD --not --remotes", found.hint)

    def test_a_commit_on_a_new_branch_or_a_detached_head_is_refused_too(self):
        mine = self.clone()
        self.git_in(mine, "switch", "-q", "-c", "fix")  # tracks nothing
        self.commit(mine, "common/gateway.c", "int g; /* on a branch */\n")
        self.assert_refused(mine, "common/gateway.c")
        self.git_in(mine, "switch", "-q", "--detach")
        self.commit(mine, "common/gateway.c", "int g; /* detached */\n")
        self.assert_refused(mine, "common/gateway.c")

    def test_a_file_both_committed_and_edited_is_named_once(self):
        mine = self.clone()
        self.commit(mine, "common/gateway.c", "int g; /* committed */\n")
        (mine / "common/gateway.c").write_text("int g; /* and edited */\n")
        found = self.assert_refused(mine)
        self.assertEqual(found.reason.count("common/gateway.c"), 1)

    def test_the_hint_undoes_a_commit_after_the_course_moved_on(self):
        mine = self.clone()
        self.commit(mine, "common/gateway.c", "int g; /* mine */\n")
        self.commit(self.root, "common/gateway.c", "int g; /* the course's update */\n")
        self.git_in(mine, "fetch", "-q")
        found = self.assert_refused(mine, "common/gateway.c")
        self.assertIn("git pull, then git checkout origin/main -- <file> and commit", found.hint)
        self.git_in(mine, "pull", "-q", "--no-rebase", "--no-edit", "-X", "ours")
        self.git_in(mine, "checkout", "origin/main", "--", "common/gateway.c")
        self.git_in(mine, "commit", "-qm", "put it back")
        self.assertEqual(honest.check_tree(mine, 1), [])

    def test_a_commit_undone_by_a_later_one_is_no_edit(self):
        mine = self.clone()
        self.commit(mine, "common/gateway.c", "int g; /* tried */\n")
        self.commit(mine, "common/gateway.c", "int g;\n")
        self.assertEqual(honest.check_tree(mine, 1), [])

    def test_a_pull_of_the_course_s_own_changes_is_not_an_edit(self):
        mine = self.clone()
        self.commit(self.root, "common/gateway.c", "int g; /* the course's update */\n")
        subprocess.run(["git", "-C", str(mine), "pull", "-q"], check=True, capture_output=True)
        self.assertIn("course's update", (mine / "common/gateway.c").read_text())
        self.assertEqual(honest.check_tree(mine, 1), [])

    def test_a_merge_of_the_course_s_changes_into_own_work_is_not_an_edit(self):
        mine = self.clone()
        self.commit(mine, ".gitignore", "work/\n# mine\n")  # not a guarded file
        self.commit(self.root, "common/gateway.c", "int g; /* the course's update */\n")
        self.git_in(mine, "pull", "-q", "--no-rebase", "--no-edit")
        self.assertIn("course's update", (mine / "common/gateway.c").read_text())
        self.assertEqual(honest.check_tree(mine, 1), [])
        self.commit(mine, "common/gateway.c", "int g; /* mine after the merge */\n")
        self.assert_refused(mine, "common/gateway.c (committed)")

    def test_without_a_remote_only_uncommitted_edits_are_checked(self):
        self.commit(self.root, "common/gateway.c", "int g; /* committed */\n")
        self.assertEqual(honest.check_tree(self.root, 1), [])

    def test_not_a_checkout_is_refused_in_one_line(self):
        with tempfile.TemporaryDirectory() as other:
            found = honest.check_tree(Path(other), 1)
        self.assertEqual(rules(found), ["outside edit"])
        self.assertEqual(len(found[0].reason.splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
