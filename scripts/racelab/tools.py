"""The tools a trial can run under, and how each one is invoked.

A tool is a build flavour (which racelab-stress binary), a scenario profile
(the driver's smaller workloads for slow tools), an optional wrapper command
and the parser of its report. Adding DRD was one line; adding another
Valgrind tool or sanitizer flavour should be too.

  stress      build/release/<variant>/racelab-stress      invariants only
  tsan-clang  build/tsan-clang/<variant>/racelab-stress   TSan text on stderr
  tsan-gcc    build/tsan-gcc/<variant>/racelab-stress
  helgrind    valgrind --tool=helgrind --xml=yes --xml-file=F build/debug/...
  drd         valgrind --tool=drd ... (same XML envelope as Helgrind)
"""

from collections import namedtuple

from .scenario import build_dir

# report: None (the program's own invariants only), "tsan" (stderr) or
# "valgrind-xml" (a file the trial names with --xml-file).
Tool = namedtuple("Tool", "name flavour profile wrapper report")

TOOLS = {
    "stress": Tool("stress", "release", None, (), None),
    "tsan-clang": Tool("tsan-clang", "tsan-clang", "tsan", (), "tsan"),
    "tsan-gcc": Tool("tsan-gcc", "tsan-gcc", "tsan", (), "tsan"),
    "helgrind": Tool("helgrind", "debug", "valgrind", ("valgrind", "--tool=helgrind"), "valgrind-xml"),
    "drd": Tool("drd", "debug", "valgrind", ("valgrind", "--tool=drd"), "valgrind-xml"),
}

BUILDS = ("broken", "fixed")


def variant(build, lab):
    """'broken' -> 'broken-<lab>' (the fixed build with that lab's module
    swapped in), 'fixed' -> 'fixed'."""
    return f"broken-{lab}" if build == "broken" else "fixed"


def binary(tool, build, lab):
    return build_dir() / tool.flavour / variant(build, lab) / "racelab-stress"


def command(tool, exe, driver_args, xml_file=None):
    """The full argv of one trial."""
    argv = list(tool.wrapper)
    if tool.report == "valgrind-xml":
        argv += ["--xml=yes", f"--xml-file={xml_file}"]
    return argv + [str(exe)] + list(driver_args)
