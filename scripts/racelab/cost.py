"""What a detector costs: its slowdown against the native run, and its memory.

Measured from trial records, never asserted. A detector runs a smaller
workload than the stress driver (the scenario's tsan.* and valgrind.*
keys: lab 1 runs 5,000 operations a thread under Valgrind, 50,000
natively), so dividing its time by the stress cell's would compare unequal
work. The native run it is compared with is the release build doing the
detector's own workload, same scenario, same configuration, same results
folder (the sched flavour, which runs one thread at a time on its own
sched.* workload, is costed the same way): the stress cell '<config>-<profile>-workload' (trials.py
--workload, run by check_rates.py beside every check). Equal work, both
timed from the runner's side (process start to exit), so the tool's start
and exit count: they are part of what a user waits for.

Per (lab, build, tool, config):

  slowdown       median wall time of the tool's trials / median of the
                 native run's
  CPU slowdown   the same with CPU time (user + system) of the trial
                 process: less sensitive to other load on a shared machine
                 than wall time, since waiting for a CPU costs no CPU time
  peak RSS       median and largest peak resident memory of the trial
                 process (its ru_maxrss, as the trial launcher reports it:
                 trial.execute; under Valgrind and TSan that
                 process is the tool)

Only trials that ran their workload to the end are timed: not tool errors,
hangs (cut at the time limit) or crashes. Records written before
peak_rss_kb and cpu_s existed show '-' for those figures.
"""

from collections import defaultdict
from statistics import median

from . import records, tools

UNTIMED = ("tool-error", "hang", "crash")

COLUMNS = ("lab", "build", "tool", "config", "trials", "wall s", "native wall s", "slowdown",
           "CPU slowdown", "peak RSS MB", "max RSS MB", "native RSS MB")

FOOTNOTE = (
    "Slowdown: median wall time of the tool's trials over the median of the native run "
    "(the release build under the stress tool) doing the same work: the detector's own, "
    "smaller workload (the scenario's tsan.*, valgrind.* or sched.* keys, trials.py --workload), same "
    "scenario and configuration, measured in the same run. Both include process start and "
    "exit. CPU slowdown: the same with user + system CPU time, less sensitive to other load "
    "on the machine. RSS: peak resident memory of the trial process (the tool itself under "
    "Valgrind and TSan), median and largest, in MB. Only trials that ran to the end are "
    "timed (no hangs, crashes or tool errors). Wall times on a shared machine vary with its "
    "load: compare the CPU column first.")


def is_baseline(config):
    """Whether a configuration is a native run of a detector's workload."""
    return config.endswith(records.WORKLOAD)


def baseline_config(tool, config):
    """The native configuration a tool's cell is compared with."""
    known = tools.TOOLS.get(tool)
    profile = known.profile if known else None
    return f"{config}-{profile}{records.WORKLOAD}" if profile else config


class Row:
    def __init__(self, key, trials, native):
        self.lab, self.build, self.tool, self.config = key
        self.n = len(trials)
        self.n_native = len(native)
        self.wall = _median(trials, "elapsed_s")
        self.native_wall = _median(native, "elapsed_s")
        self.cpu = _median(trials, "cpu_s")
        self.native_cpu = _median(native, "cpu_s")
        self.rss_kb = _median(trials, "peak_rss_kb")
        self.max_rss_kb = max((r["peak_rss_kb"] for r in trials
                               if r.get("peak_rss_kb") is not None), default=None)
        self.native_rss_kb = _median(native, "peak_rss_kb")

    @property
    def slowdown(self):
        return _ratio(self.wall, self.native_wall)

    @property
    def cpu_slowdown(self):
        return _ratio(self.cpu, self.native_cpu)

    def sort_key(self):
        order = list(tools.TOOLS)
        return (records.lab_key(self.lab), tools.BUILDS.index(self.build) if self.build in tools.BUILDS else 9,
                order.index(self.tool) if self.tool in order else len(order), self.tool,
                self.config)


def _median(recs, field):
    values = [r[field] for r in recs if r.get(field) is not None]
    return median(values) if values else None


def _ratio(a, b):
    return a / b if a is not None and b else None


def table(recs):
    """The cost rows of every detector cell in `recs` that has timed trials
    and a native run of the same work to compare with (check_rates.py runs
    one for the fixed build only)."""
    timed = defaultdict(list)
    for r in recs:
        if r["outcome"] not in UNTIMED:
            timed[(r["lab"], r["build"], r["tool"], r["config"])].append(r)
    rows = []
    for key, trials in timed.items():
        lab, build, tool, config = key
        if tool == "stress":
            continue
        native = timed.get((lab, build, "stress", baseline_config(tool, config)))
        if isinstance(lab, str):
            # A program run by racelab run does the same work under every
            # tool: its native run is the stress cell of the same config.
            native = timed.get((lab, build, "stress", config))
        if native:  # no native run of the same work: nothing to compare with
            rows.append(Row(key, trials, native))
    return sorted(rows, key=Row.sort_key)


def fmt_row(row):
    """One row as strings, in COLUMNS' order; '-' where there is no figure."""
    def num(x, f):
        return "-" if x is None else format(x, f)

    def secs(x):
        # Short runs (a small program's native run lasts milliseconds) keep
        # a figure that is not 0.00.
        return "-" if x is None else format(x, ".3f" if x < 0.1 else ".2f")

    def mb(kb):
        return "-" if kb is None else f"{kb / 1024:.0f}"

    return (str(row.lab), row.build, row.tool, row.config,
            f"{row.n} ({row.n_native} native)", secs(row.wall), secs(row.native_wall),
            num(row.slowdown, ".1f") + ("x" if row.slowdown is not None else ""),
            num(row.cpu_slowdown, ".1f") + ("x" if row.cpu_slowdown is not None else ""),
            mb(row.rss_kb), mb(row.max_rss_kb), mb(row.native_rss_kb))


def markdown(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt_row(r)) + " |" for r in rows]
    return "\n".join(lines)
