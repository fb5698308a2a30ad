#!/usr/bin/env python3
"""A stand-in for the sched flavour of racelab-stress in the script tests.

It runs a toy lost update the way the sched flavour runs a lab: worker
threads A, B, ... (--threads, default 2) each do --ops increments of one
shared counter, and the scheduler chooses at every scheduling point which
thread goes on, by --sched random (from --seed), prefix:TRACE or
replay:TRACE. An increment of the broken build reads the counter, stops
at the race point toy.add.window, then writes what it read plus one; the
fixed build's increment is one step after the race point. A thread ends
at the point `exit`. It writes --sched-log and the record's schedule as
the real driver does (/tmp/sched-contract.md's format), and exits 1 when
the counter is short (invariant lost), 0 otherwise, 2 on a diverging
replay. FAKE_SCHED_LOG, when set, gets one line per run: its --sched.
"""

import json
import os
import random
import re
import sys

args = sys.argv[1:]


def opt(name, default=None):
    return args[len(args) - 1 - args[::-1].index(name) + 1] if name in args else default


threads = int(opt("--threads", "2"))
ops = int(opt("--ops", "1"))
seed = int(opt("--seed", "1"))
strategy = opt("--sched", "random")
log_path = opt("--sched-log")
broken = "/fixed/" not in sys.argv[0]
if os.environ.get("FAKE_SCHED_LOG"):
    with open(os.environ["FAKE_SCHED_LOG"], "a") as f:
        f.write(strategy + "\n")

kind, _, trace = strategy.partition(":")
if trace.startswith("@"):
    trace = re.sub(r"\s", "", open(trace[1:]).read())
wanted = "".join(m.group(1) * int(m.group(2) or 1)
                 for m in re.finditer(r"([A-Za-z])(\d*)", trace.replace("/", "")))
rng = random.Random(seed)
letters = "ABCDEFGH"[:threads]
# each thread: a list of (point it reaches, what it does when it goes on from there)
pc = {t: 0 for t in letters}
local = {t: 0 for t in letters}
counter = 0
log, chosen = [], []
by, point = "-", "start"


def enabled():
    return [t for t in letters if pc[t] <= 2 * ops]


def run(t):
    """Runs thread t from where it is to its next scheduling point."""
    global counter
    i = pc[t]
    pc[t] += 1
    if i == 2 * ops:
        return "exit"  # it ran on from its last point and ended
    if i % 2 == 0:  # start of an increment
        if broken:
            local[t] = counter
        return "toy.add.window"
    if broken:
        counter = local[t] + 1
    else:
        counter += 1
    return "mutex_unlock" if not broken else "toy.add.done"


step = 0
while enabled():
    en = enabled()
    if step < len(wanted) and kind in ("replay", "prefix"):
        pick = wanted[step]
        if pick not in en:
            print(f"racelab-stress: replay diverged at step {step} (round 1): trace says "
                  f"{pick}, enabled {''.join(en)}", file=sys.stderr)
            sys.exit(2)
    elif kind == "replay":
        print(f"racelab-stress: replay diverged at step {step} (round 1): trace ended",
              file=sys.stderr)
        sys.exit(2)
    elif kind == "prefix":
        pick = by if by in en else en[0]
    else:
        pick = rng.choice(en)
    log.append(f"{step}\t1\t{pick}\t{''.join(en)}\t{by}\t{point}")
    chosen.append(pick)
    point, by = run(pick), pick
    if point == "exit":
        pc[pick] = 2 * ops + 1
    step += 1

if log_path:
    with open(log_path, "a") as f:
        f.write(f"# racelab sched-log trial=1 seed={seed} strategy={kind}\n")
        f.write("\n".join(log) + "\n")
encoded = "".join(m.group(1) + (str(len(m.group(0))) if len(m.group(0)) > 1 else "")
                  for m in re.finditer(r"([A-Za-z])\1*", "".join(chosen)))
lost = threads * ops - counter
result = {"lab": 1, "threads": threads, "pinning": "none", "cpus": [0, 1], "seed": seed,
          "ops": ops, "rounds": 1, "outcome": "manifested" if lost else "clean",
          "manifested": bool(lost), "invariants": {"lost": lost},
          "first_violation": f"round 1: the counter is {counter}, not {threads * ops}"
          if lost else None,
          "schedule": {"strategy": kind if kind in ("replay", "prefix") else strategy,
                       "steps": len(chosen), "trace": encoded}}
print(json.dumps(result))
sys.exit(1 if lost else 0)
