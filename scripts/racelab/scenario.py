"""Where things are, and what a lab's scenario.conf says.

A lab is the directory labs/lab-<N>-<name>/ and its scenario.conf, a file of
`key = value` lines with '#' comments. The stress driver reads the same file;
the scripts need only a few keys (race_file, race_functions, time_limit_s,
threads, pinning) and the profile overrides (`tsan.time_limit_s = 60`).

The repository root is found from this file's location, so the scripts work
from any directory. Two environment variables exist for the tests, which
point them at a throw-away tree with a stub binary:
  RACELAB_ROOT       the repository root (labs/, broken/, ...)
  RACELAB_BUILD_DIR  the build directory (default: <root>/build)
A third is grading's own: RACELAB_WORK, the folder of the working copies
(default <root>/work), which the self-test points at a folder of its own
so that it never touches a student's copies.
"""

import os
import re
from pathlib import Path

from .cli import Failure


def root():
    return Path(os.environ.get("RACELAB_ROOT") or Path(__file__).resolve().parents[2])


def build_dir():
    return Path(os.environ.get("RACELAB_BUILD_DIR") or root() / "build")


def work_root():
    """The folder of the working copies: work/, or RACELAB_WORK."""
    return Path(os.environ.get("RACELAB_WORK") or root() / "work")


def shown(path):
    """A path as a person should read it: relative to the current directory
    when it is below it, so messages and records carry no machine paths."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def lab_dir(lab):
    """labs/lab-<lab>-*/ for an integer lab number; Failure when there is not
    exactly one."""
    found = sorted(p for p in (root() / "labs").glob(f"lab-{lab}-*") if p.is_dir())
    if not found:
        raise Failure(f"unknown lab {lab}: no labs/lab-{lab}-*/ directory")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise Failure(f"lab {lab} is ambiguous: {names}")
    return found[0]


# A lab's kind, its manifest's `kind = ...` (racelab/labs.py): a stress lab
# (the default) races threads of racelab-stress; a service lab races
# service processes over a shared database, and has no stress driver,
# gdb walkthrough, detector cells or grading.
STRESS, SERVICE = "stress", "service"
KINDS = (STRESS, SERVICE)


def kind_of(folder):
    """The kind a lab folder's manifest says, STRESS when it says none (or
    cannot be read: the registry's check says why)."""
    try:
        text = (Path(folder) / "scenario.conf").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return STRESS
    m = re.search(r"^[ \t]*kind[ \t]*=[ \t]*([^#\s]*)", text, re.M)
    return m.group(1) if m and m.group(1) else STRESS


def is_service(folder):
    return kind_of(folder) == SERVICE


def service_refusal(lab):
    """The one line a stress-only command says when named a service lab."""
    return (f"lab {lab} is a service lab (service processes sharing a database, "
            f"not the stress driver): make lab-{lab} runs it")


def stress_lab_dir(lab):
    """lab_dir(lab) for the commands that run the stress driver (trials,
    check_rates, grading, gdb, replay, explore): Failure for a service lab,
    which has none of what they run."""
    folder = lab_dir(lab)
    if is_service(folder):
        raise Failure(service_refusal(lab))
    return folder


def known_labs():
    """The stress labs' numbers: what the stress-only commands iterate
    (a service lab's folder is skipped)."""
    labs = set()
    for p in (root() / "labs").glob("lab-*-*"):
        m = re.fullmatch(r"lab-(\d+)-.+", p.name)
        if m and p.is_dir() and not is_service(p):
            labs.add(int(m.group(1)))
    return labs


class Scenario:
    """The key = value pairs of one scenario.conf, with typed accessors.

    get(key, profile) prefers `<profile>.<key>` over `<key>`, the same rule
    the driver applies for --profile.
    """

    def __init__(self, path, values):
        self.path = path
        self.values = values

    def get(self, key, profile=None, default=None):
        if profile and f"{profile}.{key}" in self.values:
            return self.values[f"{profile}.{key}"]
        return self.values.get(key, default)

    def require(self, key, profile=None):
        value = self.get(key, profile)
        if value is None or value == "":
            raise Failure(f"{shown(self.path)}: '{key}' is missing")
        return value

    def number(self, key, profile=None, kind=float):
        value = self.require(key, profile)
        try:
            number = kind(value)
        except ValueError:
            raise Failure(f"{shown(self.path)}: '{key}' should be a number, not '{value}'") from None
        if number <= 0:
            raise Failure(f"{shown(self.path)}: '{key}' should be positive, not '{value}'")
        return number

    def words(self, key):
        return self.require(key).split()


def parse(text, path="scenario.conf"):
    """Parses scenario text into {key: value}. Failure names file:line."""
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", key):
            raise Failure(f"{shown(path)}:{number}: expected 'key = value', got '{line}'")
        values[key] = value.strip()
    return values


def load(lab):
    """The Scenario of lab number `lab`."""
    path = lab_dir(lab) / "scenario.conf"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise Failure(f"cannot read {shown(path)}: {e.strerror}") from None
    return Scenario(path, parse(text, path))
