"""The sched flavour from the scripts' side: traces, scheduling logs, one run.

In the sched flavour (build/sched/<variant>/racelab-stress, -DRACELAB_SCHED)
the threads of a trial run one at a time, and racelab's scheduler picks
which one runs next at every scheduling point: a race point, or a
synchronisation call (mutex, condition variable, create, join, yield,
sleep). The driver's options there:

  --sched random | pct:D | replay:TRACE | prefix:TRACE   (TRACE or @FILE)
  --sched-log FILE   one tab-separated line per scheduling point:
                     STEP ROUND RAN ENABLED BY POINT, each trial's lines
                     after a '# racelab sched-log trial=K seed=S ...' line

A trace is one letter per step, the thread chosen (A, B, ... in creation
order within a round), run-length encoded ('A3BA2' is AAABAA), rounds
separated by '/'. Every record of the flavour carries it as
program.schedule = {strategy, steps, trace}. replay.py, explore.py and
lab.py read them here.
"""

import json
import os
import re
import subprocess
import tempfile
from collections import namedtuple
from pathlib import Path

from . import scenario, schedule, tools
from .cli import Failure

TOOL = tools.TOOLS["sched"]
STRATEGY_RE = re.compile(r"^(random|pct:([1-9]|1[0-6])|(replay|prefix):(@.+|[A-Za-z0-9/]*))$")
# The points that are not race points (the driver's names for its wrapped
# calls): a switch there is a lock's or a yield's, not a race window's.
CALLS = ("mutex_lock", "mutex_trylock", "mutex_unlock", "rwlock_rdlock", "rwlock_wrlock",
         "rwlock_unlock", "cond_wait", "cond_timedwait", "cond_signal", "cond_broadcast",
         "barrier_wait", "create", "join", "yield", "spin", "sleep", "clock", "exit", "start")
# Where the running thread hands over by itself: choosing another thread
# there is not a preemption (CHESS counts only the switches forced on a
# thread that could have gone on).
HANDOVERS = ("yield", "spin", "exit", "start", "join", "cond_wait", "cond_timedwait")

Step = namedtuple("Step", "step round ran enabled by point")


def is_race_point(point):
    return point not in CALLS


def decode(trace):
    """'A3B/AB2' -> ['AAAB', 'ABB'], one string of letters per round;
    ValueError on anything else."""
    rounds = []
    for part in trace.split("/"):
        letters = []
        for m in re.finditer(r"([A-Za-z])(\d*)|(.)", part):
            if m.group(3) is not None:
                raise ValueError(f"'{m.group(3)}' in trace '{trace}'")
            count = int(m.group(2)) if m.group(2) else 1
            if m.group(2) and count < 2:
                raise ValueError(f"count {m.group(2)} in trace '{trace}' (a count is 2 or more)")
            letters.append(m.group(1) * count)
        rounds.append("".join(letters))
    return rounds


def flat(trace):
    """Every step's letter, rounds run together: the index is STEP."""
    return "".join(decode(trace))


def encode(letters):
    """'AAABAA' -> 'A3BA2' (one round)."""
    return "".join(m.group(1) + (str(len(m.group(0))) if len(m.group(0)) > 1 else "")
                   for m in re.finditer(r"([A-Za-z])\1*", letters))


def trace_of(steps, letters=None):
    """The encoded trace of `letters` (default: each step's RAN), rounds
    split where the steps' ROUND changes."""
    letters = letters if letters is not None else "".join(s.ran for s in steps)
    parts, start = [], 0
    for i in range(1, len(letters)):
        if i < len(steps) and steps[i].round != steps[i - 1].round:
            parts.append(letters[start:i])
            start = i
    parts.append(letters[start:])
    return "/".join(encode(p) for p in parts)


def schedule_of(record):
    """The schedule ({strategy, steps, trace}) of a trial record (its
    program.schedule) or of the driver's own line, or None."""
    record = record or {}
    if "program" in record:
        record = record["program"] or {}
    return record.get("schedule")


def read_log(path):
    """[[Step, ...] per trial] from a --sched-log file."""
    trials = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise Failure(f"cannot read the scheduling log {scenario.shown(path)}: "
                      f"{getattr(e, 'strerror', None) or e}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            trials.append([])
            continue
        fields = line.split("\t")
        if len(fields) != 6 or not trials:
            raise Failure(f"{scenario.shown(path)}:{number}: not a scheduling-log line "
                          f"(STEP ROUND RAN ENABLED BY POINT)")
        try:
            step, rnd = int(fields[0]), int(fields[1])
        except ValueError:
            raise Failure(f"{scenario.shown(path)}:{number}: STEP and ROUND must be "
                          f"numbers") from None
        trials[-1].append(Step(step, rnd, fields[2], fields[3], fields[4], fields[5]))
    return trials


def preempts(step):
    """Whether choosing step.ran at this point preempts the thread that
    reached it: it could have gone on (it is enabled), it did not hand
    over by itself (HANDOVERS), and another thread was chosen."""
    return (step.by in step.enabled and step.point not in HANDOVERS and step.ran != step.by)


def binary(build, lab):
    return tools.binary(TOOL, build, lab)


def require_binary(build, lab):
    exe = binary(build, lab)
    if not exe.is_file():
        raise Failure(f"{scenario.shown(exe)} is missing: build it with make "
                      f"{scenario.shown(exe)} (the sched flavour)")
    return exe


def check_strategy(text):
    if not STRATEGY_RE.match(text):
        raise Failure(f"'{text}' is not a strategy (random, pct:D with D 1 to 16, "
                      f"replay:TRACE, prefix:TRACE)")
    return text


Run = namedtuple("Run", "code record steps stderr")


def run(lab, build, strategy, seed, args=(), log=True, timeout=60, profile=TOOL.profile):
    """One trial of lab `lab` in the sched flavour: --profile sched (or
    `profile`, None for none), the strategy and seed, then `args` (the
    driver's own options, which win). Returns a Run: the exit status, the
    driver's JSON record (or None), the scheduling log's steps (log=True)
    and stderr."""
    exe = require_binary(build, lab)
    scen = scenario.load(lab)
    with tempfile.TemporaryDirectory(prefix="racelab-sched-") as tmp:
        log_path = Path(tmp) / "sched.log"
        trace_file = Path(tmp) / "trace"
        kind, _, trace = strategy.partition(":")
        if kind in ("replay", "prefix") and len(trace) > 1000 and not trace.startswith("@"):
            trace_file.write_text(trace)  # a long trace goes by file, not argv
            strategy = f"{kind}:@{trace_file}"
        argv = [str(exe), "--scenario", str(scen.path), *(["--profile", profile] if profile
                                                           else []),
                "--seed", str(seed), "--sched", strategy, "--quiet", *map(str, args)]
        if log:
            argv += ["--sched-log", str(log_path)]
        env = {k: v for k, v in os.environ.items() if k not in tools.DROPPED_ENV}
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout, cwd=scenario.root(), env=env)
        except subprocess.TimeoutExpired:
            raise Failure(f"lab {lab} {build} in the sched flavour ran past {timeout} s "
                          f"(strategy {strategy}, seed {seed})") from None
        record = None
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    pass
                break
        steps = []
        if log and log_path.exists():
            trials = read_log(log_path)
            steps = trials[0] if trials else []
    return Run(proc.returncode, record, steps, proc.stderr)


def symptom(record):
    """What broke, in a few words: the driver's first violation, else the
    invariant counters that are not zero, else the outcome."""
    if not record:
        return "no record"
    if record.get("detail") == "deadlock":
        return "deadlock: every thread waits for another"
    if record.get("first_violation"):
        return record["first_violation"]
    broken = {k: v for k, v in (record.get("invariants") or {}).items() if v}
    if broken:
        return ", ".join(f"{k} {v}" for k, v in broken.items())
    return record.get("outcome", "?")


def broken_invariants(record):
    """The names of the invariant counters that are not zero ('deadlock'
    for a deadlock, 'hang' for a hang without one)."""
    if not record:
        return ["no record"]
    if record.get("detail") == "deadlock":
        return ["deadlock"]
    if record.get("outcome") == "hang":
        return ["hang"]
    return sorted(k for k, v in (record.get("invariants") or {}).items() if v)


def side_by_side(steps, threads=None, width=26):
    """The steps of one run as columns, one per thread (OSTEP's x86.py):
    each row is one stretch a thread ran, in its column, ending at the
    point where the scheduler took over. Rows in the order they ran."""
    letters = sorted({s.ran for s in steps} | set(threads or ()))
    rows = []
    for i, s in enumerate(steps):
        # s.ran runs from here to where the next line's BY (== s.ran) stopped
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        end = nxt.point if nxt is not None and nxt.by == s.ran else "end"
        if rows and rows[-1][1] == s.ran:
            rows[-1][2].append(end)
        else:
            rows.append([s.step, s.ran, [end]])
    head = f"{'step':>5}  " + "".join(f"{t:<{width}}" for t in letters)
    rule = f"{'':>5}  " + "".join(f"{'-' * (width - 2):<{width}}" for _ in letters)
    lines = [head.rstrip(), rule.rstrip()]
    for step, ran, points in rows:
        shown = _stretch(points)
        col = letters.index(ran)
        lines.append((f"{step:>5}  " + " " * (width * col) + shown).rstrip())
    return lines


def _stretch(points):
    """A stretch of one thread: the race points it passed and where it
    stopped ('-> ledger.add.window'), calls counted, not listed."""
    named = [p for p in points if is_race_point(p) or p in ("exit", "end")]
    if not named:
        named = points[-1:]  # only calls: the last one is where it stopped
    calls = len(points) - len(named)
    text = " -> ".join(named[-2:])
    if calls:
        text += f" (+{calls} call{'s' if calls > 1 else ''})"
    return "-> " + text


def small_workload(lab, ops=None):
    """(driver args, seed) of the lab's smallest workload, the one
    explore.py searches: its walkthrough schedule's args (two threads, one
    to three operations each, one round) without --lab and --seed (the
    seed is returned: a workload drawn from it needs the walkthrough's),
    with --ops replaced when `ops` is given."""
    path = scenario.lab_dir(lab) / "walkthrough.sched"
    try:
        args = schedule.parse(path)["args"]
    except schedule.ScheduleError as e:
        raise Failure(str(e)) from None
    out, seed, skip = [], 1, False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a in ("--lab", "--seed", "--ops") and i + 1 < len(args):
            if a == "--seed":
                seed = int(args[i + 1])
            if a == "--ops" and not ops:
                out += [a, args[i + 1]]
            skip = True
            continue
        out.append(a)
    if ops:
        out += ["--ops", str(ops)]
    return out, seed
