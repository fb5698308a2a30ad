#!/usr/bin/env python3
"""Runs the scripts' tests and ends with one line of counts for make test.

  python3 tests/scripts/run.py [-v]

The last line is `scripts: N passed, N failed, N skipped`; the exit status
is 0 when nothing failed. Plain `python3 -m unittest discover -s
tests/scripts` runs the same tests.
"""

import sys
import unittest
from pathlib import Path


def main():
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    suite = unittest.defaultTestLoader.discover(str(here), top_level_dir=str(here))
    verbosity = 2 if "-v" in sys.argv[1:] else 1
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"scripts: {passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
