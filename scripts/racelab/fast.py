"""FAST: the student's build against the reference fix, side by side.

Both release builds run the lab's workload at 2 threads pinned `spread`,
alternately (student, reference, then reference, student, ...), each run
one trial of the stress driver with the same seed for both builds of a
pair. Throughput is the driver's own count of operations over its own
elapsed time (ops_done / elapsed_s of its JSON record). The verdict
compares the medians, so one run slowed by a noisy neighbour does not
decide it:

    ratio = median(student ops/s) / median(reference ops/s) >= fast_min

`fast_min` is the lab's, in its scenario.conf, with the measured ratios it
was chosen from. A lab's `fast.*` keys (a driver profile like `tsan.*`)
change the workload for FAST only: lab 3 gives every thread its own users
(`fast.share = 1`), since with two threads paying for the same user the
reference waits as much as a fix that serialises everything.
"""

import statistics

from . import scenario, tools, trial

PAIRS = 7
THREADS = 2


def workload(scen):
    """What FAST runs for a lab, from its scenario.conf."""
    fmin = scen.get("fast_min")
    sets = {k[len("fast."):]: v for k, v in scen.values.items() if k.startswith("fast.")}
    try:
        fmin = float(fmin) if fmin else None
    except ValueError:
        fmin = None
    return {"fast_min": fmin, "profile": "fast" if sets else None, "changes": sets,
            "threads": THREADS, "pinning": "spread", "pairs": PAIRS}


def explain(lab, w):
    changes = ", ".join(f"{k} = {v}" for k, v in sorted(w["changes"].items()))
    return [f"FAST for lab {lab}: {w['pairs']} runs of your build and {w['pairs']} of the "
            f"reference, alternating, {w['threads']} threads pinned {w['pinning']}, the "
            f"scenario's workload{' with ' + changes if changes else ''}; passes when the "
            f"median ops/s is at least {w['fast_min']} of the reference's"
            if w["fast_min"] is not None else
            f"FAST for lab {lab}: no fast_min in its scenario.conf, so not graded"]


def run_once(exe, scen, w, seed):
    """(ops per second, None) or (None, why) for one run of one build."""
    argv = [str(exe), "--scenario", str(scen.path), "--threads", str(w["threads"]),
            "--pin", w["pinning"], "--trials", "1", "--quiet", "--seed", str(seed)]
    if w["profile"]:
        argv += ["--profile", w["profile"]]
    limit = scen.number("time_limit_s", w["profile"], int)
    code, out, err, _, timed_out, start_error = trial.execute(argv, limit * 1.2 + 5,
                                                              scenario.root())
    program = trial.program_result(out.decode("utf-8", "replace"))
    if start_error:
        return None, start_error
    if timed_out or code == trial.DRIVER_HANG_EXIT:
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
    if w["fast_min"] is None:
        return {"pass": None, "reason": f"not graded: lab {lab} declares no fast_min",
                "hint": None}
    mine = tools.binary(tools.TOOLS["stress"], "student", lab)
    ref = tools.binary(tools.TOOLS["stress"], "fixed", lab)
    student, reference = [], []
    seed0 = 1000 + lab
    for i in range(w["pairs"]):
        order = ((mine, student), (ref, reference)) if i % 2 == 0 else \
            ((ref, reference), (mine, student))
        for exe, into in order:
            rate, why = run_once(exe, scen, w, seed0 + i)
            if rate is None:
                if exe == ref:
                    return {"pass": None, "reason": f"the reference build failed: {why}",
                            "hint": "Not your fix: run make, then grade again."}
                return {"pass": False, "reason": f"a FAST run of your build failed: {why}; "
                                                 "SAFE's trials missed it, so it is rarer "
                                                 "there, but it is a race all the same",
                        "hint": "Run make grade again with --explain, and read SAFE's hints."}
            into.append(rate)
    s, r = statistics.median(student), statistics.median(reference)
    ratio = s / r
    ok = ratio >= w["fast_min"]
    say(f"  FAST  {w['pairs']} runs each, alternating: yours {ops(s)} ops/s, reference "
        f"{ops(r)} ops/s (medians): {ratio:.2f}")
    return {"pass": ok,
            "reason": f"at {w['threads']} threads your build does {ratio:.2f} of the reference "
                      f"fix's operations per second ({ops(s)} against {ops(r)}, medians of "
                      f"{w['pairs']} alternating runs); at least {w['fast_min']} is needed",
            "hint": None if ok else HINT,
            "ratio": round(ratio, 3), "fast_min": w["fast_min"],
            "student_ops_per_s": [round(x) for x in student],
            "reference_ops_per_s": [round(x) for x in reference],
            "workload": {k: w[k] for k in ("threads", "pinning", "changes")}}
