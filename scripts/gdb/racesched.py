"""racesched.py: force an interleaving in gdb, following a schedule.

Loaded into gdb (gdb -x scripts/gdb/racesched.py), on the debug flavour of
racelab-stress, where every RACE_POINT("name") calls racepoint_hit(name).
It runs the program to the moment its worker threads are released, parks
each worker at the entry of its work, and then resumes them one at a time
with scheduler locking, as a schedule file says: "A to ledger.add.window"
lets only worker A run until it reaches that race point. Stop points are
race-point names and function entries and returns, never line numbers, so
an edit that moves code does not break a walkthrough.

Nothing waits forever: every resumption has a time limit (a helper process
sends SIGINT to the program when it passes). A thread that cannot go on is
said to wait: on a lock or condition variable (its stack says so), or
polling (the same loop in two samples, no race point between: lab 8's
sender before the flag is set). A schedule that cannot be
followed (a thread finishes without reaching its point, the program exits
or crashes) ends with one clear line. A schedule that does not fit its
lab (a race point or thread letter it does not have) or this build (a
state expression it cannot read) is refused before the program runs its
work, one line naming the schedule's file and line.

While a walkthrough holds the threads, gdb's own commands that would move
them (continue, next, step, finish, until, advance ...) are refused by a
hook, with one line saying what to use instead; and before every step the
driver checks that every thread is where the last step left it, so it
never narrates a state that is gone.

Commands it adds to gdb: racelab-load, step-schedule, show-state,
run-schedule, schedule-release, schedule-help (and racelab-guard, the
hook's); and for driving live, the instructor as the scheduler:
step-thread (ts), run-to (rt), rshow, undo, restart, finish-all (rf) and
save. undo and restart start the program again with the same seed and
replay the steps taken, each thread alone to the same stop, so they are
deterministic; save writes those steps as a schedule. scripts/gdb_walkthrough.py starts gdb with them (make gdb-lab-N,
make demo-lab-N).

The schedule format is described in GUIDE.md ("Writing a schedule"); in
short, one directive per line:

  title  TEXT                 printed first
  symptom none                no interleaving shows this lab's bug (lab 8)
  args   OPTIONS              racelab-stress options (small op counts)
  wait   SECONDS              how long a thread may take before the driver
                              looks whether it waits for another (0.5)
  limit  SECONDS              the whole schedule (default 30)
  state  LABEL | THREAD FUNCTION | EXPR
                              shown after every step: EXPR read in the frame
                              of FUNCTION on THREAD (main, A, B, ...); an
                              EXPR ending in " /owner" is a mutex owner LWP,
                              shown as the thread that holds it
  say    TEXT                 the instructor's line (say.broken, say.fixed:
                              only on that build)
  check  COND                 the says after it (to the next step) are told
                              only when COND holds over {state label}s,
                              parts joined by && (check.broken, check.fixed)
  predict QUESTION            asked before the next step, which the next
                              step-schedule runs: the answer
  step   THREAD to POINT      resume only THREAD until it reaches the race
                              point POINT, or "end" (its work returns)
  show   state|threads|stacks
  gdb    COMMAND              any gdb command, its output shown ({variant}
                              is this build's variant: fixed, broken-N)
  finish [SECONDS]            release every thread; the program must exit
                              (a hang: every worker waits, SECONDS on)
"""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import gdb

PREFIX = "racesched"


# undo replays the steps taken so far with nothing printed (QUIET).
QUIET = False


def out(text=""):
    if QUIET:
        return
    gdb.write(text + "\n")
    gdb.flush()


def selected_thread():
    """gdb's selected thread; None when it has exited (gdb then raises)."""
    try:
        return gdb.selected_thread()
    except (SystemError, gdb.error):
        return None


def own_file(file):
    """Whether a frame's source file is racelab's own code, shown to the
    class: a repo-relative path (-ffile-prefix-map), not libc's, and not
    common/racepoint.c, the empty function every race point stops in."""
    return bool(file) and not file.startswith((".", "/")) and file != "common/racepoint.c"


def own_frame(thread):
    """(frame, sal, file) of the thread's innermost frame in racelab's own
    code (the module's line, above racepoint_hit), or (None, None, "").
    Selects the thread."""
    thread.switch()
    f = gdb.newest_frame()
    while f is not None:
        sal = f.find_sal()
        file = sal.symtab.filename if sal.symtab is not None else ""
        if own_file(file):
            return f, sal, file
        f = f.older()
    return None, None, ""


def quietly(cmd):
    """Runs a gdb command that resumes the program without the lines gdb
    prints when it stops (the walkthrough says where each thread is). The
    line for the SIGINT of a time limit is not written through gdb's
    logging: gdb's own standard output is pointed at /dev/null meanwhile
    (the program's output is its own, opened before)."""
    for c in ("set logging file /dev/null", "set logging redirect on",
              "set logging enabled on"):
        gdb.execute(c, to_string=True)
    gdb.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        driving(cmd)
    finally:
        gdb.flush()
        os.dup2(saved, 1)
        os.close(saved)
        gdb.execute("set logging enabled off", to_string=True)


# The driver's own continue, run and kill pass the guard (racelab-guard,
# below); the same commands typed by a person are refused.
DRIVING = False


def driving(cmd, to_string=False):
    global DRIVING
    DRIVING = True
    try:
        return gdb.execute(cmd, to_string=to_string)
    finally:
        DRIVING = False


# --- the schedule file ------------------------------------------------------

# The schedule is read and checked by scripts/racelab/schedule.py, shared
# with scripts/gdb_walkthrough.py (which checks it before gdb starts).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from racelab import schedule as schedule_mod  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ScheduleError(Exception):
    """The schedule cannot be followed: one line."""


class CheckError(ScheduleError):
    """A schedule that does not fit its lab or this build, found before the
    program runs its work."""


C_WORDS = {"sizeof", "struct", "union", "enum", "unsigned", "signed", "int", "long", "short",
           "char", "const", "volatile", "float", "double", "void", "_Bool"}


def names_in(expr):
    """The identifiers an expression reads, without members (after . or ->),
    string and character literals, C keywords and gdb's $variables."""
    expr = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', " ", expr)
    found = []
    for m in re.finditer(r"(\$?)([A-Za-z_][A-Za-z0-9_]*)", expr):
        before = expr[: m.start()].rstrip()
        if m.group(1) or before.endswith((".", "->")) or m.group(2) in C_WORDS:
            continue
        if re.match(r"\d", expr[m.start() - 1:m.start()] or " "):
            continue  # a suffix of a number (10UL)
        found.append(m.group(2))
    return found


# A thread in one of these waits for another thread to let it go on.
WAIT_RE = re.compile(r"lock_wait|mutex_lock|rwlock|cond_wait|cond_timedwait|barrier_wait")


# --- the running program ----------------------------------------------------


class Run:
    """One walkthrough: the program under gdb and where each thread is."""

    def __init__(self, sched_path, program, seed=None):
        # Race points and thread letters against the lab, before anything
        # runs (state expressions are checked against the build at start).
        try:
            self.sched = schedule_mod.parse(sched_path)
            schedule_mod.check(self.sched, ROOT)
        except schedule_mod.ScheduleError as e:
            raise CheckError(str(e)) from None
        self.path = sched_path
        self.program = program
        # The trial's seed: a schedule without --seed gets the one the
        # program picked, so that undo and restart replay the same data.
        self.seed = seed
        if seed is not None and schedule_mod.option(self.sched["args"], "seed") is None:
            self.sched["args"] += ["--seed", str(seed)]
        # broken or fixed, from build/<flavour>/<variant>/racelab-stress
        self.variant = os.path.basename(os.path.dirname(os.path.abspath(program)))
        self.build = "fixed" if self.variant == "fixed" else "broken"
        self.pos = 0  # next action
        # The limit counts the time the program runs, not the time an
        # instructor spends talking between steps.
        self.budget = self.sched["limit"]
        self.workers = {}  # "A" -> gdb.InferiorThread
        self.done = set()  # workers whose work has returned
        self.blocked = {}  # worker -> where it waits
        self.pcs = {}  # ptid -> pc of every thread, as the last step left it
        self.released = False  # schedule-release: gdb has the program back
        self.entry = None
        self.end_bp = None
        self.bps = []
        self.event = None
        self.exit_code = None
        self.stale_sigint = False
        self.finished = False
        self.result = None
        # Live driving: every step taken, scripted or typed, as (thread,
        # point, how it ended: reached, end, blocked, polling); undo and
        # save replay them.
        self.taken = []
        self.seen = {}  # state label -> its last value read (a frame gone)
        # The time each worker ran alone, the others held (its steps that
        # did not end waiting on a lock): a clock it polls ran meanwhile.
        self.alone = {}
        self.held_while = {}  # worker -> whom the driver held meanwhile
        self.muted = False  # a check failed: the says after it are not told
        self.asked = False  # a predict was asked: its step runs next
        self.off_script = None  # the first live step the script does not take
        self.live = False  # a typed step: a point not reached is not an error
        self.fast = False  # replaying: a known wait is found at once
        fd, self.record = tempfile.mkstemp(prefix="racesched-", suffix=".json")
        os.close(fd)

    # gdb events: the last stop (or exit) is what a resumption ended with.
    def on_stop(self, ev):
        self.event = ev

    def on_exit(self, ev):
        self.event = ev
        self.exit_code = getattr(ev, "exit_code", None)

    def breakpoint(self, *args, **kwargs):
        """An internal breakpoint that stops without gdb's own lines."""
        bp = gdb.Breakpoint(*args, internal=True, **kwargs)
        bp.silent = True
        self.bps.append(bp)
        return bp

    def remaining(self):
        return self.budget

    def resume(self, limit, what="the program"):
        """continue (whatever scheduler locking allows) for at most limit s.
        Returns the stop event, or "timeout" when the time limit stopped it.
        The schedule's whole limit bounds every retry: past it, waiting
        for `what` ends the schedule."""
        limit = min(limit, self.remaining())
        if limit <= 0:
            raise ScheduleError(f"the schedule passed its {self.sched['limit']:g} s limit "
                                f"waiting for {what}")
        pid = gdb.selected_inferior().pid
        began = time.monotonic()
        timer = subprocess.Popen(
            ["sh", "-c", f"sleep {limit:.2f}; kill -INT {pid} 2>/dev/null"],
            start_new_session=True,
        )
        sigint = False
        try:
            while True:
                self.event = None
                quietly("continue")
                ev = self.event
                sigint = isinstance(ev, gdb.SignalEvent) and ev.stop_signal == "SIGINT"
                if sigint and self.stale_sigint and timer.poll() is None:
                    # A SIGINT from the previous step's timer, sent just as
                    # that step ended: not this step's, whose timer is
                    # still running.
                    self.stale_sigint = False
                    continue
                self.stale_sigint = False
                break
        finally:
            if timer.poll() is None:
                os.killpg(timer.pid, signal.SIGKILL)
                timer.wait()
            elif not sigint:
                self.stale_sigint = True
            self.budget -= time.monotonic() - began
        if sigint:
            return "timeout"
        return ev

    def resume_patiently(self, what):
        """resume, again and again while the schedule's limit allows."""
        while True:
            ev = self.resume(self.sched["wait"], what)
            if ev != "timeout":
                return ev

    def name_of(self, thread):
        for name, t in self.workers.items():
            if t.ptid == thread.ptid:
                return name
        if thread.ptid[1] == gdb.selected_inferior().pid:
            return "main"
        return f"thread {thread.num}"

    def owner_name(self, lwp):
        for t in gdb.selected_inferior().threads():
            if t.ptid[1] == lwp:
                return self.name_of(t)
        return "nobody" if lwp == 0 else f"LWP {lwp}"

    # --- start: run to the release of the workers and park them ------------

    def start(self):
        s = self.sched
        if s["title"]:
            out(s["title"])
            out("=" * min(len(s["title"]), 78))
        gdb.events.stop.connect(self.on_stop)
        gdb.events.exited.connect(self.on_exit)
        for cmd in (
            "set pagination off",
            "set confirm off",
            "set print thread-events off",
            "set print inferior-events off",
            "set print null-stop on",
            "set suppress-cli-notifications on",
            "set startup-with-shell on",
            "handle SIGINT stop print nopass",
        ):
            gdb.execute(cmd, to_string=True)
        gdb.execute(f"file {self.program}", to_string=True)
        release = self.breakpoint("stress_threads")
        args = " ".join(shlex.quote(a) for a in s["args"])
        out(f"{PREFIX}: running {os.path.relpath(self.program)} {args}")
        self.event = None
        # The trial's own watchdog must not fire while the threads are held.
        quietly(f"run {args} --trials 1 --time-limit 86400 >{self.record}")
        ev = self.event
        if not isinstance(ev, gdb.BreakpointEvent) or release not in ev.breakpoints:
            raise ScheduleError("the program ended before it started its worker threads")
        nthreads = int(gdb.parse_and_eval("run->threads"))
        self.seed = int(gdb.parse_and_eval("run->seed"))
        # The work function (each lab has a static "worker"): break after its
        # prologue, found from its address, so that its arguments are read.
        fn = gdb.block_for_pc(int(gdb.parse_and_eval("(unsigned long)fn"))).function
        # Before any worker runs: every state line against this build.
        keep = gdb.selected_thread()
        for label, thread, func, expr, where in s["state"]:
            self.check_state(thread, func, expr, where)
        keep.switch()
        gdb.newest_frame().select()
        release.delete()
        self.bps.remove(release)
        gdb.execute("set scheduler-locking off", to_string=True)
        self.entry = self.breakpoint(source=fn.symtab.filename, function=fn.name)
        self.breakpoint("racepoint_hit")

        # The first worker to be released stops everything; the others are
        # then brought to the same place one by one.
        self.park(self.resume_patiently("the first worker to start"), None)
        gdb.execute("set scheduler-locking on", to_string=True)
        for t in gdb.selected_inferior().threads():
            if len(self.workers) == nthreads:
                break
            if self.name_of(t) != f"thread {t.num}" or not self.in_function(t, "thread_main"):
                continue
            t.switch()
            self.park(self.resume_patiently(f"worker thread {t.num} to start"), t)
        if len(self.workers) != nthreads:
            raise ScheduleError(f"only {len(self.workers)} of {nthreads} workers reached their work")
        names = ", ".join(f"{n} (thread {t.num})" for n, t in sorted(self.workers.items()))
        out(f"{PREFIX}: {nthreads} workers parked at the start of their work: {names}")
        self.mark()
        self.show_state()

    # --- state lines checked against the build ------------------------------

    def check_state(self, thread, func, expr, where):
        """A state line's function and expression against this build, at the
        first stop: main's frames are there, and its expressions are
        evaluated in full; a worker's function has no frame yet, so every
        name its expression uses must be visible in that function. A name
        missing here but present in the other twin's source (lab 2's t,
        which the fixed ledger has no need for) is "n/a (not in this
        build)" when shown; one missing from both is a schedule error."""
        if expr.endswith(" /owner"):
            expr = expr[: -len(" /owner")]
        sym = self.function(func)
        if sym is None:
            if not self.in_twin(None, rf"\b{re.escape(func)}\s*\("):
                raise CheckError(f"{where}: state reads from {func}, and this build has "
                                 f"no function {func}")
            return
        frame = self.frame_of(thread, func) if thread == "main" else None
        if frame is not None:
            frame.select()
            try:
                gdb.parse_and_eval(expr)
                return
            except gdb.MemoryError:
                return  # a pointer not set yet: read later, when it is
            except gdb.error as e:
                msg = str(e)
                if not msg.startswith("No symbol") and "Division by zero" not in msg:
                    raise CheckError(f"{where}: state '{expr}' in {func}: {msg}") from None
        blocks = self.blocks_of(sym)
        for name in names_in(expr):
            if any(self.visible(name, b) for b in blocks):
                continue
            if self.in_twin(sym, rf"\b{re.escape(name)}\b"):
                continue
            raise CheckError(f"{where}: state '{expr}': no '{name}' in {func} "
                             f"({sym.symtab.filename}): not an argument, local, global "
                             "or type there")

    @staticmethod
    def function(name):
        sym = gdb.lookup_global_symbol(name)
        if sym is None:
            statics = gdb.lookup_static_symbols(name)
            sym = statics[0] if statics else None
        return sym if sym is not None and sym.is_function else None

    def frame_of(self, thread, func):
        t = next((t for t in gdb.selected_inferior().threads()
                  if t.ptid[1] == gdb.selected_inferior().pid), None)
        if t is None:
            return None
        t.switch()
        f = gdb.newest_frame()
        while f is not None and f.name() != func:
            f = f.older()
        return f

    @staticmethod
    def blocks_of(sym):
        """Every block of a function, nested ones included (found through
        its line table's addresses: a gdb.Block lists no children)."""
        top = gdb.block_for_pc(int(sym.value().address))
        while top is not None and top.function is None:
            top = top.superblock
        if top is None:
            return []
        blocks = {(top.start, top.end): top}
        for line in sym.symtab.linetable():
            if top.start <= line.pc < top.end:
                b = gdb.block_for_pc(line.pc)
                if b is not None:
                    blocks[(b.start, b.end)] = b
        return list(blocks.values())

    @staticmethod
    def visible(name, block):
        try:
            if gdb.lookup_symbol(name, block)[0] is not None:
                return True
        except gdb.error:
            pass
        try:
            gdb.lookup_type(name)
            return True
        except gdb.error:
            return False

    def in_twin(self, sym, pattern):
        """Whether pattern is in sym's function in the other twin of its file
        (broken/x.c for fixed/x.c); with no sym (a function this build does
        not have), anywhere in the lab's modules' twins."""
        if sym is not None:
            m = re.match(r"^(broken|fixed)/(.+)$", sym.symtab.filename)
            if not m:
                return False
            files = [("fixed" if m.group(1) == "broken" else "broken") + "/" + m.group(2)]
        else:
            try:
                lab = schedule_mod.lab_of(self.sched, ROOT)
            except schedule_mod.ScheduleError:
                return False
            files = [f"{t}/{m}.c" for m in lab.modules for t in ("broken", "fixed")]
        for f in files:
            try:
                with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            if sym is not None:
                # The function's body: its definition's line (column 0)
                # to the first "}" in column 0 (the repo's C style).
                body = re.search(rf"^\w[^;\n]*\b{re.escape(sym.name)}\s*\([^;]*?\n\{{.*?\n\}}",
                                 text, re.M | re.S)
                text = body.group(0) if body else ""
            if re.search(pattern, text):
                return True
        return False

    def in_function(self, thread, func):
        thread.switch()
        f = gdb.newest_frame()
        while f is not None:
            if f.name() == func:
                return True
            f = f.older()
        return False

    def park(self, ev, want):
        if ev == "timeout" or not isinstance(ev, gdb.BreakpointEvent):
            raise ScheduleError("a worker did not reach the start of its work")
        t = gdb.selected_thread()
        if want is not None and t.ptid != want.ptid:
            raise ScheduleError("a worker other than the one resumed stopped")
        if self.entry not in ev.breakpoints:
            raise ScheduleError("a worker stopped somewhere other than the start of its work")
        caller = gdb.selected_frame().older()
        index = int(caller.read_var("ts")["index"])
        if index >= 8:
            raise ScheduleError("a schedule names at most 8 workers (A to H)")
        name = "ABCDEFGH"[index]
        self.workers[name] = t
        gdb.execute(f"thread name {name}", to_string=True)
        if self.end_bp is None:
            # Where the work returns to: the end of every worker's work.
            self.end_bp = self.breakpoint(f"*{int(caller.pc()):#x}")

    # --- the actions ---------------------------------------------------------

    def step(self, name, point, where, how=None):
        """Resumes only worker name until it reaches race point `point`
        ("next": any race point; "end": its work returns), or waits for
        another thread (a lock, a condition variable, a polling loop).
        how: the way this step ended before (a replay by undo), so that a
        known wait is taken as found without waiting it out."""
        t = self.workers.get(name)
        if t is None:
            raise ScheduleError(f"{where}: there is no worker {name} (workers: "
                                f"{', '.join(sorted(self.workers))})")
        if name in self.done and point in ("end", "next"):
            out(f"\n>>> {name} runs to "
                f"{'its next race point' if point == 'next' else point}\n"
                f"    {name} has already finished its work")
            return
        if not t.is_valid() or name in self.done:
            raise ScheduleError(f"{where}: {name} has already finished its work")
        shown_point = "its next race point" if point == "next" else point
        out(f"\n>>> {name} runs to {shown_point}")
        t.switch()
        passed = []
        wait = self.sched["wait"]
        if how in ("blocked", "polling"):
            wait = min(wait, 0.1)  # the replay knows it waits
        samples = []
        began = time.monotonic()
        while True:
            ev = self.resume(wait, f"{name} to reach {shown_point}")
            if ev == "timeout":
                if self.wait_of(t) is not None:
                    return self.stuck(name, point)
                # Not waiting on a lock: running, or polling a flag or a
                # clock. The same loop in two samples, with no race point
                # reached between them, is a poll; a thread still making
                # its way (a loaded machine) gets more time.
                samples.append(self.loop_of(t))
                loop = self.same_loop(samples[-2:]) if len(samples) >= 2 else None
                if how == "polling" or loop is not None:
                    return self.polling(name, point, loop or samples[-1][:1],
                                        time.monotonic() - began)
                continue
            if isinstance(ev, gdb.ExitedEvent):
                raise ScheduleError(f"{where}: the program exited while {name} ran to "
                                    f"{shown_point}")
            if not isinstance(ev, gdb.BreakpointEvent):
                sig = getattr(ev, "stop_signal", "a stop")
                return self.crash(name, sig)
            self.blocked.pop(name, None)
            samples = []
            if self.end_bp in ev.breakpoints:
                self.done.add(name)
                if point in ("end", "next"):
                    point = "end"
                    break
                if self.live:
                    out(f"    {name} finished its work without reaching {point}")
                    self.taken.append((name, "end", "end"))
                    self.after_step(name, passed)
                    self.mark()
                    self.show_state()
                    return
                raise ScheduleError(f"{where}: {name} finished its work without reaching {point}")
            hit = gdb.selected_frame().read_var("name").string()
            if hit == point or point == "next":
                point = hit
                break
            passed.append(hit)
            # What the thread holds at a point it passes (lab 2's t, read
            # by B on its way): shown later as its last value.
            self.remember(name)
        self.taken.append((name, point, "end" if point == "end" else "reached"))
        self.ran_alone(name, time.monotonic() - began)
        self.after_step(name, passed)
        if point == "end":
            out(f"    {name} has finished its work")
        else:
            caller = gdb.selected_frame().older()
            out(f"    {name} stopped at {point}, in {caller.name() if caller else '?'}")
        self.mark()
        self.show_state()

    def after_step(self, name, passed):
        if passed:
            # Each point once, with how many times it was passed.
            counts = {}
            for p in passed:
                counts[p] = counts.get(p, 0) + 1
            names = [p if n == 1 else f"{p} ({n} times)" for p, n in counts.items()]
            out(f"    ({name} passed {', '.join(names)} on the way)")

    def loop_of(self, thread):
        """racelab's own frames of a running thread, (function, file),
        innermost first (libc's and the race point's left out)."""
        return [(f, file) for f, file in self.frames_of(thread) if own_file(file)]

    @staticmethod
    def same_loop(samples):
        """The innermost function two samples of a thread share below its
        work's entry (the poll's loop: lab 8's sender calls publish_get,
        then yields, in one loop), or None."""
        a, b = (list(reversed(x)) for x in samples)
        common = []
        for x, y in zip(a, b):
            if x != y:
                break
            common.append(x)
        return [common[-1]] if len(common) >= 2 else None

    def time_limit_ms(self):
        """The lab's shortest time parameter (a *_ms: lab 7's deadline_ms),
        from the args' --set or the scenario; None when it has none."""
        found = {}
        try:
            lab = schedule_mod.lab_of(self.sched, ROOT)
            with open(os.path.join(lab.dir, "scenario.conf"), encoding="utf-8") as f:
                for line in f:
                    m = re.match(r"^\s*([a-z_]+_ms)\s*=\s*(\d+)\s*$", line)
                    if m:
                        found[m.group(1)] = int(m.group(2))
        except (OSError, schedule_mod.ScheduleError):
            pass
        args = self.sched["args"]
        for i, a in enumerate(args):
            m = re.match(r"^([a-z_]+_ms)=(\d+)$", args[i + 1] if a == "--set" and i + 1 < len(args)
                         else "")
            if m:
                found[m.group(1)] = int(m.group(2))
        return min(found.values()) if found else None

    def ran_alone(self, name, secs):
        if self.held(name) == "nobody":
            return  # the last one left: nobody held
        self.alone[name] = self.alone.get(name, 0.0) + secs
        self.held_while[name] = self.held(name)

    def held(self, name):
        """The workers the driver holds while name runs."""
        others = [n for n in sorted(self.workers) if n != name and n not in self.done]
        return " and ".join(others) or "nobody"

    def polling(self, name, point, loop, secs):
        where = loop[0] if loop else None
        func = where[0] if where else "?"
        held = self.held(name)
        self.blocked[name] = f"polling in {func}"
        self.ran_alone(name, secs)
        self.taken.append((name, "end" if point == "next" else point, "polling"))
        out(f"    {name} is polling in {func} ({where[1] if where else '?'}): it reached no race "
            f"point in {secs:.1f} s and is still in the same loop; it cannot finish until "
            f"another thread moves (the driver holds {held})")
        self.mark()
        self.show_state()

    # --- the threads stay where the walkthrough left them -------------------

    def mark(self):
        """Where every thread is now: the walkthrough's next narration is
        only true if they are all still there (check_in_place)."""
        keep = gdb.selected_thread()
        self.pcs = {}
        for t in gdb.selected_inferior().threads():
            t.switch()
            self.pcs[t.ptid] = gdb.newest_frame().pc()
        if keep is not None and keep.is_valid():
            keep.switch()

    def check_in_place(self):
        """A ScheduleError when a thread moved since the last step (the
        guard refuses continue, next and the like; this catches the rest:
        a jump, a changed $pc, scheduler locking turned off), so that no
        narration is told over a state it does not describe."""
        if not gdb.selected_inferior().pid:
            raise ScheduleError("the program ended outside the walkthrough: what it would "
                                "say next is no longer true (racelab-load starts it again)")
        keep = selected_thread()
        now = {t.ptid: t for t in gdb.selected_inferior().threads()}
        moved = None
        for ptid, pc in self.pcs.items():
            t = now.get(ptid)
            if t is None or not t.is_valid():
                moved = ptid
                break
            t.switch()
            if gdb.newest_frame().pc() != pc:
                moved = ptid
                break
        if moved is None and set(now) - set(self.pcs):
            moved = min(set(now) - set(self.pcs))
        if keep is not None and keep.is_valid():
            keep.switch()
        if moved is not None:
            t = now.get(moved)
            who = self.name_of(t) if t is not None and t.is_valid() else "a thread"
            raise ScheduleError(f"{who} moved outside the walkthrough since its last step: "
                                "what it would say next may no longer be true, so it stops "
                                "here (racelab-load starts it again)")

    def waiting_in(self, thread):
        """The functions a stopped thread is in, innermost first."""
        return [name for name, _ in self.frames_of(thread)]

    def frames_of(self, thread):
        """(function, file) of a stopped thread's frames, innermost first."""
        thread.switch()
        frames = []
        f = gdb.newest_frame()
        while f is not None and len(frames) < 16:
            sal = f.find_sal()
            frames.append((f.name() or "??", sal.symtab.filename if sal.symtab else ""))
            f = f.older()
        return frames

    def wait_of(self, thread):
        """Where a stopped thread waits for another one (a lock, a condition
        variable), as "pthread_mutex_lock in refund_transfer"; None when
        it is not waiting (it is running, or runnable)."""
        frames = self.frames_of(thread)
        waits = [f for f, _ in frames if WAIT_RE.search(f)]
        if not waits:
            return None
        # The first frame in racelab's own code (repo-relative file names).
        ours = [f for f, file in frames
                if file and not file.startswith((".", "/")) and f != "thread_main"]
        call = re.sub(r"^_+", "", waits[-1]).replace("64", "")
        return f"{call} in {ours[0] if ours else '?'}"

    def stuck(self, name, point):
        self.taken.append((name, "end" if point == "next" else point, "blocked"))
        self.blocked[name] = self.wait_of(self.workers[name])
        out(f"    {name} cannot go on: it waits in {self.blocked[name]} (for another thread)")
        self.mark()
        self.show_state()

    def crash(self, name, sig):
        frames = self.waiting_in(self.workers[name])
        out(f"    {name} received {sig} in {' <- '.join(frames[:4])}")
        self.result = f"SYMPTOM crash: {name} received {sig} in {frames[0]}"
        self.finished = True

    def show_state(self):
        if not self.sched["state"]:
            return
        keep = gdb.selected_thread()
        for label, thread, func, expr, _ in self.sched["state"]:
            out(f"    {label:<28} {self.state_value(label, thread, func, expr)}")
        if keep is not None and keep.is_valid():
            keep.switch()

    def state_value(self, label, thread, func, expr):
        """A state line's value now; when its frame is gone (the thread has
        not reached its function, or has left it), the last value read,
        marked so."""
        v = self.read_state(thread, func, expr)
        if v == "-" and label in self.seen:
            return f"{self.seen[label]} (last seen)"
        if v != "-" and not v.startswith(("?", "n/a")):
            self.seen[label] = v
        return v

    def remember(self, name):
        """The values of name's state lines, read where it is now."""
        keep = selected_thread()
        for label, thread, func, expr, _ in self.sched["state"]:
            if thread == name:
                self.state_value(label, thread, func, expr)
        if keep is not None and keep.is_valid():
            keep.switch()

    def read_state(self, thread, func, expr):
        if thread == "main":
            t = next((t for t in gdb.selected_inferior().threads()
                      if t.ptid[1] == gdb.selected_inferior().pid), None)
        else:
            t = self.workers.get(thread)
        if t is None or not t.is_valid():
            return "-"
        owner = expr.endswith(" /owner")
        if owner:
            expr = expr[: -len(" /owner")]
        t.switch()
        f = gdb.newest_frame()
        while f is not None and f.name() != func:
            f = f.older()
        if f is None:
            return "-"
        f.select()
        try:
            v = gdb.parse_and_eval(expr)
            return self.owner_name(int(v)) if owner else text_of(v)
        except gdb.error as e:
            if "No symbol" in str(e):
                return "n/a (not in this build)"
            return f"? ({e})"

    def show(self, what):
        if what == "state":
            self.show_state()
        elif what == "threads":
            out(gdb.execute("info threads", to_string=True).rstrip())
        else:
            self.show_stacks()

    def show_stacks(self):
        """Every thread's stack, as the frames' functions (no addresses)."""
        keep = gdb.selected_thread()
        for t in sorted(gdb.selected_inferior().threads(), key=lambda t: t.num):
            t.switch()
            name = self.name_of(t)
            out(f"  {name} (thread {t.num}):" if name != f"thread {t.num}" else f"  {name}:")
            f, i = gdb.newest_frame(), 0
            while f is not None and i < 12:
                sal = f.find_sal()
                where = (f" at {sal.symtab.filename}:{sal.line}"
                         if sal.symtab is not None and sal.line else "")
                name = f.name()
                if name is None:  # no symbol: say at least which library
                    lib = gdb.solib_name(f.pc())
                    name = f"?? in {os.path.basename(lib)}" if lib else "??"
                out(f"    #{i} {name}{where}")
                f, i = f.older(), i + 1
        if keep is not None and keep.is_valid():
            keep.switch()

    def finish(self, secs):
        """Release every thread; the program must exit, and its trial record
        says whether the invariants held."""
        secs = secs or self.sched["wait"] * 3
        out("\n>>> every thread runs (scheduler locking off)")
        for bp in self.bps:
            if bp.is_valid():
                bp.delete()
        self.bps = []
        gdb.execute("set scheduler-locking off", to_string=True)
        while True:
            ev = self.resume(secs, "the program to end")
            if ev != "timeout":
                break
            # A hang only when every worker left waits for another one; a
            # worker still running (a loaded machine) gets more time.
            live = {n: t for n, t in self.workers.items() if t.is_valid()}
            waits = {n: self.wait_of(t) for n, t in live.items()}
            if live and all(waits.values()):
                break
        self.finished = True
        if ev == "timeout":
            out(f"    the program did not end within {secs:g} s, every worker waiting: a hang."
                " Every thread:")
            self.show_stacks()
            self.result = (f"SYMPTOM hang: {len(waits)} of {len(self.workers)} workers blocked ("
                           + ", ".join(f"{n} in {w}" for n, w in sorted(waits.items())) + ")")
            return
        if not isinstance(ev, gdb.ExitedEvent):
            sig = getattr(ev, "stop_signal", "a stop")
            frames = self.waiting_in(gdb.selected_thread())
            out(f"    the program received {sig} in {' <- '.join(frames[:4])}")
            self.result = f"SYMPTOM crash: {sig} in {frames[0]}"
            return
        self.report_record()

    def report_record(self):
        try:
            with open(self.record, encoding="utf-8") as f:
                rec = json.loads(f.read().strip().splitlines()[-1])
        except (OSError, ValueError, IndexError):
            self.result = f"ERROR the program exited ({self.exit_code}) without a trial record"
            return
        inv = rec.get("invariants") or {}
        out(f"    the program exited ({self.exit_code}); its trial record says:")
        out(f"    outcome {rec.get('outcome')}, invariants "
            + ", ".join(f"{k}={v}" for k, v in inv.items()))
        if rec.get("first_violation"):
            out(f"    first violation: {rec['first_violation']}")
        bad = {k: v for k, v in inv.items() if v}
        limit = self.time_limit_ms()
        long = [(secs, n) for n, secs in self.alone.items()
                if limit is not None and secs * 1000 >= limit]
        if bad and long:
            # A thread polled a flag or a clock while the driver held the
            # others: a deadline may have passed because of the schedule,
            # not the code. Said, not claimed as the code's symptom.
            secs, name = max(long)
            held = self.held_while[name]
            found = " ".join(f"{k}={v}" for k, v in bad.items())
            out(f"    note: {name} ran {secs:.1f} s alone (polling) while the driver held "
                f"{held}: a deadline that passed then is the schedule's doing, not the code's")
            self.result = (f"no symptom the code made: {found} came after {name} ran "
                           f"{secs:.1f} s alone while the driver held {held} (a deadline passed "
                           f"while the driver held {held})")
        elif bad:
            self.result = "SYMPTOM " + " ".join(f"{k}={v}" for k, v in bad.items())
        elif rec.get("outcome") == "clean":
            self.result = "no symptom: every invariant held (" + " ".join(
                f"{k}=0" for k in inv) + ")"
        else:
            self.result = f"SYMPTOM outcome {rec.get('outcome')}"

    def next_step(self, batch=False):
        """One step: the next step or finish line, with the lines that follow
        it up to the next step (what to say about it). A predict line stops
        before its step: the question now, the step (its answer) on the next
        call (in batch, at once). Returns False at the end."""
        acts = self.sched["actions"]
        if self.finished or self.pos >= len(acts):
            return False
        self.check_in_place()
        ran = False
        while self.pos < len(acts):
            kind, a, b, where = acts[self.pos]
            if kind in ("step", "finish", "predict") and (ran or self.finished):
                break
            self.pos += 1
            if kind == "predict":
                if self.off_script is not None:
                    continue  # a question about the script's story, not this one
                out("")
                for line in a.splitlines():
                    out(f"  ? {line}")
                if batch:
                    continue
                out("    (predict, then step-schedule shows what happens)")
                self.asked = True
                return True
            if kind == "step":
                if self.asked:
                    out("  = the answer:")
                    self.asked = False
                self.muted = False
                self.step(a, b, where)
                ran = True
            elif kind == "finish":
                self.muted = False
                self.taken.append(("*", "finish", a))
                self.finish(a)
                ran = True
            else:
                self.aside(kind, a, b)
        if self.finished and self.pos < len(acts):
            kind, _, _, where = acts[self.pos]
            if kind not in ("say", "check", "show", "gdb"):
                raise ScheduleError(f"{where}: a {kind} after the program has ended")
        return True

    def aside(self, kind, a, b):
        """A say, check, show or gdb line. One with a build (say.fixed,
        check.broken) is only for that build. Off the script (live steps
        took another way), the script's says are not told: they describe
        its own story."""
        if b is not None and b != self.build:
            return
        if kind == "say":
            if self.off_script is None and not self.muted:
                out(f"  | {a}")
        elif kind == "check":
            self.check_says(a)
        elif kind == "show":
            self.show(a)
        elif kind == "gdb":
            # {variant}: this build's variant (fixed, broken-N), so that a
            # schedule can name this build's other flavours.
            cmd = a.replace("{variant}", self.variant)
            out(f"(gdb) {cmd}")
            out(gdb.execute(cmd, to_string=True).rstrip())

    def check_says(self, cond):
        """The says after a check are told only when its condition holds:
        {label} is that state line's value now (or its last value); parts
        joined by && must all hold; numbers are compared by gdb, two
        strings here (a thread's name, as a lock's owner, is a string)."""
        if self.off_script is not None:
            return
        values = {}
        for label, thread, func, expr, _ in self.sched["state"]:
            v = re.sub(r" \(last seen\)$", "", self.state_value(label, thread, func, expr))
            if v in ("-", "") or v.startswith(("?", "n/a")):
                continue  # not known
            if not re.match(r'^(-?\d+|"[^"]*")$', v):
                v = f'"{v}"'
            values[label] = v
        missing = [m for m in schedule_mod.LABEL_RE.findall(cond) if m not in values]
        text = schedule_mod.LABEL_RE.sub(lambda m: values.get(m.group(1), "?"), cond)
        holds, why = True, ""
        if missing:
            holds, why = False, f"{{{missing[0]}}} is not known"
        for part in text.split("&&") if holds else []:
            strings = re.match(r'^\s*("[^"]*")\s*(==|!=)\s*("[^"]*")\s*$', part)
            try:
                if strings:
                    same = strings.group(1) == strings.group(3)
                    ok = same if strings.group(2) == "==" else not same
                else:
                    ok = bool(int(gdb.parse_and_eval(part)))
            except gdb.error as e:
                ok, part = False, f"{part.strip()} ({e})"
            if not ok:
                holds, why = False, f"{part.strip()} is false"
                break
        self.muted = not holds
        if self.muted:
            out(f"  | (the script's next lines are left out: they assume {cond}, "
                f"and the state does not show it: {why})")

    def intro(self):
        """The says and shows before the first step."""
        acts = self.sched["actions"]
        while self.pos < len(acts) and acts[self.pos][0] not in ("step", "finish", "predict"):
            kind, a, b, _ = acts[self.pos]
            self.pos += 1
            self.aside(kind, a, b)

    def script_steps(self):
        """The script's steps, in order, as (thread, point)."""
        return [(a, b) for kind, a, b, _ in self.sched["actions"] if kind == "step"]

    def follow_live(self):
        """After a typed step: while every step taken is the script's own so
        far, the script goes on (its says for that step are told); at the
        first other step it is left (off_script), and step-schedule then
        takes its remaining steps without its says."""
        if self.off_script is not None:
            return
        steps = [(n, p) for n, p, _ in self.taken if n != "*"]
        script = self.script_steps()
        k = len(steps)
        acts = self.sched["actions"]
        if k <= len(script) and steps == script[:k]:
            # Past the script's k-th step (and a predict before it) ...
            while self.pos < len(acts) and acts[self.pos][0] != "step":
                self.pos += 1
            self.pos += 1
            self.muted = self.asked = False
            # ... with its says.
            while self.pos < len(acts) and acts[self.pos][0] not in ("step", "finish", "predict"):
                kind, a, b, _ = acts[self.pos]
                self.pos += 1
                self.aside(kind, a, b)
            return
        self.off_script = k
        would = f"{script[k - 1][0]} to {script[k - 1][1]}" if k <= len(script) else "no step"
        out(f"  | (off the script from here: its step {k} is {would}; step-schedule takes "
            "its remaining steps, without its lines)")

    def close(self):
        """Lets go of gdb: the stop points and event handlers of this run
        (before racelab-load, restart or undo start another)."""
        for bp in self.bps:
            if bp.is_valid():
                bp.delete()
        self.bps = []
        for reg, fn in ((gdb.events.stop, self.on_stop), (gdb.events.exited, self.on_exit)):
            try:
                reg.disconnect(fn)
            except (ValueError, RuntimeError):
                pass
        try:
            os.unlink(self.record)
        except OSError:
            pass

    # --- show: every worker's code side by side ------------------------------

    def code_of(self, name, t):
        """(heading, [lines]) for a worker: its current line in racelab's
        own code (the frame above common/racepoint.c: the module's line,
        not racepoint_hit), with two lines of context either side."""
        if name in self.done or not t.is_valid():
            return f"{name}: finished its work", []
        f, sal, file = own_frame(t)
        if f is None:
            return f"{name}: (no source line)", []
        status = self.blocked.get(name)
        if status is not None and not status.startswith("polling"):
            status = "waits in " + status
        if status is None and t.is_valid():
            inner = gdb.newest_frame()
            if inner.name() == "racepoint_hit":
                status = "at " + inner.read_var("name").string()
            elif all(n != name for n, _, _ in self.taken):
                status = "parked before its work"
        head = f"{name}: {f.name()} ({file}:{sal.line})" + (f", {status}" if status else "")
        try:
            with open(os.path.join(ROOT, file), encoding="utf-8") as fh:
                src = fh.read().splitlines()
        except OSError:
            return head, []
        lines = []
        for n in range(max(1, sal.line - 2), min(len(src), sal.line + 2) + 1):
            mark = ">" if n == sal.line else " "
            lines.append(f"{mark}{n:4} {src[n - 1].expandtabs(4)}")
        return head, lines

    def show_code(self):
        keep = selected_thread()
        cols = [self.code_of(n, t) for n, t in sorted(self.workers.items())]
        if keep is not None and keep.is_valid():
            keep.switch()
        width = shutil.get_terminal_size((100, 24)).columns
        w = (width - 3 * (len(cols) - 1)) // max(1, len(cols))
        if w >= 40 and len(cols) > 1:
            # Side by side, one column a thread (x86.py's view).
            rows = max(len(lines) for _, lines in cols)
            out("   ".join(h[:w].ljust(w) for h, _ in cols).rstrip())
            for i in range(rows):
                out("   ".join((lines[i] if i < len(lines) else "")[:w].ljust(w)
                               for _, lines in cols).rstrip())
        else:
            for h, lines in cols:
                out(h)
                for ln in lines:
                    out("  " + ln[: max(20, width - 2)])
        waits = [f"{n} waits in {w}{self.lock_wanted(n)}"
                 for n, w in sorted(self.blocked.items()) if n not in self.done]
        if keep is not None and keep.is_valid():
            keep.switch()
        if waits:
            out("locks and waits: " + "; ".join(waits))
        self.show_state()

    def lock_wanted(self, name):
        """For a worker waiting on a lock: which lock and who holds it, read
        from the call in its module's line (pthread_mutex_lock(&EXPR)) and
        the lock's owner field; "" when that cannot be read."""
        t = self.workers.get(name)
        if t is None or not t.is_valid():
            return ""
        f, sal, file = own_frame(t)
        if f is None:
            return ""
        try:
            with open(os.path.join(ROOT, file), encoding="utf-8") as fh:
                line = fh.read().splitlines()[sal.line - 1]
        except (OSError, IndexError):
            return ""
        m = re.search(r"pthread_(mutex_lock|rwlock_wrlock|rwlock_rdlock)\(\s*&(.+?)\);", line)
        if m is None:
            return ""
        field = "__owner" if m.group(1) == "mutex_lock" else "__cur_writer"
        try:
            f.select()
            lwp = int(gdb.parse_and_eval(f"({m.group(2)}).__data.{field}"))
        except gdb.error:
            return ""
        return f" for {m.group(2)}, held by {self.owner_name(lwp)}"

    def conclude(self):
        if self.result is None:
            self.result = "ERROR the schedule ended without a finish line"
        out(f"\n{PREFIX}: result: {self.result}")
        try:
            os.unlink(self.record)
        except OSError:
            pass


def text_of(v):
    """A value as the class reads it: a C string as its text in quotes (not
    a pointer), NULL as NULL, anything else as gdb prints it."""
    t = v.type.strip_typedefs()
    if t.code in (gdb.TYPE_CODE_PTR, gdb.TYPE_CODE_ARRAY):
        target = t.target().strip_typedefs()
        if target.code == gdb.TYPE_CODE_INT and target.sizeof == 1:
            if t.code == gdb.TYPE_CODE_PTR and int(v) == 0:
                return "NULL"
            try:
                return '"' + v.string(errors="replace").split("\0")[0] + '"'
            except gdb.error:
                pass
    return str(v)


RUN = None


def fail(msg):
    """A schedule that cannot be followed: one line, the program killed.
    A schedule that does not fit its lab or build says so as a schedule
    error (gdb_walkthrough.py turns it into its own one-line error)."""
    if isinstance(msg, CheckError):
        out(f"{PREFIX}: schedule error: {msg}")
    else:
        out(f"\n{PREFIX}: result: ERROR {msg}")
    kill()


def kill():
    try:
        if gdb.selected_inferior().pid:
            driving("kill", to_string=True)
    except gdb.error:
        pass
    if RUN is not None:
        RUN.finished = True


def guarded(action):
    """Runs one of the walkthrough's commands: whatever goes wrong ends the
    walkthrough with one line, never a Python traceback."""
    try:
        action()
    except ScheduleError as e:
        fail(e if isinstance(e, CheckError) else str(e))
    except gdb.error as e:
        fail(f"gdb: {e}")
    except Exception as e:  # noqa: BLE001 (a thread that no longer exists ...)
        fail(f"gdb: {e}")


class Load(gdb.Command):
    """racelab-load [--quit-on-error] SCHEDULE PROGRAM: start PROGRAM (a debug
build of racelab-stress) as SCHEDULE says and park its workers before their
work. With --quit-on-error, a schedule that does not fit its lab or this
build quits gdb with status 1 (make gdb-lab-N)."""

    def __init__(self):
        super().__init__("racelab-load", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        global RUN
        argv = gdb.string_to_argv(arg)
        quit_on_error = "--quit-on-error" in argv
        argv = [a for a in argv if a != "--quit-on-error"]
        if len(argv) != 2:
            raise gdb.GdbError("usage: racelab-load [--quit-on-error] SCHEDULE PROGRAM")
        if RUN is not None:
            if not RUN.finished:
                kill()  # the walkthrough before this one
            RUN.close()
        try:
            RUN = Run(argv[0], argv[1])
            RUN.start()
            RUN.intro()
        except CheckError as e:
            fail(e)
            if quit_on_error:
                gdb.execute("quit 1")
        except ScheduleError as e:
            fail(str(e))
        except (gdb.error, RuntimeError) as e:
            fail(f"gdb: {e}")


def need_run():
    if RUN is None:
        raise gdb.GdbError("no walkthrough loaded (racelab-load SCHEDULE PROGRAM)")
    return RUN


class StepSchedule(gdb.Command):
    """step-schedule: the next step of the walkthrough (one thread runs to its
next stop point), then what to say about it and the state."""

    def __init__(self):
        super().__init__("step-schedule", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        run = need_run()
        if run.finished or run.released:
            out(f"{PREFIX}: the schedule is over" if run.finished else RELEASED)
            return

        def step():
            if not run.next_step():
                out(f"{PREFIX}: the schedule is over")
            if run.finished or run.pos >= len(run.sched["actions"]):
                if run.result is not None or run.pos >= len(run.sched["actions"]):
                    run.conclude()

        guarded(step)


class RunSchedule(gdb.Command):
    """run-schedule: every remaining step of the walkthrough, then the result."""

    def __init__(self):
        super().__init__("run-schedule", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        run = need_run()
        if run.finished:
            return
        if run.released:
            out(RELEASED)
            return

        def steps():
            while run.next_step(batch=True):
                pass
            run.conclude()

        guarded(steps)


class ShowState(gdb.Command):
    """show-state: the values the walkthrough follows, and where each worker is."""

    def __init__(self):
        super().__init__("show-state", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        run = need_run()
        if run.finished:
            out(f"{PREFIX}: the program has ended")
            return

        def show():
            if not run.released:
                run.check_in_place()
            keep = gdb.selected_thread()
            for name, t in sorted(run.workers.items()):
                if not t.is_valid():
                    continue
                where = ("finished" if name in run.done else
                         (None if run.released else run.blocked.get(name))
                         or " <- ".join(run.waiting_in(t)[:3]))
                out(f"    {name}: {where}")
            keep.switch()
            run.show_state()

        guarded(show)


# --- the guard: ordinary gdb commands cannot move threads behind its back ---

# Each would let threads run outside the schedule (or end the program), and
# the next narration would then describe a state that is gone. While a
# walkthrough holds the program, a hook refuses them with one line; the
# driver's own continue, run and kill pass (DRIVING). The same command
# through an alias (c, n, s, fin ...) runs the same hook.
GUARDED = ("continue", "next", "step", "finish", "until", "advance", "stepi", "nexti",
           "jump", "signal", "run", "start", "starti", "kill")
ADVICE = {
    "continue": "run-schedule runs every remaining step (finish-all: every thread runs)",
    "next": "step-thread A (ts A) runs A to its next race point",
    "step": "step-thread A (ts A) runs A to its next race point",
    "finish": "step-thread A (ts A) runs A to its next race point",
    "run": "racelab-load starts the walkthrough again",
    "start": "racelab-load starts the walkthrough again",
    "starti": "racelab-load starts the walkthrough again",
    "kill": "racelab-load starts the walkthrough again",
}
RELEASED = (f"{PREFIX}: the walkthrough has let go of the program (schedule-release); "
            "racelab-load starts it again")


def holding():
    """Whether a walkthrough holds the program now."""
    return RUN is not None and not RUN.finished and not RUN.released and not DRIVING


class Guard(gdb.Command):
    """racelab-guard COMMAND: the walkthrough's hook before COMMAND (defined
for continue, next, step, finish and the like): refuses it while a
walkthrough holds the threads."""

    def __init__(self):
        super().__init__("racelab-guard", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        if not holding():
            return
        cmd = arg.strip()
        advice = ADVICE.get(cmd, "step-schedule moves the next thread to its next stop")
        raise gdb.GdbError(
            f"{PREFIX}: '{cmd}' refused: it would move threads behind the walkthrough's back. "
            f"{advice[0].upper()}{advice[1:]}; bt, frame, print and show-state look without "
            "moving anything; schedule-release gives the program back to gdb.")


class Release(gdb.Command):
    """schedule-release: the walkthrough lets go of the program: its stop
points are removed, scheduler locking is turned off, and continue, next,
step ... work as usual (the schedule cannot be taken up again)."""

    def __init__(self):
        super().__init__("schedule-release", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        run = need_run()
        if run.finished or run.released:
            out(f"{PREFIX}: the walkthrough does not hold the program")
            return
        run.released = True
        for bp in run.bps:
            if bp.is_valid():
                bp.delete()
        run.bps = []
        gdb.execute("set scheduler-locking off", to_string=True)
        out(f"{PREFIX}: the walkthrough has let go: gdb's own commands now move the threads "
            "(racelab-load starts the walkthrough again)")


def define_hooks():
    for cmd in GUARDED:
        gdb.execute(f"define hook-{cmd}\nracelab-guard {cmd}\nend", to_string=True)


class ScheduleHelp(gdb.Command):
    """schedule-help: the walkthrough's commands."""

    def __init__(self):
        super().__init__("schedule-help", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        out("""walkthrough commands (the script):
  step-schedule    the next step: one thread runs to its next stop point (a race
                   point or the end of its work), the others stay where they are;
                   a question (predict) is asked first, answered by the next one
  show-state       where each worker is, and the values the walkthrough follows
  run-schedule     every remaining step, then the result in numbers
live driving (you are the scheduler; the script goes on from where you are):
  step-thread A    (ts A) A alone runs to its next race point, the end of its
                   work, or a wait for another thread (a lock, a polled flag)
  run-to B POINT   (rt B POINT) B alone runs until it reaches race point POINT
  rshow            every worker's current line side by side, waits, the state
  undo             back one step (the program replays the steps before it)
  restart          back to the beginning, every worker parked
  finish-all       (rf) every thread runs to the end; the result
  save FILE        the steps taken as a schedule (make gdb-lab-N SCHEDULE=FILE)
other:
  schedule-release give the program back to gdb (continue, next ... then work)
  schedule-help    this text
Between steps, gdb commands that only look work: info threads, bt, frame N,
print EXPR, list. Those that would move threads (continue, next, step,
finish, until, advance, ...) are refused while the walkthrough holds them.""")


# --- live driving: the instructor picks the next thread ---------------------


def replay(run, steps):
    """A new run of the same schedule and program, brought to where steps
    (run.taken, or a prefix) left the old one, with nothing printed: undo
    and restart. Deterministic: each thread runs alone, to the same stop."""
    global RUN, QUIET
    kill()
    run.close()
    new = Run(run.path, run.program, run.seed)
    RUN = new
    QUIET = True
    began = time.monotonic()
    try:
        new.start()
        new.intro()
        new.live = True
        for name, point, how in steps:
            new.step(name, point, "replay", how)
            new.follow_live()
    finally:
        QUIET = False
        new.live = False
    return new, time.monotonic() - began


def live_check(run, name, point):
    """A typed step's thread and point, before anything runs: a mistake is
    one line, and the walkthrough stays where it is."""
    if name not in run.workers:
        raise gdb.GdbError(f"{PREFIX}: there is no worker {name} (workers: "
                           f"{', '.join(sorted(run.workers))})")
    if point not in ("next", "end"):
        points = schedule_mod.points(run.sched, ROOT)
        if point not in points:
            raise gdb.GdbError(f"{PREFIX}: no race point '{point}' in this lab (its points: "
                               f"{', '.join(sorted(points))}; or end)")


def live_step(run, name, point):
    """A typed step: name runs to point; the script follows if it is its
    own next step."""
    run.check_in_place()
    run.live = True
    try:
        run.step(name, point, "step")
    finally:
        run.live = False
    if not run.finished:
        run.follow_live()


def live_ready():
    run = need_run()
    if run.released:
        raise gdb.GdbError(RELEASED)
    if run.finished:
        raise gdb.GdbError(f"{PREFIX}: the program has ended: undo goes back one step, "
                           "restart to the beginning")
    return run


class StepThread(gdb.Command):
    """step-thread THREAD (alias ts): THREAD alone runs to its next race point,
or to the end of its work, or until it waits for another thread (a lock it
cannot take, a flag or a clock it polls). The others stay where they are."""

    def __init__(self):
        super().__init__("step-thread", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) != 1:
            raise gdb.GdbError("usage: step-thread THREAD (A, B, ...)")
        run = live_ready()
        live_check(run, argv[0].upper(), "next")
        guarded(lambda: live_step(run, argv[0].upper(), "next"))


class RunTo(gdb.Command):
    """run-to THREAD POINT (alias rt): THREAD alone runs until it reaches the
race point POINT (or "end": its work returns), or waits for another thread."""

    def __init__(self):
        super().__init__("run-to", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) != 2:
            raise gdb.GdbError("usage: run-to THREAD POINT (a race point, or end)")
        run = live_ready()
        live_check(run, argv[0].upper(), argv[1])
        guarded(lambda: live_step(run, argv[0].upper(), argv[1]))


class FinishAll(gdb.Command):
    """finish-all (alias rf): every thread runs to the end (scheduler locking
off), and the trial record says whether the invariants held."""

    def __init__(self):
        super().__init__("finish-all", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        run = live_ready()

        def go():
            run.check_in_place()
            run.taken.append(("*", "finish", None))
            run.finish(None)
            run.conclude()

        guarded(go)


class Show(gdb.Command):
    """rshow: every worker's current line in its module (two lines of context
either side), side by side when the terminal is wide enough, who waits
where, and the schedule's state lines."""

    def __init__(self):
        super().__init__("rshow", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        run = need_run()
        if run.finished:
            out(f"{PREFIX}: the program has ended (undo, restart)")
            return
        guarded(run.show_code)


class Undo(gdb.Command):
    """undo: back one step. The program starts again and the steps taken
before the last one are replayed (each thread alone, to the same stop:
deterministic); then what rshow shows."""

    def __init__(self):
        super().__init__("undo", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        run = need_run()
        if run.released:
            raise gdb.GdbError(RELEASED)
        if not run.taken:
            out(f"{PREFIX}: no step to undo")
            return

        def go():
            last = run.taken[-1]
            steps = [t for t in run.taken[:-1] if t[0] != "*"]
            new, secs = replay(run, steps)
            what = "the finish" if last[0] == "*" else f"{last[0]} to {last[1]}"
            out(f"{PREFIX}: undone: {what} ({len(steps)} step{'s' if len(steps) != 1 else ''} "
                f"replayed in {secs:.2f} s)")
            new.show_code()

        guarded(go)


class Restart(gdb.Command):
    """restart: the program starts again, every worker parked before its work,
the script from its beginning."""

    def __init__(self):
        super().__init__("restart", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        run = need_run()

        def go():
            new, secs = replay(run, [])
            out(f"{PREFIX}: restarted in {secs:.2f} s: every worker parked before its work")
            new.show_state()

        guarded(go)


class Save(gdb.Command):
    """save FILE: the steps taken so far as a schedule that replays them
(make gdb-lab-N SCHEDULE=FILE, make demo-lab-N SCHEDULE=FILE)."""

    def __init__(self):
        super().__init__("save", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) != 1:
            raise gdb.GdbError("usage: save FILE")
        run = need_run()
        s = run.sched
        lines = [f"# Saved from a live walkthrough of {os.path.relpath(run.path, ROOT)}",
                 f"# on the {run.build} build: the steps taken, then every thread runs.",
                 f"title {s['title'] or 'a saved schedule'} (saved steps)"]
        if not s["symptom"]:
            lines.append("symptom none")
        args = list(s["args"])
        if schedule_mod.option(args, "seed") is None and run.seed:
            args += ["--seed", str(run.seed)]  # the same data as this session
        lines.append("args  " + " ".join(shlex.quote(a) for a in args))
        lines.append(f"wait  {s['wait']:g}")
        lines.append(f"limit {s['limit']:g}")
        for label, thread, func, expr, _ in s["state"]:
            lines.append(f"state {label} | {thread} {func} | {expr}")
        for name, point, how in run.taken:
            if name != "*":
                lines.append(f"step {name} to {point}"
                             + ("" if how in ("reached", "end") else f"\n# ({name} {how} here)"))
        lines.append("finish")
        try:
            with open(argv[0], "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        except OSError as e:
            raise gdb.GdbError(f"{PREFIX}: cannot write {argv[0]}: {e.strerror}") from None
        n = sum(1 for t in run.taken if t[0] != "*")
        out(f"{PREFIX}: saved {n} step{'s' if n != 1 else ''} to {argv[0]}")


Load()
StepSchedule()
RunSchedule()
ShowState()
Guard()
Release()
ScheduleHelp()
StepThread()
RunTo()
FinishAll()
Show()
Undo()
Restart()
Save()
for _alias, _cmd in (("ts", "step-thread"), ("rt", "run-to"), ("rf", "finish-all")):
    gdb.execute(f"alias {_alias} = {_cmd}", to_string=True)
define_hooks()
