#!/usr/bin/env python3
"""replay.py: run a failing trial's interleaving again, in the sched flavour.

In the sched flavour racelab's scheduler runs a trial's threads one at a
time and chooses, at every race point and synchronisation call, which one
goes on; its choices (the trace) follow from the trial's seed and
strategy alone, so a trial runs the same on one CPU or on many. This
re-runs one trial and prints its symptom, the step at which the invariant
was found broken and the last switch at a race point before it (the
window the scheduler cut), the threads' steps side by side, and how often
the replays agreed. Which trial:

  --record FILE [--trial K]   a trial record of the sched tool (results/...
                              /N-broken-sched-*.jsonl); K defaults to the
                              first that went wrong: its own trace replayed
  --lab N --seed S            the seed (and --strategy, default the lab's
                              sched_strategy) chooses the interleaving again
  --lab N --trace TRACE       a trace given by hand, replayed with --seed
                              S (default 1)
  --small                     with --lab: the workload explore.py runs (the
                              lab's walkthrough's), not the sched profile's:
                              explore's traces replay with it

--gdb-schedule FILE writes the interleaving as a walkthrough schedule
(GUIDE.md, "Writing a schedule") that `make gdb-lab-N SCHEDULE=FILE` and
`make demo-lab-N SCHEDULE=FILE` follow in gdb: each stretch of one thread
that ends at a race point is a `step X to POINT` line.
"""

import shlex
import sys
import time
from pathlib import Path

from racelab import cli, records, scenario, sched
from racelab.cli import Failure, say

PROG = "replay.py"
# The driver's own options a sched trial's workload is made of; the other
# scenario keys of the sched profile go by --set.
GENERIC = {"threads": "--threads", "ops": "--ops", "rounds": "--rounds"}
NOT_SET = ("pinning", "time_limit_s", "sched_strategy", "duration_ms")
# A schedule with more steps than this is slow to step through in gdb.
LONG_SCHEDULE = 40
# How much of a long run is printed without --all.
TRACE_SHOWN = 100
ROWS_SHOWN = 16
TAIL_ROWS = 4


def parser():
    p = cli.script_parser(PROG, __doc__, "0 every replay gave the same trace, steps and "
                          "symptom; 1 they differed (or the trial no longer goes wrong, "
                          "with --expect-symptom); 2 bad arguments.")
    p.add_argument("--record", metavar="FILE", help="a sched trial's records file (.jsonl)")
    p.add_argument("--trial", type=cli.positive_int, metavar="K",
                   help="with --record: its trial K (default: the first that went wrong)")
    p.add_argument("--lab", type=cli.positive_int, metavar="N", help="the lab")
    p.add_argument("--build", choices=("broken", "fixed"), default="broken",
                   help="with --lab: which build (default: broken)")
    p.add_argument("--seed", type=cli.positive_int, metavar="S", help="the trial's seed")
    p.add_argument("--strategy", type=sched.check_strategy, metavar="STRATEGY",
                   help="with --seed: random or pct:D (default: the lab's sched_strategy)")
    p.add_argument("--trace", metavar="TRACE",
                   help="with --lab: replay this trace (A3B2A: one letter a step, counts "
                        "for repeats, / between rounds)")
    p.add_argument("--small", action="store_true",
                   help="with --lab: explore.py's workload (the walkthrough's args and "
                        "seed) instead of the sched profile's")
    p.add_argument("--set", action="append", default=[], type=cli.key_value,
                   metavar="KEY=VALUE", dest="sets",
                   help="with --lab: a scenario key of the workload (repeatable)")
    p.add_argument("--repeat", type=cli.positive_int, default=1, metavar="K",
                   help="replay K times and compare (default 1)")
    p.add_argument("--gdb-schedule", metavar="FILE",
                   help="write the interleaving as a gdb walkthrough schedule")
    p.add_argument("--all", action="store_true",
                   help=f"print the whole trace and every row of the steps (default: "
                        f"{TRACE_SHOWN} letters of the trace, the first {ROWS_SHOWN} rows and "
                        f"the last {TAIL_ROWS})")
    p.add_argument("--expect-symptom", action="store_true",
                   help="exit 1 unless the trial goes wrong")
    return p


def workload_args(scen, sets=()):
    """The driver options of the sched profile's workload, explicit (so a
    build without the profile, gdb's, runs the same work): its threads,
    ops and rounds, and its other keys by --set, then `sets`."""
    out, seen = [], set()
    for key, value in scen.values.items():
        if not key.startswith("sched."):
            continue
        name = key[len("sched."):]
        if name in GENERIC:
            out += [GENERIC[name], value]
        elif name not in NOT_SET:
            out += ["--set", f"{name}={value}"]
            seen.add(name)
    for kv in sets:
        out += ["--set", kv]
    return out


def sets_of_config(config, scen):
    """The --set KEY=VALUE parts of a records config name
    ('spread-accounts=1-invalid=1' -> ['accounts=1', 'invalid=1'])."""
    return [part for part in config.split("-") if "=" in part]


def from_record(path, trial):
    """(lab, build, seed, strategy, args, what) of a recorded sched trial."""
    recs = list(records.read(path))
    if not recs:
        raise Failure(f"{scenario.shown(path)} holds no record")
    if trial:
        found = next((r for r in recs if r["trial"] == trial), None)
        if found is None:
            raise Failure(f"{scenario.shown(path)} has no trial {trial} "
                          f"(it has 1 to {len(recs)})")
    else:
        found = next((r for r in recs if r["manifested"]), None)
        if found is None:
            raise Failure(f"no trial in {scenario.shown(path)} went wrong: name one with "
                          f"--trial K")
    plan = sched.schedule_of(found)
    if found["tool"] != "sched" or not plan:
        raise Failure(f"{scenario.shown(path)} trial {found['trial']} ran under "
                      f"{found['tool']}, not in the sched flavour: it has no trace to replay")
    if isinstance(found["lab"], str) or found["build"] == "student":
        raise Failure(f"{scenario.shown(path)}: only a lab's broken or fixed build replays here")
    scen = scenario.load(found["lab"])
    args = workload_args(scen, sets_of_config(found["config"], scen))
    program = found["program"] or {}
    for key, option in GENERIC.items():
        if key in program:
            args += [option, str(program[key])]
    what = f"{scenario.shown(path)} trial {found['trial']}"
    return (found["lab"], found["build"], found["seed"], f"replay:{plan['trace']}", args, what,
            plan["strategy"], sched.TOOL.profile)


def choose(args):
    """(lab, build, seed, strategy, driver args, what, original strategy,
    scenario profile)."""
    if args.record:
        if args.lab or args.seed or args.trace or args.strategy or args.sets or args.small:
            raise Failure("--record names the trial: --lab, --seed, --strategy, --trace, "
                          "--set and --small go without it")
        return from_record(args.record, args.trial)
    if args.trial:
        raise Failure("--trial goes with --record")
    if not args.lab:
        raise Failure("name a trial: --record FILE, --lab N --seed S, or --lab N --trace TRACE")
    scenario.stress_lab_dir(args.lab)
    scen = scenario.load(args.lab)
    profile, seed = sched.TOOL.profile, args.seed
    if args.small:
        wargs, small_seed = sched.small_workload(args.lab)
        wargs += [a for kv in args.sets for a in ("--set", kv)]
        profile, seed = None, seed or small_seed
    else:
        wargs = workload_args(scen, args.sets)
    if args.trace:
        if args.strategy:
            raise Failure("--trace is replayed as it is: --strategy goes with --seed")
        try:
            sched.decode(args.trace)
        except ValueError as e:
            raise Failure(f"--trace: {e}") from None
        return (args.lab, args.build, seed or 1, f"replay:{args.trace}", wargs,
                "the trace given", "replay", profile)
    if not seed:
        raise Failure("--lab needs --seed S (or --trace TRACE)")
    strategy = args.strategy or scen.get("sched_strategy", "sched") or "random"
    return (args.lab, args.build, seed, strategy, wargs, f"seed {seed}", strategy, profile)


def fingerprint(run):
    """What must be the same in every replay: exit, trace, steps, outcome,
    symptom and invariant counters."""
    rec = run.record or {}
    plan = sched.schedule_of(rec) or {}
    return (run.code, plan.get("trace"), plan.get("steps"), rec.get("outcome"),
            rec.get("first_violation"), tuple(sorted((rec.get("invariants") or {}).items())))


def shorten(lines, everything):
    """side_by_side's lines, the middle rows left out of a long run."""
    head, rows = lines[:2], lines[2:]
    if everything or len(rows) <= ROWS_SHOWN + TAIL_ROWS:
        return lines
    left = len(rows) - ROWS_SHOWN - TAIL_ROWS
    return head + rows[:ROWS_SHOWN] + [f"  ... {left} rows more (--all prints them)"] + \
        rows[-TAIL_ROWS:]


def window_cuts(steps, scen):
    """The steps at which a thread was stopped at one of the lab's race
    points (its scenario's race_points; any race point when none is
    reached) while it could have gone on, and another ran: the windows
    the scheduler cut, in order."""
    cuts = [s for s in steps if sched.preempts(s) and sched.is_race_point(s.point)]
    declared = set((scen.get("race_points") or "").split())
    return [s for s in cuts if s.point in declared] or cuts


def main(argv=None):
    args = parser().parse_args(argv)
    lab, build, seed, strategy, wargs, what, original, profile = choose(args)
    started = time.monotonic()
    runs = [sched.run(lab, build, strategy, seed, wargs, profile=profile)
            for _ in range(args.repeat)]
    first = runs[0]
    if first.code == 2 or first.record is None:
        last = (first.stderr.strip().splitlines() or ["no message"])[-1]
        raise Failure(f"the driver refused the replay: {last.removeprefix('racelab-stress: ')}")
    rec, plan = first.record, sched.schedule_of(first.record) or {}
    say(f"racelab replay: lab {lab} {build}, {what}"
        + ("" if what.startswith("seed") else f", seed {seed}") + f", strategy {original}")
    trace = plan.get("trace") or ""
    if len(trace) > TRACE_SHOWN and not args.all:
        trace = f"{trace[:TRACE_SHOWN]}... ({len(trace)} characters; --all prints it)"
    say(f"trace: {trace} ({plan.get('steps')} steps)")
    went_wrong = bool(rec.get("manifested"))
    say(f"outcome: {rec.get('outcome')} (exit {first.code})"
        + (f": {sched.symptom(rec)}" if went_wrong else ""))
    if went_wrong and first.steps:
        end = first.steps[-1]
        say(f"the invariant was found broken after step {end.step} (round {end.round}), "
            f"the round's last; the check runs when the round's threads are done")
        cuts = window_cuts(first.steps, scenario.load(lab))
        if cuts:
            say(f"the window{'s' if len(cuts) > 1 else ''} cut at the lab's race points: "
                + "; ".join(f"step {c.step}, {c.by} stopped at {c.point} and {c.ran} ran"
                            for c in cuts[:3])
                + (f" (and {len(cuts) - 3} more)" if len(cuts) > 3 else ""))
    if first.steps:
        say("")
        for line in shorten(sched.side_by_side(first.steps), args.all):
            say("  " + line)
        say("")
    same = sum(fingerprint(r) == fingerprint(first) for r in runs)
    say(f"replayed {args.repeat} time{'s' if args.repeat > 1 else ''}: {same} of "
        f"{args.repeat} gave the same trace, steps and symptom "
        f"({time.monotonic() - started:.1f} s)")
    if args.gdb_schedule:
        write_schedule(Path(args.gdb_schedule), lab, build, seed, wargs, first)
    if same != args.repeat:
        return 1
    if args.expect_symptom and not went_wrong:
        return 1
    return 0


def gdb_steps(steps, workers):
    """The `step X to POINT` lines of a run: each stretch of one thread
    that ends at a race point or at its end; a stretch that ends at a
    call (a lock, a yield) runs on into the thread's next one, since gdb
    stops only at race points. Threads beyond the workers (started by a
    worker) cannot be stepped by letter: left to run."""
    out = []
    for i, s in enumerate(steps):
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        if nxt is None or nxt.ran == s.ran:
            continue
        # s.ran ran until nxt: it stopped at nxt.point (by == s.ran)
        point = nxt.point if nxt.by == s.ran else None
        if s.ran not in workers or point is None:
            continue
        if sched.is_race_point(point):
            out.append(f"step {s.ran} to {point}")
        elif point == "exit":
            out.append(f"step {s.ran} to end")
    return out


def write_schedule(path, lab, build, seed, wargs, run):
    rec, plan = run.record, sched.schedule_of(run.record)
    threads = int(rec.get("threads") or scenario.load(lab).number("threads", "sched", int))
    workers = "ABCDEFGH"[:threads]
    lines = [f"# Written by racelab replay: lab {lab} {build}, seed {seed}, this trace:",
             f"#   {plan['trace']}",
             "# Each stretch of a thread that ended at a race point is one step; gdb",
             "# stops only at race points, so a stretch that ended at a lock or a",
             "# yield runs on into the next one.",
             f"title Lab {lab}: a replayed interleaving (seed {seed})",
             "args  " + " ".join(shlex.quote(a) for a in
                                 ["--lab", str(lab), "--seed", str(seed), *wargs,
                                  *([] if "--pin" in wargs else ["--pin", "none"])]),
             "limit 60", "",
             f"say The interleaving racelab's scheduler chose for seed {seed}, replayed "
             f"step by step."]
    lines += gdb_steps(run.steps, workers)
    lines += ["finish"]
    if rec.get("manifested"):
        lines += [f"say.broken In the sched flavour this interleaving ended: "
                  f"{sched.symptom(rec)}"]
    try:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as e:
        raise Failure(f"cannot write {scenario.shown(path)}: {e.strerror or e}") from None
    say(f"wrote {scenario.shown(path)}: make gdb-lab-{lab} SCHEDULE={scenario.shown(path)} "
        f"steps through it, make demo-lab-{lab} SCHEDULE=... runs it on both builds")
    steps = sum(line.startswith("step ") for line in lines)
    if steps > LONG_SCHEDULE:
        say(f"({steps} steps: gdb takes about a second a step. For a walkthrough, replay a "
            f"small trial: make explore-lab-{lab} prints its shortest failing one, then "
            f"make replay LAB={lab} SMALL=1 TRACE=... WRITE_SCHEDULE=FILE)")


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
