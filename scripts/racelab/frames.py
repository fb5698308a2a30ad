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
of them lives under one of the source roots, which is the single rule used to
skip them. Our own inline helpers in headers (common/hash.h's hash_str, called
from cache_grow in broken/cache.c) are ours but are not the site either: the
lab's race site is named by its .c file, so the first own frame outside a .h
is taken, and the first own frame of any kind only when every own frame is in
a header.
"""

import re

# Top-level source directories of the repository: a frame whose file is
# under one of them is the program's own code. work/ holds the students'
# copies (work/lab-N/<module>.c), the code a student build is graded on.
SOURCE_ROOTS = ("broken", "fixed", "common", "stress", "work")

STACK_FRAMES_KEPT = 5


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


def frame(function, file, line):
    """A frame as a dict: own-source files repo-relative, others reduced to
    their base name (they are not ours, and full paths leak machine names)."""
    own = repo_relative(file)
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


def finding(kind, tool, summary, a_frames, a_info=None, b_frames=None, b_info=None):
    """A finding record, before matching: matched/pair/race_point are filled
    in by match.judge() once the lab's declared race site is known."""
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
