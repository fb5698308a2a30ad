"""Stack frames, whichever tool printed them, and the access site in them.

Tools print the same frame in different ways: clang's TSan `file:line:col`,
gcc's `file:line`, Valgrind a <dir> and a <file>; the path may be absolute,
`./broken/cache.c` or already `broken/cache.c` depending on the build's
-ffile-prefix-map. Everything downstream compares repo-relative paths, so
they are normalised here, once.

The access site of a report is the first frame in the program's own source
that is not in a header. The frames above it are the tool's interceptors and
runtime (no file, files under libsanitizer, vg_replace_*.c, hg_intercepts.c)
or libc; none of those is where the student's code touched memory, and none
of them is the program's own file, which is the single rule used to skip
them (own_path below). Our own inline helpers in headers (common/hash.h's hash_str, called
from cache_grow in broken/cache.c) are ours but are not the site either: the
lab's race site is named by its .c file, so the first own frame outside a .h
is taken, and the first own frame of any kind only when every own frame is in
a header.

Which files are the program's own (own_path): racelab's labs keep their
source under fixed top-level directories (SOURCE_ROOTS), named from there
("broken/cache.c", a lab's workload "labs/lab-1-cache/workload.c", a
student's copy "work/lab-3/payflow.c") however the build spelled the path. Code written elsewhere has no such directories, so
the general rule is: a frame is the program's own unless it is system code
(no file; an object that is a shared library or Valgrind's preload; a path
under /usr/, /lib/ or /opt/, the sanitizer runtime's sources, Valgrind's
vg_replace_*.c and *_intercepts.c, the C library's source folders); its file
is then named relative to the first of the configured roots (set_roots:
the folder the program was built from) that holds it, else, relative paths
as printed and absolute ones by their base name (a full path would leak the
machine's folders into the records).
"""

import os
import re

# Top-level source directories of the repository: a frame whose file is
# under one of them is the program's own code. labs/ holds each lab's
# workload (labs/lab-N-<name>/workload.c), part of the stress driver; work/
# the students' copies (work/lab-N/<module>.c), the code a student build is
# graded on.
SOURCE_ROOTS = ("broken", "fixed", "common", "stress", "labs", "work")
# The stress driver's own files: stress/ and the labs' workloads.
_DRIVER = re.compile(r"^(?:stress/[^/]+|labs/lab-\d+-[^/]+/workload\.c)$")

STACK_FRAMES_KEPT = 5

# Absolute folders whose files are the program's own (set_roots), besides
# SOURCE_ROOTS: the folder an outside program was built from.
_ROOTS = []

# System code, wherever the tool found it.
_SYSTEM_PREFIXES = ("/usr/", "/lib/", "/lib64/", "/opt/", "/nix/", "/System/")
_SYSTEM_PARTS = ("libsanitizer", "compiler-rt", "sanitizer_common", "valgrind")
_SYSTEM_FILE = re.compile(r"^(vg_replace_\w*\.c|\w+_intercepts\.c)$")
# Top folders of the C library's own sources, as its debug info names them
# ("./nptl/pthread_create.c", "./misc/../sysdeps/unix/..."). Used only when
# the tool did not say which object the frame is in.
_LIBC_DIRS = {"nptl", "sysdeps", "string", "libio", "stdlib", "malloc", "elf", "misc",
              "posix", "csu", "stdio-common", "io", "signal", "setjmp", "dlfcn", "support"}


def set_roots(paths):
    """The absolute folders (besides SOURCE_ROOTS) whose files are the
    program's own, most specific first; () clears them."""
    _ROOTS[:] = sorted({os.path.abspath(str(p)).rstrip("/") + "/" for p in paths},
                       key=len, reverse=True)


def is_system(path, obj=None):
    """Whether a frame's file (and object, when the tool named it) is system
    code: the C library, the sanitizer runtime, Valgrind's interceptors."""
    if obj:
        base = obj.replace("\\", "/").rsplit("/", 1)[-1]
        if re.search(r"\.so(\.|$)", base) or base.startswith("vgpreload") or obj.startswith(_SYSTEM_PREFIXES):
            return True
    if not path:
        return True
    path = path.replace("\\", "/")
    parts = path.split("/")
    if path.startswith(_SYSTEM_PREFIXES) or _SYSTEM_FILE.match(parts[-1]):
        return True
    if any(part in _SYSTEM_PARTS for part in parts):
        return True
    if not obj and not path.startswith("/"):
        first = next((part for part in parts if part not in (".", "")), "")
        if first in _LIBC_DIRS or first == "..":
            return True
    return False


def own_path(path, obj=None):
    """The name of a frame's file when it is the program's own, else None:
    repo-relative under a source root (repo_relative), relative to a
    configured root, relative as printed, or the base name of an absolute
    path outside every root."""
    slashed = (path or "").replace("\\", "/")
    # A configured root comes first: a program built in ~/work/x/ is not in
    # racelab's work/ folder because its path holds a part called work.
    for root in _ROOTS:
        if slashed.startswith(root) and not is_system(slashed, obj):
            return os.path.normpath(slashed[len(root):])
    rel = repo_relative(path)
    if rel is not None:
        return rel
    if is_system(path, obj):
        return None
    path = slashed
    if path.startswith("/"):
        return path.rsplit("/", 1)[-1]
    return os.path.normpath(path)


def repo_relative(path):
    """'/home/me/racelab/broken/cache.c' -> 'broken/cache.c'; None when the
    path is not under a source root (libc, the sanitizer runtime...).

    The last root in the path wins, so a checkout that happens to live in a
    directory called fixed/ still normalises correctly.
    """
    if not path:
        return None
    parts = path.replace("\\", "/").split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in SOURCE_ROOTS:
            return "/".join(parts[i:])
    return None


def frame(function, file, line, obj=None):
    """A frame as a dict: the program's own files named by own_path(),
    others reduced to their base name (they are not ours, and full paths
    leak machine names). obj: the binary or library the tool said the frame
    is in, when it said (TSan's "(libc.so.6+0x1)", Valgrind's <obj>)."""
    own = own_path(file, obj) if file else None
    if own is None and file:
        file = file.replace("\\", "/").rsplit("/", 1)[-1]
    return {"function": function or None, "file": own or file or None,
            "line": line, "own": own is not None}


def render(fr):
    """'cache_put broken/cache.c:88', the form kept in stack_a."""
    where = fr["file"] or ""
    if where and fr["line"] is not None:
        where = f"{where}:{fr['line']}"
    return f"{fr['function'] or '??'} {where}".rstrip()


def is_driver(file):
    """Whether a repo-relative file is the stress driver's (stress/main.c,
    labs/lab-2-ledger/workload.c): the code that calls the lab's module."""
    return bool(file) and bool(_DRIVER.match(file))


def is_header(file):
    return bool(file) and file.endswith(".h")


def site(frames, access=None, size=None, thread=None):
    """The side of a finding ('a' or 'b'): the first own-source frame that is
    not in a header (else the first own-source frame) plus what the tool said
    about the access. None when no frame is ours."""
    own = [fr for fr in frames if fr["own"]]
    if not own:
        return None
    fr = next((f for f in own if not is_header(f["file"])), own[0])
    return {"access": access, "size": size, "file": fr["file"],
            "line": fr["line"], "function": fr["function"], "thread": thread}


def finding(kind, tool, summary, a_frames, a_info=None, b_frames=None, b_info=None,
            incomplete=False):
    """A finding record, before matching: matched/pair/race_point are filled
    in by match.judge() once the lab's declared race site is known.
    incomplete: the tool's report was cut short (the process died or was
    killed while writing it), so a side or a frame may be missing."""
    a_info = a_info or {}
    b_side = None
    if b_frames is not None:
        b_side = site(b_frames, **(b_info or {}))
    return {
        "kind": kind,
        "tool": tool,
        "summary": summary,
        "a": site(a_frames, **a_info),
        "b": b_side,
        "stack_a": [render(f) for f in a_frames[:STACK_FRAMES_KEPT]],
        "matched": False,
        "pair": False,
        "race_point": None,
        "incomplete": bool(incomplete),
    }


STACK_FRAME = re.compile(r"^#(\d+)\s+(?:0x[0-9a-f]+ in )?(\w+) \(.*\) at (\S+)$")


def trim_stacks(lines, frames=3):
    """gdb's "thread apply all bt" lines, cut to each thread's first frames
    in racelab's own source (the C library's lock and futex frames above
    them say only "waiting"), as "function (file:line)", without addresses
    and arguments. A thread with no frame of ours is left out."""
    out, kept, header = [], 0, None
    for line in lines:
        if line.startswith("Thread "):
            header, kept = line.split(" (", 1)[0] + ":", 0
            continue
        m = STACK_FRAME.match(line)
        if m and kept < frames and (not m.group(3).startswith((".", "/"))
                                    or "/work/lab-" in m.group(3)):
            if header:
                out.append(header)
                header = None
            where = m.group(3)
            if "/work/lab-" in where:  # a copy graded from another folder
                where = "work/lab-" + where.rsplit("/work/lab-", 1)[1]
            out.append(f"  #{m.group(1)} {m.group(2)} ({where})")
            kept += 1
    return out
