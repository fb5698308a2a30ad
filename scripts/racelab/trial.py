"""One trial: run the driver under a tool, read what happened, judge it.

How a trial ended is decided from evidence in a fixed order of trust:

  tool-error  the tool could not start, TSan said FATAL, Valgrind wrote no
              or broken XML, or complained about itself. Never a detection,
              and excluded from every rate: the trial measured nothing.
  hang        killed at the time limit, or the driver's own watchdog said
              so (outcome "hang", exit 3)
  detected    at least one finding matched the declared race site
  crash       killed by a signal, a crash report from the tool, or no
              result line from the driver at all
  manifested  the driver's invariant checks failed
  clean       none of the above

The outcome is the first that applies; the booleans keep the rest (a
detected trial may also have manifested). A hang or a crash counts as
manifested: the race did something a user would notice.
"""

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import namedtuple
from pathlib import Path

from . import match, records, scenario, tsan, valgrind
from .cli import Failure
from .tools import command, environment

DRIVER_USAGE_EXIT = 2
# The driver could not start its threads (out of resources): the trial
# measured nothing, so it is a tool error, neither a crash nor a symptom.
DRIVER_RESOURCE_EXIT = 4
DRIVER_HANG_EXIT = 3
# Seconds the runner waits past 1.2 x the driver's own time limit before it
# kills the trial's process group itself.
KILL_GRACE_S = 5.0
# What every trial runs through (execute), under the build directory: its
# peak memory, not the runner's.
RUSAGE_LAUNCHER = "bin/racelab-rusage"


# What execute() saw of one process. code: its exit status (negative: the
# signal that killed it; None: it did not start); out, err: bytes;
# elapsed_s: wall time from start to exit; timed_out: killed at the limit;
# start_error: why it did not start, or None; usage: {"peak_rss_kb",
# "cpu_s"} of that process alone, or None when it did not start.
Execution = namedtuple("Execution", "code out err elapsed_s timed_out start_error usage")


def kill_group(proc):
    """SIGKILL the trial's whole process group (valgrind and its child, or a
    driver with threads stuck in a lock cycle), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def execute(argv, limit_s, cwd, env=None):
    """Runs argv in its own process group with a hard time limit.

    Returns an Execution (above). The child gets its own session so that a Ctrl-C
    aimed at the runner reaches only the runner, which then kills the group.

    usage is the program's own resource use, as the launcher
    build/bin/racelab-rusage (stress/rusage_exec.c) reports it: a process's
    peak memory survives exec on Linux, so a program this runner started
    directly would report at least the runner's own memory. Under Valgrind
    and TSan the program is the tool process itself (valgrind execs the
    tool; setarch execs the program), so the figure is the tool's cost.
    Without the launcher (not built), or when the trial is killed at its
    limit (the launcher dies with it), the peak is None: unknown.
    """
    start = time.monotonic()
    launcher = scenario.build_dir() / RUSAGE_LAUNCHER
    if not launcher.is_file() or not _runnable(argv[0], cwd):
        launcher = None
    report_r, report_w = os.pipe() if launcher else (None, None)
    try:
        proc = subprocess.Popen(
            [str(launcher), str(report_w), *argv] if launcher else argv, cwd=cwd,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=env, pass_fds=(report_w,) if launcher else ())
    except OSError as e:
        return Execution(None, b"", b"", 0.0, False, f"cannot run {argv[0]}: {e.strerror}", None)
    finally:
        if launcher:
            os.close(report_w)
    # Pipes are drained by threads while the main thread blocks in wait4:
    # a TSan report can be larger than a pipe's buffer.
    chunks = {"out": [], "err": []}
    readers = [threading.Thread(target=_drain, args=(pipe, chunks[name]), daemon=True)
               for name, pipe in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    expired = threading.Event()

    def at_limit():
        expired.set()
        kill_group(proc)

    timer = threading.Timer(limit_s, at_limit)
    timer.daemon = True
    timer.start()
    try:
        _, status, rusage = os.wait4(proc.pid, 0)
    except BaseException:
        timer.cancel()
        kill_group(proc)
        proc.wait()
        raise
    elapsed = time.monotonic() - start
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(KILL_GRACE_S)
    if any(reader.is_alive() for reader in readers):
        kill_group(proc)  # something the trial started still holds its pipes
        for reader in readers:
            reader.join()
    usage = _usage(report_r, rusage)
    return Execution(proc.returncode, b"".join(chunks["out"]), b"".join(chunks["err"]), elapsed,
                     expired.is_set(), None, usage)


def _runnable(program, cwd):
    """Whether program names a file that can be run: the launcher would
    report a missing one only as exit 127, not as a start error."""
    if os.sep in program:
        return os.access(Path(cwd or ".") / program, os.X_OK)
    return shutil.which(program) is not None


def _usage(report_r, rusage):
    """{"peak_rss_kb", "cpu_s"}: the launcher's line when it wrote one, else
    the waited process's CPU time and no peak (see execute)."""
    line = b""
    if report_r is not None:
        with os.fdopen(report_r, "rb") as report:
            line = report.read()
    try:
        rss, user, system = line.split()
        return {"peak_rss_kb": int(rss), "cpu_s": round(float(user) + float(system), 3)}
    except ValueError:
        return {"peak_rss_kb": None, "cpu_s": round(rusage.ru_utime + rusage.ru_stime, 3)}


def _drain(pipe, into):
    with pipe:
        for block in iter(lambda: pipe.read(65536), b""):
            into.append(block)


def program_result(stdout):
    """The driver's JSON result line, or None. It prints exactly one per
    trial; anything else on stdout is ignored."""
    result = None
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                candidate = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(candidate, dict) and result is None:
                result = candidate
    return result


def classify(*, timed_out, returncode, program, findings, tool_error):
    """Decides a trial's outcome from what was observed. Pure, so every
    branch is unit-tested. Returns (outcome, manifested, detected, error)."""
    said = bool(program and program.get("manifested"))
    if tool_error:
        return "tool-error", said, False, tool_error
    hang = (timed_out or (program or {}).get("outcome") == "hang"
            or returncode == DRIVER_HANG_EXIT)
    died = returncode is not None and returncode < 0 and not timed_out
    crash_report = next((f for f in findings if f["kind"] == tsan.CRASH), None)
    detected = any(f.get("matched") for f in findings)
    error = None
    if timed_out:
        error = "killed at the time limit"
    elif died:
        error = f"killed by {signal_name(-returncode)}"
    elif crash_report:
        error = f"the tool reported a crash: {crash_report['summary']}"
    elif program is None and not hang:
        error = f"no result line from racelab-stress (exit {returncode})"
    crash = not hang and error is not None
    manifested = said or hang or crash
    for outcome, true in (("hang", hang), ("detected", detected), ("crash", crash),
                          ("manifested", manifested)):
        if true:
            return outcome, manifested, detected, error
    return "clean", False, False, None


def signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Plan:
    """Everything that is the same for every trial of one run."""

    def __init__(self, *, run, lab, build, variant, tool, exe, scenario, site,
                 time_limit_s, threads, pinning, cpus, ops, quiet, config, root, tmpdir,
                 sets=(), extra=(), shard=None):
        self.__dict__.update(locals())
        del self.__dict__["self"]

    def driver_args(self, seed):
        args = ["--scenario", str(self.scenario), "--seed", str(seed),
                "--time-limit", str(self.time_limit_s), "--threads", str(self.threads)]
        if self.tool.profile:
            args += ["--profile", self.tool.profile]
        if self.cpus:
            args += ["--cpus", ",".join(map(str, self.cpus))]
        else:
            args += ["--pin", self.pinning]
        if self.ops:
            args += ["--ops", str(self.ops)]
        for kv in self.sets:
            args += ["--set", kv]
        if self.quiet:
            args.append("--quiet")
        return args + list(self.extra)

    def hard_limit_s(self):
        """The driver's own watchdog fires at time_limit_s and still prints
        its result; the runner kills only what that watchdog cannot stop
        (a tool stuck at startup or exit), a little later."""
        return self.time_limit_s * 1.2 + KILL_GRACE_S


def run_trial(plan, number, seed):
    """Runs trial `number` (1-based). Returns (record, raw_report): raw_report
    is the tool's own output (TSan stderr or Valgrind XML, bytes), or None."""
    tool = plan.tool
    xml_file = os.path.join(plan.tmpdir, f"trial-{number}.xml") if tool.report == "valgrind-xml" else None
    argv = command(tool, plan.exe, plan.driver_args(seed), xml_file)
    load = round(os.getloadavg()[0], 2)  # how busy the machine was (records.FIELDS)
    ran = execute(argv, plan.hard_limit_s(), plan.root, environment(tool))
    code, timed_out, start_error = ran.code, ran.timed_out, ran.start_error
    stderr_text = ran.err.decode("utf-8", "replace")
    program = program_result(ran.out.decode("utf-8", "replace"))

    if (start_error is None and not timed_out and code == DRIVER_USAGE_EXIT
            and program is None):
        last = next((l for l in reversed(stderr_text.splitlines()) if l.strip()), "no message")
        last = last.strip().removeprefix("racelab-stress: ")
        raise Failure(f"racelab-stress rejected the arguments: {last}")

    findings, tool_error, raw = [], start_error, None
    if tool_error is None and not timed_out and code == DRIVER_RESOURCE_EXIT and program is None:
        last = next((l for l in reversed(stderr_text.splitlines()) if l.strip()), "")
        tool_error = f"racelab-stress could not run: {last.strip().removeprefix('racelab-stress: ')}"
    if tool.report == "tsan":
        findings, fatal = tsan.parse(stderr_text, tool.name)
        tool_error = tool_error or fatal
        raw = ran.err
    elif tool.report == "valgrind-xml" and start_error is None:
        try:
            with open(xml_file, "rb") as f:
                raw = f.read()
            os.unlink(xml_file)
        except FileNotFoundError:
            raw = b""
        findings, xml_problem = valgrind.parse(raw, tool.name)
        own = valgrind.own_failure(stderr_text)
        # Killed at the time limit, the XML is cut short: expected, not a failure.
        tool_error = own or (None if timed_out else xml_problem)
    for f in findings:
        match.judge(f, plan.site)

    outcome, manifested, detected, error = classify(
        timed_out=timed_out, returncode=code, program=program,
        findings=findings, tool_error=tool_error)
    program = program or {}
    record = records.new(
        run=plan.run,
        trial=number,
        lab=plan.lab,
        build=plan.build,
        variant=plan.variant,
        tool=tool.name,
        flavour=tool.flavour,
        config=plan.config,
        threads=program.get("threads", plan.threads),
        pinning=program.get("pinning", "list" if plan.cpus else plan.pinning),
        cpus=program.get("cpus", plan.cpus),
        seed=program.get("seed", seed),
        time_limit_s=plan.time_limit_s,
        outcome=outcome,
        manifested=manifested,
        detected=detected,
        exit={"code": code if code is not None and code >= 0 else None,
              "signal": signal_name(-code) if code is not None and code < 0 else None},
        elapsed_s=round(ran.elapsed_s, 3),
        # The cost of the tool (report.py's cost table): the trial process's
        # peak resident memory and CPU time, user plus system.
        peak_rss_kb=ran.usage["peak_rss_kb"] if ran.usage else None,
        cpu_s=ran.usage["cpu_s"] if ran.usage else None,
        invariants=program.get("invariants"),
        program=program or None,
        findings=findings,
        findings_total=len(findings),
        findings_matched=sum(1 for f in findings if f["matched"]),
        error=error, loadavg=load,
        stderr_tail=stderr_tail(stderr_text) if tool.report is None and outcome in
        ("crash", "hang") else None,
        # Only a sharded check's records carry their shard (records.OPTIONAL).
        **({"shard": {"index": plan.shard[0], "count": plan.shard[1]}} if plan.shard else {}),
    )
    return record, raw


def stderr_tail(text, lines=3, width=200):
    """The program's last words before it died or was stopped: for a crash
    of the broken cache, glibc's "double free or corruption (out)" is the
    evidence a student should see. Only for runs without a tool, whose
    stderr is the program's own."""
    tail = [line[:width] for line in text.splitlines() if line.strip()][-lines:]
    return tail or None
