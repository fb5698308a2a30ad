#!/usr/bin/env python3
"""pairs.py: true and false positives per tool and lab, judged on the race pair.

DataRaceBench scores a race detector per program and per run: a program
with a race that the tool reports is a true positive (TP), one it misses a
false negative (FN), a report on a race-free program a false positive
(FP), silence there a true negative (TN); and since its v1.4 a report
counts as a TP only when it names the race pair itself, both accesses.
This script scores racelab's trial records the same way.

For each trial of a detector (not the stress or chaos tools, which only
check invariants):

  race-yes (the broken build of a lab with a data race)
    TP       a finding names the race pair: both of its accesses are in
             the lab's declared race site (scenario.conf: race_file and
             race_functions; match.py sets the finding's `pair`)
    partial  no pair, but a finding with one access in the site (the other
             side is elsewhere, or the tool gave only one: DRD always does,
             Helgrind and gcc's TSan sometimes cannot restore the earlier
             access's stack). Counted apart, as the issue of line-level
             matching asks, and as a miss for the strict recall
    FN       no finding in the site
  race-no (every fixed build, and the broken build of a lab whose race
  is not a data race: lab 3, whose expected detection band is 0 to 0)
    FP       any finding at all (a crash under the tool is not a finding)
    TN       none
  and in a race-yes trial, a finding that is not in the site is noise: the
  trial also counts one FP, since the tool claimed a race that is not there.

A crash under the tool, and ThreadSanitizer's "thread leak" (what a trial
leaves behind when its watchdog abandons a looping thread: lab 1's
corrupted chain), claim no race and are not scored here; report.py still
counts either on a fixed build.

precision = (TP + partial) / (TP + partial + FP): a claim about the race
site is a right claim, even with one side; recall = TP / (TP + partial +
FN) (strict: the pair) and (TP + partial) / (TP + partial + FN) (one side
is enough). Per run, and
under DataRaceBench's union policy: a (lab, build, tool) is one program,
positive when any of its runs was.
"""

import sys
from collections import defaultdict

from racelab import cli, expected, records, scenario, tools
from racelab.cli import Failure
from racelab.tsan import CRASH

PROG = "pairs.py"
NOT_CLAIMS = (CRASH, "thread-leak")


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0, or 1 with --check when a precision is below 1 (a "
                          "finding on a fixed build or off the race site), 2 bad arguments.")
    p.add_argument("--results", default="results", metavar="DIR",
                   help="trial records, *.jsonl at any depth (default: results)")
    p.add_argument("--expected", default="labs", metavar="DIR",
                   help="expected tables, DIR/lab-N-<name>/expected.tsv: which labs have no "
                        "data race (default: labs)")
    p.add_argument("--lab", type=cli.positive_int, action="append", metavar="N",
                   help="only this lab (repeatable)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when any precision is below 1")
    return p


def race_free_labs(expected_dir):
    """Labs whose broken build has no data race by design: every detector
    row of the broken build in its expected table has the band 0 to 0 (lab 3: a
    check-then-act race between two thread-safe calls)."""
    bands = defaultdict(list)
    for (lab, build, tool, _), row in expected.read_dir(expected_dir).items():
        if build == "broken" and tool not in tools.NATIVE:
            bands[lab].append(row["band"][1])
    return {lab for lab, highs in bands.items() if highs and max(highs) == 0}


def score(record, race_yes):
    """(label, noise) of one trial: label TP, partial, FN, FP or TN;
    noise True when a race-yes trial also has a finding off the site."""
    findings = [f for f in record["findings"] if f.get("kind") not in NOT_CLAIMS]
    if not race_yes:
        return ("FP" if findings else "TN"), False
    noise = any(not f.get("matched") for f in findings)
    if any(f.get("pair") for f in findings):
        return "TP", noise
    if any(f.get("matched") for f in findings):
        return "partial", noise
    return "FN", noise


class Tally:
    def __init__(self):
        self.count = defaultdict(int)

    def add(self, label, noise):
        self.count[label] += 1
        if noise:
            self.count["FP"] += 1

    def precision(self):
        right, fp = self.count["TP"] + self.count["partial"], self.count["FP"]
        return right / (right + fp) if right + fp else None

    def recall(self, lenient=False):
        tp, part, fn = self.count["TP"], self.count["partial"], self.count["FN"]
        hit = tp + part if lenient else tp
        return hit / (tp + part + fn) if tp + part + fn else None


def fmt(x):
    return "-" if x is None else f"{x:.2f}"


def main(argv=None):
    args = parser().parse_args(argv)
    for lab in args.lab or ():
        scenario.stress_lab_dir(lab)  # Failure for an unknown or a service lab
    race_free = race_free_labs(args.expected)
    per_run = defaultdict(Tally)   # (tool, lab) -> tally over runs
    programs = defaultdict(list)   # (tool, lab, build, config) -> labels
    for record in records.read_dir(args.results):
        if record["tool"] in tools.NATIVE or record["outcome"] == "tool-error":
            continue
        if args.lab and record["lab"] not in args.lab:
            continue
        race_yes = record["build"] == "broken" and record["lab"] not in race_free
        label, noise = score(record, race_yes)
        per_run[(record["tool"], record["lab"])].add(label, noise)
        programs[(record["tool"], record["lab"], record["build"], record["config"])] \
            .append((label, noise))
    if not per_run:
        raise Failure(f"no detector trials under {scenario.shown(args.results)}")

    # The union policy: one program, positive when any run was.
    union = defaultdict(Tally)
    for (tool, lab, _, _), labels in programs.items():
        names = {label for label, _ in labels}
        label = next(n for n in ("TP", "partial", "FP", "FN", "TN") if n in names)
        union[(tool, lab)].add(label, any(noise for _, noise in labels) and label != "FP")

    print("| tool | lab | runs | TP | partial | FN | FP | TN | precision | recall | "
          "recall (one side) | union: TP/partial/FN/FP/TN |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    low_precision = []
    order = list(tools.TOOLS)
    for key in sorted(per_run, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k)):
        t, u = per_run[key], union[key]
        c = t.count
        runs = sum(len(v) for k2, v in programs.items() if k2[:2] == key)
        print(f"| {key[0]} | {key[1]} | {runs} | {c['TP']} | {c['partial']} | {c['FN']} | "
              f"{c['FP']} | {c['TN']} | {fmt(t.precision())} | {fmt(t.recall())} | "
              f"{fmt(t.recall(lenient=True))} | "
              + "/".join(str(u.count[n]) for n in ("TP", "partial", "FN", "FP", "TN")) + " |")
        if c["FP"]:
            low_precision.append(f"{key[0]} on lab {key[1]}")
    print()
    if low_precision:
        print(f"precision below 1: {', '.join(low_precision)}")
    else:
        print("precision 1.00 everywhere: no finding on a fixed build, none off the race site")
    return 1 if args.check and low_precision else 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
