"""The scripts' tests (run them with tests/scripts/run.py).

Run one module from the repository root, `python3 -m unittest
tests/scripts/test_stats.py`, and unittest imports it as
tests.scripts.test_stats: this puts the tests' own folder on sys.path first,
so their `import helpers` (which puts scripts/ on it) works that way too.
"""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
