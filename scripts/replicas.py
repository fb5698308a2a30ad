#!/usr/bin/env python3
"""replicas.py: lab 11, two racelab-service processes sharing one PostgreSQL
ledger: the double charge that moves from memory into the database.

  demo      what `make lab-11` runs: the broken build under load (keys
            charged twice), the same interleaving forced, what
            ThreadSanitizer says of it (nothing), then the fixed build
  force     the forced interleaving alone (--build): a table lock stops
            both requests at their INSERT, after the broken build's check
  measure   trials per cell, cells from --build, --tool and --connections;
            --write-expected DIR writes the lab's table there for review
  check     measures every row of labs/lab-11-replicas/expected.tsv with
            a few trials (--trials) and fails a row out of its band
  cluster   the war story on 2 replicas (make war-story-cluster): the fixed
            service under load, then the ledger against every answer

Each command starts its own PostgreSQL server in a temporary directory
(scripts/racelab/pgserver.py) and stops it at the end. A trial: a fresh
payments table, 2 replicas of one build, racelab-loadgen against each at
once with --connections connections and --keys requests, the same
idempotency keys in the same order; its symptom is a key charged twice.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from racelab import cli, pgserver, replicas, scenario, stats
from racelab.cli import Failure, say

PROG = "replicas.py"
COLUMNS, TOOLS = replicas.COLUMNS, replicas.TOOLS
DEFAULT_KEYS = 100
DEFAULT_CONNECTIONS = (1, 8, 32)


def success(build, tool, t):
    """A trial's metric: a key charged twice (any build, the release one),
    or a ThreadSanitizer report (the tsan-clang one)."""
    return t["tsan_reports"] > 0 if tool == "tsan-clang" else t["doubled"] > 0


def metric(build, tool):
    if tool == "tsan-clang":
        return "detection" if build == "broken" else "false-positive"
    return "symptom" if build == "broken" else "violation"


def run_cell(pg, build, tool, connections, keys, trials, first_index=0):
    """trials trials of one cell, a line each; the trial dicts."""
    out = []
    for i in range(trials):
        t = replicas.trial(pg, build, connections, keys, first_index + i,
                           flavour=TOOLS[tool])
        out.append(t)
        say(f"   trial {i + 1:>3}: {t['doubled']:>3} of {t['keys']} keys charged twice, "
            f"{t['extra_cents'] / 100:.2f} charged twice in all; {t['answered_200']} of "
            f"{t['requests']} answered 200; ThreadSanitizer reports: {t['tsan_reports']}")
    return out


def summary(build, tool, connections, keys, results):
    hits = sum(success(build, tool, t) for t in results)
    fractions = [t["doubled"] / t["keys"] for t in results if t["keys"]]
    spread = (f"{min(fractions):.0%} to {max(fractions):.0%} of keys charged twice a trial, "
              f"mean {sum(fractions) / len(fractions):.0%}") if fractions else "no keys"
    return hits, spread


def note_for(build, tool, spread, trials, load):
    when = time.strftime("%Y-%m-%d")
    if tool == "tsan-clang":
        why = ("no data race: each replica's threads never share an unguarded byte; the race "
               "is between processes, in the ledger")
    elif build == "broken":
        why = "check (SELECT) then act (INSERT) in two replicas"
    else:
        why = "a unique index on the key: one INSERT of two wins"
    return (f"{why}; {spread}; measured {when} (replicas.py measure, {trials} trials), "
            f"load average {load} (1, 5 and 15 minutes) at the cell's start")


def measure(args):
    rows = []
    with pgserver.Server(fast=True) as pg:
        for tool in args.tool:
            for build in args.build:
                for c in args.connections:
                    cli.heading(f"lab {replicas.LAB} {build} {tool} "
                                f"{replicas.config_name(c, args.keys)}: {args.trials} trials")
                    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                    results = run_cell(pg, build, tool, c, args.keys, args.trials)
                    hits, spread = summary(build, tool, c, args.keys, results)
                    low, high = stats.round_outward(*stats.wilson(hits, args.trials))
                    if build == "fixed" or tool == "tsan-clang":
                        low = high = 0.0  # one is a bug, whatever an interval says
                    say(f"   {metric(build, tool)}: {hits} of {args.trials}; {spread}")
                    rows.append((str(replicas.LAB), build, tool, replicas.config_name(c, args.keys),
                                 metric(build, tool), f"{low:.2f}", f"{high:.2f}", str(hits),
                                 str(args.trials), note_for(build, tool, spread, args.trials,
                                                            load)))
    if args.write_expected:
        out = Path(args.write_expected) / "lab-11-replicas" / "expected.tsv"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join("\t".join(r) for r in [COLUMNS, *rows]) + "\n",
                       encoding="utf-8")
        say(f"\nwrote {scenario.shown(out)}: review it, then copy it to "
            f"{scenario.shown(replicas.table_path())}")
    return 0


def check(args):
    rows = replicas.read_table(args.table)
    failed = 0
    with pgserver.Server(fast=True) as pg:
        for row in rows:
            build, tool = row["build"], row["tool"]
            trials = args.trials if tool == "replicas" else max(1, args.trials // 3)
            cli.heading(f"lab {replicas.LAB} {build} {tool} {row['config']}: {trials} trials")
            results = run_cell(pg, build, tool, row["connections"], row["keys"], trials)
            hits, spread = summary(build, tool, row["connections"], row["keys"], results)
            bad = stats.out_of_band(hits, trials, row["band"])
            if bad and build == "broken" and row["band"] != (0.0, 0.0) and args.rerun:
                say(f"rerun: lab {replicas.LAB} {build} {tool} was {hits}/{trials}, "
                    f"{args.rerun} more trials")
                results += run_cell(pg, build, tool, row["connections"], row["keys"],
                                    args.rerun, first_index=trials)
                hits, spread = summary(build, tool, row["connections"], row["keys"], results)
                trials += args.rerun
                bad = stats.out_of_band(hits, trials, row["band"])
            failed += bad
            band = f"{row['band'][0]:.2f}-{row['band'][1]:.2f}"
            say(f"{'FAIL' if bad else 'ok  '} lab {replicas.LAB} {build:6} {tool:10} "
                f"{row['config']}: {hits}/{trials}, band {band} ({spread})")
    say(f"== lab {replicas.LAB}'s rates: {len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


def show_force(pg, build):
    out = replicas.force(pg, build)
    for i, (status, body) in enumerate(out["answers"], 1):
        say(f"   replica {i}: {status} payment_id {body.get('payment_id', '-')} "
            f"cached {str(body.get('cached', '-')).lower()}")
    say(f"   the ledger: {out['charges']} charge(s) under the one key")
    return out


def force(args):
    with pgserver.Server(fast=True) as pg:
        cli.heading(f"lab {replicas.LAB} {args.build}: both requests held at their INSERT, "
                    "then let go")
        show_force(pg, args.build)
    return 0


def demo(args):
    say(f"Lab {replicas.LAB}: two racelab-service replicas share one PostgreSQL ledger.")
    say("Every request is sent to both, with the same Idempotency-Key, as a retry through")
    say("a load balancer would be. Inside each replica the flow's claim keeps two threads")
    say("off one key (lab 3's fix); between the replicas only the database can decide.")
    keys, conns = args.keys, 8
    with pgserver.Server(fast=True) as pg:
        cli.heading(f"the broken build (broken/pgledger.c: SELECT, then INSERT): 2 replicas, "
                    f"{conns} connections each, {keys} keys")
        broken = run_cell(pg, "broken", "replicas", conns, keys, 1)[0]
        say(f"   {broken['doubled']} of {broken['keys']} keys were charged twice: "
            f"{broken['extra_cents'] / 100:.2f} in all taken a second time from customers "
            "who paid once.")
        cli.heading("the same interleaving, forced: a table lock holds both at their INSERT")
        show_force(pg, "broken")
        say("   Both replicas checked, found no payment, and waited at the INSERT;")
        say("   both then inserted: one key, two payments, two charges.")
        cli.heading("what ThreadSanitizer sees (the tsan-clang build of both replicas)")
        # A run without a key charged twice would show nothing either way:
        # run until one has one (a few at most; the table's row says how often).
        for _ in range(5):
            tsan = run_cell(pg, "broken", "tsan-clang", conns, keys, 1)[0]
            if tsan["doubled"]:
                break
        say(f"   In that run, {tsan['doubled']} of {tsan['keys']} keys were charged twice, and "
            f"ThreadSanitizer reported {tsan['tsan_reports']} races:")
        say("   each process is race-free. The race is between processes, in the ledger,")
        say("   where no detector of one process's memory (ThreadSanitizer, Helgrind) looks.")
        cli.heading("the fixed build (fixed/pgledger.c: a unique index, INSERT ... ON "
                    "CONFLICT DO NOTHING)")
        fixed = run_cell(pg, "fixed", "replicas", conns, keys, 1)[0]
        say(f"   {fixed['doubled']} of {fixed['keys']} keys charged twice.")
        show_force(pg, "fixed")
        say("   The second INSERT found the key taken; its replica waited for the first")
        say("   payment and answered with it (cached true): one charge.")
    cli.heading("the measured rates (labs/lab-11-replicas/expected.tsv)")
    for row in replicas.read_table():
        say(f"   {row['build']:6} {row['tool']:10} {row['config']}: {row['metric']} "
            f"{row['successes']} of {row['trials']} trials")
    say("\nRead labs/lab-11-replicas/README.md: the story, the fix, and why a lock cannot be it.")
    return 0


def cluster(args):
    conns, secs = args.connections, args.duration
    with pgserver.Server() as pg:
        cli.heading(f"the {args.build} service as 2 replicas on one PostgreSQL ledger: "
                    f"{conns} connections each for {secs:g} s, the story's users (one key "
                    "a user, every payment retried)")
        out = replicas.cluster(pg, args.build, conns, secs)
    for i, r in enumerate(out["results"], 1):
        lat = r["latency_ms"]
        say(f"   replica {i}: {r['requests']} requests, {r['successes']} answered 200 "
            f"({r['cached']} of them replays), {r['errors']} errors; "
            f"{r['throughput_rps']:.0f}/s, latency p50 {lat['p50']:.1f} ms, "
            f"p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms")
    say(f"   the ledger: {out['charges']} charges under {out['keys']} keys; "
        f"{out['doubled']} keys charged more than once")
    say(f"   payment ids answered 200 but not in the ledger: {len(out['unbooked'])}; "
        f"in the ledger but never answered: {len(out['unanswered'])}")
    good = out["doubled"] == 0 and not out["unbooked"] and not out["unanswered"]
    say("== exactly once: every key charged once, every charge answered, every answer booked"
        if good else "== NOT exactly once (see above)")
    return 0 if good or args.build == "broken" else 1


def parse(argv):
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n", 1)[0],
                   epilog=__doc__.split("\n\n", 1)[1],
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=cli.Parser)
    d = sub.add_parser("demo", help="what make lab-11 runs")
    d.add_argument("--keys", type=cli.positive_int, default=DEFAULT_KEYS,
                   help=f"requests a replica (default {DEFAULT_KEYS})")
    f = sub.add_parser("force", help="the forced interleaving")
    f.add_argument("--build", choices=("broken", "fixed"), default="broken")
    m = sub.add_parser("measure", help="trials per cell")
    m.add_argument("--trials", type=cli.positive_int, default=30)
    m.add_argument("--build", choices=("broken", "fixed"), action="append")
    m.add_argument("--tool", choices=tuple(TOOLS), action="append")
    m.add_argument("--connections", type=cli.positive_int, action="append",
                   help=f"connections a replica (repeatable; default "
                        f"{', '.join(map(str, DEFAULT_CONNECTIONS))})")
    m.add_argument("--keys", type=cli.positive_int, default=DEFAULT_KEYS,
                   help=f"requests a replica a trial (default {DEFAULT_KEYS})")
    m.add_argument("--write-expected", metavar="DIR")
    c = sub.add_parser("check", help="every row of the lab's table, a few trials each")
    c.add_argument("--trials", type=cli.positive_int, default=6,
                   help="trials a row (a third of them under ThreadSanitizer; default 6)")
    c.add_argument("--rerun", type=cli.non_negative_int, default=12,
                   help="trials added to a broken row out of its band (default 12)")
    c.add_argument("--table", help="the table to check (default the lab's)")
    w = sub.add_parser("cluster", help="the war story on 2 replicas (make war-story-cluster)")
    w.add_argument("--build", choices=("broken", "fixed"), default="fixed")
    w.add_argument("--connections", type=cli.positive_int, default=100,
                   help="connections a replica (default 100)")
    w.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    args = p.parse_args(argv)
    if args.command == "measure":
        args.build = args.build or ["broken", "fixed"]
        args.tool = args.tool or ["replicas"]
        args.connections = args.connections or list(DEFAULT_CONNECTIONS)
    return args


def main(argv=None):
    args = parse(argv)
    commands = {"demo": demo, "force": force, "measure": measure, "check": check,
                "cluster": cluster}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
