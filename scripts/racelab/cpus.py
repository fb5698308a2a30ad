"""How many CPUs this process may run on, and which cells need two.

A race between two threads shows in the stress driver only when both run
at once: on one CPU (a course VM with one vCPU, a container held to one
CPU, `taskset -c 0`) the threads take turns, a turn lasts milliseconds,
and a window of a few instructions is almost never cut. So `make lab-N`
and `make check-rates` ask first how many CPUs they have:

  - the affinity mask (os.sched_getaffinity), what taskset and a cpuset
    set: the driver pins its threads inside it (common/topo.c), so with
    one CPU 'spread' puts both threads on it;
  - the cgroup's CPU quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us), what
    `docker run --cpus=1` sets: the threads may sit on two CPUs, but
    together they get one CPU's time, in turns again.

The smaller of the two, rounded down, is the answer.
"""

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read(path):
    try:
        return Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _quota_v2(text):
    """cpu.max 'QUOTA PERIOD' ('max 100000': no limit) -> CPUs, or None."""
    parts = (text or "").split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _quota_v1(quota, period):
    """cpu.cfs_quota_us and cpu.cfs_period_us (-1: no limit) -> CPUs, or None."""
    try:
        quota, period = int(quota), int(period)
    except (TypeError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def _own_cgroups(proc_cgroup):
    """{controller list: path} from /proc/self/cgroup's lines
    'ID:CONTROLLERS:PATH' ('0::PATH' is cgroup v2's)."""
    out = {}
    for line in (proc_cgroup or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out[parts[1]] = parts[2]
    return out


def cgroup_quota(root=CGROUP_ROOT, proc_cgroup=None):
    """The CPU quota of this process's cgroup and of every cgroup above it
    (the smallest wins), in CPUs; None when there is none or it cannot be
    read. root and proc_cgroup are for tests."""
    root = Path(root)
    own = _own_cgroups(_read("/proc/self/cgroup") if proc_cgroup is None else proc_cgroup)
    found = []
    # v2: one tree; the process's folder, then each parent up to the root.
    v2 = own.get("", "/")
    folder = root / v2.lstrip("/")
    while True:
        q = _quota_v2(_read(folder / "cpu.max"))
        if q is not None:
            found.append(q)
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    # v1: the cpu controller's own tree (mounted as cpu, or cpu,cpuacct).
    v1 = next((path for names, path in own.items() if "cpu" in names.split(",")), "/")
    for mount in ("cpu", "cpu,cpuacct"):
        base = root / mount
        folder = base / v1.lstrip("/")
        while base.is_dir():
            q = _quota_v1(_read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us"))
            if q is not None:
                found.append(q)
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    return min(found) if found else None


def available(affinity=None, quota=None):
    """(CPUs this process may use at once, why) where why names what limits
    it ('the affinity mask allows CPU 0 alone', 'the cgroup's CPU quota is
    1 CPU'). affinity (a set of CPU numbers) and quota are for tests;
    quota=False means none."""
    mask = set(os.sched_getaffinity(0)) if affinity is None else set(affinity)
    if quota is None:
        quota = cgroup_quota()
    n, why = len(mask), f"the affinity mask allows {_cpulist(mask)}"
    if quota and math.floor(quota) < n:
        n, why = max(1, math.floor(quota)), f"the cgroup's CPU quota is {quota:g} CPU"
    return n, why


def one_cpu(affinity=None, quota=None):
    """None when this process may run threads on two CPUs at once; else one
    line saying why not, for `make lab-N` and `make check-rates` to print."""
    n, why = available(affinity, quota)
    if n >= 2:
        return None
    return f"one CPU here: {why}"


def _cpulist(cpus):
    """{0, 1, 2, 5} -> 'CPUs 0-2,5'; {0} -> 'CPU 0 alone'."""
    cpus = sorted(cpus)
    runs, start = [], None
    for i, c in enumerate(cpus):
        if start is None:
            start = c
        if i + 1 == len(cpus) or cpus[i + 1] != c + 1:
            runs.append(str(start) if start == c else f"{start}-{c}")
            start = None
    return f"CPU {runs[0]} alone" if len(cpus) == 1 else "CPUs " + ",".join(runs)


# The pinnings that put a trial's threads on different CPUs when it has
# them (common/topo.c): spread across nodes, compact on neighbours, or a
# list of CPUs ('cpus-0+2' in a config name). 'same-cpu' and 'none' (the
# kernel decides) are measured as they come.
SPREADING = ("spread", "compact")


def spreads(config):
    """Whether a config name ('spread', 'spread-verbosity=1', 'cpus-0+2',
    'same-cpu') places threads on two CPUs or more."""
    head = config.split("-", 1)[0]
    if head in SPREADING:
        return True
    if config.startswith("cpus-"):
        listed = config[len("cpus-"):].split("-", 1)[0].split("+")
        return len(set(listed)) > 1
    return False


# What an expected row's note says when its band was measured on two CPUs
# and holds only there, whatever its configuration's name.
NOTE = "needs 2 CPUs"


def needs_two(tool, config, row):
    """Whether an expected row's band holds only where two threads run at
    once: a symptom that must show (the program's own invariants, its
    band's low end above 0) measured with threads spread across CPUs, or a
    row whose note says NOTE (a detector that sees the race only when the
    racy path is taken, which takes an overlap). A 0-0 band (a fixed build)
    holds on any number of CPUs: one finding there is a bug on one CPU as
    on two. A detector's band holds on one CPU unless its note says so:
    ThreadSanitizer and Helgrind judge the order of accesses, not their
    timing (Helgrind runs one thread at a time anyway). The sched tool's
    threads run one at a time by design: its bands hold on any machine."""
    if row is None or tool == "sched":
        return False
    if NOTE in row.get("note", ""):
        return True
    return spreads(config) and row["metric"] == "symptom" and row["band"][0] > 0


def ran_on_one(record):
    """Whether a trial's threads all ran on one CPU: the driver's placement
    (its 'cpus' list, or the topology it saw) names a single CPU."""
    program = record.get("program") or {}
    topo = program.get("topology") or {}
    if topo.get("cpus") == 1:
        return True
    placed = program.get("cpus") or record.get("cpus")
    return bool(placed) and len(set(placed)) == 1 and record.get("threads", 2) > 1
