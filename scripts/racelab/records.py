"""Trial records: the schema, reading .jsonl files, appending atomically.

One trial is one JSON object on one line (schema "racelab.trial/1"). The
report reads nothing else, so it can be rerun on old results or on results
from another machine; a record it cannot trust stops it with file:line
rather than being skipped, since a silently dropped trial changes a rate.

Results of one (lab, build, tool, config) go to one file,
DIR/<lab>-<build>-<tool>-<config>.jsonl; read_dir() reads the files in
DIR's subdirectories too. A run writes its records to
DIR/.partial/<run>.jsonl as it goes and adds them to the results file only
when it has finished, by writing a new file and renaming it over the old
one: an interrupted run leaves the results file as it was.
"""

import fcntl
import json
import os
from pathlib import Path

from .cli import Failure
from .scenario import shown

SCHEMA = "racelab.trial/1"
OUTCOMES = ("clean", "manifested", "detected", "hang", "crash", "tool-error")

# The fields the report relies on, and their JSON types.
_REQUIRED = {
    "schema": str, "run": str, "trial": int, "lab": int, "build": str,
    "tool": str, "config": str, "outcome": str, "manifested": bool,
    "detected": bool, "findings": list,
}

# Fields added to the schema later: records written before them lack them
# (or hold null) and stay readable; a record that has one must have the
# right type, since the cost table computes with them.
_OPTIONAL = {
    "elapsed_s": (int, float),  # wall-clock seconds of the trial process
    "peak_rss_kb": int,         # its peak resident memory (wait4's ru_maxrss)
    "cpu_s": (int, float),      # its CPU time, user plus system
}


# The fields of one finding (record["findings"][i]), built by
# frames.finding() and match.judge():
#   kind        'data-race', 'lock-order-inversion', 'crash', ...
#   tool        the tool that reported it
#   summary     the tool's own words
#   a, b        the two sides, each {access, size, file, line, function,
#               thread} or null: the first frame in the program's own
#               source (frames.py). For a data race, a is the current access
#               and b the previous one; for a lock-order inversion, whatever
#               the tool, a is the acquisition that established the order
#               and b the one that inverted it (the two that close the cycle)
#   stack_a     a's first frames, "function file:line"
#   matched, pair, race_point   see match.py
#   incomplete  true when the tool's report was cut short (no closing line:
#               the process died or was killed while writing it), so a side
#               or frames may be missing. Added later: older records lack it,
#               read as false.


def config_name(pinning, cpus, threads, default_threads, ops=None, sets=(), workload=None):
    """The configuration part of a results file name: 'spread', 'cpus-0+2',
    'same-cpu-4t', 'spread-500ops', 'spread-buckets=65536'. Only what
    differs from the scenario's workload is named, so the everyday
    configuration keeps a short name. trials.py names its files with it and
    lab.py finds them with it. With workload (a tool's scenario profile,
    trials.py --workload) the name ends in '-<profile>-workload': the
    native run a detector's cost is measured against (see WORKLOAD)."""
    name = "cpus-" + "+".join(map(str, cpus)) if cpus else pinning
    if threads != default_threads:
        name += f"-{threads}t"
    if ops:
        name += f"-{ops}ops"
    for kv in sets:
        name += f"-{kv}"
    if workload:
        name += f"-{workload}{WORKLOAD}"
    return name


# The suffix of a native (stress) configuration that runs a detector's
# smaller workload: 'spread-tsan-workload' is the release build doing what
# tsan-clang and tsan-gcc do in 'spread'. Such cells are cost baselines,
# not part of the matrix (racelab.cost).
WORKLOAD = "-workload"


def results_name(lab, build, tool, config):
    return f"{lab}-{build}-{tool}-{config}.jsonl"


def report_name(results_name, report):
    """Where --keep-output keeps a tool's raw report, beside its records:
    '1-broken-helgrind-spread.jsonl' -> '1-broken-helgrind-spread.report.xml'
    for Valgrind's XML (report 'valgrind-xml'), .report.txt otherwise."""
    ext = ".xml" if report == "valgrind-xml" else ".txt"
    return results_name.removesuffix(".jsonl") + ".report" + ext


def problem(record):
    """Why a decoded record cannot be used, or None when it can."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for key, kind in _REQUIRED.items():
        if key not in record:
            return f"missing field '{key}'"
        value = record[key]
        # bool is a subclass of int in Python; a trial number of true is wrong.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"field '{key}' should be {kind.__name__}"
    for key, kind in _OPTIONAL.items():
        value = record.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"field '{key}' should be a number"
    if record["schema"] != SCHEMA:
        return f"schema '{record['schema']}' is not {SCHEMA}"
    if record["outcome"] not in OUTCOMES:
        return f"unknown outcome '{record['outcome']}'"
    if record["build"] not in ("broken", "fixed", "student"):
        return f"unknown build '{record['build']}'"
    for f in record["findings"]:
        if not isinstance(f, dict) or not isinstance(f.get("kind"), str):
            return "a finding without a kind"
        if not isinstance(f.get("incomplete", False), bool):
            return "a finding whose 'incomplete' is not true or false"
    return None


def read(path):
    """Yields the records of one .jsonl file; Failure naming file:line on
    the first bad one. Blank lines are allowed (an editor's trailing one)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise Failure(f"cannot read {shown(path)}: {getattr(e, 'strerror', None) or e}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise Failure(f"{shown(path)}:{number}: bad JSON ({e.msg})") from None
        why = problem(record)
        if why:
            raise Failure(f"{shown(path)}:{number}: bad trial record: {why}")
        yield record


def read_dir(directory):
    """All records of all .jsonl files under DIR, at any depth: `make lab-N`
    and check_rates.py write into DIR/lab-N-<time>/ and DIR/check-<time>/,
    and `make report` reads them all from DIR. A path with a part that starts
    with '.' below DIR is skipped: DIR/.partial/ holds an unfinished run's
    records, which were never added and must not be counted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise Failure(f"no results directory {shown(directory)} (run trials first)")
    paths = [p for p in directory.rglob("*.jsonl")
             if not any(part.startswith(".") for part in p.relative_to(directory).parts)]
    for path in sorted(paths):
        if path.is_file():
            yield from read(path)


def dumps(record):
    """One record as one line, keys in the order they were built."""
    return json.dumps(record, separators=(",", ":")) + "\n"


def append_atomically(target, data):
    """Appends bytes to target so that readers see all of them or none.

    The old content plus the new goes to a temporary file in the same
    directory, which is then renamed over the target. A lock file keeps two
    runs that finish at once from losing each other's records.
    """
    target = Path(target)
    with open(target.parent / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = target.read_bytes() if target.exists() else b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        write_atomically(target, old + data)


def write_atomically(target, data):
    """Writes a whole file so that it is either the old one or the new one."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
