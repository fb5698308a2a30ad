"""No C or Python function over 80 lines without a reason.

A long function is allowed when the line just above it (or, in Python, its
docstring) says why, with the words "long because":

    /* long because: one case per option, read top to bottom */
    int loadgen_parse(...)

`python3 tests/scripts/test_function_length.py --list` prints every
function over the limit, with or without a reason.
"""

import ast
import re
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 80
C_DIRS = ("stress", "common", "bench", "service", "loadgen", "broken", "fixed", "labs")
PY_DIRS = ("scripts",)
REASON = re.compile(r"\blong because\b", re.IGNORECASE)
C_NAME = re.compile(r"(\w+)\s*\(")


def c_functions(text):
    """(name, first line, last line, the line above) of each function in C
    laid out in this repository's style (.clang-format, BreakBeforeBraces:
    Linux): the body opens with '{' in column 0 and closes with '}' in
    column 0; the declaration is the lines above the '{' up to a blank
    line, a comment, a preprocessor line or the end of the last statement."""
    lines = text.split("\n")
    out, start = [], None
    for i, line in enumerate(lines):
        if line.startswith("{"):
            j = i
            while j > 0:
                above = lines[j - 1]
                if (not above.strip() or above.startswith(("#", "/*", " *", "//"))
                        or above.rstrip().endswith((";", "}", "*/"))):
                    break
                j -= 1
            start = j
        elif line.startswith("}") and start is not None:
            m = C_NAME.search(" ".join(lines[start:start + 3]))
            out.append((m.group(1) if m else "?", start + 1, i + 1,
                        lines[start - 1] if start else ""))
            start = None
    return out


def py_functions(text):
    """(name, first line, last line, the line above, docstring) of each def."""
    lines = text.split("\n")
    out = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2] if first > 1 else ""
            out.append((node.name, node.lineno, node.end_lineno, above,
                        ast.get_docstring(node) or ""))
    return out


def long_functions(root=ROOT):
    """(path:line name, lines, reason given) of every function over LIMIT."""
    found = []
    for d in C_DIRS:
        for path in sorted((root / d).rglob("*.c")):
            for name, first, last, above, in c_functions(path.read_text(encoding="utf-8")):
                n = last - first + 1
                if n > LIMIT:
                    found.append((f"{path.relative_to(root)}:{first} {name}", n,
                                  bool(REASON.search(above))))
    for d in PY_DIRS:
        for path in sorted((root / d).rglob("*.py")):
            for name, first, last, above, doc in py_functions(path.read_text(encoding="utf-8")):
                n = last - first + 1
                if n > LIMIT:
                    reason = bool(REASON.search(above) or REASON.search(doc))
                    found.append((f"{path.relative_to(root)}:{first} {name}", n, reason))
    return found


class FunctionLength(unittest.TestCase):
    def test_no_long_function_without_a_reason(self):
        bad = [f"{where} ({n} lines)" for where, n, reason in long_functions() if not reason]
        self.assertEqual(bad, [], f"functions over {LIMIT} lines with no 'long because' "
                                  "comment on the line above (or in the docstring)")

    def test_the_measure_sees_a_long_c_function_and_its_reason(self):
        body = "\tx++;\n" * LIMIT
        text = f"static int f(int x)\n{{\n{body}}}\n\n/* long because: a test */\nint g(void)\n{{\n{body}}}\n"
        funcs = c_functions(text)
        self.assertEqual([(name, last - first + 1) for name, first, last, _ in funcs],
                         [("f", LIMIT + 3), ("g", LIMIT + 3)])
        self.assertFalse(REASON.search(funcs[0][3]))
        self.assertTrue(REASON.search(funcs[1][3]))

    def test_a_multi_line_c_declaration_counts_from_its_first_line(self):
        text = "int h(int a,\n      int b)\n{\n\treturn a + b;\n}\n"
        self.assertEqual(c_functions(text), [("h", 1, 5, "")])

    def test_the_measure_sees_a_long_python_function_and_its_reason(self):
        body = "    x = 1\n" * LIMIT
        text = (f"def f():\n{body}\n\n# long because: a test\ndef g():\n{body}\n\n"
                f"def h():\n    \"\"\"Long because: a test.\"\"\"\n{body}")
        funcs = {name: (last - first + 1, bool(REASON.search(above) or REASON.search(doc)))
                 for name, first, last, above, doc in py_functions(text)}
        self.assertEqual(funcs, {"f": (LIMIT + 1, False), "g": (LIMIT + 1, True),
                                 "h": (LIMIT + 2, True)})


if __name__ == "__main__":
    if sys.argv[1:] == ["--list"]:
        for where, n, reason in sorted(long_functions(), key=lambda f: -f[1]):
            print(f"{n:5d} {where}{'' if reason else '  (no reason given)'}")
        sys.exit(0)
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__)
        sys.exit(0)
    unittest.main()
