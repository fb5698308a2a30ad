"""The tools a trial can run under, and how each one is invoked.

A tool is a build flavour (which racelab-stress binary), a scenario profile
(the driver's smaller workloads for slow tools), an optional wrapper command
and the parser of its report. Adding DRD was one line; adding another
Valgrind tool or sanitizer flavour should be too.

  stress      build/release/<variant>/racelab-stress      invariants only
  chaos       build/chaos/<variant>/racelab-stress        invariants only, with
              delays injected at the race points (common/chaos.c)
  sched       build/sched/<variant>/racelab-stress        invariants only, the
              threads run one at a time by racelab's scheduler, which
              switches at race points and synchronisation calls as the
              trial's seed and strategy (--sched) say: the same on 1 CPU or 2
  tsan-clang  build/tsan-clang/<variant>/racelab-stress   TSan text on stderr
  tsan-gcc    build/tsan-gcc/<variant>/racelab-stress
  helgrind    valgrind --tool=helgrind --xml=yes --xml-file=F build/debug/...
  drd         valgrind --tool=drd ... (same XML envelope as Helgrind)

The TSan tools may also run under `setarch <machine> -R`: see aslr_wrapper().
"""

import os
import platform
from collections import namedtuple

from .scenario import build_dir

# report: None (the program's own invariants only), "tsan" (stderr) or
# "valgrind-xml" (a file the trial names with --xml-file).
Tool = namedtuple("Tool", "name flavour profile wrapper report")

TOOLS = {
    "stress": Tool("stress", "release", None, (), None),
    "chaos": Tool("chaos", "chaos", "chaos", (), None),
    "sched": Tool("sched", "sched", "sched", (), None),
    "tsan-clang": Tool("tsan-clang", "tsan-clang", "tsan", (), "tsan"),
    "tsan-gcc": Tool("tsan-gcc", "tsan-gcc", "tsan", (), "tsan"),
    "helgrind": Tool("helgrind", "debug", "valgrind", ("valgrind", "--tool=helgrind"), "valgrind-xml"),
    "drd": Tool("drd", "debug", "valgrind", ("valgrind", "--tool=drd"), "valgrind-xml"),
}

BUILDS = ("broken", "fixed", "student")

# The tools that run the program alone and judge it by its invariants.
NATIVE = ("stress", "chaos", "sched")

# The tools whose cost report.py's cost table shows beside a native run of
# the same work (check_rates.py --cost runs it): the detectors, and the
# sched flavour, whose one-thread-at-a-time run of a smaller workload (its
# sched.* keys) is a cost too. Not the chaos build: it runs the stress
# workload itself, so the stress cells are its comparison.
COSTED = ("sched", "tsan-clang", "tsan-gcc", "helgrind", "drd")


def variant(build, lab):
    """'broken' -> 'broken-<lab>' (the fixed build with that lab's module
    swapped in), 'student' -> 'student-<lab>' (the student's copy in
    work/lab-<lab>/ swapped in, mk/grade.mk), 'fixed' -> 'fixed'."""
    return f"{build}-{lab}" if build in ("broken", "student") else "fixed"


def binary(tool, build, lab):
    return build_dir() / tool.flavour / variant(build, lab) / "racelab-stress"


MMAP_RND_BITS = "/proc/sys/vm/mmap_rnd_bits"


def aslr_wrapper(rnd_bits=None, machine=None):
    """() or ('setarch', <machine>, '-R'): the prefix TSan builds run under.

    clang 14's ThreadSanitizer expects the program's memory in fixed ranges;
    kernels that randomise mmap with more than 28 bits (vm.mmap_rnd_bits, 32
    on recent Ubuntu kernels) can place a mapping outside them, and the
    program then dies at start with "FATAL: ThreadSanitizer: unexpected
    memory mapping". `setarch -R` turns address randomisation off for that
    one process, which TSan does not need. Where the file is unreadable or
    says 28 or less, nothing is wrapped. rnd_bits and machine are for tests.
    """
    if rnd_bits is None:
        try:
            with open(MMAP_RND_BITS) as f:
                rnd_bits = int(f.read().strip())
        except (OSError, ValueError):
            return ()
    if rnd_bits <= 28:
        return ()
    return ("setarch", machine or platform.machine(), "-R")


def wrapper(tool):
    """The commands a trial of `tool` runs under, before the binary."""
    return (aslr_wrapper() if tool.report == "tsan" else ()) + tuple(tool.wrapper)


# The ThreadSanitizer options a trial runs with, whatever the user's shell
# says: the parser reads plain text on stderr (no colour escapes, not a log
# file). The user's own TSAN_OPTIONS and VALGRIND_OPTS are dropped, not
# merged: besides the format (color=always, log_path=...), they can hold
# settings that change what is measured (suppressions, report_bugs=0,
# halt_on_error=1, history_size), and a rate compared with an expected
# table must not depend on the shell it was measured from. grade.py drops
# them too.
TSAN_OPTIONS = "color=never log_path=stderr"
DROPPED_ENV = ("TSAN_OPTIONS", "VALGRIND_OPTS")

# glibc keeps the stacks (and TLS blocks) of joined threads in a cache and
# hands them to the next threads created, clearing them with memset. When
# the thread that joins and the thread that creates are different threads,
# nothing Helgrind can see orders the two, so that memset is reported as a
# data race inside pthread_create: a false report on any program whose
# threads start threads (lab 3's, 6's and 9's contract workloads do; it was
# seen in 9 of 20 Helgrind trials of lab 6's, and in 16 of 20 runs of
# tests/fixtures/race-free-nested-threads.c; DRD reported it in none of
# 20). For Helgrind the cache is switched off: each stack is unmapped and
# a new one mapped, which it treats as fresh memory. Valgrind's own
# --sim-hints=no-nptl-pthread-stackcache no longer works from glibc 2.34.
NO_STACK_CACHE = "glibc.pthread.stack_cache_size=0"


def environment(tool, base=None):
    """The environment of one trial of `tool`: `base` (default os.environ)
    without DROPPED_ENV, plus TSAN_OPTIONS for the TSan tools and glibc's
    stack cache switched off for Helgrind (NO_STACK_CACHE)."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if k not in DROPPED_ENV}
    if tool.report == "tsan":
        env["TSAN_OPTIONS"] = TSAN_OPTIONS
    if tool.name == "helgrind":
        env["GLIBC_TUNABLES"] = ":".join(t for t in (env.get("GLIBC_TUNABLES"), NO_STACK_CACHE)
                                         if t)
    return env


def command(tool, exe, driver_args, xml_file=None):
    """The full argv of one trial."""
    argv = list(wrapper(tool))
    if tool.report == "valgrind-xml":
        argv += ["--xml=yes", f"--xml-file={xml_file}"]
    return argv + [str(exe)] + list(driver_args)
