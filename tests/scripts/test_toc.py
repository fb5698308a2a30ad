"""toc.py: GUIDE.md's table of contents is the one its headings give.

The list is written by scripts/toc.py (make toc); the first test fails as
soon as a heading is added, renamed or moved without rewriting it, or when
a link of the guide to its own sections names an anchor no heading gives.
"""

import tempfile
import unittest
from pathlib import Path

from helpers import REPO, run_script

import toc

DOC = """\
# Title

Intro.

<!-- toc -->
- [stale](#stale)
<!-- /toc -->

## First part

```sh
# a comment in a code block, not a heading
```

### A `make` target (and more)

#### Too deep for the list

## First part

~~~
## not a heading either
~~~

### [Linked](https://example.org) heading ###
"""

LIST = [
    "- [First part](#first-part)",
    "  - [A `make` target (and more)](#a-make-target-and-more)",
    "- [First part](#first-part-1)",
    "  - [Linked heading](#linked-heading)",
]


class GuideToc(unittest.TestCase):
    def test_guide_toc_agrees_with_its_headings(self):
        code, out, err = run_script("toc.py", "--check", REPO / "GUIDE.md")
        self.assertEqual(code, 0, err.strip() + " (make toc rewrites it)")
        text = (REPO / "GUIDE.md").read_text(encoding="utf-8")
        self.assertIn("- [For students](#for-students)", text)

    def test_the_list_is_near_the_top(self):
        text = (REPO / "GUIDE.md").read_text(encoding="utf-8")
        self.assertLess(text.index(toc.START), text.index("\n## "))


class Toc(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.doc = Path(self.tmp.name) / "doc.markdown"
        self.doc.write_text(DOC)

    def test_list_from_headings(self):
        self.assertEqual(toc.toc(DOC), LIST)

    def test_slugs(self):
        self.assertEqual(toc.slug("The report: HTML page, CSV, cost per tool"),
                         "the-report-html-page-csv-cost-per-tool")
        self.assertEqual(toc.slug("In a course's CI"), "in-a-courses-ci")
        self.assertEqual(toc.slug("The cost of the fix (`make bench`)"),
                         "the-cost-of-the-fix-make-bench")

    def test_check_fails_then_write_then_check_passes(self):
        code, _, err = run_script("toc.py", "--check", self.doc)
        self.assertEqual(code, 1)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn("doc.markdown: the table of contents disagrees with the headings: "
                      "run make toc", err)
        self.assertEqual(self.doc.read_text(), DOC)  # --check writes nothing
        code, out, err = run_script("toc.py", self.doc)
        self.assertEqual(code, 0, err)
        text = self.doc.read_text()
        self.assertIn("<!-- toc -->\n\n" + "\n".join(LIST) + "\n\n<!-- /toc -->\n", text)
        self.assertEqual(text.split("<!-- /toc -->")[1], DOC.split("<!-- /toc -->")[1])
        code, _, err = run_script("toc.py", "--check", self.doc)
        self.assertEqual(code, 0, err)
        # a renamed heading makes it stale again
        self.doc.write_text(text.replace("### A `make` target", "### A make target"))
        code, _, _ = run_script("toc.py", "--check", self.doc)
        self.assertEqual(code, 1)

    def test_a_link_to_a_heading_that_moved_away_fails(self):
        run_script("toc.py", self.doc)
        text = self.doc.read_text()
        linked = text + "\nSee [deep](#too-deep-for-the-list) and [one](#first-part-1).\n"
        self.doc.write_text(linked)
        code, _, err = run_script("toc.py", "--check", self.doc)
        self.assertEqual(code, 0, err)  # any level counts, and a repeated title's suffix
        # the section renamed: the link is now dead, in both modes
        self.doc.write_text(linked.replace("#### Too deep for the list", "#### Too deep"))
        for args in (("--check",), ()):
            with self.subTest(args=args):
                code, _, err = run_script("toc.py", *args, self.doc)
                self.assertEqual(code, 1)
                self.assertRegex(err, r"^toc\.py: .*doc\.markdown:\d+: a link to "
                                      r"#too-deep-for-the-list, which no heading gives")
                self.assertEqual(len(err.splitlines()), 1, err)
        # a link in a code block is not a link
        self.doc.write_text(text + "\n```\n[x](#nowhere)\n```\n")
        code, _, err = run_script("toc.py", "--check", self.doc)
        self.assertEqual(code, 0, err)

    def test_bad_input_is_one_line(self):
        self.doc.write_text("# no markers\n\n## A\n")
        for args, message in (((self.doc,), "needs one '<!-- toc -->' line"),
                              ((Path(self.tmp.name) / "missing.markdown",), "cannot read"),
                              (("--nope",), "unrecognized arguments")):
            with self.subTest(args=args):
                code, out, err = run_script("toc.py", *args)
                self.assertEqual(code, 2)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn(message, err)

    def test_help(self):
        code, out, _ = run_script("toc.py", "--help")
        self.assertEqual(code, 0)
        self.assertIn("--check", out)


if __name__ == "__main__":
    unittest.main()
