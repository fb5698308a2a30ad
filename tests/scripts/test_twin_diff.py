"""twin_diff.py: code is at least half of every broken/fixed twin diff.

The diff between a module's twins is the lesson; comments that say the same
thing in both are identical, so what the diff shows is the fix. The first
test fails as soon as a module's twins drift apart in their comments; the
others check the counter on hand-made twins whose counts are known.
"""

import tempfile
import unittest
from pathlib import Path

from helpers import REPO, run_script

import twin_diff

BROKEN = """\
/*
 * x.c: a counter.
 * Race pair: "n++" at line 9 (W).
 */
int n; /* the count */

void add(void)
{
	n++; /* write: unlocked */
}
"""

FIXED = """\
/*
 * x.c: a counter.
 */
int n; /* the count */
int lock;

void add(void)
{
	lock = 1; /* the lock */
	n++; /* write: locked */
	/* and a comment on
	   two lines */
}
"""


class Repository(unittest.TestCase):
    def test_every_module_meets_the_target(self):
        status, out, err = run_script("twin_diff.py", "--check")
        self.assertEqual(status, 0, out + err)
        rows = out.splitlines()[1:]
        broken = sorted(p.stem for p in (REPO / "broken").glob("*.c"))
        self.assertEqual(sorted(r.split()[0] for r in rows), broken)
        for row in rows:
            name, changed, code, share = row.split()[:4]
            with self.subTest(module=name):
                self.assertGreaterEqual(int(code) * 2, int(changed), row)


class Counter(unittest.TestCase):
    def test_lines_are_code_or_comment(self):
        lines = ["int a; /* x */", "/* only */", "/* open", "   still */ b = 1;",
                 "   // line", "", 'char *s = "/*";', "c = 2;"]
        self.assertEqual(twin_diff.code_lines(lines),
                         [True, False, False, True, False, False, True, True])

    def test_a_hand_made_pair(self):
        # -" * Race pair" (comment), +"int lock;" (code), -/+ "n++" (2 code),
        # +"lock = 1" (code), +the two-line comment (2 comments): 7 changed, 4 code.
        changed, code = twin_diff.measure(BROKEN.splitlines(), FIXED.splitlines())
        self.assertEqual((changed, code), (7, 4))

    def test_check_fails_below_half(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for side, text in (("broken", BROKEN), ("fixed", FIXED)):
                (root / side).mkdir()
                (root / side / "x.c").write_text(text)
            status, out, _ = run_script("twin_diff.py", "--check", "--root", root)
            self.assertEqual(status, 0, out)
            self.assertRegex(out, r"x\s+7\s+4\s+0\.57")
            comments = "".join(f"\t/* a new comment {i} */\n" for i in range(2))
            (root / "fixed" / "x.c").write_text(FIXED.replace("}\n", comments + "}\n"))
            status, out, err = run_script("twin_diff.py", "--check", "--root", root)
            self.assertEqual(status, 1, out)
            self.assertIn("below target", out)
            self.assertIn("x", err)
            status, _, _ = run_script("twin_diff.py", "--root", root)
            self.assertEqual(status, 0)

    def test_help(self):
        status, out, _ = run_script("twin_diff.py", "--help")
        self.assertEqual(status, 0)
        self.assertIn("--check", out)


if __name__ == "__main__":
    unittest.main()
