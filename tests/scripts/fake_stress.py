#!/usr/bin/env python3
"""A stand-in for racelab-stress in the runner tests.

Behaves as FAKE_MODE says: clean, manifested, crash (dies of SIGSEGV),
hang (sleeps past every limit, ignoring the time limit it is given),
watchdog (the driver's own watchdog: prints outcome hang, exit 3),
usage (exit 2, one line), resources (exit 4: could not start its
threads), tsan (prints the captured TSan report from
FAKE_REPORT on stderr, exit 66), late (clean for the first FAKE_CLEAN
runs, counted in the file FAKE_COUNTER, manifested after), seeded
(manifested unless the seed is a multiple of 4, when FAKE_BROKEN is set:
a test's broken build sets it; clean without). It echoes the
seed it was given, so the tests can check the runner's seed rule, and
FAKE_STUDENT_OPS sets the student build's throughput for grading's FAST.
With FAKE_LOG set, each run appends a line to that file: the program's
path and the RACELAB_CHAOS_EVERY it was given ('-': none).
"""

import json
import os
import signal
import sys
import time

args = sys.argv[1:]
seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
mode = os.environ.get("FAKE_MODE", "clean")
if "FAKE_LOG" in os.environ:
    with open(os.environ["FAKE_LOG"], "a") as f:
        f.write(f"{sys.argv[0]}\t{os.environ.get('RACELAB_CHAOS_EVERY', '-')}\n")
result = {"lab": 1, "threads": 2, "pinning": "spread", "cpus": [0, 1], "seed": seed,
          "outcome": "clean", "manifested": False, "invariants": {"lost": 0},
          "ops_done": 1000, "elapsed_s": 0.001}
# Throughput for grading's FAST: the student build (student-N in its path)
# does FAKE_STUDENT_OPS operations in the millisecond the reference does 1000.
if "/student-" in sys.argv[0]:
    result["ops_done"] = int(os.environ.get("FAKE_STUDENT_OPS", "1000"))

if mode == "usage":
    print("racelab-stress: threads must be a whole number", file=sys.stderr)
    sys.exit(2)
if mode == "resources":
    print("racelab-stress: cannot create thread 2 of 2", file=sys.stderr)
    sys.exit(4)
if mode == "crash":
    os.kill(os.getpid(), signal.SIGSEGV)
if mode == "hang":
    time.sleep(600)
if mode == "watchdog":
    result.update(outcome="hang", manifested=True, invariants=None)
    print(json.dumps(result))
    sys.exit(3)
if mode == "late":
    counter = os.environ["FAKE_COUNTER"]
    runs = int(open(counter).read() or 0) if os.path.exists(counter) else 0
    with open(counter, "w") as f:
        f.write(str(runs + 1))
    mode = "manifested" if runs >= int(os.environ["FAKE_CLEAN"]) else "clean"
if mode == "seeded":  # a broken build's outcome a function of its seed alone
    mode = "manifested" if seed % 4 and os.environ.get("FAKE_BROKEN") else "clean"
if mode == "manifested":
    result.update(outcome="manifested", manifested=True, invariants={"lost": 3})
print(json.dumps(result))
if mode == "tsan":
    with open(os.environ["FAKE_REPORT"]) as f:
        sys.stderr.write(f.read())
    sys.exit(66)
sys.exit(1 if result["manifested"] else 0)
