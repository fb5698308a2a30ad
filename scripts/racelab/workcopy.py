"""The student's working copy of a lab: work/lab-N/<module>.c.

A lab's fix is written in a copy of its broken module, never in broken/ or
fixed/, so that `diff -u broken/X.c work/lab-N/X.c` is the student's fix
and nothing else, and a fresh checkout (or `git status`) is untouched:
work/ is git-ignored. The student's build (variant student-N, mk/grade.mk)
is the fixed build with the copy swapped in, as broken-N swaps in broken/.

Starting keeps an existing copy; resetting one that differs from broken/
asks first and keeps the old text beside it (<module>.c.bak), because a
student's afternoon of work is worth more than a prompt.
"""

import difflib
import shutil

from .cli import Failure
from .scenario import load, root, shown, work_root


def modules(lab):
    """Lab `lab`'s module names (scenario.conf's broken_modules)."""
    return load(lab).words("broken_modules")


def work_dir(lab):
    return work_root() / f"lab-{lab}"


def copy_of(lab, module):
    return work_dir(lab) / f"{module}.c"


def broken_of(module):
    return root() / "broken" / f"{module}.c"


def read(path):
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise Failure(f"cannot read {shown(path)}: {e.strerror}") from None


def lines_changed(lab, module):
    """How many lines of the copy differ from broken/ (added or removed),
    0 when it is the broken module as it came."""
    diff = difflib.unified_diff(read(broken_of(module)).splitlines(),
                                read(copy_of(lab, module)).splitlines(), lineterm="", n=0)
    return sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))


def started(lab):
    """Whether every copy of lab `lab` exists."""
    return all(copy_of(lab, m).is_file() for m in modules(lab))


def started_labs(labs):
    return [lab for lab in sorted(labs) if work_dir(lab).is_dir() and started(lab)]


def _copy(lab, module):
    dest = copy_of(lab, module)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(broken_of(module), dest)
    except OSError as e:
        raise Failure(f"cannot make {shown(dest)}: {e.strerror}") from None
    return dest


def start(lab):
    """Makes the copies that are missing. Returns [(module, made)]: made is
    False for a copy that was already there (it is kept as it is)."""
    out = []
    for m in modules(lab):
        if not broken_of(m).is_file():
            raise Failure(f"{shown(broken_of(m))} is missing: is this a racelab checkout?")
        made = not copy_of(lab, m).is_file()
        if made:
            _copy(lab, m)
        out.append((m, made))
    return out


def reset(lab, confirm):
    """Puts the broken module back in every copy of lab `lab`. A copy with
    changes is replaced only if confirm(module, n_lines) says yes, and is
    kept as <module>.c.bak. Returns [(module, what)], what one of 'made',
    'unchanged', 'reset', 'kept'."""
    out = []
    for m in modules(lab):
        path = copy_of(lab, m)
        if not path.is_file():
            _copy(lab, m)
            out.append((m, "made"))
            continue
        n = lines_changed(lab, m)
        if n == 0:
            out.append((m, "unchanged"))
            continue
        if not confirm(m, n):
            out.append((m, "kept"))
            continue
        backup = path.with_name(path.name + ".bak")
        try:
            path.replace(backup)
        except OSError as e:
            raise Failure(f"cannot keep {shown(path)} as {shown(backup)}: {e.strerror}") from None
        _copy(lab, m)
        out.append((m, "reset"))
    return out


def describe(lab, module):
    """One line on where the copy is and how far it is from broken/."""
    path = shown(copy_of(lab, module))
    n = lines_changed(lab, module)
    if n == 0:
        return f"{path} (still the broken module as it came)"
    return f"{path} ({n} line{'s' if n != 1 else ''} changed from broken/{module}.c)"
