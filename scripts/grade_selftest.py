#!/usr/bin/env python3
"""grade_selftest.py: grade the catalogue of wrong and right fixes (make grade-selftest).

A grader is only as good as the wrong programs it rejects. A lab's
mutants/ folder (labs/lab-N-<name>/mutants/) holds whole modules a student
might hand in, each opening with one line that says what it is:

  wrong-<kind>.c   /* WRONG: what is wrong with it */   must not be PASSED
  right-<design>.c /* RIGHT: the design */              must be PASSED

A wrong fix that no run on some kind of machine can show (a memory order
that C11 allows to fail but x86's instructions happen to make safe) says
so: /* WRONG (unseen on x86_64): why */. On such a machine (Python's
platform.machine()) it is graded and its verdict shown, but it counts
neither as rejected nor as a miss: the table counts it apart (unseen).
Everywhere else it must be rejected like any wrong fix.

Each entry is graded exactly as `make grade-N` grades a student's copy
(scripts/grade.py), from a folder of its own (RACELAB_WORK), so the
student's work/ is never read or touched; only HONEST's git checks are
left out, since an entry is not a student's checkout. The result is the
confusion matrix, per lab and in total, with the time it took, and the
same as JSON. Do not grade your own copy while it runs: both build the
student variant (build/<flavour>/student-N/).
"""

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from racelab import cli, records, scenario, stats, workcopy
from racelab.cli import Failure, say

PROG = "grade_selftest.py"
SCHEMA = "racelab.grade-selftest/1"
HEAD = re.compile(r"^/\*\s*(WRONG|RIGHT)(?:\s*\(unseen on ([\w ,-]+)\))?:\s*(.+?)\s*\*/\s*$")
MACHINE = platform.machine()
# One grading can take minutes on a busy machine (grade.py's own limits
# bound every trial); past this it is recorded as hung, not waited for.
GRADE_LIMIT_S = 900
# A lab's catalogue: the folder of that name in its lab folder.
MUTANTS = "mutants"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0 every wrong fix rejected and every right fix "
                          "PASSED; 1 otherwise; 2 bad arguments or a malformed entry.")
    p.add_argument("--lab", type=cli.positive_int, action="append",
                   help="only this lab (repeatable); default every lab with a catalogue "
                        "(a lab without mutants/ is left out)")
    p.add_argument("--only", metavar="TEXT", help="only entries whose name contains TEXT")
    p.add_argument("--quick", action="store_true",
                   help="one wrong fix per lab (the first by name), the subset make test runs")
    p.add_argument("--catalogue", metavar="DIR", default="labs",
                   help="where the entries are: DIR/lab-N-<name>/mutants/*.c "
                        "(default labs)")
    p.add_argument("--json", metavar="FILE", default="results/grade-selftest.json",
                   help="where the JSON result goes (default results/grade-selftest.json)")
    p.add_argument("--summary", metavar="JSON", nargs="+",
                   help="grade nothing: sum up these runs' JSON files as the table "
                        "expected/grade-selftest.tsv holds (with --markdown, as GUIDE.md "
                        "shows it)")
    p.add_argument("--markdown", action="store_true", help="with --summary: a Markdown table")
    return p


class Entry:
    def __init__(self, lab, path):
        self.lab, self.path, self.name = lab, path, path.stem
        first = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
        m = HEAD.match(first)
        if not m:
            raise Failure(f"{scenario.shown(path)}: the first line must be /* WRONG: ... */ "
                          "or /* RIGHT: ... */")
        self.right = m.group(1) == "RIGHT"
        self.unseen_on = {a.strip() for a in (m.group(2) or "").split(",") if a.strip()}
        self.says = m.group(3)
        if self.right and self.unseen_on:
            raise Failure(f"{scenario.shown(path)}: only a WRONG entry can be unseen on "
                          "a machine")
        if self.name.startswith("wrong-") == self.right or \
                not self.name.startswith(("wrong-", "right-")):
            raise Failure(f"{scenario.shown(path)}: a {m.group(1)} entry's name must start "
                          f"with {'right-' if self.right else 'wrong-'}")

    @property
    def expected(self):
        """'right', 'wrong', or 'unseen': a wrong fix no run on this kind of
        machine can show."""
        if self.right:
            return "right"
        return "unseen" if MACHINE in self.unseen_on else "wrong"


def catalogue(root, labs, only, quick):
    """The entries to grade, lab by lab."""
    base = root if root.is_absolute() else scenario.root() / root
    if not base.is_dir():
        raise Failure(f"no catalogue at {scenario.shown(base)}")
    found = {}
    for d in sorted(base.glob(f"lab-*/{MUTANTS}"), key=lambda d: d.parent.name):
        m = re.fullmatch(r"lab-(\d+)-.+", d.parent.name)
        if not m or not d.is_dir():
            continue
        lab = int(m.group(1))
        if labs and lab not in labs:
            continue
        entries = [Entry(lab, p) for p in sorted(d.glob("*.c"))]
        if only:
            entries = [e for e in entries if only in e.name]
        if quick:
            entries = [e for e in entries if e.expected == "wrong"][:1]
        if entries:
            found[lab] = entries
    for lab in labs or []:
        scenario.stress_lab_dir(lab)  # a service lab is not graded
        if lab not in found and not only:
            raise Failure(f"lab {lab} has no catalogue entries in "
                          f"{scenario.shown(base)}/lab-{lab}-*/{MUTANTS}/")
    if not found:
        raise Failure("no catalogue entry matches")
    return found


def grade(entry):
    """Grades one entry; returns its row for the matrix."""
    modules = workcopy.modules(entry.lab)
    if len(modules) != 1:
        raise Failure(f"lab {entry.lab} has {len(modules)} modules; an entry replaces one")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="racelab-selftest-") as tmp:
        work = Path(tmp) / "work"
        (work / f"lab-{entry.lab}").mkdir(parents=True)
        (work / f"lab-{entry.lab}" / f"{modules[0]}.c").write_bytes(entry.path.read_bytes())
        out = Path(tmp) / "grade.json"
        env = dict(os.environ, RACELAB_WORK=str(work))
        try:
            proc = subprocess.run(
                [sys.executable, str(scenario.root() / "scripts" / "grade.py"), str(entry.lab),
                 "--json", str(out)], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                text=True, timeout=GRADE_LIMIT_S)
            result = json.loads(out.read_text()) if out.is_file() else None
            log = proc.stdout + proc.stderr
        except subprocess.TimeoutExpired:
            result, log = None, f"the grading ran past {GRADE_LIMIT_S} s"
    row = {"lab": entry.lab, "entry": entry.name, "expected": entry.expected,
           "says": entry.says, "seconds": round(time.monotonic() - started, 1)}
    if result is None:
        row.update(passed=None, verdicts=None, reason=(log.strip().splitlines() or ["?"])[-1])
    else:
        verdicts = {v: result[v]["pass"] for v in ("honest", "safe", "fast")}
        failed = next((v for v in ("honest", "safe", "fast") if verdicts[v] is False), None)
        row.update(passed=result["passed"], verdicts=verdicts,
                   reason=result[failed]["reason"] if failed else None,
                   slower=bool(result["fast"].get("slower")),
                   fast_ratio=result["fast"].get("ratio"),
                   advice=len(result["safe"].get("advice") or []))
    # A right fix must be PASSED; a wrong one must not be (a grading that
    # could not run counts against the grader either way). An unseen one is
    # shown, not judged: no trial on this machine can tell it from a right fix.
    row["correct"] = row["passed"] is not None and (
        entry.expected == "unseen" or row["passed"] == entry.right)
    return row


def verdict_word(row):
    if row["passed"] is None:
        return "NOT GRADED"
    if row["passed"]:
        return "PASSED" + (" (slower)" if row.get("slower") else "")
    failed = [v.upper() for v in ("honest", "safe", "fast") if row["verdicts"][v] is False]
    return "not " + "/".join(failed)


def matrix(rows):
    """Per lab and in total: wrong fixes rejected, right fixes passed."""
    labs = sorted({r["lab"] for r in rows})
    out = []
    for lab in labs + [None]:
        mine = [r for r in rows if lab is None or r["lab"] == lab]
        wrong = [r for r in mine if r["expected"] == "wrong"]
        right = [r for r in mine if r["expected"] == "right"]
        out.append({"lab": lab, "wrong": len(wrong),
                    "wrong_rejected": sum(r["correct"] for r in wrong),
                    "right": len(right), "right_passed": sum(r["correct"] for r in right),
                    "unseen": sum(r["expected"] == "unseen" for r in mine),
                    "seconds": round(sum(r["seconds"] for r in mine), 1)})
    return out


SUMMARY_HEADER = ("lab", "wrong", "wrong_rejected_every_run", "right",
                  "right_passed_every_run", "runs", "trials", "misses", "miss_rate_low",
                  "miss_rate_high", "longest_s", "lowest_right_fast", "unseen")
# A trial is one grading of one entry; the miss rate's bounds are the 95%
# Wilson interval of misses / trials (stats.wilson).
COUNTS = ("wrong", "wrong_rejected_every_run", "right", "right_passed_every_run", "runs",
          "trials", "misses", "unseen")
# What each run was measured under, kept as '# run' lines after the table:
# when it finished, the load average when it started, the CPUs, and how
# long it took.
RUN_FIELDS = ("at", "load", "cpus", "elapsed_s")


def summary(paths):
    """The runs' JSON files summed up per lab (and 'total'): how many
    entries, how many were graded as they must be in every run, how many
    runs graded the lab, how many gradings (trials) and misses there were,
    with the miss rate's 95% interval, and the longest grading; and each
    run's conditions (RUN_FIELDS). A run may grade some labs only (--lab):
    a lab's runs are the runs that graded it."""
    runs, conditions = [], []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
            if data.get("schema") != SCHEMA:
                raise ValueError("not a self-test result")
            runs.append(data["entries"])
            conditions.append({k: data[k] for k in RUN_FIELDS})
        except (OSError, ValueError, KeyError) as e:
            raise Failure(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    rows = [r for run in runs for r in run]
    labs = sorted({r["lab"] for r in rows})
    out = []
    for lab in labs + ["total"]:
        mine = [r for r in rows if lab == "total" or r["lab"] == lab]
        graded = [run for run in runs if lab == "total" or any(r["lab"] == lab for r in run)]
        entries = {(r["lab"], r["entry"]): r["expected"] for r in mine}
        good = {k for k in entries
                if all(r["correct"] for r in mine if (r["lab"], r["entry"]) == k)}
        out.append({"lab": lab,
                    "wrong": sum(v == "wrong" for v in entries.values()),
                    "wrong_rejected_every_run": sum(entries[k] == "wrong" for k in good),
                    "right": sum(v == "right" for v in entries.values()),
                    "right_passed_every_run": sum(entries[k] == "right" for k in good),
                    "unseen": sum(v == "unseen" for v in entries.values()),
                    "runs": len(graded), "trials": len(mine),
                    "misses": sum(not r["correct"] for r in mine),
                    **dict(zip(("miss_rate_low", "miss_rate_high"),
                               (round(x, 4) for x in stats.wilson(
                                   sum(not r["correct"] for r in mine), len(mine))))),
                    "longest_s": max(r["seconds"] for r in mine),
                    # the slowest a right fix measured against the reference
                    # (FAST's ratio): what a lab's fast_floor must stay below
                    "lowest_right_fast": min((r["fast_ratio"] for r in mine
                                              if r["expected"] == "right"
                                              and r.get("fast_ratio") is not None),
                                             default="-")})
    return out, conditions


def read_summary(path):
    """expected/grade-selftest.tsv back as summary() makes it: (rows, runs)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise Failure(f"{path}: {e.strerror}") from None
    if not lines or tuple(lines[0].split("\t")) != SUMMARY_HEADER:
        raise Failure(f"{path}: not a self-test summary (its header is not "
                      f"{' '.join(SUMMARY_HEADER)})")
    out, runs = [], []
    try:
        for line in lines[1:]:
            cells = line.split("\t")
            if cells[0] == "# run":
                run = dict(zip(RUN_FIELDS, cells[1:]))
                runs.append({"at": run["at"], "load": float(run["load"]),
                             "cpus": int(run["cpus"]), "elapsed_s": float(run["elapsed_s"])})
                continue
            row = dict(zip(SUMMARY_HEADER, cells))
            for k in COUNTS:
                row[k] = int(row[k])
            for k in ("miss_rate_low", "miss_rate_high"):
                row[k] = float(row[k])
            row["lab"] = row["lab"] if row["lab"] == "total" else int(row["lab"])
            row["longest_s"] = float(row["longest_s"])
            if row["lowest_right_fast"] != "-":
                row["lowest_right_fast"] = float(row["lowest_right_fast"])
            out.append(row)
    except (KeyError, ValueError) as e:
        raise Failure(f"{path}: a malformed line ({e})") from None
    return out, runs


def render(rows, runs, markdown=False):
    if not markdown:
        return "\n".join(["\t".join(SUMMARY_HEADER)] + [
            "\t".join(str(r[k]) for k in SUMMARY_HEADER) for r in rows] + [
            "\t".join(["# run"] + [str(c[k]) for k in RUN_FIELDS]) for c in runs]) + "\n"
    lines = ["| lab | wrong fixes rejected in every run | right fixes passed in every run "
             "| runs | gradings | misses (95% interval of the rate) | longest grading "
             "| slowest right fix (FAST) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['lab']} | {r['wrong_rejected_every_run']} of {r['wrong']} | "
                     f"{r['right_passed_every_run']} of {r['right']} | {r['runs']} | "
                     f"{r['trials']} | {r['misses']} ({r['miss_rate_low']:.3f} to "
                     f"{r['miss_rate_high']:.3f}) | {float(r['longest_s']):.0f} s | "
                     + (f"{r['lowest_right_fast']:.2f} |" if r["lowest_right_fast"] != "-"
                        else "- |"))
    total = next((r for r in rows if r["lab"] == "total"), None)
    if total:
        lines.append("")
        lines.append(
            ("Every wrong fix was rejected and every right fix passed, in every run"
             if total["misses"] == 0 else
             f"{total['misses']} of {total['trials']} gradings went the wrong way")
            + f" ({len(runs)} run{'s' if len(runs) != 1 else ''}: "
            + "; ".join(f"{c['elapsed_s'] / 60:.0f} min to {c['at'][:16].replace('T', ' ')} "
                        f"UTC, load {c['load']:.1f} on {c['cpus']} CPUs at the start"
                        for c in runs)
            + ").")
        unseen = [r for r in rows if r["lab"] != "total" and r["unseen"]]
        if unseen:
            lines.append("")
            lines.append(
                "Left out of these counts: "
                + ", ".join(f"{r['unseen']} wrong fix{'es' if r['unseen'] > 1 else ''} of "
                            f"lab {r['lab']}" for r in unseen)
                + " that no run on this kind of machine can show (the entry's first "
                  "line says why); each is graded and its verdict shown, and on another "
                  "machine it must be rejected.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parser().parse_args(argv)
    if args.summary:
        rows, runs = summary(args.summary)
        sys.stdout.write(render(rows, runs, args.markdown))
        return 0
    found = catalogue(Path(args.catalogue), args.lab, args.only, args.quick)
    n = sum(len(v) for v in found.values())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    say(f"== grading's self-test: {n} entr{'y' if n == 1 else 'ies'} of "
        f"{args.catalogue}/lab-N-*/{MUTANTS}/, each graded as make grade-N grades a copy (load {load:.1f} on "
        f"{os.cpu_count()} CPUs)")
    started, rows = time.monotonic(), []
    for lab, entries in found.items():
        for e in entries:
            row = grade(e)
            rows.append(row)
            mark = ("ok  " if row["correct"] else "MISS") if e.expected != "unseen" else "--  "
            say(f"  {mark} lab {lab} {e.name:<34} {e.expected} -> "
                f"{verdict_word(row):<18} {row['seconds']:>6.1f} s"
                + (f"  FAST {row['fast_ratio']:.2f}" if row.get("fast_ratio") else "")
                + (f"  {row['reason']}" if row["reason"] and not row["correct"] else ""))
    m = matrix(rows)
    elapsed = time.monotonic() - started
    say("")
    say(f"  {'lab':<6} {'wrong fixes rejected':>21} {'right fixes passed':>19} {'seconds':>8}")
    for c in m:
        say(f"  {'total' if c['lab'] is None else c['lab']:<6} "
            f"{str(c['wrong_rejected']) + ' of ' + str(c['wrong']):>21} "
            f"{str(c['right_passed']) + ' of ' + str(c['right']):>19} {c['seconds']:>8.0f}")
    total = m[-1]
    ok = total["wrong_rejected"] == total["wrong"] and total["right_passed"] == total["right"]
    if total["unseen"]:
        say(f"   ({total['unseen']} wrong fix{'es' if total['unseen'] > 1 else ''} unseen on "
            f"{MACHINE}: graded and shown, not judged)")
    say(f"== {'every' if ok else 'NOT every'} wrong fix rejected and right fix passed, "
        f"in {elapsed:.0f} s")
    path = Path(args.json)
    path = path if path.is_absolute() else Path.cwd() / path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        records.write_atomically(path, (json.dumps(
            {"schema": SCHEMA, "entries": rows, "matrix": m, "elapsed_s": round(elapsed, 1),
             "load": round(load, 1), "cpus": os.cpu_count(),
             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1)
            + "\n").encode("utf-8"))
    except OSError as e:
        raise Failure(f"cannot write {scenario.shown(path)}: {e.strerror}") from None
    say(f"   (JSON: {scenario.shown(path)})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
