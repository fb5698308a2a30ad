#!/usr/bin/env python3
"""explore.py: every interleaving of a lab's smallest workload, counted.

The workload is the lab's gdb walkthrough's (its schedule's `args`: two
threads, one to three operations each, one round), run in the sched
flavour, where racelab's scheduler runs one thread at a time and decides
at every race point and synchronisation call which thread goes on. The
search is CHESS's: depth first over `--sched prefix:TRACE` runs (follow
the prefix, then never preempt), branching at every scheduling point to
each other enabled thread, as long as the interleaving preempts a thread
that could have gone on at most --preemptions times (default 2; most
concurrency bugs need two or fewer). Each run is one interleaving; the
search stops at --max-runs runs or --time-limit seconds and says so.

It prints how many interleavings it explored, how many broke which
invariant, and the shortest that broke one, the two threads' steps side
by side with the trace to replay it (make replay LAB=N TRACE=...). The
fixed build's: none break. --write explores every lab, both builds, and
writes the counts to expected/explore.tsv (GUIDE.md quotes it; its
`trials` column counts the interleavings, `broken` those that broke);
--check explores again and compares with that table (a script test runs
it).
"""

import sys
import time
from collections import Counter

from racelab import cli, records, scenario, sched, tsv
from racelab.cli import Failure, say

PROG = "explore.py"
PREEMPTIONS = 2
MAX_RUNS = 3000
TIME_LIMIT_S = 300
TABLE = "explore.tsv"
# A trial is one interleaving; `broken` counts the trials that broke an
# invariant, so a row states its rate as every expected table does.
HEADER = ("lab", "build", "preemptions", "trials", "complete", "broken",
          "by_invariant", "shortest_steps", "shortest_trace", "workload")
OLD_HEADER = HEADER[:3] + ("interleavings",) + HEADER[4:]


def parser():
    p = cli.script_parser(PROG, __doc__, "0 done (with --check: the table agrees), 1 with "
                          "--check when a count differs, or with --expect-none when an "
                          "interleaving of the fixed build broke; 2 bad arguments.")
    p.add_argument("--lab", type=cli.positive_int, action="append", metavar="N",
                   help="a lab (repeatable; default with --write or --check: every lab)")
    p.add_argument("--build", choices=("broken", "fixed", "both"), default="both",
                   help="which build to explore (default: both)")
    p.add_argument("--preemptions", type=cli.non_negative_int, default=PREEMPTIONS,
                   metavar="K", help=f"at most K preemptions an interleaving "
                                     f"(default {PREEMPTIONS})")
    p.add_argument("--max-runs", type=cli.positive_int, default=MAX_RUNS, metavar="N",
                   help=f"stop after N interleavings (default {MAX_RUNS})")
    p.add_argument("--time-limit", type=cli.positive_int, default=TIME_LIMIT_S, metavar="S",
                   help=f"stop after S seconds of one lab's build (default {TIME_LIMIT_S})")
    p.add_argument("--ops", type=cli.positive_int, metavar="N",
                   help="operations per thread, instead of the walkthrough's")
    p.add_argument("--write", action="store_true",
                   help=f"write the counts to expected/{TABLE}")
    p.add_argument("--check", action="store_true",
                   help=f"compare the counts with expected/{TABLE}")
    p.add_argument("--expect-none", action="store_true",
                   help="exit 1 when an interleaving of the fixed build breaks")
    return p


class Search:
    """The depth-first search of one lab's build: every run's trace and
    what it broke."""

    def __init__(self, lab, build, args, seed, bound, max_runs, time_limit):
        self.lab, self.build, self.args, self.seed = lab, build, args, seed
        self.bound, self.max_runs, self.time_limit = bound, max_runs, time_limit
        self.runs = []          # (trace, steps, broken invariants, record)
        self.cut = None         # why the search stopped early, or None
        self.unlogged = 0       # runs that ended with no scheduling log
        self.elapsed = 0.0

    def one(self, prefix):
        run = sched.run(self.lab, self.build, f"prefix:{prefix}", self.seed, self.args,
                        profile=None)
        if run.record is None or sched.schedule_of(run.record) is None:
            last = (run.stderr.strip().splitlines() or [f"exit {run.code}"])[-1]
            raise Failure(f"lab {self.lab} {self.build}, prefix '{prefix}': no trial record "
                          f"with its schedule ({last.removeprefix('racelab-stress: ')})")
        return run

    def branches(self, steps, start):
        """The prefixes that branch off this run at steps from `start`
        on, within the preemption bound."""
        out, used = [], 0
        letters = "".join(s.ran for s in steps)
        for i, s in enumerate(steps):
            if i >= start:
                for alt in s.enabled:
                    if alt == s.ran or (s.point in ("yield", "spin") and alt == s.by):
                        continue  # the run itself; spinning on without progress
                    cost = used + sched.preempts(s._replace(ran=alt))
                    if cost <= self.bound:
                        out.append(sched.trace_of(steps[:i + 1], letters[:i] + alt))
            used += sched.preempts(s)
        return out

    def explore(self):
        started = time.monotonic()
        stack = [("", 0)]
        while stack:
            if len(self.runs) >= self.max_runs:
                self.cut = f"--max-runs {self.max_runs}"
                break
            if time.monotonic() - started > self.time_limit:
                self.cut = f"--time-limit {self.time_limit} s"
                break
            prefix, start = stack.pop()
            run = self.one(prefix)
            trace = sched.schedule_of(run.record)["trace"]
            bad = sched.broken_invariants(run.record) if run.record.get("manifested") else []
            self.runs.append((trace, run.steps, bad, run.record))
            if not run.steps:
                # The driver ended (a deadlock, a hang) before writing its
                # log: the run counts, but nothing branches off it.
                self.unlogged += 1
                continue
            # deepest branches last on the stack: explored first
            stack += [(p, len(sched.flat(p))) for p in self.branches(run.steps, start)]
        self.pending = len(stack)
        self.elapsed = time.monotonic() - started
        return self

    def broken(self):
        return [r for r in self.runs if r[2]]

    def by_invariant(self):
        counts = Counter(name for r in self.broken() for name in r[2])
        return ",".join(f"{k}={v}" for k, v in sorted(counts.items())) or "-"

    def shortest(self):
        bad = self.broken()
        return (min(bad, key=lambda r: (len(sched.flat(r[0])), sched.flat(r[0])))
                if bad else None)

    def complete(self):
        return not self.cut and not self.unlogged

    def row(self):
        short = self.shortest()
        return {"lab": self.lab, "build": self.build, "preemptions": self.bound,
                "trials": len(self.runs), "complete": "yes" if self.complete() else "no",
                "broken": len(self.broken()), "by_invariant": self.by_invariant(),
                "shortest_steps": len(sched.flat(short[0])) if short else "-",
                "shortest_trace": short[0] if short else "-",
                "workload": " ".join(self.args + ["--seed", str(self.seed)])}


def show(search, quiet=False):
    lab, build = search.lab, search.build
    say(f"lab {lab} {build}: {len(search.runs)} interleavings with at most "
        f"{search.bound} preemption{'s' if search.bound != 1 else ''} "
        f"({search.elapsed:.1f} s)")
    if search.cut:
        say(f"   the search was cut by {search.cut}: {search.pending} branches left "
            f"unexplored, so these counts are a lower bound")
    if search.unlogged:
        say(f"   {search.unlogged} run{'s' if search.unlogged > 1 else ''} ended with no "
            f"scheduling log (the driver stopped at a deadlock or a hang before writing "
            f"it): nothing after {'their' if search.unlogged > 1 else 'its'} prefix was "
            f"explored, so these counts are a lower bound")
    bad = search.broken()
    if not bad:
        say("   none broke an invariant")
        return
    counts = Counter(name for r in bad for name in r[2])
    say(f"   {len(bad)} of {len(search.runs)} broke an invariant: "
        + ", ".join(f"{name} in {n}" for name, n in counts.most_common()))
    trace, steps, _, record = search.shortest()
    say(f"   the shortest ({len(sched.flat(trace))} steps): {sched.symptom(record)}")
    say(f"   replay it: make replay LAB={lab} SMALL=1 TRACE={trace}"
        + ("" if build == "broken" else " BUILD=fixed"))
    if quiet or not steps:
        return
    say("")
    for line in sched.side_by_side(steps):
        say("     " + line)
    say("")


def table_path():
    return scenario.root() / "expected" / TABLE


def read_table(path=None):
    """{(lab, build): row} of expected/explore.tsv."""
    table = {}
    old = {OLD_HEADER: "an old table (its column 'interleavings' is now 'trials'): rename it "
                       "or write it again (explore.py --write)"}
    for where, fields in tsv.rows(path or table_path(), HEADER, old):
        if len(fields) != len(HEADER):
            raise Failure(f"{where}: {len(HEADER)} fields expected")
        row = dict(zip(HEADER, fields))
        table[(int(row["lab"]), row["build"])] = row
    return table


def write_table(rows):
    lines = ["\t".join(HEADER)] + ["\t".join(str(r[h]) for h in HEADER) for r in rows]
    path = table_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    records.write_atomically(path, ("\n".join(lines) + "\n").encode("utf-8"))
    say(f"wrote {scenario.shown(path)} ({len(rows)} rows)")


def compare(rows, table):
    """Lines naming each count that differs from the table's."""
    out = []
    for row in rows:
        want = table.get((row["lab"], row["build"]))
        if want is None:
            out.append(f"lab {row['lab']} {row['build']}: no row in expected/{TABLE}")
            continue
        for key in HEADER[2:]:
            if str(row[key]) != want[key]:
                out.append(f"lab {row['lab']} {row['build']}: {key} is {row[key]}, "
                           f"expected/{TABLE} says {want[key]}")
    return out


def main(argv=None):
    args = parser().parse_args(argv)
    if args.write and args.check:
        raise Failure("--write and --check exclude each other")
    if args.write and (args.lab or args.build != "both" or args.ops):
        raise Failure("--write explores every lab, both builds, with their own workloads")
    labs = args.lab or (sorted(scenario.known_labs()) if args.write or args.check else None)
    if not labs:
        raise Failure("name a lab: --lab N (or --write, --check for every lab)")
    builds = ("broken", "fixed") if args.build == "both" else (args.build,)
    for lab in labs:
        scenario.stress_lab_dir(lab)
        for build in builds:
            sched.require_binary(build, lab)
    rows, fixed_broke = [], False
    for lab in labs:
        wargs, seed = sched.small_workload(lab, args.ops)
        say(f"racelab explore: lab {lab}, workload {' '.join(wargs)} --seed {seed}")
        for build in builds:
            search = Search(lab, build, wargs, seed, args.preemptions, args.max_runs,
                            args.time_limit).explore()
            show(search, quiet=args.write or args.check)
            rows.append(search.row())
            fixed_broke |= build == "fixed" and bool(search.broken())
    if args.write:
        write_table(rows)
    if args.check:
        diffs = compare(rows, read_table())
        for line in diffs:
            print(f"{PROG}: {line}", file=sys.stderr)
        if diffs:
            return 1
        say(f"every count agrees with expected/{TABLE}")
    if args.expect_none and fixed_broke:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
