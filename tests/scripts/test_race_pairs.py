"""The race pairs named at the top of every broken module point at real code.

Each broken/<module>.c opens with a DataRaceBench-style comment that names
its race pairs as `"code" at line N`. Line numbers rot when code moves; this
test keeps them honest: line N must contain the quoted code, and every
RACE_POINT named in the header must exist in the file.
"""

import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REF = re.compile(r'"([^"]+)"\s+at\s+line\s+(\d+)')


def header(text):
    """The opening comment, with the ' * ' margins removed and lines joined."""
    end = text.index("*/")
    return " ".join(line.strip().lstrip("/*").strip() for line in text[:end].splitlines())


class RacePairs(unittest.TestCase):
    def test_every_reference_points_at_its_code(self):
        modules = sorted((ROOT / "broken").glob("*.c"))
        self.assertTrue(modules, "no broken modules found")
        for path in modules:
            text = path.read_text()
            lines = text.splitlines()
            refs = REF.findall(header(text))
            with self.subTest(module=path.name):
                self.assertTrue(refs, f"{path.name}: the header names no race pair")
                for code, number in refs:
                    n = int(number)
                    self.assertLessEqual(n, len(lines), f"{path.name}: line {n} is past the end")
                    self.assertIn(code, lines[n - 1],
                                  f"{path.name}:{n} does not contain '{code}'")

    def test_race_points_named_in_the_header_exist(self):
        for path in sorted((ROOT / "broken").glob("*.c")):
            text = path.read_text()
            named = set(re.findall(r"\b([a-z]+\.[a-z]+\.window)\b", header(text)))
            marked = set(re.findall(r'RACE_POINT\("([^"]+)"\)', text))
            with self.subTest(module=path.name):
                self.assertTrue(named, f"{path.name}: the header names no race point")
                self.assertLessEqual(named, marked,
                                     f"{path.name}: named but not marked: {named - marked}")


if __name__ == "__main__":
    unittest.main()
