"""records.read_dir: every .jsonl under the results folder, but no unfinished run."""

import json
import tempfile
import unittest
from pathlib import Path

import helpers  # noqa: F401  (puts scripts/ on sys.path)
from racelab import records


def record(trial, run):
    return {"schema": records.SCHEMA, "run": run, "trial": trial, "lab": 1, "build": "broken",
            "tool": "stress", "config": "spread", "outcome": "clean", "manifested": False,
            "detected": False, "findings": []}


class ReadDir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="racelab-records-")
        self.dir = Path(self._tmp.name) / "results"

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, run):
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record(1, run)) + "\n")

    def test_subfolders_are_read_and_dot_folders_skipped(self):
        self.write("1-broken-stress-spread.jsonl", "top")
        self.write("lab-1-20250101T000000Z/1-broken-stress-spread.jsonl", "make-lab")
        self.write("check-20250101T000000Z/1-broken-stress-spread.jsonl", "check")
        self.write("check-20250101T000000Z/deeper/1-broken-stress-spread.jsonl", "deeper")
        self.write(".partial/r1.jsonl", "unfinished")
        self.write("lab-1-20250101T000000Z/.partial/r2.jsonl", "unfinished-below")
        self.write(".1-broken-stress-spread.jsonl.42.tmp.jsonl", "hidden")
        (self.dir / "folder.jsonl").mkdir()  # a folder with a records-like name
        runs = sorted(r["run"] for r in records.read_dir(self.dir))
        self.assertEqual(runs, ["check", "deeper", "make-lab", "top"])

    def test_a_dot_in_the_folder_above_results_does_not_hide_it(self):
        self.dir = Path(self._tmp.name) / ".cache" / "results"
        self.write("lab-1-x/1-broken-stress-spread.jsonl", "kept")
        self.assertEqual([r["run"] for r in records.read_dir(self.dir)], ["kept"])


class Names(unittest.TestCase):
    def test_config_and_report_names(self):
        self.assertEqual(records.config_name("spread", None, 4, 4), "spread")
        self.assertEqual(records.config_name("spread", [0, 0, 1], 2, 4, 500, ["buckets=8"]),
                         "cpus-0+0+1-2t-500ops-buckets=8")
        self.assertEqual(records.report_name("1-broken-helgrind-spread.jsonl", "valgrind-xml"),
                         "1-broken-helgrind-spread.report.xml")
        self.assertEqual(records.report_name("1-broken-tsan-gcc-spread.jsonl", "tsan"),
                         "1-broken-tsan-gcc-spread.report.txt")


if __name__ == "__main__":
    unittest.main()
