"""schedule: a gdb walkthrough's schedule, read and checked before it runs.

A schedule (labs/lab-N-*/walkthrough.sched, or an instructor's own file) is
followed in gdb by scripts/gdb/racesched.py; its format is in GUIDE.md
("Writing a schedule"). Both scripts/gdb_walkthrough.py (before it starts
gdb) and the driver (in gdb, for racelab-load typed by hand) read it here,
so that a mistake is one line naming the file and line before the program
runs its work:

  parse(path)          the directives; a malformed line is a ScheduleError
  check(sched, root)   every race point a step names is one of the lab's
                       (the scenario's race_points, and every
                       RACE_POINT("...") in the lab's broken and fixed
                       modules: race_points lists the points the detectors
                       are matched on, not every marked one), and every
                       thread letter one of the workers the args start,
                       and every {label} a check names one of its state
                       lines
  points(sched, root)  the race points a step may name in its lab

State expressions need the build: the driver checks them in gdb.
Python 3 standard library only (gdb's Python imports it too).
"""

import re
import shlex
from pathlib import Path

from . import labs as labs_mod
from .cli import Failure

DIRECTIVES = ("title", "symptom", "args", "wait", "limit", "state", "say", "say.broken",
              "say.fixed", "step", "show", "gdb", "finish", "predict", "check", "check.broken",
              "check.fixed")
LABEL_RE = re.compile(r"\{([^{}]+)\}")
SHOWS = ("state", "threads", "stacks")
THREAD_RE = re.compile(r"^(main|[A-H])$")
POINT_RE = re.compile(r"^(end|[a-z0-9_]+(\.[a-z0-9_]+)+)$")
LETTERS = "ABCDEFGH"


class ScheduleError(Exception):
    """The schedule cannot be followed (or cannot be read): one line."""


def parse(path):
    """The schedule at path as a dict: title, symptom, args, wait, limit,
    state [(label, thread, function, expr, where)], actions [(kind, a, b,
    where)], lines {directive: where of its first line}. where is
    "path:line"."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise ScheduleError(f"cannot read schedule {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ScheduleError(f"{path}: not a text file") from None
    sched = {"title": "", "symptom": True, "args": [], "wait": 0.5, "limit": 30.0,
             "state": [], "actions": [], "lines": {}}
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        where = f"{path}:{n}"
        if word not in DIRECTIVES:
            raise ScheduleError(f"{where}: unknown directive '{word}'")
        sched["lines"].setdefault(word, where)
        if word == "title":
            sched["title"] = rest
        elif word == "symptom":
            if rest != "none":
                raise ScheduleError(f"{where}: the only symptom line is 'symptom none'")
            sched["symptom"] = False
        elif word == "args":
            try:
                sched["args"] += shlex.split(rest)
            except ValueError as e:
                raise ScheduleError(f"{where}: args: {e}") from None
        elif word in ("wait", "limit"):
            try:
                sched[word] = float(rest)
            except ValueError:
                raise ScheduleError(f"{where}: {word} takes seconds (got '{rest}')") from None
            if not 0 < sched[word] <= 600:
                raise ScheduleError(f"{where}: {word} must be in (0, 600] seconds")
        elif word == "state":
            parts = [p.strip() for p in rest.split("|")]
            if len(parts) != 3 or len(parts[1].split()) != 2 or not parts[2]:
                raise ScheduleError(f"{where}: state takes LABEL | THREAD FUNCTION | EXPR")
            thread, func = parts[1].split()
            if not THREAD_RE.match(thread):
                raise ScheduleError(f"{where}: unknown thread '{thread}' (main, A, B, ...)")
            sched["state"].append((parts[0], thread, func, parts[2], where))
        else:
            action(sched, word, rest, where)
    if not sched["actions"]:
        raise ScheduleError(f"{path}: no steps")
    return sched


def action(sched, word, rest, where):
    """One of the steps and the lines between them (step, show, finish,
    say, check, predict, gdb), appended to sched["actions"]."""
    if word == "step":
        m = re.match(r"^(\S+)\s+to\s+(\S+)$", rest)
        if not m or not THREAD_RE.match(m.group(1)) or m.group(1) == "main":
            raise ScheduleError(f"{where}: step takes THREAD to POINT (e.g. A to x.y.window)")
        if not POINT_RE.match(m.group(2)):
            raise ScheduleError(f"{where}: '{m.group(2)}' is not a race point name or 'end'")
        sched["actions"].append(("step", m.group(1), m.group(2), where))
    elif word == "show":
        if rest not in SHOWS:
            raise ScheduleError(f"{where}: show takes one of {', '.join(SHOWS)}")
        sched["actions"].append(("show", rest, None, where))
    elif word == "finish":
        try:
            secs = float(rest) if rest else None
        except ValueError:
            raise ScheduleError(f"{where}: finish takes seconds (got '{rest}')") from None
        sched["actions"].append(("finish", secs, None, where))
    elif word.startswith("say."):
        sched["actions"].append(("say", rest, word[4:], where))
    elif word.startswith("check"):
        if not rest:
            raise ScheduleError(f"{where}: check takes a condition over {{state labels}}")
        sched["actions"].append(("check", rest, word[6:] or None, where))
    elif word == "predict":
        if not rest:
            raise ScheduleError(f"{where}: predict takes the question to ask")
        if sched["actions"] and sched["actions"][-1][0] == "predict":
            # A question over several lines: one predict.
            kind, text, _, first = sched["actions"].pop()
            rest = f"{text}\n{rest}"
            where = first
        sched["actions"].append(("predict", rest, None, where))
    else:  # say, gdb
        sched["actions"].append((word, rest, None, where))


def option(args, name):
    """The value of --name V or --name=V in args (the last one), or None."""
    value = None
    for i, a in enumerate(args):
        if a == f"--{name}" and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(f"--{name}="):
            value = a.split("=", 1)[1]
    return value


def marked_points(root, modules):
    """Every RACE_POINT("...") name in the modules' broken and fixed twins."""
    found = set()
    for m in modules:
        for twin in ("broken", "fixed"):
            try:
                text = (Path(root) / twin / f"{m}.c").read_text(encoding="utf-8")
            except OSError:
                continue
            found |= set(re.findall(r'RACE_POINT\("([^"]+)"\)', text))
    return found


def lab_of(sched, root):
    """The lab the schedule's args name (--lab N), from the registry."""
    where = sched["lines"].get("args", sched["actions"][0][3].rsplit(":", 1)[0])
    value = option(sched["args"], "lab")
    if value is None:
        raise ScheduleError(f"{where}: args must name the lab (--lab N)")
    try:
        known = labs_mod.load_all(root)
    except Failure as e:
        raise ScheduleError(str(e)) from None
    for lab in known:
        if str(lab.number) == value:
            return lab
    raise ScheduleError(f"{where}: args name lab {value}; the labs are "
                        + ", ".join(str(lab.number) for lab in known))


def points(sched, root):
    """The race points a step may stop at in the schedule's lab."""
    lab = lab_of(sched, root)
    return set(lab.get("race_points").split()) | marked_points(root, lab.modules)


def check(sched, root):
    """Every race point and thread letter of the schedule against its lab;
    a ScheduleError naming the line of the first one that is wrong."""
    lab = lab_of(sched, root)
    points = set(lab.get("race_points").split()) | marked_points(root, lab.modules)
    where_args = sched["lines"].get("args")
    value = option(sched["args"], "threads") or lab.get("threads") or "2"
    try:
        nthreads = int(value)
    except ValueError:
        raise ScheduleError(f"{where_args}: --threads takes a number (got '{value}')") from None
    if not 1 <= nthreads <= len(LETTERS):
        raise ScheduleError(f"{where_args}: a schedule runs 1 to {len(LETTERS)} workers "
                            f"(A to {LETTERS[-1]}); the args start {nthreads}")
    workers = LETTERS[:nthreads]
    started = (f"the args start {nthreads} worker{'s' if nthreads > 1 else ''} "
               f"({', '.join(workers)})")

    def known_thread(thread, where, main_too):
        if thread in workers or (main_too and thread == "main"):
            return
        raise ScheduleError(f"{where}: there is no thread {thread}: {started}"
                            + (", and main" if main_too else ""))

    for _label, thread, _func, _expr, where in sched["state"]:
        known_thread(thread, where, True)
    labels = {label for label, *_ in sched["state"]}
    for kind, a, b, where in sched["actions"]:
        if kind == "check":
            for label in LABEL_RE.findall(a):
                if label not in labels:
                    raise ScheduleError(f"{where}: check names {{{label}}}, which is not a state "
                                        "label (the state lines' first field)")
        if kind != "step":
            continue
        known_thread(a, where, False)
        if b != "end" and b not in points:
            raise ScheduleError(f"{where}: lab {lab.number} has no race point '{b}' (its "
                                f"points: {', '.join(sorted(points))}; or end)")
    return lab
