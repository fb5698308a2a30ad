"""Trial records: the schema, reading .jsonl files, appending atomically.

One trial is one JSON object on one line (schema "racelab.trial/2": FIELDS
below says every field, PROGRAM the driver's part, FINDING a tool's;
PROGRAM_FIELDS those of an outside program's record, racelab run's). This
module is the only writer (new(), dumps()) and reader (read(), read_dir())
of them, and the only place their files are named. The report reads nothing else, so it can be rerun on old results or on results
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
import re
from pathlib import Path

from .cli import Failure
from .scenario import shown
from .tools import TOOLS

SCHEMA = "racelab.trial/2"
# racelab.trial/1: the same fields, written before every field was required
# and checked. Such records still read: a field they lack is absent (old
# records have no elapsed_s, peak_rss_kb, cpu_s), a field they have is
# checked as in /2. Anything else in "schema" is refused.
OLD_SCHEMAS = ("racelab.trial/1",)
OUTCOMES = ("clean", "manifested", "detected", "hang", "crash", "tool-error")
BUILDS = ("broken", "fixed", "student")
PINNINGS = ("spread", "compact", "same-cpu", "none", "list")


# Each rule takes a value and returns what is wrong with it, or None.

def _is(kind, value):
    if kind is None:
        return value is None
    if isinstance(value, bool):  # bool is an int in Python; true is no trial number
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


_WORDS = {None: "null", str: "a string", int: "an integer", float: "a number",
          bool: "true or false", list: "a list", dict: "an object"}


def _kind(*kinds, minimum=None):
    def rule(value):
        if not any(_is(k, value) for k in kinds):
            return "should be " + " or ".join(_WORDS[k] for k in kinds)
        if minimum is not None and value is not None and value < minimum:
            return f"should be at least {minimum}"
        return None
    return rule


def _one_of(*allowed, null=False):
    def rule(value):
        if value is None and null:
            return None
        if value not in allowed:
            return f"should be one of {', '.join(allowed)} (not {json.dumps(value)})"
        return None
    return rule


def _at(path, why):
    """A nested rule's complaint: '.a.line: should be ...' or '[2]: ...'
    when it names its own path, else ': why' after `path`."""
    return f"{path}{why}" if why.startswith((".", "[")) else f"{path}: {why}"


def _list_of(each, null=False):
    def rule(value):
        if value is None and null:
            return None
        if not isinstance(value, list):
            return "should be a list" + (" or null" if null else "")
        for i, item in enumerate(value):
            why = each(item)
            if why:
                return _at(f"[{i}]", why)
        return None
    return rule


def _object(fields, optional=(), null=False, other=None):
    """An object with these fields (all required but `optional`); `other`
    is the rule of any other key (None: no other key allowed)."""
    def rule(value):
        if value is None and null:
            return None
        if not isinstance(value, dict):
            return "should be an object" + (" or null" if null else "")
        return _members(value, fields, optional, other, prefix=".")
    return rule


def _members(value, fields, optional=(), other=None, prefix=""):
    for key, check in fields.items():
        if key not in value:
            if key not in optional:
                return f"{prefix}{key}: missing"
            continue
        why = check(value[key])
        if why:
            return _at(prefix + key, why)
    for key in value:
        if key not in fields:
            if other is None:
                return f"{prefix}{key}: unknown (not a field of {SCHEMA})"
            why = other(value[key])
            if why:
                return _at(prefix + key, why)
    return None


_STR, _INT, _NUM, _BOOL = _kind(str), _kind(int), _kind(float), _kind(bool)


def _variant(value):
    if not isinstance(value, str) or not re.fullmatch(r"fixed|(broken|student)-[1-9]\d*", value):
        return f"should be fixed, broken-N or student-N (not {json.dumps(value)})"
    return None
_STR_OR_NULL, _INT_OR_NULL = _kind(str, None), _kind(int, None)

# One side of a finding: the first frame in the program's own source.
_SIDE = _object({"access": _STR_OR_NULL, "size": _INT_OR_NULL, "file": _STR,
                 "line": _INT_OR_NULL, "function": _STR_OR_NULL, "thread": _STR_OR_NULL},
                null=True)

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
FINDING = {
    "kind": _STR, "tool": _STR_OR_NULL, "summary": _STR_OR_NULL, "a": _SIDE, "b": _SIDE,
    "stack_a": _list_of(_STR), "matched": _BOOL, "pair": _BOOL, "race_point": _STR_OR_NULL,
    "incomplete": _BOOL,
}
# A /1 record's findings may be as short as {"kind": ...}.
_FINDING = _object(FINDING, optional=tuple(k for k in FINDING if k != "kind"))

# The sched build's schedule (stress/main.c, common/racesched.c): the
# strategy (random, pct:D, replay, prefix), the steps the trial took and
# its trace, one thread letter a step, run-length encoded (A3B = AAAB),
# rounds separated by '/'.
def _pattern(regex, what):
    def rule(value):
        if not isinstance(value, str) or not re.fullmatch(regex, value):
            return f"should be {what} (not {json.dumps(value)})"
        return None
    return rule


_SCHEDULE = _object({
    "strategy": _pattern(r"random|pct:[0-9]+|replay|prefix", "random, pct:D, replay or prefix"),
    "steps": _kind(int, minimum=0),
    "trace": _pattern(r"(?:[A-Za-z][0-9]*|/)*",
                      "a trace: thread letters, each with an optional count, '/' between rounds"),
})

# The driver's own part of the record (racelab-stress's JSON line,
# stress/main.c): what it ran and saw. A hang's line, written by the
# watchdog, stops after time_limit_s and adds outcome, manifested,
# invariants (null) and, with --hang-stacks, stacks: so only those three
# are required. The sched build adds schedule to every line, and detail
# "deadlock" to a hang its scheduler found (every thread blocked).
PROGRAM = {
    "lab": _kind(int, minimum=1), "variant": _STR, "build": _STR, "flavour": _STR,
    "trial": _kind(int, minimum=1), "threads": _kind(int, minimum=1),
    "pinning": _one_of(*PINNINGS), "cpus": _list_of(_INT), "mem_node": _INT_OR_NULL,
    "topology": _object({"nodes": _INT, "cpus": _INT, "desc": _STR}),
    "seed": _INT, "ops": _INT, "time_limit_s": _INT, "rounds": _INT, "ops_done": _INT,
    "elapsed_s": _NUM, "outcome": _one_of("clean", "manifested", "hang"),
    "manifested": _BOOL, "invariants": _object({}, null=True, other=_INT),
    "first_violation": _STR_OR_NULL, "stacks": _list_of(_STR),
    "schedule": _SCHEDULE, "detail": _one_of("deadlock"),
}
_PROGRAM = _object(PROGRAM, optional=tuple(k for k in PROGRAM
                                           if k not in ("outcome", "manifested", "invariants")),
                   null=True)

# A record's lab is a lab's number, or, in a program's record (below), the
# program's name. This is the one rule for such a name, in records and in
# expected tables (racelab/expected.py) alike. Sorted (lab_key), the labs
# come first, then the programs.
def program_name(text):
    """Whether text can name a program in a record's lab field: letters,
    digits and ._+-, a letter or digit first, not a number alone
    ('counter-yes', from counter-yes.c)."""
    return (isinstance(text, str) and bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]*", text))
            and not text.isdigit())


def _program_name(value):
    if not program_name(value):
        return ("should be a lab's number or a program's name (letters, digits and ._+-, "
                f"not a number alone; not {json.dumps(value)})")
    return None


# Every field of a trial record, in the order trial.py builds it.
FIELDS = {
    "schema": _STR,
    "run": _STR,                          # the run's id: start time and a random tag
    "trial": _kind(int, minimum=1),       # 1-based within the run
    "lab": _kind(int, minimum=1),
    "build": _one_of(*BUILDS),
    "variant": _variant,                  # fixed, broken-N, student-N
    "tool": _one_of(*TOOLS),
    "flavour": _one_of(*sorted({t.flavour for t in TOOLS.values()})),  # the build the tool runs
    "config": _STR,                       # config_name()
    "threads": _kind(int, minimum=1),
    "pinning": _one_of(*PINNINGS),
    "cpus": _list_of(_INT, null=True),    # --cpus, or the driver's placement
    "seed": _INT,
    "time_limit_s": _kind(int, minimum=1),
    "outcome": _one_of(*OUTCOMES),
    "manifested": _BOOL,
    "detected": _BOOL,
    "exit": _object({"code": _INT_OR_NULL, "signal": _STR_OR_NULL}),
    "elapsed_s": _kind(float, minimum=0),  # wall-clock seconds of the trial process
    "peak_rss_kb": _kind(int, None),       # its peak resident memory (wait4's ru_maxrss)
    "cpu_s": _kind(float, None),           # its CPU time, user plus system
    "invariants": _object({}, null=True, other=_INT),
    "program": _PROGRAM,
    "findings": _list_of(_FINDING),
    "findings_total": _kind(int, minimum=0),
    "findings_matched": _kind(int, minimum=0),
    "error": _STR_OR_NULL,                # why a tool error, a crash or a hang
    "stderr_tail": _list_of(_STR, null=True),  # the program's last words (crash, hang)
    # Optional: the shard of a sharded check (check_rates.py --shard I/N,
    # racelab.shards) that ran the trial; absent from an unsharded run's.
    "shard": _object({"index": _kind(int, minimum=1), "count": _kind(int, minimum=1)}),
    # Optional: the machine's 1-minute load average just before the trial
    # (os.getloadavg), so a measured rate says how busy the machine was
    # (report.py --write-expected puts its range in the row's note);
    # absent from records written before it was kept.
    "loadavg": _kind(float, minimum=0),
}
# The fields a record of the current schema may leave out.
OPTIONAL = ("shard", "loadavg")

# A program's record. racelab run (racelab/run.py) and a course pack's check
# (racelab/pack.py) run an outside C program, with its own main(), not the
# stress driver; its records have FIELDS but for these (PROGRAM_FIELDS; not
# to be confused with PROGRAM, the driver's part of a lab's record):
#   lab       the program's name (program_name()), where a lab has a number
#   variant   the program's name again: a program has no broken/fixed twins,
#             its build says whether it declares a race (broken) or none
#   flavour   how it was compiled (PROGRAM_FLAVOURS): native (gcc -O1 -g,
#             what the stress run, Helgrind and DRD run), tsan-clang or
#             tsan-gcc
#   threads, pinning, seed   null: the program chooses them, unseen
#   program   null: there is no driver's line
# config is 'default', or 'args-...' when the program was given arguments.
PROGRAM_FLAVOURS = ("native", "tsan-clang", "tsan-gcc")
PROGRAM_FIELDS = {**FIELDS, "lab": _program_name, "variant": _STR,
                  "flavour": _one_of(*PROGRAM_FLAVOURS), "threads": _kind(int, None, minimum=1),
                  "pinning": _one_of(*PINNINGS, null=True), "seed": _INT_OR_NULL,
                  "program": _kind(None)}


def lab_key(lab):
    """A sort key that puts lab numbers (in order) before program names."""
    return (0, lab, "") if isinstance(lab, int) else (1, 0, lab)


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


def scenario_config(scen, profile, pinning=None, cpus=None, threads=None, ops=None, sets=(),
                    workload=None):
    """config_name() of a run of scenario `scen` under a tool's profile,
    with trials.py's overrides (None: the scenario's value). trials.py
    names its results file with it; lab.py and check_rates.py find that
    file with it."""
    default_threads = scen.number("threads", profile, int)
    return config_name(pinning or scen.require("pinning", profile), cpus,
                       threads or default_threads, default_threads, ops, sets, workload)


def results_name(lab, build, tool, config):
    """The file of one cell's records: '1-broken-tsan-clang-spread.jsonl'."""
    return f"{lab}-{build}-{tool}-{config}.jsonl"


def results_file(directory, lab, build, tool, config):
    return Path(directory) / results_name(lab, build, tool, config)


def report_name(results_name, report):
    """Where --keep-output keeps a tool's raw report, beside its records:
    '1-broken-helgrind-spread.jsonl' -> '1-broken-helgrind-spread.report.xml'
    for Valgrind's XML (report 'valgrind-xml'), .report.txt otherwise."""
    ext = ".xml" if report == "valgrind-xml" else ".txt"
    return results_name.removesuffix(".jsonl") + ".report" + ext


def problem(record):
    """What is wrong with a decoded record, naming the field ("field
    'findings[0].a.line' should be an integer or null"), or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    schema = record.get("schema")
    if schema not in (SCHEMA,) + OLD_SCHEMAS:
        if schema is None:
            return "no field 'schema': not a trial record"
        return f"schema '{schema}' is not {SCHEMA} (nor an older one this reads)"
    # /1 records may lack a field; these were required even then.
    core = ("run", "trial", "lab", "build", "tool", "config", "outcome", "manifested",
            "detected", "findings")
    optional = OPTIONAL if schema == SCHEMA else tuple(k for k in FIELDS if k not in core)
    of_program = isinstance(record.get("lab"), str)
    why = _members(record, PROGRAM_FIELDS if of_program else FIELDS, optional)
    if why:
        name, _, rest = why.partition(": ")
        return f"missing field '{name}'" if rest == "missing" else f"field '{name}' {rest}"
    if of_program and record.get("variant", record["lab"]) != record["lab"]:
        return f"field 'variant' should be the program's name, {record['lab']} (as 'lab')"
    shard = record.get("shard")
    if shard and shard["index"] > shard["count"]:
        return f"field 'shard' is {shard['index']} of {shard['count']}: past the last"
    if record["outcome"] == "detected" and not record["detected"]:
        return "outcome 'detected' but field 'detected' is false"
    for key, count in (("findings_total", len(record["findings"])),
                       ("findings_matched", sum(bool(f.get("matched"))
                                                for f in record["findings"]))):
        if key in record and record[key] != count:
            return f"field '{key}' is {record[key]}, but the findings say {count}"
    return None


def new(**fields):
    """A trial record of the current schema, its fields in FIELDS' order;
    ValueError when it would not read back (a bug in the writer)."""
    record = {"schema": SCHEMA}
    record.update((key, fields[key]) for key in FIELDS if key in fields)
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"not fields of {SCHEMA}: {', '.join(sorted(unknown))}")
    why = problem(record)
    if why:
        raise ValueError(f"a trial record that would not read back: {why}")
    return record


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
    """One record as one line, keys in the order they were built; ValueError
    for a record that would not read back, so none is ever written."""
    why = problem(record)
    if why:
        raise ValueError(f"a trial record that would not read back: {why}")
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
