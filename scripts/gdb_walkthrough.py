#!/usr/bin/env python3
"""gdb_walkthrough.py: a lab's forced interleaving in gdb, live or in batch.

Each lab with a walkthrough has labs/lab-N-*/walkthrough.sched: a schedule
that scripts/gdb/racesched.py follows in gdb on the debug build, resuming
one thread at a time at named race points.

  --interactive   opens gdb on the walkthrough (make gdb-lab-N): the
                  instructor types step-schedule, show-state, run-schedule,
                  or drives: step-thread A, run-to B POINT, rshow, undo,
                  restart, finish-all, save FILE
  (default)       runs it in batch (make demo-lab-N) on the broken build,
                  then the fixed one, and prints the transcripts; exit 0
                  when the broken build showed the symptom and the fixed
                  build did not, 1 otherwise
  --runs K        runs each build K times and counts (transcripts hidden)

Every batch run of gdb is under a time limit (--timeout). The schedule is
checked before gdb starts (scripts/racelab/schedule.py: its race points and
thread letters against the lab), and by the driver against the build (its
state expressions) before the program runs its work: a mistake is one line
naming the schedule's file and line, and exit 2.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from racelab import cli  # noqa: E402
from racelab import scenario  # noqa: E402
from racelab import schedule as schedule_mod  # noqa: E402
from racelab.cli import Failure  # noqa: E402

PROG = "gdb_walkthrough.py"
ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "scripts" / "gdb" / "racesched.py"
RESULT = "racesched: result: "
SCHEDULE_ERROR = "racesched: schedule error: "


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("--lab", type=cli.positive_int, required=True, help="the lab number")
    p.add_argument("--build", choices=("broken", "fixed", "both"), default=None,
                   help="which build (batch default: both, broken first; interactive: broken)")
    p.add_argument("--interactive", action="store_true", help="open gdb for a live walkthrough")
    p.add_argument("--runs", type=cli.positive_int, default=1,
                   help="batch runs per build; above 1, only the counts are shown")
    p.add_argument("--taskset", metavar="CPUS",
                   help="confine gdb and the program to these CPUs (taskset -c CPUS)")
    p.add_argument("--timeout", type=cli.positive_int, default=30,
                   help="seconds one batch run of gdb may take (default 30)")
    p.add_argument("--libc-symbols", action="store_true",
                   help="load the C library's debug information too (full libc frames"
                        " in stacks; gdb starts slower, and so does undo)")
    p.add_argument("--schedule", metavar="FILE",
                   help="the schedule (default labs/lab-N-*/walkthrough.sched)")
    p.add_argument("--program", metavar="PATH",
                   help="the debug build to run (default build/debug/<variant>/racelab-stress);"
                        " only with one --build")
    return p


def find_schedule(lab, given):
    if given:
        path = Path(given)
        if not path.is_file():
            raise Failure(f"no schedule file {given}")
        return path
    scenario.stress_lab_dir(lab)  # a service lab has no walkthrough: one line
    found = sorted(ROOT.glob(f"labs/lab-{lab}-*/walkthrough.sched"))
    if len(found) != 1:
        raise Failure(f"lab {lab} has no walkthrough (labs/lab-{lab}-*/walkthrough.sched)")
    return found[0]


def check_schedule(lab, path):
    """The schedule read and checked against lab (the one it runs on)."""
    try:
        sched = schedule_mod.parse(path)
        found = schedule_mod.check(sched, ROOT)
    except schedule_mod.ScheduleError as e:
        raise Failure(str(e)) from None
    if found.number != lab:
        where = sched["lines"].get("args", str(path))
        raise Failure(f"{where}: the schedule runs lab {found.number} (--lab in its args), "
                      f"not lab {lab}")
    return sched


def program_for(lab, build, given):
    variant = "fixed" if build == "fixed" else f"broken-{lab}"
    path = Path(given) if given else ROOT / "build" / "debug" / variant / "racelab-stress"
    if not os.access(path, os.X_OK):
        if given:
            raise Failure(f"no program {given}")
        rel = os.path.relpath(path, ROOT)
        raise Failure(f"{rel} is not built: run make {rel}")
    return path


def shown(path):
    """A path as the transcript shows it: repo-relative when inside."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def gdb_argv(schedule, program, batch, taskset, libc_symbols=False):
    argv = ["gdb", "-q", "-nx"]
    if batch:
        argv.append("-batch")
    if not libc_symbols:
        # Without the C library's separate debug information gdb starts
        # in half the CPU time, and undo (which starts the program again)
        # takes a tenth of a second instead of most of one; libc's frames
        # keep their exported names (pthread_mutex_lock), all the driver
        # reads.
        argv += ["-iex", "set debug-file-directory"]
    argv += ["-x", str(DRIVER)]
    if batch:
        argv += ["-ex", f"racelab-load {schedule} {program}", "-ex", "run-schedule"]
    else:
        # A schedule the build cannot follow: one line, and back to the shell.
        argv += ["-ex", f"racelab-load --quit-on-error {schedule} {program}"]
    if taskset:
        argv = ["taskset", "-c", taskset] + argv
    return argv


def tidy(text):
    """The transcript without gdb's report of the walkthrough's own time
    limit (a SIGINT that stops a thread that cannot go on: the driver says
    what it means on the next indented line) and gdb's thread chatter."""
    kept, skipping = [], False
    for line in text.splitlines():
        if re.match(r'^(Thread \d+ ".*"|Program) received signal SIGINT', line):
            skipping = True
            if kept and kept[-1] == "":
                kept.pop()
            continue
        if skipping and (line.startswith("    ") or line.startswith(RESULT)):
            skipping = False
        if re.match(r"^(\[Thread debugging using libthread_db|Using host libthread_db"
                    r"|\[Switching to Thread )", line):
            continue
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def run_batch(argv, timeout):
    """One batch run: (transcript, result line or None, seconds)."""
    began = time.monotonic()
    try:
        p = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, text=True,
                           errors="replace")
        text = tidy(p.stdout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        text += f"\n{RESULT}ERROR gdb did not finish within {timeout} s\n"
    took = time.monotonic() - began
    results = [ln[len(RESULT):] for ln in text.splitlines() if ln.startswith(RESULT)]
    return text, (results[-1] if results else None), took


def as_expected(build, result, symptom=True):
    if result is None:
        return False
    if build == "broken" and symptom:
        return result.startswith("SYMPTOM")
    return result.startswith("no symptom")


def main(argv=None):
    args = parser().parse_args(argv)
    if args.taskset and not all(c.isdigit() or c in ",-" for c in args.taskset):
        raise Failure(f"--taskset takes a CPU list like 0 or 0,1 (got '{args.taskset}')")
    if shutil.which("gdb") is None:
        raise Failure("gdb is not installed (scripts/deps.sh installs it)")
    if args.taskset and shutil.which("taskset") is None:
        raise Failure("taskset is not installed (util-linux)")
    schedule = find_schedule(args.lab, args.schedule)
    rel_sched = shown(schedule)
    if args.program and os.access(args.program, os.X_OK):
        args.program = str(Path(args.program).resolve())
    # From here on in the repository's root, as gdb runs; paths inside it
    # are shown repo-relative.
    os.chdir(ROOT)
    sched = check_schedule(args.lab, rel_sched)

    if args.interactive:
        build = args.build or "broken"
        if build == "both":
            raise Failure("--interactive runs one build: --build broken or --build fixed")
        program = program_for(args.lab, build, args.program)
        print(f"lab {args.lab}, {build} build: type step-schedule (again and again), "
              "show-state, run-schedule; or drive: ts A, rt B POINT, rshow, undo, save FILE; "
              "schedule-help lists them", flush=True)
        argv = gdb_argv(rel_sched, shown(program),
                        batch=False, taskset=args.taskset, libc_symbols=args.libc_symbols)
        os.execvp(argv[0], argv)

    builds = ["broken", "fixed"] if args.build in (None, "both") else [args.build]
    if args.program and len(builds) != 1:
        raise Failure("--program goes with --build broken or --build fixed")
    programs = {b: program_for(args.lab, b, args.program) for b in builds}
    # False for a schedule that says `symptom none`: a lab whose bug no
    # interleaving can show here (lab 8 on x86).
    symptom = sched["symptom"]
    all_ok = True
    for build in builds:
        argv = gdb_argv(rel_sched, shown(programs[build]),
                        batch=True, taskset=args.taskset, libc_symbols=args.libc_symbols)
        good, times, last_bad = 0, [], None
        for i in range(args.runs):
            text, result, took = run_batch(argv, args.timeout)
            for line in text.splitlines():
                if line.startswith(SCHEDULE_ERROR):
                    raise Failure(line[len(SCHEDULE_ERROR):])
            times.append(took)
            ok = as_expected(build, result, symptom)
            good += ok
            if not ok:
                last_bad = text
            if args.runs == 1:
                print(f"\n######## lab {args.lab}, {build} build"
                      f"{', taskset -c ' + args.taskset if args.taskset else ''}\n", flush=True)
                print(text.rstrip(), flush=True)
        want = "symptom" if build == "broken" and symptom else "no symptom"
        where = f" (taskset -c {args.taskset})" if args.taskset else ""
        print(f"{PROG}: lab {args.lab} {build}{where}: {want} as expected in {good} of "
              f"{args.runs} run{'s' if args.runs > 1 else ''}, "
              f"{min(times):.1f} to {max(times):.1f} s a run", flush=True)
        if good != args.runs:
            all_ok = False
            if args.runs > 1 and last_bad:
                print(f"--- the last unexpected transcript ({build}):\n{last_bad.rstrip()}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
