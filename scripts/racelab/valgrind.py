"""Helgrind and DRD XML (valgrind --xml=yes --xml-file=F) -> finding records.

Valgrind's text output interleaves with the program's stderr and changes
between versions; its XML (protocol 4) does not, so only the XML is read.

An <error> is a sequence of children: <kind>, <xwhat> (or DRD's <what>),
the first <stack> (the access being reported), then pairs of <xauxwhat> /
<auxwhat> and <stack>. In a Helgrind race the stack after the auxwhat
"This conflicts with a previous write of size 8 by thread #2" is the other
access, so each stack is attributed to the text just before it.
DRD reports a race as <kind>ConflictingAccess</kind> with only the current
stack (the other side is a segment, not an access): b is null.

A lock-order pair means what it means for ThreadSanitizer's
lock-order-inversion: a and b are the two acquisitions that close the
cycle, a the one that established the order (lock L2 taken while holding
L1), b the one that inverted it (L1 taken while holding L2). Helgrind's
LockOrder prints b first (the acquisition that violated the order), then
"Required order was established by acquisition of lock at X" (where L1
itself was taken: not an acquisition of the cycle), then "followed by a
later acquisition of lock at Y" (L2 taken while holding L1): that one is a.

Valgrind writes file and folder names into the XML as the file system
spells them, so a Latin-1 folder name is a byte that is not UTF-8: such
bytes are read as U+FFFD rather than failing the whole file.

The XML is read with a pull parser, so a file cut short (a trial killed at
its time limit) still yields the errors written before the cut, and the
error being written at the cut is kept with incomplete: true. Whether
Valgrind itself worked is a separate question (see parse()).
"""

import re
import xml.etree.ElementTree as ET

from . import frames

CRASH = "crash"

KINDS = {
    "Race": "data-race",                    # Helgrind
    "ConflictingAccess": "data-race",       # DRD
    "LockOrder": "lock-order-inversion",
    "UnlockUnlocked": "unlock-of-an-unlocked-mutex",
    "UnlockForeign": "unlock-by-a-wrong-thread",
    "UnlockBogus": "unlock-of-an-invalid-mutex",
    "PthAPIerror": "pthread-api-error",
    "Misc": "misc",
}

# Helgrind: "... during read of size 8 at 0x.. by thread #3";
# DRD: "Conflicting load by thread 3 at 0x0010c038 size 8".
_ACCESS = re.compile(r"\b(read|write|load|store)\b.*?\bsize (\d+)")
_THREAD = re.compile(r"thread #?(\d+)", re.IGNORECASE)


def kind_name(kind):
    """Valgrind's <kind> -> a finding kind; unknown ones in kebab case."""
    return KINDS.get(kind) or re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()


def _text(elem, tag):
    """The text of <tag> or of <tag><text>, stripped; '' when absent."""
    child = elem.find(tag)
    if child is None:
        return ""
    inner = child.find("text")
    return ((inner.text if inner is not None else child.text) or "").strip()


def _stack(elem):
    result = []
    for fr in elem.findall("frame"):
        directory, file = fr.findtext("dir"), fr.findtext("file")
        path = f"{directory}/{file}" if directory and file else file
        obj = fr.findtext("obj")
        if not path and obj:  # no debug info: name the object
            path = obj
        line = fr.findtext("line")
        result.append(frames.frame(fr.findtext("fn"), path,
                                   int(line) if line and line.isdigit() else None, obj))
    return result


def _access_info(text):
    info = {}
    m = _ACCESS.search(text)
    if m:
        info["access"] = {"load": "read", "store": "write"}.get(m.group(1), m.group(1))
        info["size"] = int(m.group(2))
    m = _THREAD.search(text)
    if m:
        info["thread"] = f"#{m.group(1)}"
    return info


def _error_finding(err, tool, incomplete=False):
    kind = err.findtext("kind") or "unknown"
    what = _text(err, "xwhat") or _text(err, "what")
    stacks, last_text = [], what
    for child in err:
        if child.tag in ("xauxwhat", "auxwhat"):
            last_text = (child.findtext("text") or child.text or "").strip()
        elif child.tag == "stack":
            stacks.append((last_text, _stack(child)))
    if not stacks:
        return frames.finding(kind_name(kind), tool, what, [], incomplete=incomplete)
    a_text, a_frames = stacks[0]
    b = None
    if kind == "Race":
        b = next(((t, s) for t, s in stacks[1:] if "conflicts with a previous" in t), None)
    elif kind == "LockOrder":
        # a: the later acquisition of the required order; b: the violation
        # (the first stack). Without the former, a is unknown.
        later = next((s for t, s in stacks[1:] if "followed by a later acquisition" in t), None)
        a_frames, b = later or [], (what, stacks[0][1])
    a_info = _access_info(a_text) if kind in ("Race", "ConflictingAccess") else {}
    b_info = _access_info(b[0]) if b and kind == "Race" else {}
    if kind == "LockOrder":
        a_info, b_info = {"access": "lock"}, {"access": "lock"}
    return frames.finding(kind_name(kind), tool, what, a_frames, a_info,
                          b[1] if b else None, b_info if b else None, incomplete)


def _signal_finding(sig, tool):
    name = sig.findtext("signame") or "signal"
    event = sig.findtext("event") or ""
    stack = sig.find("stack")
    return frames.finding(CRASH, tool, f"{name}: {event}".rstrip(": "),
                          _stack(stack) if stack is not None else [])


def parse(data, tool="helgrind"):
    """Parses Valgrind XML (bytes or str).

    Returns (findings, problem): problem is None when the XML is complete
    and says FINISHED, else a one-line reason ('no XML', 'invalid XML: ...',
    'Valgrind did not finish'). The findings are what could be read either
    way; the caller decides whether a problem is a tool error (it is not
    when the trial was killed at its time limit).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or not data.strip():
        return [], "Valgrind wrote no XML"
    # Bytes that are not UTF-8 (a Latin-1 folder name) become U+FFFD.
    data = data.decode("utf-8", "replace").encode("utf-8")
    parser = ET.XMLPullParser(events=("start", "end"))
    findings, finished, depth, problem = [], False, 0, None
    open_error = None  # the <error> being read, until its end tag
    try:
        parser.feed(data)
        parser.close()
    except ET.ParseError as e:
        problem = f"invalid Valgrind XML ({e})"
    try:
        for event, elem in parser.read_events():
            if event == "start":
                depth += 1
                if depth == 2 and elem.tag == "error":
                    open_error = elem
                continue
            depth -= 1
            if elem is open_error:
                open_error = None
            if depth != 1:  # only direct children of <valgrindoutput>
                continue
            if elem.tag == "error":
                findings.append(_error_finding(elem, tool))
            elif elem.tag == "fatal_signal":
                findings.append(_signal_finding(elem, tool))
            elif elem.tag == "status" and elem.findtext("state") == "FINISHED":
                finished = True
    except ET.ParseError as e:  # pragma: no cover - events already parsed
        problem = problem or f"invalid Valgrind XML ({e})"
    if open_error is not None and open_error.find("kind") is not None:
        findings.append(_error_finding(open_error, tool, incomplete=True))
    if problem is None and not finished:
        problem = "Valgrind did not finish (no FINISHED status)"
    return findings, problem


# Lines Valgrind itself prints about its own failures, on stderr.
# What trim() raises on a report that is not XML (cut short, or not Valgrind's).
ParseError = ET.ParseError

_OWN_FAILURE = re.compile(r"^(valgrind: .*|.*VALGRIND INTERNAL ERROR.*|"
                          r".*the 'impossible' happened.*)$", re.MULTILINE)


def own_failure(stderr_text):
    """Valgrind's own complaint in its stderr ('valgrind: Bad option...'),
    or None. Such a run is a tool error, whatever the XML says."""
    m = _OWN_FAILURE.search(stderr_text or "")
    return m.group(1).strip() if m else None


def trim(xml_bytes, race_file):
    """The first Helgrind race whose stack names race_file, in Helgrind's
    own words, three frames a side."""
    root = ET.fromstring(xml_bytes)  # ET.ParseError on a report cut short
    for err in root.iter("error"):
        if err.findtext("kind") != "Race":
            continue
        lines, blocks = [], []
        for child in err:
            if child.tag in ("xwhat", "xauxwhat", "auxwhat"):
                text = child.findtext("text") if child.tag != "auxwhat" else child.text
                lines.append(("text", text))
            elif child.tag == "stack":
                frames = []
                for f in child.iter("frame"):
                    if f.findtext("file") and f.findtext("fn"):
                        path = f"{f.findtext('dir') or ''}/{f.findtext('file')}".lstrip("./")
                        frames.append(f"{f.findtext('fn')} ({path}:{f.findtext('line')})")
                lines.append(("stack", frames[:3]))
                blocks.append(frames)
        if not any(race_file in fr for frames in blocks for fr in frames):
            continue
        out = []
        for kind, value in lines:
            if kind == "text":
                out += ["", value] if out else [value]
            else:
                out += [("   at " if i == 0 else "   by ") + fr for i, fr in enumerate(value)]
        return "\n".join(out)
    return None
