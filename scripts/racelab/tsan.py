"""ThreadSanitizer's text reports (stderr) -> finding records.

TSan prints each report as a block:

    ==================
    WARNING: ThreadSanitizer: data race (pid=3126)
      Write of size 8 at 0x55ec11a97258 by thread T2:
        #0 cache_put broken/cache.c:13:7 (racelab-stress+0xd0141)
        ...
      Previous read of size 8 at 0x55ec11a97258 by thread T1:
        #0 cache_get broken/cache.c:40 (racelab-stress+0x1220)
      ...
    SUMMARY: ThreadSanitizer: data race broken/cache.c:13:7 in cache_put
    ==================

clang 14 prints `file:line:col` and `<null>` for interceptor frames; gcc 12
prints `file:line` and points interceptor frames into ../../src/libsanitizer.
A block is a list of sections, each a two-space-indented header line ending
in ':' followed by four-space-indented frames; the headers say which stack
is which (the current access, the previous one, where a mutex was taken).

A crash is not a WARNING block but

    ThreadSanitizer:DEADLYSIGNAL
    ==3289==ERROR: ThreadSanitizer: SEGV on unknown address 0x000000000008 ...
        #0 main ...
    ==3289==ABORTING

and becomes a finding of kind "crash": it shows where the program died,
never that the tool saw the race.

`FATAL: ThreadSanitizer: ...` (for example "unexpected memory mapping" on
kernels with too many ASLR bits) means the tool could not run at all.

What else the parser holds on, seen in output racelab did not write:

- ANSI colour escapes (TSAN_OPTIONS=color=always) are stripped first; the
  runner asks for color=never as well (tools.tsan_options).
- Newer ThreadSanitizer marks the culprit frame with a star, `  * #0 ...`:
  it is a frame like the others.
- C++ functions print with their parameter list, which has spaces
  (`handler(int, siginfo_t*, void*) /src/a.cc:9:6 (prog+0x1)`): a frame is
  read from the right (build id, module, location), and the function is
  what is left.
- The program's own output without a final newline glues the report's
  first line to it (`progress: 40%WARNING: ThreadSanitizer: data race`).
- A report cut short (the process killed or dead while writing it: no
  SUMMARY line, no closing `==================`) is kept, with
  incomplete: true on its finding.
"""

import re

from . import frames

CRASH = "crash"

# Searched anywhere in a line: program output without a newline may precede.
_WARNING = re.compile(r"WARNING: ThreadSanitizer: (.+?)(?: \(pid=\d+\))?\s*$")
_ERROR = re.compile(r"==\d+==ERROR: ThreadSanitizer: (.+?)(?: \(pc 0x[0-9a-f]+.*)?$")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SEPARATOR = "=================="
_DEADLY = re.compile(r"^ThreadSanitizer:DEADLYSIGNAL\s*$")
_FATAL = re.compile(r"^(?:==\d+==)?(FATAL: ThreadSanitizer.*|ThreadSanitizer: CHECK failed.*)$")
_FRAME = re.compile(r"^\s+(?:\*\s*)?#\d+\s+(.*)$")
# The right end of a frame: "(module+0x1f)" then, on newer versions,
# "(BuildId: ab12...)". Module names may hold '+' (a binary called prog++).
_MODULE = re.compile(r"^(.*?)\s*\((\S+?)\+0x[0-9a-fA-F]+\)(?:\s*\(BuildId: [0-9a-fA-F]+\))?\s*$")
_LOCATION = re.compile(r"^(.*?):(\d+)(?::\d+)?$")
_ACCESS = re.compile(
    r"^(Previous )?(atomic )?(read|write) of size (\d+) at \S+ by "
    r"(main thread|thread (T\d+))", re.IGNORECASE)
_LOCK = re.compile(r"^Mutex M\d+ acquired here while holding mutex M\d+ in "
                   r"(main thread|thread (T\d+))")
_THREAD_CREATED = re.compile(r"^Thread (T\d+) .*created by")
_SIGNAL_ACCESS = re.compile(r"The signal is caused by a (READ|WRITE) memory access")


def kind_name(text):
    """TSan's words -> a finding kind: 'data race' -> 'data-race',
    'lock-order-inversion (potential deadlock)' -> 'lock-order-inversion'."""
    text = re.sub(r"\s*\(.*\)\s*$", "", text.strip())
    return re.sub(r"\s+", "-", text.lower())


def parse_frame(text):
    """'cache_put broken/cache.c:13:7 (bin+0x1)' -> frame dict, or None.

    Read from the right: the module (and build id), then the location, the
    last word when it is `<null>` or path:line[:col]; the function is the
    rest, spaces and all (a C++ parameter list)."""
    text = text.strip()
    obj = None
    m = _MODULE.match(text)
    if m:
        text, obj = m.group(1).strip(), m.group(2)
    if not text or text.startswith("("):
        return None
    file, line = None, None
    head, _, last = text.rpartition(" ")
    if head and last == "<null>":
        text = head
    elif head:
        loc = _LOCATION.match(last)
        if loc and not last.endswith(")"):
            text, file, line = head, loc.group(1), int(loc.group(2))
    function = None if text in ("<null>", "") else text.strip()
    return frames.frame(function, file, line, obj)


def _sections(lines):
    """[(header or None, [frames])] for the lines of one block."""
    sections = []
    for line in lines:
        m = _FRAME.match(line)
        if m:
            if not sections:
                sections.append((None, []))
            fr = parse_frame(m.group(1))
            if fr:
                sections[-1][1].append(fr)
        elif line.startswith("  ") and not line.startswith("    ") and line.rstrip().endswith(":"):
            sections.append((line.strip().rstrip(":"), []))
    return sections


def _thread(m_main, m_tid):
    return "main" if m_main == "main thread" else m_tid


def _warning_finding(kind_text, lines, tool, incomplete=False):
    sections = _sections(lines)
    a = b = None
    for header, stack in sections:
        m = _ACCESS.match(header or "")
        if not m:
            continue
        access = ((m.group(2) or "") + m.group(3)).lower()
        info = {"access": access, "size": int(m.group(4)),
                "thread": _thread(m.group(5), m.group(6))}
        if m.group(1):
            b = b or (stack, info)
        else:
            a = a or (stack, info)
    if a is None and b is None:
        locks = [(stack, {"access": "lock", "thread": _thread(m.group(1), m.group(2))})
                 for header, stack in sections
                 for m in [_LOCK.match(header or "")] if m]
        if locks:
            a = locks[0]
            b = locks[1] if len(locks) > 1 else None
    if a is None:
        # unlock of an unlocked mutex and friends: the frames right after the
        # WARNING line; a thread leak: where the leaked thread was created.
        for header, stack in sections:
            if header is None or _THREAD_CREATED.match(header):
                a = (stack, {})
                break
    if a is None:
        a = (next((s for h, s in sections if s), []), {})
    return frames.finding(kind_name(kind_text), tool, kind_text, a[0], a[1],
                          b[0] if b else None, b[1] if b else None, incomplete)


def _crash_finding(what, lines, tool, incomplete=False):
    stack = [fr for line in lines for m in [_FRAME.match(line)] if m
             for fr in [parse_frame(m.group(1))] if fr]
    info = {}
    for line in lines:
        m = _SIGNAL_ACCESS.search(line)
        if m:
            info["access"] = m.group(1).lower()
    return frames.finding(CRASH, tool, what, stack, info, incomplete=incomplete)


def parse(text, tool="tsan"):
    """Parses TSan stderr. Returns (findings, tool_error): tool_error is a
    one-line reason when TSan itself failed, else None."""
    findings, tool_error = [], None
    lines = _ANSI.sub("", text).splitlines()
    i, pending_deadly = 0, False
    while i < len(lines):
        line = lines[i]
        warning, error = _WARNING.search(line), _ERROR.search(line)
        if warning or error:
            body, ended = [], False
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if nxt.startswith(_SEPARATOR) or re.match(r"^==\d+==ABORTING", nxt):
                    ended = True
                    break
                if _WARNING.search(nxt) or _ERROR.search(nxt):
                    break  # the next report began before this one ended
                i += 1
                if nxt.startswith("SUMMARY: "):
                    ended = True
                    break
                body.append(nxt)
            # A crash report may end without either line when the process
            # dies: the stack is still where it died, and says so.
            if warning:
                findings.append(_warning_finding(warning.group(1), body, tool, not ended))
            else:
                findings.append(_crash_finding(error.group(1), body, tool, not ended))
                pending_deadly = False
            continue
        if _DEADLY.match(line):
            # Every thread that takes the signal may print this line; one
            # crash is reported by the ERROR line that normally follows.
            pending_deadly = True
        elif _FATAL.match(line) and tool_error is None:
            tool_error = _FATAL.match(line).group(1).strip()
        i += 1
    if pending_deadly:  # the process died before it could say more
        findings.append(frames.finding(CRASH, tool, "deadly signal", []))
    return findings, tool_error


_TRIM_FRAME = re.compile(r"^(\s+#\d+ \S+) (?:\./)?(\S+?)(:\d+)?(:\d+)?( \(.*)?$")


def trim(text, race_file):
    """The first ThreadSanitizer warning that names race_file, cut to the
    lines that matter: what raced (two accesses, three frames each), where
    the memory came from, and the summary."""
    blocks = text.split("==================\n")
    for block in blocks:
        if "WARNING: ThreadSanitizer" not in block or race_file not in block:
            continue
        out, frames = [], 0
        for line in block.splitlines():
            if line.startswith("WARNING:"):
                out.append(re.sub(r" \(pid=\d+\)", "", line))
            elif re.match(r"^  (\S.*) (of size|at) ", line) or line.startswith("  Location is"):
                if out[1:]:  # a blank line between the sections, as TSan prints them
                    out.append("")
                out.append(line)
                frames = 0
            elif re.match(r"^\s+#\d+ ", line):
                frames += 1
                if frames <= 3:
                    m = _TRIM_FRAME.match(line)
                    out.append(f"{m.group(1)} {m.group(2)}{m.group(3) or ''}" if m else line)
            elif line.startswith("  Thread T"):
                frames = 99  # thread creation stacks: not needed here
            elif line.startswith("SUMMARY:"):
                # a frame without source is named by binary+offset: drop it
                out += ["", re.sub(r" \([^)]*\)", "", line).replace(" ./", " ")]
        return "\n".join(out)
    return None
