"""racelab.measurenote: the note --write-expected writes says when, how and
under what load a row was measured, read off the cell's records."""

import unittest

import helpers  # noqa: F401 (puts scripts/ on the path)

from racelab import cpus, measurenote
from racelab.cells import Cell


def trial(k, *, build="broken", tool="stress", outcome="manifested", load=1.5,
          run="20261205T012705Z-ab12", shard=(3, 8), steps=None):
    r = {"run": run, "trial": k, "lab": 2, "build": build, "tool": tool, "config": "spread",
         "outcome": outcome, "manifested": outcome in ("manifested", "crash", "hang"),
         "detected": outcome == "detected", "findings": [], "seed": 1000 + k,
         "elapsed_s": 0.05 * k, "time_limit_s": 10, "loadavg": load + k / 10}
    if shard:
        r["shard"] = {"index": shard[0], "count": shard[1]}
    if steps is not None:
        r["program"] = {"schedule": {"strategy": "random", "steps": steps + k, "trace": "A"}}
    return r


def cell_of(recs):
    first = recs[0]
    cell = Cell((first["lab"], first["build"], first["tool"], first["config"]))
    for r in recs:
        cell.add(r)
    return cell


class MeasureNote(unittest.TestCase):
    def note(self, recs, old=""):
        return measurenote.note(cell_of(recs), recs, old)

    def test_a_sharded_broken_cell(self):
        recs = [trial(k) for k in range(1, 5)]
        self.assertEqual(self.note(recs),
                         "4 of 4; measured 2026-12-05 (shard 3 of 8 of a sharded run), "
                         "seeds 1001 to 1004, load average 1.60 to 1.90; trials 0.05 to "
                         "0.20 s (a 10 s limit when measured)")

    def test_a_fixed_cell_says_why_its_band_is_zero(self):
        recs = [trial(k, build="fixed", outcome="clean", shard=None) for k in range(1, 3)]
        note = self.note(recs)
        self.assertTrue(note.startswith(measurenote.BY_DESIGN["violation"] + "; 0 of 2; "),
                        note)
        self.assertIn("(one run)", note)

    def test_crashes_and_hangs_are_counted_apart(self):
        recs = [trial(1, outcome="crash"), trial(2, outcome="crash"), trial(3, outcome="hang")]
        self.assertIn("3 of 3; 2 crash, 1 hang; ", self.note(recs))

    def test_a_detector_s_reports_by_kind_and_site(self):
        one, two = trial(1, outcome="detected"), trial(2, outcome="detected")
        one["findings"] = [{"kind": "data-race", "matched": True}]
        two["findings"] = [{"kind": "data-race", "matched": True},
                           {"kind": "misc", "matched": False}]
        self.assertIn("; 1 to 2 reports a trial (data-race 2, misc 1), 2 of 3 at the race site; ",
                      self.note([one, two]))
        self.assertIn("; 1 report a trial (data-race 1), all at the race site; ",
                      self.note([one]))

    def test_runs_on_two_days_and_no_load(self):
        recs = [trial(1, run="20261204T235900Z-aaaa"), trial(2, run="20261205T000100Z-bbbb")]
        for r in recs:
            del r["loadavg"]
        note = self.note(recs)
        self.assertIn("measured 2026-12-04 to 2026-12-05 ", note)
        self.assertIn("load average not recorded", note)

    def test_the_sched_cell_says_its_steps(self):
        recs = [trial(k, tool="sched", steps=1000) for k in range(1, 3)]
        self.assertIn("1001 to 1002 scheduler steps a trial", self.note(recs))

    def test_the_needs_two_cpus_clause_is_carried_and_nothing_else(self):
        old = ("hidden in 9 of 30 trials; needs 2 CPUs: 13 of 30 on one CPU, below the band; "
               "measured under load")
        note = self.note([trial(1)], old)
        self.assertTrue(note.endswith("; needs 2 CPUs: 13 of 30 on one CPU, below the band"),
                        note)
        self.assertNotIn("hidden in 9", note)
        self.assertIn(cpus.NOTE, note)
        self.assertNotIn(cpus.NOTE, self.note([trial(1)], "hidden in 9 of 30 trials"))

    def test_a_reason_is_carried_after_the_count(self):
        old = "0 of 30; why: the race is not a data race; DRD, 30 trials"
        note = self.note([trial(1, outcome="clean")], old)
        self.assertTrue(note.startswith("0 of 1; why: the race is not a data race; measured "),
                        note)
        self.assertNotIn("DRD, 30", note)
        fixed = self.note([trial(1, build="fixed", outcome="clean")], "why: one lock")
        self.assertTrue(fixed.startswith(measurenote.BY_DESIGN["violation"]
                                         + "; 0 of 1; why: one lock; "), fixed)


if __name__ == "__main__":
    unittest.main()
