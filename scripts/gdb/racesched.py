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
sends SIGINT to the program when it passes), and a schedule that cannot be
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
hook's). scripts/gdb_walkthrough.py starts gdb with them (make gdb-lab-N,
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
import signal
import subprocess
import sys
import tempfile
import time

import gdb

PREFIX = "racesched"


def out(text=""):
    gdb.write(text + "\n")
    gdb.flush()


def selected_thread():
    """gdb's selected thread; None when it has exited (gdb then raises)."""
    try:
        return gdb.selected_thread()
    except (SystemError, gdb.error):
        return None


def quietly(cmd):
    """Runs a gdb command that resumes the program without the lines gdb
    prints when it stops (the walkthrough says where each thread is)."""
    for c in ("set logging file /dev/null", "set logging redirect on",
              "set logging enabled on"):
        gdb.execute(c, to_string=True)
    try:
        driving(cmd)
    finally:
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

    def __init__(self, sched_path, program):
        # Race points and thread letters against the lab, before anything
        # runs (state expressions are checked against the build at start).
        try:
            self.sched = schedule_mod.parse(sched_path)
            schedule_mod.check(self.sched, ROOT)
        except schedule_mod.ScheduleError as e:
            raise CheckError(str(e)) from None
        self.path = sched_path
        self.program = program
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

    def step(self, name, point, where):
        t = self.workers.get(name)
        if t is None:
            raise ScheduleError(f"{where}: there is no worker {name} (workers: "
                                f"{', '.join(sorted(self.workers))})")
        if name in self.done and point == "end":
            out(f"\n>>> {name} runs to end\n    {name} has already finished its work")
            return
        if not t.is_valid() or name in self.done:
            raise ScheduleError(f"{where}: {name} has already finished its work")
        out(f"\n>>> {name} runs to {point}")
        t.switch()
        passed = []
        while True:
            ev = self.resume(self.sched["wait"], f"{name} to reach {point}")
            if ev == "timeout":
                if self.wait_of(t) is None:
                    continue  # still running (a slow or loaded machine): more time
                return self.stuck(name, point)
            if isinstance(ev, gdb.ExitedEvent):
                raise ScheduleError(f"{where}: the program exited while {name} ran to {point}")
            if not isinstance(ev, gdb.BreakpointEvent):
                sig = getattr(ev, "stop_signal", "a stop")
                return self.crash(name, sig)
            self.blocked.pop(name, None)
            if self.end_bp in ev.breakpoints:
                self.done.add(name)
                if point == "end":
                    break
                raise ScheduleError(f"{where}: {name} finished its work without reaching {point}")
            hit = gdb.selected_frame().read_var("name").string()
            if hit == point:
                break
            passed.append(hit)
        if passed:
            out(f"    ({name} passed {', '.join(passed)} on the way)")
        if point == "end":
            out(f"    {name} has finished its work")
        else:
            caller = gdb.selected_frame().older()
            out(f"    {name} stopped at {point}, in {caller.name() if caller else '?'}")
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
            out(f"    {label:<28} {self.read_state(thread, func, expr)}")
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
            return self.owner_name(int(v)) if owner else str(v)
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
        if bad:
            self.result = "SYMPTOM " + " ".join(f"{k}={v}" for k, v in bad.items())
        elif rec.get("outcome") == "clean":
            self.result = "no symptom: every invariant held (" + " ".join(
                f"{k}=0" for k in inv) + ")"
        else:
            self.result = f"SYMPTOM outcome {rec.get('outcome')}"

    def next_step(self):
        """One step: the next step or finish line, with the lines that follow
        it up to the next step (what to say about it). Returns False at the end."""
        acts = self.sched["actions"]
        if self.finished or self.pos >= len(acts):
            return False
        self.check_in_place()
        ran = False
        while self.pos < len(acts):
            kind, a, b, where = acts[self.pos]
            if kind in ("step", "finish") and (ran or self.finished):
                break
            self.pos += 1
            if kind == "step":
                self.step(a, b, where)
                ran = True
            elif kind == "finish":
                self.finish(a)
                ran = True
            else:
                self.aside(kind, a, b)
        if self.finished and self.pos < len(acts):
            kind, _, _, where = acts[self.pos]
            raise ScheduleError(f"{where}: a {kind} after the program has ended")
        return True

    def aside(self, kind, a, b):
        """A say, show or gdb line. A say with a build (say.fixed) is only
        for that build."""
        if kind == "say":
            if b is None or b == self.build:
                out(f"  | {a}")
        elif kind == "show":
            self.show(a)
        elif kind == "gdb":
            # {variant}: this build's variant (fixed, broken-N), so that a
            # schedule can name this build's other flavours.
            cmd = a.replace("{variant}", self.variant)
            out(f"(gdb) {cmd}")
            out(gdb.execute(cmd, to_string=True).rstrip())

    def intro(self):
        """The says and shows before the first step."""
        acts = self.sched["actions"]
        while self.pos < len(acts) and acts[self.pos][0] not in ("step", "finish"):
            kind, a, b, _ = acts[self.pos]
            self.pos += 1
            self.aside(kind, a, b)

    def conclude(self):
        if self.result is None:
            self.result = "ERROR the schedule ended without a finish line"
        out(f"\n{PREFIX}: result: {self.result}")
        try:
            os.unlink(self.record)
        except OSError:
            pass


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
        if RUN is not None and not RUN.finished:
            kill()  # the walkthrough before this one
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
            while run.next_step():
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
    "continue": "run-schedule runs every remaining step",
    "next": "step-schedule moves the next thread to its next stop",
    "step": "step-schedule moves the next thread to its next stop",
    "finish": "step-schedule moves the next thread to its next stop",
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
        out("""walkthrough commands:
  step-schedule    the next step: one thread runs to its next stop point (a race
                   point or the end of its work), the others stay where they are
  show-state       where each worker is, and the values the walkthrough follows
  run-schedule     every remaining step, then the result in numbers
  schedule-release give the program back to gdb (continue, next ... then work)
  schedule-help    this text
Between steps, gdb commands that only look work: info threads, bt, frame N,
print EXPR, list. Those that would move threads (continue, next, step,
finish, until, advance, ...) are refused while the walkthrough holds them.""")


Load()
StepSchedule()
RunSchedule()
ShowState()
Guard()
Release()
ScheduleHelp()
define_hooks()
