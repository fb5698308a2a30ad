"""The subset of YAML the engines' CI files are written in, parsed without
a YAML library: block mappings and sequences by indentation, a sequence
item that opens a mapping ("- key: value"), flow sequences of scalars
([1, "2"]), quoted and plain scalars, literal blocks (|), and comments on
lines of their own. Anything else is a ValueError naming the line, so a
file that leaves the subset fails its test rather than being misread."""

import json
import re


def _scalar(text, where):
    text = text.strip()
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"{where}: a flow sequence must end on its line")
        inner = text[1:-1].strip()
        return [_scalar(part, where) for part in inner.split(",")] if inner else []
    if text.startswith(("{", "&", "*", "!", ">")):
        raise ValueError(f"{where}: '{text[0]}' is outside the subset")
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        if not text.endswith("'"):
            raise ValueError(f"{where}: an unclosed quote")
        return text[1:-1].replace("''", "'")
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if " #" in text:
        raise ValueError(f"{where}: a comment after a value is outside the subset")
    return text


def parse(text, name="yaml"):
    lines = [(i, line) for i, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    for i, line in lines:
        if "\t" in line[:len(line) - len(line.lstrip())]:
            raise ValueError(f"{name}:{i}: a tab in the indentation")
    value, rest = _block(lines, 0, 0, name)
    if rest != len(lines):
        raise ValueError(f"{name}:{lines[rest][0]}: indented less than its block")
    return value


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _block(lines, at, indent, name):
    """(value, next line index) of the block starting at lines[at]."""
    if at >= len(lines):
        return None, at
    first = lines[at][1].strip()
    if first.startswith("- ") or first == "-":
        return _sequence(lines, at, indent, name)
    return _mapping(lines, at, indent, name)


def _value(lines, at, indent, after, name, where):
    """The value after 'key:' (or '- '): on its line, a literal block, or
    the indented block under it."""
    if after == "|":
        block = []
        while at < len(lines) and _indent(lines[at][1]) > indent:
            block.append(lines[at][1])
            at += 1
        cut = min((_indent(line) for line in block), default=0)
        return "\n".join(line[cut:] for line in block) + "\n", at
    if after:
        return _scalar(after, where), at
    if at < len(lines) and _indent(lines[at][1]) > indent:
        return _block(lines, at, _indent(lines[at][1]), name)
    if at < len(lines) and _indent(lines[at][1]) == indent and lines[at][1].lstrip().startswith("-"):
        return _sequence(lines, at, indent, name)  # a sequence at its key's indentation
    return None, at


def _mapping(lines, at, indent, name):
    out = {}
    while at < len(lines) and _indent(lines[at][1]) == indent:
        number, line = lines[at]
        where = f"{name}:{number}"
        m = re.fullmatch(r"([^\s:\"'][^:]*?|\"[^\"]*\"|'[^']*'):(?:\s+(.*))?", line.strip())
        if not m or line.lstrip().startswith("- "):
            raise ValueError(f"{where}: not 'key: value'")
        key = _scalar(m[1], where)
        if key in out:
            raise ValueError(f"{where}: '{key}' twice")
        out[key], at = _value(lines, at + 1, indent, (m[2] or "").strip(), name, where)
    return out, at


def _sequence(lines, at, indent, name):
    out = []
    while at < len(lines) and _indent(lines[at][1]) == indent and \
            lines[at][1].lstrip().startswith("-"):
        number, line = lines[at]
        where = f"{name}:{number}"
        item = line.lstrip()[1:].strip()
        if re.match(r"([^\s:\"'\[][^:]*?|\"[^\"]*\"):(\s|$)", item):
            # '- key: value' opens a mapping whose keys sit under 'key'
            inner = indent + (len(line.lstrip()) - len(line.lstrip()[1:].lstrip()))
            rest = [(number, " " * inner + item)] + lines[at + 1:]
            value, used = _mapping(rest, 0, inner, name)
            out.append(value)
            at = at + used
        else:
            value, at = _value(lines, at + 1, indent, item, name, where)
            out.append(value)
    return out, at
