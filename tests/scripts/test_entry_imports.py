"""Entry scripts share scripts/racelab/, never each other: a script that
imports another runs that one's module-level code and ties their command
lines together."""

import ast
import tempfile
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def imported(path):
    """The top-level module names a Python file imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


class EntryImports(unittest.TestCase):
    def test_no_entry_script_imports_another(self):
        entries = {p.stem for p in SCRIPTS.glob("*.py")}
        found = [f"{p.name} imports {name}.py"
                 for p in sorted(SCRIPTS.glob("*.py")) + sorted((SCRIPTS / "racelab").glob("*.py"))
                 for name in sorted(imported(p) & entries)]
        self.assertEqual(found, [])

    def test_the_check_sees_an_import(self):
        with tempfile.TemporaryDirectory() as d:
            sample = Path(d) / "sample.py"
            sample.write_text("import sys\nfrom lab import trim\n\ndef f():\n    import report\n")
            self.assertEqual(imported(sample), {"sys", "lab", "report"})


if __name__ == "__main__":
    unittest.main()
