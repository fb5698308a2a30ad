"""FAST: the student's build against the reference fix, side by side.

Both release builds run the lab's workload at 2 threads pinned `spread`,
alternately (student, reference, then reference, student, ...), each run
one trial of the stress driver with the same seed for both builds of a
pair. Throughput is the driver's own count of operations over its own
elapsed time (ops_done / elapsed_s of its JSON record). The verdict
compares the medians, so one run slowed by a noisy neighbour does not
decide it:

    ratio = median(student ops/s) / median(reference ops/s) >= FAST_MIN

Below FAST_MIN a fix fails FAST only when it serialises more than the
lab's lesson allows. A lab whose lesson is the cost of serialising (lab 3:
no lock across the gateway call, a fix that does it measured about 0.5)
names FAST_MIN as its `fast_floor` in scenario.conf. Every other lab's
lesson is correctness, and a textbook-correct design that is slower than
the reference (a mutex where it uses atomics, a lock per user with a
larger working set) passes between the floor and FAST_MIN, the reason
saying it is correct and slower: FAST_FLOOR by default, or the lab's own
`fast_floor` (lab 2's reader-writer lock needs a lower one). A single
bar of 0.75 failed right fixes: lab 9's mutex per user measured 0.73 in
two gradings and 1.5 to 1.7 in the others, with the same seeds, when a
neighbour's memory traffic slowed its larger working set more than the
reference's; lab 2's reader-writer lock measured 0.35 to 0.76.

FAST_MIN is the same for every lab, 0.75: the reference against itself
measured 0.83 to 1.09 here (medians of 7 pairs, a busy 2-core machine),
and the fixes that serialise what the reference does in parallel measured
about 0.5 (lab 3, a lock held across the gateway call). A fix that is as
fast as the reference or faster, because the workload leaves the
reference's design nothing to gain (lab 1's one mutex against its
reader-writer lock), passes, and the handout says why. When a build falls
short while the runs (its own or the reference's) vary by more than NOISY
(a busy machine), and always before a build fails, 7 more pairs are
measured and all of them decide: a neighbour that stalled the student's
runs of one grading once failed a right fix of lab 9 at 0.74, a design
that measured 1.5 to 1.7 in every other grading. A lab's `fast.*` keys (a
driver profile like `tsan.*`) change the workload for FAST only: lab 3 gives every thread its own users
(`fast.share = 1`), since with two threads paying for the same user the
reference waits as much as a fix that serialises everything.
"""

import statistics

from . import scenario, tools, trial

PAIRS = 7
THREADS = 2
FAST_MIN = 0.75
FAST_FLOOR = 0.5  # a lab whose lesson is not the cost of serialising
NOISY = 1.5  # the reference's fastest run over its slowest


def workload(scen):
    """What FAST runs for a lab, from its scenario.conf."""
    sets = {k[len("fast."):]: v for k, v in scen.values.items() if k.startswith("fast.")}
    floor = float(scen.get("fast_floor") or FAST_FLOOR)
    return {"fast_min": FAST_MIN, "fast_floor": min(floor, FAST_MIN),
            "profile": "fast" if sets else None, "changes": sets,
            "threads": THREADS, "pinning": "spread", "pairs": PAIRS}


def explain(lab, w):
    changes = ", ".join(f"{k} = {v}" for k, v in sorted(w["changes"].items()))
    return [f"FAST for lab {lab}: {w['pairs']} runs of your build and {w['pairs']} of the "
            f"reference, alternating, {w['threads']} threads pinned {w['pinning']}, the "
            f"scenario's workload{' with ' + changes if changes else ''}; passes when the "
            f"median ops/s is at least {w['fast_min']} of the reference's"
            + (f" (at least {w['fast_floor']} for a correct design the lab's lesson accepts "
               "as slower: scenario.conf's fast_floor)" if w["fast_floor"] < w["fast_min"]
               else "")]


def run_once(exe, scen, w, seed):
    """(ops per second, None) or (None, why) for one run of one build."""
    argv = [str(exe), "--scenario", str(scen.path), "--threads", str(w["threads"]),
            "--pin", w["pinning"], "--trials", "1", "--quiet", "--seed", str(seed)]
    if w["profile"]:
        argv += ["--profile", w["profile"]]
    # FAST measures speed, not hangs (SAFE did that): a run slowed down by a
    # busy machine must finish, so its limit is generous.
    limit = max(10 * scen.number("time_limit_s", w["profile"], int), 30)
    argv += ["--time-limit", str(limit)]
    ran = trial.execute(argv, limit * 1.2 + 5, scenario.root())
    code = ran.code
    program = trial.program_result(ran.out.decode("utf-8", "replace"))
    if ran.start_error:
        return None, ran.start_error
    if ran.timed_out or code == trial.DRIVER_HANG_EXIT:
        return None, "it hung"
    if code is not None and code < 0:
        return None, f"it was killed by {trial.signal_name(-code)}"
    if code != 0 or not program:
        first = (program or {}).get("first_violation")
        return None, f"it broke an invariant{': ' + first if first else ''} (exit {code})"
    if not program.get("elapsed_s") or not program.get("ops_done"):
        return None, "its record has no ops_done or elapsed_s"
    return program["ops_done"] / program["elapsed_s"], None


def ops(x):
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.1f} k"


HINT = ("Your fix is correct but makes the threads wait for each other more than they must. "
        "Look for a lock held across slow work (a call that waits, like the gateway's), one "
        "lock where the threads touch different data, or readers that exclude each other "
        "when they could share. Hold a lock only around the shared state itself.")


def measure(scen, lab, w, say):
    """The FAST verdict (a dict for the JSON)."""
    mine = tools.binary(tools.TOOLS["stress"], "student", lab)
    ref = tools.binary(tools.TOOLS["stress"], "fixed", lab)
    student, reference = [], []
    seed0 = 1000 + lab
    failed = run_pairs(scen, w, mine, ref, student, reference, seed0, 0)
    if failed:
        return failed
    s, r = statistics.median(student), statistics.median(reference)
    spread = max(max(x) / min(x) for x in (student, reference))
    if s / r < w["fast_floor"] or (s / r < w["fast_min"] and spread > NOISY):
        say(f"  FAST  {s / r:.2f} of the reference, " + (
            f"and the runs varied {spread:.1f}x (a busy machine)" if spread > NOISY else
            "below what passes") + f": {w['pairs']} more pairs before it counts")
        failed = run_pairs(scen, w, mine, ref, student, reference, seed0, w["pairs"])
        if failed:
            return failed
        s, r = statistics.median(student), statistics.median(reference)
    ratio = s / r
    ok = ratio >= w["fast_floor"]
    slower = ok and ratio < w["fast_min"]
    n = len(student)
    say(f"  FAST  {n} runs each, alternating: yours {ops(s)} ops/s, reference "
        f"{ops(r)} ops/s (medians): {ratio:.2f}")
    need = (f"at least {w['fast_min']} is as fast" + (
        f", and at least {w['fast_floor']} passes as a correct design this lab accepts"
        if w["fast_floor"] < w["fast_min"] else " and is needed"))
    return {"pass": ok, "slower": slower,
            "reason": f"at {w['threads']} threads your build does {ratio:.2f} of the reference "
                      f"fix's operations per second ({ops(s)} against {ops(r)}, medians of "
                      f"{n} alternating runs); {need}"
                      + ("; yours is correct and slower: the lab's lesson is correctness, and "
                         "the handout says which design is faster and why" if slower else ""),
            "hint": None if ok else HINT,
            "ratio": round(ratio, 3), "fast_min": w["fast_min"], "fast_floor": w["fast_floor"],
            "student_ops_per_s": [round(x) for x in student],
            "reference_ops_per_s": [round(x) for x in reference],
            "workload": {k: w[k] for k in ("threads", "pinning", "changes")}}


def run_pairs(scen, w, mine, ref, student, reference, seed0, first):
    """Runs w["pairs"] alternating pairs into the two lists; returns None,
    or the verdict when a run failed."""
    for i in range(first, first + w["pairs"]):
        order = ((mine, student), (ref, reference)) if i % 2 == 0 else \
            ((ref, reference), (mine, student))
        for exe, into in order:
            # A run that fails is run again (twice at most) before it counts:
            # lab 7's deadline invariant breaks when a busy machine stalls a
            # thread for 100 ms, with no race at all.
            for _attempt in range(3):
                rate, why = run_once(exe, scen, w, seed0 + i)
                if rate is not None:
                    break
            if rate is None:
                if exe == ref:
                    return {"pass": None, "reason": f"the reference build failed: {why}",
                            "hint": "Not your fix: run make, then grade again."}
                return {"pass": False, "reason": f"a FAST run of your build failed 3 times "
                                                 f"in a row: {why}; SAFE's trials missed it, "
                                                 "so it is rarer there (or the machine is "
                                                 "very busy: grade again when it is not)",
                        "hint": "Run make grade again with --explain, and read SAFE's hints."}
            into.append(rate)
    return None
