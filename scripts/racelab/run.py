"""racelab run: any C program under every detector, with measured rates.

A program written elsewhere (its own main(), no race points, no JSON line)
is compiled in each flavour its tools need and run K times under each:

  native      gcc -O1 -g            stress (the program alone), helgrind, drd
  tsan-clang  clang -O1 -g -fsanitize=thread
  tsan-gcc    gcc -O1 -g -fsanitize=thread

each with -pthread and every source's folder on the include path. The
native run is always made: it is what each tool's cost is measured against
(racelab.cost), the same program doing the same work.

A trial ends, in the order of trust of racelab.trial: tool-error (the tool
could not run), hang (killed at --timeout), detected (a finding at the
declared race site), crash (killed by a signal, or the tool's crash
report), manifested (a non-zero exit), clean. The symptom is any of hang,
crash, manifested. ThreadSanitizer runs with exitcode=0, so a non-zero exit
is the program's own.

The race site, where a finding must be to count as a detection, is
declared in the source, DataRaceBench's way, by a comment line

  Data race pair: counter@22:3:W vs. counter@22:3:R
  Lock-order pair: b@22:2 vs. a@33:2
  Data race pair: none                 (the program is race-free)

whose lines are turned into the functions that hold them (a site is a
file and functions, never a line: ARCHITECTURE.md, principle 2); or by
--race-site FILE:FUNCTION[,FUNCTION] (or none); or not at all: then every
finding is listed and none is judged.

Records (--out) are the labs' (racelab.records, racelab.trial/2), with
the program's name as their lab: a string, where a lab is a number
(records.PROGRAM_FIELDS says what else differs). Its build is broken
when it declares a race, fixed when it declares none; a program that
declares nothing has no records, since a record's rates are judged by its
build.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, namedtuple
from pathlib import Path

from . import cost, frames, match, records, stats, tools, trial, tsan, valgrind
from .cli import Failure
from .scenario import shown

TOOL_NAMES = ("stress", "tsan-clang", "tsan-gcc", "helgrind", "drd")
FLAVOUR = {"stress": "native", "helgrind": "native", "drd": "native",
           "tsan-clang": "tsan-clang", "tsan-gcc": "tsan-gcc"}
COMPILE = {"native": ("gcc", "-O1", "-g"),
           "tsan-clang": ("clang", "-O1", "-g", "-fsanitize=thread", "-fno-omit-frame-pointer"),
           "tsan-gcc": ("gcc", "-O1", "-g", "-fsanitize=thread", "-fno-omit-frame-pointer")}
# --expect's short names for finding kinds, and its default band: "the
# detector sees it in most trials", judged on the rate's 95% interval (so
# 0 of 3 misses it, 2 of 3 meets it; 3 of 5 meets it, 2 of 5 misses).
KIND_ALIASES = {"race": "data-race", "lock-order": "lock-order-inversion"}
DEFAULT_BAND = (0.8, 1.0)
COMPILE_TIMEOUT_S = 120

_PAIR = re.compile(r"\b(Data race|Lock-order|Lock order) pair:\s*(.+?)\s*(?:\*/)?$")
_SIDE = re.compile(r"^([^@\s]+)@(\d+)(?::\d+)?(?::[RW])?$")

# What a program declares: build ('broken', 'fixed' or None: nothing
# declared), site (a match.Site or None), kind (the finding kind the
# declaration names, or None for any), source (where it was declared).
Declared = namedtuple("Declared", "build site kind source")


class Program:
    """An outside program: its sources, the folder its files are named
    from (the sources' common folder), its name, its arguments."""

    def __init__(self, sources, args=(), name=None, cflags=(), ldflags=()):
        paths = [Path(s) for s in sources]
        for p in paths:
            if not p.is_file():
                raise Failure(f"no such source file: {p}")
            if p.suffix != ".c":
                raise Failure(f"{p} is not a C source (.c)")
        self.sources = [p.resolve() for p in paths]
        self.root = Path(os.path.commonpath([str(p.parent) for p in self.sources]))
        self.name = name or paths[0].stem
        if not records.program_name(self.name):
            raise Failure(f"'{self.name}' cannot name a program: letters, digits and ._+- "
                          f"only, and not a number alone (numbers are labs)")
        self.args, self.cflags, self.ldflags = list(args), list(cflags), list(ldflags)

    def relative(self, path):
        return os.path.relpath(Path(path).resolve(), self.root)

    @property
    def config(self):
        """'default', or the arguments when there are any: records of
        different arguments are different cells."""
        if not self.args:
            return "default"
        return ("args-" + re.sub(r"[^A-Za-z0-9=.+_-]+", "_", "_".join(self.args)))[:60]


def header_pairs(path):
    """[(kind, [line, ...] or None)] of the pair lines in a source: None
    for 'pair: none'. Failure when a pair names a line that does not
    mention its variable (a header gone stale after an edit)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise Failure(f"cannot read {shown(path)}: {e.strerror}") from None
    lines, out = text.splitlines(), []
    for number, line in enumerate(lines, 1):
        m = _PAIR.search(line)
        if not m:
            continue
        kind = "data-race" if m.group(1) == "Data race" else "lock-order-inversion"
        if m.group(2).lower().startswith("none"):
            out.append((kind, None))
            continue
        at = []
        for side in re.split(r"\s+vs\.?\s+", m.group(2)):
            s = _SIDE.match(side.strip())
            if not s:
                raise Failure(f"{shown(path)}:{number}: cannot read the pair side '{side}' "
                              f"(expected VAR@LINE:COL[:R|W])")
            var, at_line = s.group(1), int(s.group(2))
            bare = re.sub(r"\[.*", "", var)
            if not 1 <= at_line <= len(lines) or bare not in lines[at_line - 1]:
                raise Failure(f"{shown(path)}:{number}: the pair names {var} at line {at_line}, "
                              f"which does not mention {bare}")
            at.append(at_line)
        out.append((kind, at))
    return out


def declared(program, race_site=None):
    """What the program declares about its race (Declared), from
    --race-site when given, else from its sources' headers."""
    if race_site is not None:
        return _from_option(program, race_site)
    for path in program.sources:
        pairs = header_pairs(path)
        if not pairs:
            continue
        if all(lines is None for _, lines in pairs):
            return Declared("fixed", None, None, shown(path))
        text = path.read_text(encoding="utf-8", errors="replace")
        source = text.splitlines()
        funcs = {match.enclosing_function(source, n) for _, lines in pairs if lines
                 for n in lines} - {None}
        if not funcs:
            raise Failure(f"{shown(path)}: the race pair's lines are in no function")
        kinds = {kind for kind, lines in pairs if lines}
        site = match.Site(program.relative(path), sorted(funcs), text)
        return Declared("broken", site, kinds.pop() if len(kinds) == 1 else None, shown(path))
    return Declared(None, None, None, None)


def _from_option(program, race_site):
    if race_site == "none":
        return Declared("fixed", None, None, "--race-site")
    file, colon, funcs = race_site.rpartition(":")
    names = [f for f in funcs.split(",") if f]
    if not colon or not file or not names:
        raise Failure(f"--race-site '{race_site}' is not FILE:FUNCTION[,FUNCTION] or none")
    # FILE as given from here, else from the sources' folder.
    path = next((base / file for base in (Path.cwd(), program.root)
                 if (base / file).is_file()), None)
    if path is None:
        raise Failure(f"--race-site: no file {file} here or in {shown(program.root)}")
    text = path.read_text(encoding="utf-8", errors="replace")
    return Declared("broken", match.Site(program.relative(path), names, text), None,
                    "--race-site")


def check_tools(names):
    """The Tool records of a comma list, in the order given; Failure on an
    unknown one or a missing program (valgrind, clang)."""
    chosen = []
    for name in names:
        if name not in TOOL_NAMES:
            raise Failure(f"unknown tool '{name}' (tools: {', '.join(TOOL_NAMES)})")
        if name not in [t.name for t in chosen]:
            chosen.append(tools.TOOLS[name])
    for t in chosen:
        for needed in (COMPILE[FLAVOUR[t.name]][0],) + tuple(t.wrapper[:1]):
            if shutil.which(needed) is None:
                raise Failure(f"{needed} is not installed ({t.name} needs it)")
    return chosen


def compile_all(program, flavours, outdir):
    """{flavour: executable}, each compiled into outdir; Failure with the
    compiler's first error line when one does not compile."""
    includes = sorted({f"-I{p.parent}" for p in program.sources})
    exes = {}
    for flavour in flavours:
        exe = Path(outdir) / f"{program.name}.{flavour}"
        cmd = [*COMPILE[flavour], "-pthread", *includes, *program.cflags,
               *map(str, program.sources), "-o", str(exe), *program.ldflags]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                               timeout=COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise Failure(f"{cmd[0]} took over {COMPILE_TIMEOUT_S} s to compile "
                          f"{program.name}") from None
        if r.returncode != 0:
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            first = next((l for l in lines if "error" in l), lines[0] if lines else "")
            first = first.replace(str(program.root) + "/", "")
            raise Failure(f"{cmd[0]} could not compile {program.name} ({flavour}): {first}")
        exes[flavour] = exe
    return exes


def classify(ran, findings, tool_error):
    """(outcome, manifested, detected, error) of one trial of an outside
    program: racelab.trial's order, with the program's exit status in
    place of the stress driver's JSON line."""
    if tool_error:
        return "tool-error", False, False, tool_error
    detected = any(f.get("matched") for f in findings)
    crash_report = next((f for f in findings if f["kind"] == tsan.CRASH), None)
    if ran.timed_out:
        return "hang", True, detected, "killed at the time limit"
    if ran.code is not None and ran.code < 0:
        error = f"killed by {trial.signal_name(-ran.code)}"
    elif crash_report:
        error = f"the tool reported a crash: {crash_report['summary']}"
    else:
        error = None
    if detected:
        return "detected", error is not None or ran.code != 0, True, error
    if error:
        return "crash", True, False, error
    if ran.code != 0:
        return "manifested", True, False, f"exit {ran.code}"
    return "clean", False, False, None


def run_trial(program, tool, exe, timeout, decl, tmpdir, number):
    """One trial: (record, raw report bytes or None)."""
    xml = os.path.join(tmpdir, f"trial-{number}.xml") if tool.report == "valgrind-xml" else None
    env = tools.environment(tool)
    if tool.report == "tsan":
        env["TSAN_OPTIONS"] += " exitcode=0"  # the exit status stays the program's
    ran = trial.execute(tools.command(tool, exe, program.args, xml), timeout, os.getcwd(), env)
    err = ran.err.decode("utf-8", "replace")
    findings, tool_error, raw = [], ran.start_error, None
    if tool.report == "tsan" and tool_error is None:
        findings, tool_error = tsan.parse(err, tool.name)
        raw = ran.err
    elif tool.report == "valgrind-xml" and tool_error is None:
        try:
            raw = Path(xml).read_bytes()
            os.unlink(xml)
        except FileNotFoundError:
            raw = b""
        findings, problem = valgrind.parse(raw, tool.name)
        tool_error = valgrind.own_failure(err) or (None if ran.timed_out else problem)
    for f in findings:
        if decl.site:
            match.judge(f, decl.site)
    outcome, manifested, detected, error = classify(ran, findings, tool_error)
    return record(program, tool, timeout, decl, number, ran, findings,
                  (outcome, manifested, detected, error)), raw


def record(program, tool, timeout, decl, number, ran, findings, verdict):
    """A program's trial record (records.PROGRAM_FIELDS says how it differs
    from a lab's): records.new() checks it as it is built."""
    outcome, manifested, detected, error = verdict
    code = ran.code
    return records.new(
        run="", trial=number, lab=program.name, build=decl.build or "broken",
        variant=program.name, tool=tool.name, flavour=FLAVOUR[tool.name],
        config=program.config, threads=None, pinning=None, cpus=None, seed=None,
        time_limit_s=timeout, outcome=outcome, manifested=manifested, detected=detected,
        exit={"code": code if code is not None and code >= 0 else None,
              "signal": trial.signal_name(-code) if code is not None and code < 0 else None},
        elapsed_s=round(ran.elapsed_s, 3),
        peak_rss_kb=ran.usage["peak_rss_kb"] if ran.usage else None,
        cpu_s=ran.usage["cpu_s"] if ran.usage else None,
        invariants=None, program=None, findings=findings, findings_total=len(findings),
        findings_matched=sum(1 for f in findings if f.get("matched")), error=error,
        stderr_tail=trial.stderr_tail(ran.err.decode("utf-8", "replace"))
        if tool.report is None and outcome in ("crash", "hang") else None)


def run_tool(program, tool, exe, trials, timeout, decl, progress=None):
    """K trials of one tool: the list of records, in order."""
    frames.set_roots([program.root])
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)
    recs = []
    with tempfile.TemporaryDirectory(prefix="racelab-run-") as tmp:
        for number in range(1, trials + 1):
            rec, _ = run_trial(program, tool, exe, timeout, decl, tmp, number)
            rec["run"] = run_id
            recs.append(rec)
            if progress:
                progress(f"[{number}/{trials}] {program.name} {tool.name}: {rec['outcome']} "
                         f"({rec['elapsed_s']:.1f}s)")
    return recs


# --- what the trials say -----------------------------------------------------

def rate(k, n):
    """'5/5 (95% CI 0.57-1.00)'."""
    return f"{k}/{n} (95% CI {stats.fmt_interval(stats.wilson(k, n))})"


def counted(recs):
    return [r for r in recs if r["outcome"] != "tool-error"]


def kind_rates(recs, decl):
    """{kind: trials with a finding of that kind}, at the race site when
    one is declared; the declared kind is listed even when never seen."""
    kinds = Counter()
    for r in counted(recs):
        seen = {f["kind"] for f in r["findings"] if f["kind"] != tsan.CRASH
                and (decl.site is None or f.get("matched"))}
        kinds.update(seen)
    if decl.kind and decl.kind not in kinds:
        kinds[decl.kind] = 0
    return kinds


def side_text(side):
    if not side:
        return "(no frame of the program)"
    where = f"{side['file']}:{side['line']}" if side.get("line") is not None else side["file"]
    access = f" {side['access']}" if side.get("access") else ""
    return f"{where} {side['function'] or '??'}{access}"


def distinct(recs):
    """[(finding, trials it appeared in)], most frequent first. Two
    findings are the same when kind and both sites (file, line, function)
    are, in either order: which side a tool calls current varies."""
    seen, first = Counter(), {}
    for r in recs:
        keys = set()
        for f in r["findings"]:
            sides = sorted(repr(_where(f.get(s))) for s in ("a", "b"))
            key = (f["kind"], *sides)
            first.setdefault(key, f)
            keys.add(key)
        seen.update(keys)
    return [(first[k], n) for k, n in seen.most_common()]


def _where(side):
    return None if not side else (side.get("file"), side.get("line"), side.get("function"))


def summary(tool, recs, native, decl):
    """The lines printed for one tool."""
    ok = counted(recs)
    n, errors = len(ok), len(recs) - len(ok)
    head = f"{tool.name}: {len(recs)} trials" + (f", {errors} tool errors" if errors else "")
    lines = [head]
    if errors:
        why = next(r["error"] for r in recs if r["outcome"] == "tool-error")
        lines.append(f"  tool error: {why}")
    if not n:
        return lines
    how = Counter("hang" if r["outcome"] == "hang" else
                  "signal" if r["exit"]["signal"] else "non-zero exit"
                  for r in ok if r["manifested"])
    detail = ", ".join(f"{how[w]} {w}" for w in ("non-zero exit", "signal", "hang") if how[w])
    lines.append(f"  symptom: {rate(sum(r['manifested'] for r in ok), n)}"
                 + (f": {detail}" if detail else ""))
    if tool.report:
        lines += _detections(ok, decl)
    lines += _cost(tool, recs, native)
    return lines


def _detections(ok, decl):
    n = len(ok)
    where = "at the race site" if decl.site else "anywhere (no race site declared: not judged)"
    lines = []
    if decl.site:
        lines.append(f"  detection at the race site: {rate(sum(r['detected'] for r in ok), n)}")
    for kind, k in sorted(kind_rates(ok, decl).items()):
        lines.append(f"    {kind} {where}: {rate(k, n)}")
    found = distinct(ok)
    if found:
        lines.append("  findings (trials with it):")
    for f, k in found:
        mark = " [race site]" if f.get("matched") else ""
        cut = " (report cut short)" if f.get("incomplete") else ""
        lines.append(f"    {k}/{n} {f['kind']}{mark}{cut}: {side_text(f.get('a'))}"
                     f"  vs.  {side_text(f.get('b'))}")
    return lines


def _cost(tool, recs, native):
    if tool.name == "stress" or not native:
        return []
    timed = [r for r in recs if r["outcome"] not in cost.UNTIMED]
    base = [r for r in native if r["outcome"] not in cost.UNTIMED]
    if not timed or not base:
        return ["  cost: - (no trial of both ran to the end)"]
    row = cost.Row(("", "", tool.name, ""), timed, base)
    f = cost.fmt_row(row)
    return [f"  cost: wall {f[5]} s against {f[6]} s native ({f[7]}), CPU {f[8]}, "
            f"peak RSS {f[9]} MB (native {f[11]} MB)"]


# --- --expect ------------------------------------------------------------------

Expectation = namedtuple("Expectation", "what kind band")


def parse_expect(text):
    """'race', 'lock-order:0.9-1', 'none', 'use-after-free' -> [Expectation]."""
    out = []
    for item in filter(None, text.split(",")):
        what, _, band = item.partition(":")
        if what == "none":
            out.append(Expectation("none", None, (0.0, 0.0)))
            if band:
                raise Failure("--expect none takes no band (it is 0-0)")
            continue
        kind = KIND_ALIASES.get(what, what)
        if not re.fullmatch(r"[a-z][a-z-]*", kind):
            raise Failure(f"--expect: '{what}' is not race, lock-order, none or a finding kind")
        out.append(Expectation(what, kind, _band(band) if band else DEFAULT_BAND))
    if not out:
        raise Failure("--expect needs race, lock-order, none or a finding kind")
    return out


def _band(text):
    low, dash, high = text.partition("-")
    try:
        band = (float(low), float(high))
    except ValueError:
        raise Failure(f"--expect: '{text}' is not a band LOW-HIGH such as 0.9-1") from None
    if not dash or not 0 <= band[0] <= band[1] <= 1:
        raise Failure(f"--expect: the band '{text}' is not within 0-1, low first")
    return band


def judge_expect(expectations, by_tool, decl):
    """[(line, ok)]: each expectation against each tool's rate. 'none'
    holds when no detector reported anything and no native trial showed a
    symptom; a kind, when each detector's rate of it (at the race site when
    declared) has a 95% interval that meets the band."""
    out = []
    for e in expectations:
        for tool, recs in by_tool.items():
            ok = counted(recs)
            if not ok or (e.kind and not tool.report):
                continue
            if e.kind:
                k = kind_rates(ok, decl)[e.kind]
            elif tool.report:
                k = sum(any(f["kind"] != tsan.CRASH for f in r["findings"]) for r in ok)
            else:
                k = sum(r["manifested"] for r in ok)
            hit = stats.meets(stats.wilson(k, len(ok)), e.band)
            out.append((f"expect {e.what} ({stats.fmt_interval(e.band)}) under {tool.name}: "
                        f"{rate(k, len(ok))}: {'ok' if hit else 'MISSED'}", hit))
    return out


def write_records(outdir, by_tool):
    """Appends each tool's records to OUT/<name>-<build>-<tool>-<config>.jsonl;
    returns the files written."""
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        written = []
        for tool, recs in by_tool.items():
            if not recs:
                continue
            r = recs[0]
            path = outdir / records.results_name(r["lab"], r["build"], tool.name, r["config"])
            records.append_atomically(path, "".join(map(records.dumps, recs)).encode())
            written.append(path)
        return written
    except OSError as e:
        raise Failure(f"cannot write records to {shown(outdir)}: {e.strerror or e}") from None


def measure(program, chosen, decl, args):
    """Compiles, runs every tool (the native run first) and prints the
    results; the exit status of racelab run."""
    stress = tools.TOOLS["stress"]
    order = [stress] + [t for t in chosen if t.name != "stress"]
    say = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    by_tool = {}
    with tempfile.TemporaryDirectory(prefix="racelab-build-") as build:
        exes = compile_all(program, sorted({FLAVOUR[t.name] for t in order}), build)
        for tool in order:
            by_tool[tool] = run_tool(program, tool, exes[FLAVOUR[tool.name]], args.trials,
                                     args.timeout, decl, say)
    native = by_tool[stress]
    shown_tools = [t for t in order if t in chosen or t.name != "stress"]
    if stress not in chosen:
        print(f"native run (the cost's baseline): {len(native)} trials, symptom "
              f"{rate(sum(r['manifested'] for r in counted(native)), len(counted(native)))}")
        del by_tool[stress]
    for tool in shown_tools:
        print("\n".join(summary(tool, by_tool[tool], native, decl)))
    verdicts = judge_expect(args.expect or [], by_tool, decl)
    for line, _ in verdicts:
        print(line)
    if args.out:
        for path in write_records(args.out, {**by_tool, stress: native}):
            print(f"records: {shown(path)}", file=sys.stderr)
    errors = any(r["outcome"] == "tool-error" for recs in by_tool.values() for r in recs)
    return 1 if errors or not all(ok for _, ok in verdicts) else 0
