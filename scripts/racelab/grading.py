"""SAFE: how many trials of each tool, why that many, and what a trial says.

A student's build is SAFE when every trial of it is clean: the stress
driver's invariants hold in every trial (threads pinned `spread`), in the
release build and in the chaos build (common/chaos.c: short delays at the
race points, which widen the windows a half fix leaves open), and
ThreadSanitizer (clang and gcc) and Helgrind report nothing at all in every
trial. One broken invariant, hang, crash or report fails SAFE.

How many trials: enough that the broken module itself passes SAFE less than
once in 1000 gradings. A broken build passes only if every tool misses the
race in every trial. From expected/lab-N.tsv, each broken cell (tool and
configuration) was measured at s successes out of n trials; the lower end
of the 95% Wilson interval of s/n is a pessimistic rate p, so a trial misses
with probability at most q = 1 - p, and k trials all miss with q^k. Over
the cells (trials taken as independent):

    P(broken passes SAFE) = product over cells of q^k  <  0.001

Every cell gets a minimum number of trials (more than the bound needs:
a student's half fix is usually rarer to catch than the broken module);
if the product is still too high, trials are added where they buy the most
certainty per second. A cell whose rate is 0 (lab 3's detectors: no data
race to see) has q = 1 and adds nothing; its trials still run, since a
fix can introduce a data race the broken module did not have.
"""

import math
from collections import namedtuple

from . import expected, stats

TARGET = 1e-3
TOOL_ORDER = ("stress", "chaos", "tsan-clang", "tsan-gcc", "helgrind")
NAMES = {"stress": "the stress driver", "chaos": "the chaos build (delays at the race points)",
         "tsan-clang": "ThreadSanitizer (clang)",
         "tsan-gcc": "ThreadSanitizer (gcc)", "helgrind": "Helgrind"}
# Trials per cell at least, and the rough cost of one here (seconds), used
# only to decide where extra trials go.
MINIMUM = {"stress": 10, "chaos": 5, "tsan-clang": 4, "tsan-gcc": 2, "helgrind": 2}
COST_S = {"stress": 0.3, "chaos": 0.5, "tsan-clang": 0.5, "tsan-gcc": 0.5, "helgrind": 2.0}

Cell = namedtuple("Cell", "tool config sets successes trials p_low k")


def config_sets(config):
    """'spread' -> [], 'spread-buckets=65536' -> ['buckets=65536']; None for
    a configuration grading does not run (another pinning, thread count)."""
    if config == "spread":
        return []
    if not config.startswith("spread-"):
        return None
    sets = config[len("spread-"):].split("-")
    return sets if all("=" in kv for kv in sets) else None


def cells(lab, table):
    """The broken build's measured cells of lab `lab` (pinning spread), in
    the order they are run: cheapest tool first."""
    out = []
    for (l, build, tool, config), row in table.items():
        sets = config_sets(config)
        if l != lab or build != "broken" or tool not in TOOL_ORDER or sets is None:
            continue
        low = stats.wilson(row["successes"], row["trials"])[0]
        out.append(Cell(tool, config, sets, row["successes"], row["trials"], low,
                        MINIMUM[tool]))
    out.sort(key=lambda c: (TOOL_ORDER.index(c.tool), c.config != "spread", c.config))
    return out


def miss(cell):
    return 1.0 - cell.p_low


def probability(plan):
    """P(the broken build passes SAFE) under the plan's trial counts."""
    return math.prod(miss(c) ** c.k for c in plan)


def plan(lab, table, target=TARGET):
    """The cells with their trial counts k. ValueError when no cell can
    ever catch the broken build (every measured rate 0)."""
    out = cells(lab, table)
    if not out:
        raise ValueError(f"lab {lab} has no broken-build rows in expected/: SAFE cannot "
                         "choose its trial counts")
    if all(miss(c) >= 1.0 for c in out):
        raise ValueError(f"no tool caught lab {lab}'s broken build in expected/: SAFE cannot "
                         "be told apart from the broken module")
    while probability(out) >= target:
        # One more trial where it buys the most: -log(q) per second.
        best = max((i for i, c in enumerate(out) if miss(c) < 1.0),
                   key=lambda i: -math.log(max(miss(out[i]), 1e-300)) / COST_S[out[i].tool])
        out[best] = out[best]._replace(k=out[best].k + 1)
    return out


def load_plan(lab, expected_dir, target=TARGET):
    return plan(lab, expected.read_dir(expected_dir), target)


def explain(lab, cells_, target=TARGET):
    """The calculation, as lines for people (grade.py --explain, GUIDE.md)."""
    lines = [f"SAFE trial counts for lab {lab}, from expected/lab-{lab}.tsv (the broken "
             "build's measured rates, threads pinned spread):",
             f"  {'tool':<11} {'config':<22} {'measured':>8} {'p (Wilson low)':>14} "
             f"{'q = 1-p':>8} {'k':>3} {'q^k':>9}"]
    for c in cells_:
        lines.append(f"  {c.tool:<11} {c.config:<22} {f'{c.successes}/{c.trials}':>8} "
                     f"{c.p_low:>14.4f} {miss(c):>8.4f} {c.k:>3} {miss(c) ** c.k:>9.2g}")
    p = probability(cells_)
    lines.append(f"  P(the broken module passes SAFE) = product of q^k = {p:.2g} "
                 f"({'<' if p < target else 'NOT <'} {target:g}: "
                 + (f"about once in {1 / p:,.0f} gradings)" if 0 < p and 1 / p < 1e6 else
                    f"about once in {1 / p:.1e} gradings)" if p > 0 else "never)"))
    lines.append("  (trials taken as independent; p is the pessimistic end of what was "
                 "measured here)")
    return lines


# --- what a trial of the student's build says --------------------------------

def trial_failed(record):
    """Why one trial of the student's build fails SAFE, or None when clean.
    Tool errors are not judged here (the caller retries them)."""
    if record["outcome"] == "tool-error":
        return None
    if record["outcome"] == "hang":
        return "hang"
    if record["outcome"] == "crash":
        return "crash"
    if record["manifested"]:
        return "violation"
    if record["findings"]:
        return "report"
    return None


def _side(s):
    if not s:
        return None
    where = f"{s.get('file')}:{s.get('line')}" if s.get("file") else "outside the lab's code"
    access = f"{s['access']} " if s.get("access") else ""
    return f"{access}in {s.get('function') or '?'} ({where})"


def describe_finding(f):
    parts = [f["kind"].replace("-", " ")]
    a, b = _side(f.get("a")), _side(f.get("b"))
    if a and b:
        parts.append(f": {a} against {b}")
    elif a:
        parts.append(f": {a}")
    if f.get("race_point"):
        parts.append(f', at RACE_POINT("{f["race_point"]}")')
    return "".join(parts)


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
    "lock-order-inversion": "Two locks are taken in opposite orders on two paths, so two "
                            "threads can each hold one and wait for the other. Pick one global "
                            "order for the locks and take them in it everywhere.",
    "heap-use-after-free": "Memory was used after another thread freed it: a pointer escaped "
                           "the lock that kept its object alive. Copy what you need while "
                           "holding the lock, or keep the object alive (a reference count) "
                           "until the last user is done.",
    "report": "A race detector reported a problem in your build. Read its two stacks: which "
              "shared data do both touch, and what should order them?",
}


def hint_for(why, finding=None):
    if why == "report" and finding is not None:
        return HINTS.get(finding["kind"], HINTS["report"])
    return HINTS[why]


def failure_reason(tool, number, k, record, why):
    """One sentence on what failed, from a failed trial's record, and the
    finding it was about (or None)."""
    head = f"{NAMES[tool]}, trial {number} of {k}"
    if why == "violation":
        prog = record.get("program") or {}
        broken = ", ".join(f"{n} {v}" for n, v in (record.get("invariants") or {}).items() if v)
        first = prog.get("first_violation")
        return f"{head}: invariants broken ({broken}){': ' + first if first else ''}", None
    if why == "hang":
        return f"{head}: hung (still running at the {record['time_limit_s']} s limit)", None
    if why == "crash":
        f = next((f for f in record["findings"] if f["kind"] == "crash"), None)
        tail = (record.get("stderr_tail") or [])[-1:]
        detail = f["summary"] if f else (record.get("error") or "") + (f" ({tail[0]})" if tail else "")
        return f"{head}: crashed: {detail}", f
    # The report to show: one at the lab's race functions of the copy, else
    # one that touches the copy at all, else the first (a race the tool saw
    # in the driver's code that calls the module).
    in_copy = [f for f in record["findings"]
               if any(str((f.get(k) or {}).get("file") or "").startswith("work/") for k in "ab")]
    f = next((f for f in record["findings"] if f.get("matched")), None) or \
        (in_copy[0] if in_copy else record["findings"][0])
    more = len(record["findings"]) - 1
    return (f"{head}: {describe_finding(f)}"
            + (f" (and {more} more report{'s' if more > 1 else ''})" if more else "")), f
