#!/usr/bin/env python3
"""grade_batch.py: grade a folder of submissions, one CSV of grades and a summary.

DIR holds one folder per student (its name is the student's), each what
the student submitted: their work/lab-N/<module>.c, the module file alone,
or a whole working copy. Each is graded as the Gradescope autograder
grades one (autograder.py run: the same refusals, the same results.json),
in a folder of its own made for it: a fresh copy of this tree (without
its working copies, results and student builds), the submission, the
results. So one submission cannot reach another's files or builds, and
the copy is thrown away after (--keep leaves it).

Nothing one submission does holds up or corrupts the others: its grading
runs in its own process group, is stopped at --time-limit seconds, and is
stopped when its log passes --output-cap bytes (the log keeps the first
ones); either way its row says so and scores 0. -j N grades N at once.

--shard I/N grades the I-th share of the submissions (sorted by name,
student k of them, from 0, to shard k mod N + 1), for a Slurm job array
or a CI job matrix; --merge OUT then joins OUT/*/grades.csv, checking
that every shard is there once. Writes OUT/grades.csv (one row a
submission) and OUT/summary.txt (pass rates per lab, the most common
failing reasons, the throughput).
"""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from racelab import cli, gradeformats, scenario
from racelab.cli import Failure, say

PROG = "grade_batch.py"
TIME_LIMIT_S = 900  # grading takes 20 s to 2 min a lab on 2 CPUs
OUTPUT_CAP = 1 << 20
COLUMNS = ("student", "lab", "status", "score", "max_score", "honest", "safe", "fast",
           "reason", "seconds", "shard")
# What a per-submission copy of the tree leaves out: the students' copies,
# results, git's store, and of build/ all but what grading reuses
# (BUILD_PARTS: what make grading-build made, and the trial launcher).
LEFT_OUT = {".git", "work", "results", "build"}
BUILD_PARTS = ("gen", "bin", "release/fixed", "*/obj")
TOP_REASONS = 5


def parser():
    p = cli.script_parser(PROG, __doc__, "0 every submission graded (whatever its grade), "
                          "1 some could not be (time limit, output cap, a grader that "
                          "failed), 2 bad arguments.")
    p.add_argument("submissions", nargs="?", metavar="DIR",
                   help="one folder per student (not with --merge)")
    p.add_argument("--out", metavar="OUT",
                   help="where grades.csv, summary.txt and each submission's log go "
                        "(default: results/batch-<time>)")
    p.add_argument("--lab", type=cli.positive_int, metavar="N",
                   help="the lab every submission is for (default: told by each "
                        "submission's file names, as the autograder does)")
    p.add_argument("-j", "--jobs", type=cli.positive_int, default=1, metavar="N",
                   help="submissions graded at once (default: 1; each grading runs "
                        "2 threads)")
    p.add_argument("--time-limit", type=cli.positive_int, default=TIME_LIMIT_S, metavar="S",
                   help=f"seconds before a submission's grading is stopped "
                        f"(default: {TIME_LIMIT_S})")
    p.add_argument("--output-cap", type=cli.positive_int, default=OUTPUT_CAP, metavar="BYTES",
                   help=f"log bytes before a submission's grading is stopped "
                        f"(default: {OUTPUT_CAP})")
    p.add_argument("--shard", type=cli.shard, metavar="I/N",
                   help="grade only the I-th of N shares of the submissions")
    p.add_argument("--merge", action="store_true",
                   help="join OUT/*/grades.csv (the shards') into OUT/grades.csv and "
                        "OUT/summary.txt; grades nothing")
    p.add_argument("--keep", action="store_true",
                   help="keep each submission's folder (OUT/<student>/: the tree's "
                        "copy, the submission, results.json)")
    return p


def students(folder):
    """The submissions: the folders in DIR, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise Failure(f"no folder {folder}: want one folder per student")
    out = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not out:
        raise Failure(f"{folder} has no submission: want one folder per student")
    return out


def share(subs, shard):
    """The submissions of shard (I, N): student k (from 0) goes to k mod N + 1."""
    if shard is None:
        return subs
    index, count = shard
    if count > len(subs):
        raise Failure(f"--shard {index}/{count}: only {len(subs)} submissions to share; "
                      f"use at most {len(subs)} shards")
    return [s for k, s in enumerate(subs) if k % count + 1 == index]


def copy_tree(source, dest):
    """This tree without what LEFT_OUT names, and the BUILD_PARTS of its
    build/, times kept (so make rebuilds nothing of them). Links are kept
    as links."""
    shutil.copytree(source, dest, symlinks=True,
                    ignore=lambda folder, names: [n for n in names if n in LEFT_OUT]
                    if Path(folder) == Path(source) else [])
    for pattern in BUILD_PARTS:
        for part in sorted((Path(source) / "build").glob(pattern)):
            rel = part.relative_to(source)
            if part.is_dir():
                shutil.copytree(part, Path(dest) / rel, symlinks=True)


def capped_run(argv, env, cwd, log_path, limit_s, cap):
    """Runs argv in its own process group, its output (stdout and stderr)
    into log_path up to `cap` bytes. Returns None, or why it was stopped:
    'time limit' or 'output cap'."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        stopped = []

        def stop(why):
            if not stopped:
                stopped.append(why)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # already gone

        def drain():
            written = 0
            try:
                for chunk in iter(lambda: proc.stdout.read1(65536), b""):
                    if written < cap:
                        log.write(chunk[:cap - written])
                    written += len(chunk)
                    if written > cap:
                        stop("output cap")
            except (OSError, ValueError):
                pass  # the log or the pipe closed under a reader given up on
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            stop("time limit")
            proc.wait()
        # The reader ends when every holder of the pipe has gone; a trial
        # left in a session of its own has its own time limit.
        reader.join(timeout=30)
        proc.stdout.close()
        return stopped[0] if stopped else None


def verdict_word(test):
    if test is None:
        return "-"
    first = (test.get("output") or "").splitlines()[:1]
    if test["status"] != "passed" and first and first[0].startswith("not run"):
        return "-"
    return "pass" if test["status"] == "passed" else "FAIL"


def row_of(results, student, stopped, args, seconds):
    """The CSV row of one submission, from its results.json (or why there
    is none)."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(student=student, lab=args.lab or "", seconds=f"{seconds:.1f}",
               honest="-", safe="-", fast="-", score=0,
               shard="/".join(map(str, args.shard)) if args.shard else "")
    limits = {"time limit": f"stopped after {args.time_limit} s (time limit)",
              "output cap": f"stopped: its output passed {args.output_cap} bytes (output cap)"}
    if stopped:
        row.update(status=stopped, reason=limits[stopped])
        return row
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
        score = data["score"]
    except (OSError, ValueError, KeyError, TypeError):
        row.update(status="error", reason="the grader wrote no results.json (see its log)")
        return row
    tests = {t["name"].rsplit(" ", 1)[-1].lower(): t for t in data.get("tests", [])}
    lab = next((int(t["name"].split()[1]) for t in data.get("tests", [])), args.lab)
    graded = bool(data.get("extra_data", {}).get("racelab"))
    row.update(lab=lab or "", score=score,
               max_score=sum(t["max_score"] for t in data.get("tests", [])),
               status="graded" if graded else "not graded")
    if graded:
        row.update({v: verdict_word(tests.get(v)) for v in gradeformats.VERDICTS})
        failed = [tests[v] for v in gradeformats.VERDICTS if row[v] == "FAIL"]
        row["reason"] = (failed[0]["output"].splitlines() or [""])[0] if failed else ""
    else:
        row["reason"] = (data.get("output") or "").splitlines()[0].removeprefix("Not graded: ")
    return row


def grade_one(sub, out, args, source):
    """Grades one submission in its own folder; returns its CSV row."""
    started = time.monotonic()
    root = out / sub.name
    shutil.rmtree(root, ignore_errors=True)
    (root / "results").mkdir(parents=True)
    copy_tree(source, root / "source")
    shutil.copytree(sub, root / "submission", symlinks=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("RACELAB_ROOT", "RACELAB_WORK", "RACELAB_BUILD_DIR", "RACELAB_LAB",
                        "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    if args.lab:
        env["RACELAB_LAB"] = str(args.lab)
    argv = [sys.executable, str(root / "source" / "scripts" / "autograder.py"), "run",
            "--root", str(root)]
    stopped = capped_run(argv, env, root, out / f"{sub.name}.log", args.time_limit,
                         args.output_cap)
    row = row_of(root / "results" / "results.json", sub.name, stopped, args,
                 time.monotonic() - started)
    if (root / "results" / "results.json").is_file():
        shutil.copyfile(root / "results" / "results.json", out / f"{sub.name}.results.json")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return row


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def read_csv(path):
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise Failure(f"cannot read {path}: {e.strerror or e}") from None
    if rows and set(rows[0]) != set(COLUMNS):
        raise Failure(f"{path}: not grade_batch.py's grades.csv (its columns differ)")
    return rows


def common_reason(text):
    """A reason with its numbers as N, so the same failure counts once."""
    return re.sub(r"\d+(\.\d+)?", "N", text)


def summary(rows, seconds=None, jobs=None):
    """summary.txt: pass rates per lab, the most common failing reasons and
    (when given) the throughput."""
    by_lab = defaultdict(list)
    for r in rows:
        by_lab[r["lab"] or "?"].append(r)
    lines = [f"# Batch grading: {len(rows)} submissions", "",
             "| lab | submissions | graded | HONEST | SAFE | FAST | all three |",
             "|---|---|---|---|---|---|---|"]
    for lab in sorted(by_lab, key=lambda x: (not str(x).isdigit(), int(x) if str(x).isdigit()
                                             else 0, str(x))):
        rs = by_lab[lab]
        n = len(rs)
        rate = [sum(r[v] == "pass" for r in rs) for v in gradeformats.VERDICTS]
        every = sum(all(r[v] == "pass" for v in gradeformats.VERDICTS) for r in rs)
        graded = sum(r["status"] == "graded" for r in rs)
        lines.append(f"| {lab} | {n} | {graded} | " + " | ".join(f"{k}/{n}" for k in rate)
                     + f" | {every}/{n} ({100 * every / n:.0f}%) |")
    reasons = Counter(common_reason(r["reason"]) for r in rows if r["reason"])
    lines += ["", "Most common failing reasons (numbers shown as N):", ""]
    lines += [f"- {k} x {why}" for why, k in reasons.most_common(TOP_REASONS)] or ["- none"]
    statuses = Counter(r["status"] for r in rows)
    lines += ["", "Status: " + ", ".join(f"{k} {s}" for s, k in sorted(statuses.items()))]
    if seconds:
        lines.append(f"Throughput: {len(rows)} submissions in {seconds:.0f} s, "
                     f"{60 * len(rows) / seconds:.1f} a minute with -j{jobs}")
    return "\n".join(lines) + "\n"


def merge(out):
    """--merge: OUT/*/grades.csv joined, every shard once."""
    out = Path(out)
    parts = sorted(out.glob("*/grades.csv"))
    if not parts:
        raise Failure(f"no {out}/*/grades.csv to merge")
    rows, seen, counts = [], {}, set()
    for part in parts:
        part_rows = read_csv(part)
        shard = {r["shard"] for r in part_rows}
        if len(shard) != 1 or not re.fullmatch(r"\d+/\d+", next(iter(shard))):
            raise Failure(f"{part}: not one shard's grades (its shard column: "
                          f"{', '.join(sorted(shard)) or 'empty'})")
        index, count = map(int, next(iter(shard)).split("/"))
        if index in seen:
            raise Failure(f"shard {index}/{count} twice: {seen[index]} and {part}")
        seen[index] = part
        counts.add(count)
        rows += part_rows
    if len(counts) > 1:
        raise Failure(f"shards of different counts ({', '.join(map(str, sorted(counts)))})")
    missing = [i for i in range(1, counts.pop() + 1) if i not in seen]
    if missing:
        raise Failure(f"shard {', '.join(map(str, missing))} missing from {out}")
    rows.sort(key=lambda r: r["student"])
    write_csv(out / "grades.csv", rows)
    (out / "summary.txt").write_text(summary(rows), encoding="utf-8")
    say(f"{scenario.shown(out / 'grades.csv')}: {len(rows)} submissions from {len(seen)} shards")
    say(summary(rows))
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    if args.merge:
        if args.submissions or not args.out:
            raise Failure("--merge takes --out OUT alone (it joins OUT/*/grades.csv)")
        return merge(args.out)
    if not args.submissions:
        raise Failure("give DIR, the folder of submissions (one folder per student)")
    if args.lab:
        scenario.stress_lab_dir(args.lab)  # Failure for an unknown or a service lab
    subs = share(students(args.submissions), args.shard)
    source = scenario.root()
    out = Path(args.out or source / "results" /
               time.strftime("batch-%Y%m%dT%H%M%SZ", time.gmtime())).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise Failure(f"{scenario.shown(out)} exists and is not an empty folder")
    if Path(args.submissions).resolve() in (out, *out.parents):
        raise Failure("--out must not be inside the submissions' folder")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"grading {len(subs)} submissions, {args.jobs} at once, into {scenario.shown(out)}")

    def one(sub):
        row = grade_one(sub, out, args, source)
        say(f"  {row['student']}: lab {row['lab'] or '?'} {row['status']}, {row['score']} of "
            f"{row['max_score'] or '?'} ({row['seconds']} s)"
            + (f": {row['reason']}" if row["reason"] else ""))
        return row
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, subs))
    spent = time.monotonic() - started
    write_csv(out / "grades.csv", rows)
    text = summary(rows, spent, args.jobs)
    (out / "summary.txt").write_text(text, encoding="utf-8")
    say(text)
    say(f"grades: {scenario.shown(out / 'grades.csv')}")
    return 1 if any(r["status"] in ("time limit", "output cap", "error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
