"""SAFE: how many trials of each tool, why that many, and what a trial says.

A student's build is SAFE when every trial of it is clean: the stress
driver's invariants hold in every trial (threads pinned `spread`), in the
release build and in the chaos build (common/chaos.c: short delays at the
race points, which widen the windows a half fix leaves open), and
ThreadSanitizer (clang and gcc) and Helgrind report nothing at all in every
trial. One broken invariant, hang, crash or report fails SAFE.

How many trials: enough that the broken module itself passes SAFE less than
once in 1000 gradings. A broken build passes only if every tool misses the
race in every trial. From labs/lab-N-*/expected.tsv, each broken cell (tool and
configuration) was measured at s successes out of n trials; the lower end
of the 95% Wilson interval of s/n is a pessimistic rate p, so a trial misses
with probability at most q = 1 - p, and k trials all miss with q^k. Over
the cells (trials taken as independent):

    P(broken passes SAFE) = product over cells of q^k  <  0.001

Contract workloads: the measured cells run the lab's everyday workload,
the one the expected tables measured. A student's partial fix (a lock everywhere but
in the rare eviction path, a lock dropped before the copy-out, a transfer in
two critical sections) hides from it. So SAFE also runs the lab's
`grade_sets` (scenario.conf): configurations of the same driver that reach
every operation of the module's API, with readers running while writers
run and the API's promises checked while the threads run. They have no
measured rate against the broken module (it already fails the everyday
workload), so they add nothing to the product below; they are there for
the wrong fixes, and grading's self-test (scripts/grade_selftest.py, the
catalogue in labs/lab-N-*/mutants/) measures how well they do.

racelab's scheduler (the sched flavour, when the lab's table has its rows):
the threads run one at a time and switch where each trial's seed says,
at the race points too, so its measured rate holds on one CPU as on many.
On a one-CPU machine the stress driver's measured rate (two CPUs) says
more than it finds there; the scheduler's cells keep the bound true, so a
student on one vCPU is graded as strictly as on a laptop. It runs the
contract workloads too.

Every cell gets a minimum number of trials (more than the bound needs:
a student's half fix is usually rarer to catch than the broken module);
if the product is still too high, trials are added where they buy the most
certainty per second. A cell whose rate is 0 (lab 3's detectors: no data
race to see) has q = 1 and adds nothing; its trials still run, since a
fix can introduce a data race the broken module did not have.
"""

import math
import re
from collections import namedtuple

from . import expected, frames, stats

TARGET = 1e-3
TOOL_ORDER = ("stress", "sched", "chaos", "tsan-clang", "tsan-gcc", "helgrind")
NAMES = {"stress": "the stress driver", "chaos": "the chaos build (delays at the race points)",
         "sched": "racelab's scheduler (the sched flavour)",
         "tsan-clang": "ThreadSanitizer (clang)",
         "tsan-gcc": "ThreadSanitizer (gcc)", "helgrind": "Helgrind"}
# Trials per cell at least, and the rough cost of one here (seconds), used
# only to decide where extra trials go.
MINIMUM = {"stress": 10, "sched": 10, "chaos": 5, "tsan-clang": 4, "tsan-gcc": 2,
           "helgrind": 2}
COST_S = {"stress": 0.3, "sched": 0.3, "chaos": 0.5, "tsan-clang": 0.5, "tsan-gcc": 0.5,
          "helgrind": 2.0}

# Trials of each tool for every contract configuration (grade_sets).
CONTRACT = {"stress": 5, "sched": 5, "chaos": 3, "tsan-clang": 2, "tsan-gcc": 1,
            "helgrind": 1}

# One row of SAFE's plan: a tool at a configuration, the broken build's
# measured rate there (successes of trials; p_low its interval's floor) and
# the k trials the student's build must pass. Not report.py's Cell, which
# groups trial records.
SafeCell = namedtuple("SafeCell", "tool config sets successes trials p_low k")


def config_sets(config):
    """'spread' -> [], 'spread-buckets=65536' -> ['buckets=65536']; None for
    a configuration grading does not run (another pinning, thread count)."""
    if config == "spread":
        return []
    if not config.startswith("spread-"):
        return None
    sets = config[len("spread-"):].split("-")
    return sets if all("=" in kv for kv in sets) else None


def contract_sets(value):
    """scenario.conf's grade_sets, 'a=1,b=2 ; a=2' -> [['a=1', 'b=2'], ['a=2']].
    ValueError on a configuration that is not key=value pairs of names."""
    out = []
    for part in (value or "").split(";"):
        part = part.strip()
        if not part:
            continue
        sets = [kv.strip() for kv in part.split(",")]
        for kv in sets:
            if not re.fullmatch(r"[A-Za-z_][\w.]*=[\w.]+", kv):
                raise ValueError(f"grade_sets: '{kv}' is not key=value (letters, digits, "
                                 "_ and . only)")
        out.append(sets)
    return out


def cells(lab, table, blind=()):
    """The broken build's measured cells of lab `lab` (pinning spread), in
    the order they are run: cheapest tool first. A tool in `blind` (one
    whose reports on this lab's race grading takes as advice: see
    blind_tools) is still run, but counts as catching nothing."""
    out = []
    for (l, build, tool, config), row in table.items():
        sets = config_sets(config)
        if l != lab or build != "broken" or tool not in TOOL_ORDER or sets is None:
            continue
        low = 0.0 if tool in blind else stats.wilson(row["successes"], row["trials"])[0]
        out.append(SafeCell(tool, config, sets, row["successes"], row["trials"], low,
                        MINIMUM[tool]))
    out.sort(key=lambda c: (TOOL_ORDER.index(c.tool), c.config != "spread", c.config))
    return out


def contract_cells(grade_sets, with_sched=False):
    """The contract cells of grade_sets' configurations: every tool (the
    scheduler's when with_sched), no measured rate (p = 0), CONTRACT[tool]
    trials each."""
    return [SafeCell(tool, "spread-" + "-".join(sets), sets, None, None, 0.0, CONTRACT[tool])
            for tool in TOOL_ORDER if with_sched or tool != "sched" for sets in grade_sets]


def ordered(plan_cells):
    """Cheapest tool first; within a tool, the measured cells before the
    contract ones (the everyday workload fails the broken module fastest)."""
    return sorted(plan_cells, key=lambda c: (TOOL_ORDER.index(c.tool), c.trials is None))


def miss(cell):
    return 1.0 - cell.p_low


def probability(plan):
    """P(the broken build passes SAFE) under the plan's trial counts."""
    return math.prod(miss(c) ** c.k for c in plan)


def plan(lab, table, target=TARGET, blind=(), grade_sets=()):
    """The cells with their trial counts k, the contract cells of
    grade_sets included. ValueError when no cell can ever catch the broken
    build (every measured rate 0)."""
    out = cells(lab, table, blind)
    if not out:
        raise ValueError(f"lab {lab} has no broken-build rows in its expected table: SAFE cannot "
                         "choose its trial counts")
    if all(miss(c) >= 1.0 for c in out):
        raise ValueError(f"no tool caught lab {lab}'s broken build in its expected table: SAFE cannot "
                         "be told apart from the broken module")
    while probability(out) >= target:
        # One more trial where it buys the most: -log(q) per second.
        best = max((i for i, c in enumerate(out) if miss(c) < 1.0),
                   key=lambda i: -math.log(max(miss(out[i]), 1e-300)) / COST_S[out[i].tool])
        out[best] = out[best]._replace(k=out[best].k + 1)
    return ordered(out + contract_cells(grade_sets, any(c.tool == "sched" for c in out)))


def load_plan(lab, expected_dir, target=TARGET, blind=(), grade_sets=()):
    return plan(lab, expected.read_dir(expected_dir), target, blind, grade_sets)


def explain(lab, cells_, target=TARGET):
    """The calculation, as lines for people (grade.py --explain, GUIDE.md)."""
    lines = [f"SAFE trial counts for lab {lab}, from labs/{expected.table_name(lab)} (the broken "
             "build's measured rates, threads pinned spread):",
             f"  {'tool':<11} {'config':<22} {'measured':>8} {'p (Wilson low)':>14} "
             f"{'q = 1-p':>8} {'k':>3} {'q^k':>9}"]
    for c in cells_:
        measured = f"{c.successes}/{c.trials}" if c.trials is not None else "contract"
        lines.append(f"  {c.tool:<11} {c.config:<22} {measured:>8} "
                     f"{c.p_low:>14.4f} {miss(c):>8.4f} {c.k:>3} {miss(c) ** c.k:>9.2g}")
    p = probability(cells_)
    lines.append(f"  P(the broken module passes SAFE) = product of q^k = {p:.2g} "
                 f"({'<' if p < target else 'NOT <'} {target:g}: "
                 + (f"about once in {1 / p:,.0f} gradings)" if 0 < p and 1 / p < 1e6 else
                    f"about once in {1 / p:.1e} gradings)" if p > 0 else "never)"))
    lines.append("  (trials taken as independent; p is the pessimistic end of what was "
                 "measured here)")
    if any(c.trials is None for c in cells_):
        lines.append("  contract: a grade_sets workload of scenario.conf (every operation of "
                     "the API, promises checked while the threads run); not measured against "
                     "the broken module, so it adds nothing to the product: it is there for "
                     "partial fixes")
    return lines


# --- what a tool cannot judge -----------------------------------------------------
#
# Each detector has constructs it does not model, and on them it reports
# correct code. Grading never fails a fix on such a report: it shows it as
# advice, and names the tool that judges the construct instead.

_ORDERING = re.compile(r"\b(_Atomic|atomic_\w+|__atomic_\w+|__sync_\w+|memory_order_\w+|"
                       r"ATOMIC_\w+|pthread_once)\b")
# A fence orders memory between threads only when both sides have one (or
# an atomic access of the matching order): a release fence (or a release
# store) where the data is published, and an acquire fence (or an acquire
# load) where it is read. atomic_signal_fence is no such fence (it only
# stops the compiler), so ThreadSanitizer's reports on it count.
_FENCE = re.compile(r"\b(?:atomic_thread_fence|__atomic_thread_fence)\s*\(\s*(memory_order_\w+|"
                    r"__ATOMIC_\w+)")
_EXPLICIT = re.compile(r"\batomic_(store|load|exchange|fetch_\w+|compare_exchange_\w+)_explicit"
                       r"\s*\([^;]*?(memory_order_\w+)\s*(?:,[^;]*?)?\)")
_RELEASE = ("release", "acq_rel", "seq_cst", "RELEASE", "ACQ_REL", "SEQ_CST")
_ACQUIRE = ("acquire", "acq_rel", "seq_cst", "consume", "ACQUIRE", "ACQ_REL", "SEQ_CST",
            "CONSUME")


def fences(code):
    """The fences of comment-free C code, when they can order anything:
    ['atomic_thread_fence(memory_order_release)', ...] if the code has a
    thread fence and both a release side and an acquire side (each a fence
    or an explicit atomic access of that order, or a seq_cst store or load),
    else []."""
    found = _FENCE.findall(code)
    if not found:
        return []
    orders = [o.rsplit("_", 1)[-1] if o.startswith("__") else o[len("memory_order_"):]
              for o in found]
    release = any(o in _RELEASE for o in orders)
    acquire = any(o in _ACQUIRE for o in orders)
    for op, order in _EXPLICIT.findall(code):
        o = order[len("memory_order_"):]
        release |= op != "load" and o in _RELEASE
        acquire |= op != "store" and o in _ACQUIRE
    release |= bool(re.search(r"\batomic_store\s*\(", code))
    acquire |= bool(re.search(r"\batomic_load\s*\(", code))
    if not (release and acquire):
        return []
    return sorted({f"atomic_thread_fence({o})" for o in found})


BLIND_WHY = {
    "lock-order": "Helgrind counts any two locks taken in both orders as a possible deadlock, "
                  "even when the second is a trylock, which never waits; deadlocks are judged "
                  "by the stress driver (a hang) and ThreadSanitizer's lock-order reports",
    "spin": "Helgrind models a pthread spinlock as a lock that may not be taken twice and "
            "sometimes takes two threads' turns for one ('recursive write lock granted'); "
            "ThreadSanitizer and the stress driver judge the spinlock",
    "timedwait": "Helgrind reports a timed wait that timed out as a wait without its mutex "
                 "held (it misreads the C library re-taking the mutex); ThreadSanitizer and "
                 "the stress driver judge the waits",
    "dubious": "Helgrind calls a signal sent without its mutex held 'dubious'; it is correct "
               "when the predicate was changed under the mutex, and lost wakeups are judged by "
               "the stress driver's deadlines",
    "atomics": "Helgrind does not model C11 atomics or pthread_once ({names}), so it reports "
               "the accesses they order; ThreadSanitizer, which models them, judges this copy",
    "fence": "ThreadSanitizer does not model {names}, so it reports the accesses a fence "
             "orders; the lab's own checks (stress and chaos builds) judge this copy",
}


def blind_spots(copy_text, broken_text):
    """What in a copy (comment-free C) the tools cannot judge: 'atomics',
    the atomic operations, memory orders and pthread_once the copy uses
    and the broken module does not (a fix that orders memory through
    them); 'fence', the fences it uses."""
    new = sorted(set(_ORDERING.findall(copy_text)) - set(_ORDERING.findall(broken_text)))
    return {"atomics": new, "fence": fences(copy_text),
            "spin": bool(re.search(r"\bpthread_spin_\w+", copy_text))}


def blind_tools(scen):
    """The tools whose reports of the lab's own race grading takes as advice
    (a lab whose race is a lock order: Helgrind's LockOrder), so that the
    SAFE bound does not count on them."""
    return ("helgrind",) if scen.get("race_kind") == "lock-order" else ()


def advice(tool, finding, spots=None):
    """Why a finding is advice (a report the tool makes on correct code of
    this kind), or None when it counts."""
    spots = spots or {}
    kind, summary = finding.get("kind"), finding.get("summary") or ""
    if tool == "helgrind" and kind == "lock-order-inversion":
        return BLIND_WHY["lock-order"]
    if tool == "helgrind" and "dubious" in summary:
        return BLIND_WHY["dubious"]
    if tool == "helgrind" and kind == "misc" and spots.get("spin") and \
            "Bug in libpthread" in summary:
        return BLIND_WHY["spin"]
    if tool == "helgrind" and kind == "misc" and "not held by calling thread" in summary:
        return BLIND_WHY["timedwait"]
    if tool == "helgrind" and kind == "data-race" and spots.get("atomics"):
        return BLIND_WHY["atomics"].format(names=", ".join(spots["atomics"][:4]))
    if tool.startswith("tsan") and kind == "data-race" and spots.get("fence"):
        return BLIND_WHY["fence"].format(names=", ".join(spots["fence"]))
    return None


def judged(tool, record, spots=None):
    """(the findings that count, [(finding, why) taken as advice])."""
    count, told = [], []
    for f in record.get("findings") or []:
        why = None if f.get("kind") == "crash" else advice(tool, f, spots)
        if why:
            told.append((f, why))
        else:
            count.append(f)
    return count, told


# --- what a trial of the student's build says --------------------------------

def trial_failed(record, tool=None, spots=None):
    """Why one trial of the student's build fails SAFE, or None when clean.
    Tool errors are not judged here (the caller retries them); findings
    that are advice (see advice()) do not fail it."""
    if record["outcome"] == "tool-error":
        return None
    if record["outcome"] == "hang":
        return "hang"
    if record["outcome"] == "crash":
        return "crash"
    if record["manifested"]:
        return "violation"
    if judged(tool or record.get("tool") or "", record, spots)[0]:
        return "report"
    return None


def _side(s):
    if not s:
        return None
    where = f"{s.get('file')}:{s.get('line')}" if s.get("file") else "outside the lab's code"
    access = f"{s['access']} " if s.get("access") else ""
    return f"{access}in {s.get('function') or '?'} ({where})"


def _in_copy(side):
    return str((side or {}).get("file") or "").startswith("work/")


def describe_finding(f):
    """The finding in one line, the student's own code first: the side in
    the working copy (work/lab-N/<module>.c:LINE, function), then the other
    side, then the first frame of the driver that called it."""
    sides = [f.get("a"), f.get("b")]
    if not _in_copy(sides[0]) and _in_copy(sides[1]):
        sides.reverse()
    a, b = _side(sides[0]), _side(sides[1])
    parts = [f["kind"].replace("-", " ")]
    if a and b:
        parts.append(f": {a} against {b}")
    elif a:
        parts.append(f": {a}")
    if f.get("race_point"):
        parts.append(f', at RACE_POINT("{f["race_point"]}")')
    caller = next((fr for fr in f.get("stack_a") or []
                   if frames.is_driver(fr.rsplit(" ", 1)[-1].split(":", 1)[0])), None)
    if caller and any(_in_copy(x) for x in sides):
        parts.append(f", called from {caller}")
    return "".join(parts)


_POINT_CALL = re.compile(r'RACE_POINT\s*\(\s*"([^"]+)"\s*\)')
_DEFINITION = re.compile(r"^[A-Za-z_][^;(]*?\b([A-Za-z_]\w*)\s*\([^;]*$")


def race_window(copy_file, source, points):
    """'work/lab-N/x.c:LINE (function)' of the first of the lab's race points
    in the copy's source, or None: where a symptom the program saw (a broken
    invariant, a hang) points in the student's code when no detector named
    a line."""
    if not source:
        return None
    lines = source.splitlines()
    for i, text in enumerate(lines):
        m = _POINT_CALL.search(text)
        if not m or m.group(1) not in points or text.lstrip().startswith(("/*", "*", "//")):
            continue
        function = next((d.group(1) for d in (_DEFINITION.match(t) for t in reversed(lines[:i]))
                         if d), "?")
        return f"{copy_file}:{i + 1} ({function})"
    return None


def copy_site(finding):
    """'work/lab-N/x.c:LINE (function)' of a finding's side in the copy."""
    for side in (finding.get("a"), finding.get("b")):
        if _in_copy(side):
            return f"{side['file']}:{side.get('line')} ({side.get('function') or '?'})"
    return None


HINTS = {
    "violation": "The program itself saw two threads interleave inside a step that must look "
                 "atomic: a read of shared state, then a write based on it. Find where the "
                 "named invariant's data is read and written, and ask what stops the other "
                 "thread from running between the two. Every access to shared data needs the "
                 "same protection, reads included.",
    "hang": "A trial ran past its time limit. Either threads wait for each other (do all paths "
            "take the locks in the same order?), a wakeup was lost (is every wait a loop on "
            "a condition checked under its mutex?), or a race corrupted a structure into a "
            "loop.",
    "crash": "The program died: typically memory freed, moved or half-built while another "
             "thread used it. Which pointer is used after the lock that protects its object "
             "is dropped?",
    "data-race": "Two threads touched the same memory, at least one writing, with nothing "
                 "ordering them. Both accesses need the same lock, or the variable must be an "
                 "atomic with the ordering you rely on. A lock on the writer alone is not "
                 "enough: the reader must take it too.",
    "lock-order-inversion": "ThreadSanitizer saw two locks taken in opposite orders on two "
                            "paths, each by a call that waits for the lock (a trylock does "
                            "not count), so two threads can each hold one and wait for the "
                            "other. Pick one global order for the locks and take them in it "
                            "everywhere, or never wait for the second one.",
    "heap-use-after-free": "Memory was used after another thread freed it: a pointer escaped "
                           "the lock that kept its object alive. Copy what you need while "
                           "holding the lock, or keep the object alive (a reference count) "
                           "until the last user is done.",
    "report": "A race detector reported a problem in your build. Read its two stacks: which "
              "shared data do both touch, and what should order them?",
}


def hint_for(why, finding=None, scen=None):
    """The hint for a failure: the lab's own (scenario.conf's grade_hint for
    a broken invariant, grade_hang_hint for a hang) when it has one, else
    the general one for the kind of failure."""
    own = {"violation": "grade_hint", "hang": "grade_hang_hint"}.get(why)
    if own and scen is not None and scen.get(own):
        return scen.get(own)
    if why == "report" and finding is not None:
        return HINTS.get(finding["kind"], HINTS["report"])
    return HINTS[why]


def failure_reason(tool, number, k, record, why, spots=None):
    """One sentence on what failed, from a failed trial's record, and the
    finding it was about (or None)."""
    head = f"{NAMES[tool]}, trial {number} of {k}"
    if why == "violation":
        prog = record.get("program") or {}
        broken = ", ".join(f"{n} {v}" for n, v in (record.get("invariants") or {}).items() if v)
        first = prog.get("first_violation")
        return f"{head}: invariants broken ({broken}){': ' + first if first else ''}", None
    if why == "hang":
        first = (record.get("program") or {}).get("first_violation")
        return (f"{head}: hung (still running at the {record['time_limit_s']} s limit)"
                + (f"; before that: {first}" if first else "")), None
    if why == "crash":
        f = next((f for f in record["findings"] if f["kind"] == "crash"), None)
        tail = (record.get("stderr_tail") or [])[-1:]
        detail = f["summary"] if f else (record.get("error") or "") + (f" ({tail[0]})" if tail else "")
        return f"{head}: crashed: {detail}", f
    # The report to show: one at the lab's race functions of the copy, else
    # one that touches the copy at all, else the first (a race the tool saw
    # in the driver's code that calls the module).
    found = judged(tool, record, spots)[0]
    in_copy = [f for f in found if any(_in_copy(f.get(k)) for k in "ab")]
    f = next((f for f in found if f.get("matched")), None) or (in_copy[0] if in_copy else found[0])
    more = len(found) - 1
    return (f"{head}: {describe_finding(f)}"
            + (f" (and {more} more report{'s' if more > 1 else ''})" if more else "")), f
