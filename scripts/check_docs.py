#!/usr/bin/env python3
"""check_docs.py: the documents' facts against the tables and the sources.

  make docs         scripts/check_docs.py --write   rewrite every marked region
  make check-docs   scripts/check_docs.py           fail on any stale fact

A figure in a document that comes from a measurement or from the code is
either written by this script or checked by it, so a re-measurement or an
edit of a module cannot leave a document saying something else
(ARCHITECTURE.md, principle 7). Checked in README.md, GUIDE.md,
ARCHITECTURE.md, expected/README.md and every labs/lab-N-*/README.md:

  regions   <!-- NAME: generated from SOURCE -->  ...  <!-- end NAME -->
            a block rewritten whole from SOURCE (REGIONS below lists them)
  values    <!-- fact KIND ARGS -->TEXT<!-- /fact -->
            one value in a sentence, rewritten from its source: KIND is
              rate LAB BUILD TOOL CONFIG     "s of n" from labs/lab-N-*/expected.tsv
              ratio LAB BUILD TOOL CONFIG    "s/n"
              trials LAB BUILD TOOL CONFIG   "n"
              note LAB BUILD TOOL CONFIG     the row's note
              note-clause LAB BUILD TOOL CONFIG WORD
                                             the note's first ';'-clause that
                                             holds WORD ("reports", "broken:",
                                             "why:", "trials")
              scenario LAB KEY               a key of the lab's scenario.conf
              safe LAB                       P(broken passes SAFE), "1.5e-37"
              tools                          the tools the tables measure
              code MODULE.CONSTANT [KEY]     a constant of scripts/racelab/MODULE.py
                                             (else of scripts/MODULE.py)
              check-fails-at TRIALS LOW [95] the most successes of TRIALS the
                                             quick check's verdict fails, band
                                             LOW to 1.00 (99.99%, or 95%): "5"
              check-passes LOW RATE          how often the quick check passes
                                             such a cell of true RATE: "38%"
              labs-measured TRIALS           the labs whose broken stress spread
                                             row has TRIALS trials: "1, 2 and 3"
              labs-every TOOL CONFIG         the labs whose broken row of TOOL,
                                             CONFIG shows its metric in every trial
              replicas BUILD TOOL CONNECTIONS  "s of n" from lab 11's table
                                             (labs/lab-11-replicas/expected.tsv)
              war COLUMN [KEY=VALUE...]      expected/http/war-story.tsv: the
                                             column, summed over the rows that
                                             match
              wrk COLUMN [KEY=VALUE...]      the same of expected/http/loadgen-wrk.tsv
                                             (war_measure.py wrk --write)
              overhead COLUMN [KEY=VALUE...]  the same of expected/http/overhead.tsv
                                             (war_measure.py overhead --write)
  quotes    path:LINE in a report excerpt or in prose (broken/cache.c:93,
            `stress/main.c:483`): the file is in the tree (a base name that
            is not, like glibc's pthread_mutex_lock.c, is not racelab's) and
            has that line; the function named beside it (`#0 find_link
            broken/cache.c:93`, `at cache_grow (broken/cache.c:129)`, `...
            in find_link`) spans the line; in a stack, each caller's line
            calls the frame above it (make docs moves a caller's frame to
            the one line of its function that makes that call); code
            quoted right after it is on the line.
  lines     "line N" in prose: a line some excerpt of the document quotes at
            N, else (in a handout) a line of the lab's race_file; code
            quoted beside it (`line 93: \`while (*link\``) is on that line,
            and `function` (line N) names its function.
  notes     a time limit an expected table's note names ("hung at the 3 s
            limit") is the scenario's for that tool, unless it says it was
            the limit "when measured".
  keys      `key = value` in a handout, for a key of its lab's scenario.conf,
            is what the scenario says (`tsan.time_limit_s = 2`).
  citations a document named in any file of the tree (`GUIDE.md`,
            `labs/lab-N-*/README.md`) exists in the tree.

Exit 0 when every fact holds (or, with --write, after rewriting), 1 with
one line per stale fact (file:line, what the document says, what the
source says), 2 on bad arguments or unreadable input.
"""

import argparse
import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from racelab import cli, expected, grading, scenario  # noqa: E402
from racelab.cli import Failure  # noqa: E402

DOCS = ("README.md", "GUIDE.md", "ARCHITECTURE.md", "expected/README.md", "labs/lab-*/README.md")
SOURCE_EXT = ("c", "h", "py", "sh", "sched", "conf", "mk", "gp")
SKIP_DIRS = {".git", "build", "results", "work"}

REGION = re.compile(r"<!-- ([a-z0-9-]+): generated from (.+?) -->\n(.*?)<!-- end \1 -->",
                    re.S)
FACT = re.compile(r"<!-- fact ([a-z-]+)((?: [^ >]+)*) -->(.*?)<!-- /fact -->", re.S)
QUOTE = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w.-]+\.(?:" + "|".join(SOURCE_EXT)
                   + r")):(\d+)(?::\d+)?")
# The function beside a quote, in the tools' dialects.
FUNC_BEFORE = re.compile(r"(?:#\d+\s+|\b(?:at|by|in)\s+(?:0x[0-9A-Fa-f]+: )?|`)([A-Za-z_]\w*)`?\s*"
                         r"\(?\s*`?$")
FUNC_AFTER = re.compile(r"^(?::\d+)?`?\)?\s+in\s+`?([A-Za-z_]\w*)")
CODE_AFTER = re.compile(r"^`?\s*[,:]?\s*\(?`([^`\n]+)`")
LINE_REF = re.compile(r"\blines? (\d+)(?: (?:and|to) (\d+))?")
CODE_NEAR = re.compile(r"[^`\n]{0,3}?[,:(]\s*`([^`\n]+)`")
DOC_NAME = re.compile(r"(?<![\w/.<>*-])((?:[\w.<>*-]+/)*[\w<>*-]+\.md)\b")
C_KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else"}


def repo_files(root):
    """The tree's files, repo-relative: git's list when it is a checkout
    (build products and results never count), else a walk."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-co", "--exclude-standard"],
                             capture_output=True, text=True, check=True).stdout
        files = [f for f in out.splitlines() if (root / f).is_file()]
        if files:
            return sorted(files)
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
        files += [str((Path(d) / n).relative_to(root)) for n in names]
    return sorted(files)


def documents(root, files):
    return [f for f in files if any(fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/")
                                    for pat in DOCS)]


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


# --- the sources --------------------------------------------------------------

class Sources:
    """Repo files read once, and the C function enclosing each line."""

    def __init__(self, root, files):
        self.root = root
        self.files = files
        self.by_name = {}
        for f in files:
            self.by_name.setdefault(Path(f).name, []).append(f)
        self.top = {f.split("/")[0] for f in files if "/" in f}
        self._lines = {}
        self._funcs = {}

    def resolve(self, path, func=None, doc=None):
        """(repo path, None), (None, why not), or (None, None) for a file
        that is not racelab's (glibc's ./nptl/pthread_mutex_lock.c).
        Valgrind and gdb name a module by its base name; of the two twins,
        the one whose function `func` spans the line is meant, else the
        broken one (reports come from the broken build). A base name that
        every lab has (workload.c), quoted in a lab's handout, is that lab's."""
        p = path[2:] if path.startswith("./") else path
        if p in self.files:
            return p, None
        hits = [f for f in self.files if f.endswith("/" + p)]
        here = str(Path(doc).parent) + "/" if doc and "/" in doc else None
        if here and len(hits) > 1 and sum(h.startswith(here) for h in hits) == 1:
            hits = [h for h in hits if h.startswith(here)]
        if len(hits) == 1:
            return hits[0], None
        if hits and {str(Path(h).parent) for h in hits} == {"broken", "fixed"}:
            return f"broken/{p}", None
        if hits:
            return None, f"'{path}' is ambiguous ({', '.join(sorted(hits))}): write its directory"
        if "/" in p and p.split("/")[0] in self.top:
            return None, f"no file '{path}' in the tree"
        return None, None

    def lines(self, f):
        if f not in self._lines:
            self._lines[f] = (self.root / f).read_text(encoding="utf-8",
                                                       errors="replace").splitlines()
        return self._lines[f]

    def functions(self, f):
        if f not in self._funcs:
            self._funcs[f] = _c_functions(self.lines(f))
        return set(self._funcs[f].values())

    def function_at(self, f, number):
        """The top-level C function whose definition spans line `number`."""
        if f not in self._funcs:
            self._funcs[f] = _c_functions(self.lines(f))
        return self._funcs[f].get(number)


_HEADER = re.compile(r"^[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\(")


def _c_functions(lines):
    """{line number: function name} for the lines of each top-level
    definition, header to closing brace; strings and comments are blanked
    before the braces are counted."""
    out, depth, pending, current, in_comment = {}, 0, None, None, False
    for number, raw in enumerate(lines, 1):
        text = raw
        if in_comment:
            end = text.find("*/")
            if end < 0:
                text = ""
            else:
                text, in_comment = text[end + 2:], False
        text = re.sub(r"/\*.*?\*/", "", text)
        if "/*" in text:
            text, in_comment = text[:text.index("/*")], True
        text = re.sub(r"//.*", "", text)
        text = re.sub(r"'(?:\\.|[^'\\])'", "''", text)
        text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
        if depth == 0:
            m = _HEADER.match(raw)
            if m and m.group(1) not in C_KEYWORDS and not raw.rstrip().endswith(";"):
                pending, start = m.group(1), number
            elif text.strip().endswith(";") or text.strip().startswith("#"):
                pending = None
        before = depth
        depth = max(0, depth + text.count("{") - text.count("}"))
        if before == 0 and depth == 0 and pending and "{" in text:  # void f(void) { }
            for n in range(start, number + 1):
                out[n] = pending
            pending = None
        if before == 0 and depth > 0 and pending:
            current = pending
            for n in range(start, number):
                out[n] = current
            pending = None
        if current:
            out[number] = current
        if depth == 0 and before > 0:
            current = None
    return out


def _norm(code):
    return re.sub(r"\s+", " ", code).strip()


def code_on_line(code, line):
    """Is quoted `code` (an elision "..." allowed at its end) on `line`?"""
    code = _norm(code)
    code = re.sub(r"\s*(\.\.\.|…)$", "", code)
    return bool(code) and code in _norm(line)


# --- values and regions from the tables -------------------------------------

class Tables:
    def __init__(self, root):
        self.root = root
        self._table = None
        self._service = None
        self._scen = {}
        self._war = {}
        self.memo = {}

    @property
    def table(self):
        """The stress labs' tables: what the figures over every lab count."""
        if self._table is None:
            self._table = expected.read_dir(self.root / "labs")
        return self._table

    @property
    def service_table(self):
        """The service labs' tables: their rows are named one by one."""
        if self._service is None:
            self._service = expected.service_dir(self.root / "labs")
        return self._service

    def row(self, args):
        if len(args) != 4 or not args[0].isdigit():
            raise Failure(f"needs LAB BUILD TOOL CONFIG, got '{' '.join(args)}'")
        key = (int(args[0]), *args[1:])
        found = self.table.get(key) or self.service_table.get(key)
        if found is None:
            raise Failure(f"{self.table_src(args[0])} has no row {' '.join(args[1:])}")
        return found

    def lab_dir(self, lab):
        d = next((self.root / "labs").glob(f"lab-{lab}-*"), None)
        if d is None:
            raise Failure(f"no labs/lab-{lab}-*/")
        return d

    def table_src(self, lab):
        """'labs/lab-1-cache/expected.tsv', lab 1's table as the documents name it."""
        return f"labs/{self.lab_dir(lab).name}/{expected.TABLE}"

    def scenario(self, lab):
        if lab not in self._scen:
            path = self.lab_dir(lab) / "scenario.conf"
            self._scen[lab] = scenario.parse(path.read_text(encoding="utf-8"), path)
        return self._scen[lab]

    def war(self, args, name="war-story", kind="war"):
        """The sum of COLUMN over the rows of expected/http/NAME.tsv that
        match every KEY=VALUE: `war any connections=1000` -> "36"."""
        src = f"expected/http/{name}.tsv"
        if name not in self._war:
            lines = (self.root / src).read_text(encoding="utf-8").splitlines()
            head = lines[0].split("\t")
            self._war[name] = (head, [dict(zip(head, x.split("\t"))) for x in lines[1:] if x])
        head, rows = self._war[name]
        if not args or args[0] not in head or not all("=" in a for a in args[1:]):
            raise Failure(f"{kind} needs COLUMN [KEY=VALUE...] of {', '.join(head)}")
        want = dict(a.split("=", 1) for a in args[1:])
        bad = sorted(set(want) - set(head))
        if bad:
            raise Failure(f"{src} has no column {bad[0]}")
        chosen = [r for r in rows if all(r[k] == v for k, v in want.items())]
        if not chosen:
            raise Failure(f"{src} has no row {' '.join(args[1:])}")
        values = [float(r[args[0]]) for r in chosen]
        total = sum(values)
        if len(chosen) == 1:
            return chosen[0][args[0]]
        return f"{total:g}"

    def safe(self, lab):
        scen = scenario.Scenario(None, self.scenario(lab))
        plan = grading.plan(lab, self.table, blind=grading.blind_tools(scen),
                            grade_sets=grading.contract_sets(scen.get("grade_sets")))
        return plan, grading.probability(plan)


# The fact kinds of the tables in expected/http/, and each one's file.
HTTP_TABLES = {"war": "war-story", "wrk": "loadgen-wrk", "overhead": "overhead"}


def replicas_fact(tables, args):
    """replicas BUILD TOOL CONNECTIONS: "s of n" of lab 11's table (a
    service lab's: scripts/racelab/replicas.py reads it)."""
    from racelab import replicas
    if len(args) != 3 or not args[2].isdigit():
        raise Failure(f"replicas needs BUILD TOOL CONNECTIONS, got '{' '.join(args)}'")
    src = "labs/lab-11-replicas/expected.tsv"
    rows = [r for r in replicas.read_table(tables.root / src)
            if (r["build"], r["tool"], r["connections"]) == (args[0], args[1], int(args[2]))]
    if not rows:
        raise Failure(f"{src} has no row {' '.join(args)}")
    return f"{rows[0]['successes']} of {rows[0]['trials']}", src


def fact_value(tables, kind, args):
    """(the text, the source it comes from) of <!-- fact KIND ARGS -->."""
    if kind == "note-clause":
        if len(args) != 5:
            raise Failure(f"note-clause needs LAB BUILD TOOL CONFIG WORD, got '{' '.join(args)}'")
        note = tables.row(args[:4])["note"]
        clause = next((c.strip() for c in note.split(";") if args[4] in c), None)
        if clause is None:
            raise Failure(f"the note of {' '.join(args[:4])} has no clause with '{args[4]}'")
        return clause, tables.table_src(args[0])
    if kind in ("rate", "ratio", "trials", "note"):
        row = tables.row(args)
        src = tables.table_src(args[0])
        return {"rate": f"{row['successes']} of {row['trials']}",
                "ratio": f"{row['successes']}/{row['trials']}",
                "trials": str(row["trials"]), "note": row["note"]}[kind], src
    if kind == "scenario":
        if len(args) != 2 or not args[0].isdigit():
            raise Failure(f"scenario needs LAB KEY, got '{' '.join(args)}'")
        values = tables.scenario(int(args[0]))
        if args[1] not in values:
            raise Failure(f"labs/lab-{args[0]}-*/scenario.conf has no '{args[1]}'")
        return values[args[1]], f"labs/lab-{args[0]}-*/scenario.conf"
    if kind == "code":
        if len(args) not in (1, 2) or not re.fullmatch(r"[a-z_]+\.[A-Z_]+", args[0]):
            raise Failure(f"code needs MODULE.CONSTANT [KEY] of scripts/racelab/ or scripts/, "
                          f"got '{' '.join(args)}'")
        import importlib
        module, name = args[0].split(".")
        # the library's module, else a script's (check_rates.RERUN)
        src = f"scripts/racelab/{module}.py"
        if not (Path(__file__).resolve().parent / "racelab" / f"{module}.py").is_file():
            src = f"scripts/{module}.py"
        try:
            value = getattr(importlib.import_module(
                "racelab." + module if src.startswith("scripts/racelab/") else module), name)
            if len(args) == 2:
                value = value[args[1]]
        except (ImportError, AttributeError, KeyError, TypeError):
            raise Failure(f"{src} has no {' '.join(args)}") from None
        return (f"{value:g}" if isinstance(value, float) else str(value)), src
    if kind in ("check-fails-at", "check-passes"):
        return check_fact(kind, args), "scripts/racelab/stats.py"
    if kind == "labs-measured":
        if len(args) != 1 or not args[0].isdigit():
            raise Failure(f"labs-measured needs TRIALS, got '{' '.join(args)}'")
        labs = [lab for lab in expected.labs(tables.table)
                if tables.table.get((lab, "broken", "stress", "spread"), {}).get("trials")
                == int(args[0])]
        if not labs:
            raise Failure(f"no lab's broken stress spread row has {args[0]} trials")
        words = [str(x) for x in labs]
        return (", ".join(words[:-1]) + " and " + words[-1]) if len(words) > 1 else words[0], \
            "labs/lab-*/expected.tsv"
    if kind == "labs-every":
        if len(args) != 2:
            raise Failure(f"labs-every needs TOOL CONFIG, got '{' '.join(args)}'")
        labs = [str(lab) for lab in expected.labs(tables.table)
                if (r := tables.table.get((lab, "broken", *args)))
                and r["successes"] == r["trials"] > 0]
        if not labs:
            raise Failure(f"no lab's broken {' '.join(args)} row shows the metric in every trial")
        return (", ".join(labs[:-1]) + " and " + labs[-1]) if len(labs) > 1 else labs[0], \
            "labs/lab-*/expected.tsv"
    if kind == "tools":
        return tools_list(tables), "labs/lab-*/expected.tsv"
    if kind in HTTP_TABLES:
        name = HTTP_TABLES[kind]
        return tables.war(args, name, kind), f"expected/http/{name}.tsv"
    if kind == "replicas":
        return replicas_fact(tables, args)
    if kind == "safe":
        if len(args) != 1 or not args[0].isdigit():
            raise Failure(f"safe needs LAB, got '{' '.join(args)}'")
        return f"{tables.safe(int(args[0]))[1]:.2g}", tables.table_src(args[0])
    raise Failure(f"unknown fact kind '{kind}' (rate, ratio, trials, note, scenario, safe, "
                  "tools, code, check-fails-at, check-passes, labs-measured, labs-every, war, "
                  "wrk, overhead, replicas)")


def check_fact(kind, args):
    """The quick check's arithmetic for a band LOW to 1.00:
    check-fails-at TRIALS LOW [95]: the most successes out of TRIALS the
      verdict fails (its 99.99% interval, or the 95% one): "5";
    check-passes LOW RATE: how often a cell whose true rate is RATE
      passes, first trials and rerun as the quick check runs them: "38%"."""
    from racelab import stats
    try:
        if kind == "check-fails-at" and len(args) in (2, 3) and args[2:] in ([], ["95"]):
            trials, band = int(args[0]), (float(args[1]), 1.0)
            z = stats.Z95 if args[2:] else stats.Z_CHECK
            fails = [s for s in range(trials + 1) if stats.out_of_band(s, trials, band, z)]
            if not fails or fails != list(range(len(fails))):
                raise Failure(f"no count of {trials} fails the band {args[1]} to 1.00 alone")
            return str(fails[-1])
        if kind == "check-passes" and len(args) == 2:
            band, p = (float(args[0]), 1.0), float(args[1])
            first = QUICK_TRIALS
            passes = 1 - stats.check_fails(band, p, first, QUICK_RERUN)
            return f"{passes:.0%}"
    except ValueError:
        pass
    raise Failure(f"{kind} needs " + ("TRIALS LOW [95]" if kind == "check-fails-at" else
                                      "LOW RATE") + f", got '{' '.join(args)}'")


def _lab_label(tables, lab):
    return f"{lab} {tables.scenario(lab).get('broken_modules', '').split()[0]}"


def region_one_cpu(tables):
    """GUIDE.md: what one CPU hides and what chaos gives back."""
    cols = [("stress", "spread"), ("stress", "same-cpu"), ("chaos", "spread"),
            ("chaos", "same-cpu")]
    out = ["| lab | two CPUs (`spread`) | one CPU | chaos, two CPUs | chaos, one CPU |",
           "|---|---|---|---|---|"]
    for lab in expected.labs(tables.table):
        rows = [tables.table.get((lab, "broken", t, c)) for t, c in cols]
        if not all(rows):
            continue
        text = [f"{r['successes']}/{r['trials']}" for r in rows]
        if rows[1]["successes"] == 0 and rows[0]["successes"] > 0:
            text[1], text[3] = f"**{text[1]}**", f"**{text[3]}**"
        out.append(f"| {_lab_label(tables, lab)} | " + " | ".join(text) + " |")
    return "\n".join(out) + "\n"


def region_safe_plan(tables, lab=1):
    """GUIDE.md: lab 1's SAFE trial counts, as grade.py --plan prints them."""
    plan, p = tables.safe(lab)
    out = ["| tool | config | measured | p (Wilson low) | q = 1-p | k | q^k |",
           "|---|---|---|---|---|---|---|"]
    for c in plan:
        if c.trials is None:
            continue
        q = grading.miss(c)
        out.append(f"| {c.tool} | {c.config} | {c.successes}/{c.trials} | {c.p_low:.4f} "
                   f"| {q:.4f} | {c.k} | {_g(q ** c.k)} |")
    return "\n".join(out) + f"\n\nP = {p:.2g}.\n"


def region_safe_labs(tables):
    """GUIDE.md: P(broken passes SAFE) of every lab."""
    out = ["| lab | P(broken passes SAFE) |", "|---|---|"]
    for lab in expected.labs(tables.table):
        out.append(f"| {_lab_label(tables, lab)} | {tables.safe(lab)[1]:.2g} |")
    return "\n".join(out) + "\n"


def _g(x):
    s = f"{x:.2g}"
    return s if "e" in s or x >= 1e-4 else f"{x:.1e}"


def tools_list(tables):
    """expected/README.md: the tools the tables hold, in a fixed order."""
    what = {"stress": "`stress` (the release build, invariants only)",
            "chaos": "`chaos` (the chaos build, invariants only)",
            "sched": "`sched` (the sched flavour: racelab's scheduler, invariants only)",
            "tsan-clang": "`tsan-clang`", "tsan-gcc": "`tsan-gcc`", "helgrind": "`helgrind`",
            "drd": "`drd`"}
    have = {k[2] for k in tables.table}
    unknown = sorted(have - set(what))
    if unknown:
        raise Failure(f"expected/: tool {unknown[0]} has no description in check_docs.py")
    return ", ".join(what[t] for t in what if t in have)


def region_war_sweep(tables):
    """Lab 1's handout, part 2: runs of the broken service that went wrong,
    by gateway latency and connections."""
    tables.war(["runs"])
    head, rows = tables._war["war-story"]
    broken = [r for r in rows if r["variant"] == "broken-1"]
    conns = sorted({int(r["connections"]) for r in broken})
    out = ["| gateway ms | " + " | ".join(f"{c} connections" for c in conns) + " |",
           "|---|" + "---|" * len(conns)]
    for gw in dict.fromkeys(r["gateway_ms"] for r in broken):
        label = "0" if gw == "0-0" else gw
        if gw == "100-300":
            label += " (the story's)"
        cells = []
        for c in conns:
            r = next((r for r in broken if r["gateway_ms"] == gw and int(r["connections"]) == c),
                     None)
            cells.append("" if r is None else
                         f"{r['any']}/{r['runs']} ({r['any_low']}-{r['any_high']})")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def region_loadgen_wrk(tables):
    """Lab 1's handout, part 2: racelab-loadgen's p99 and maximum over wrk's
    against the same service, each design's rounds as a range."""
    tables.war(["round"], "loadgen-wrk", "wrk")
    head, rows = tables._war["loadgen-wrk"]
    out = ["| racelab-loadgen | connections | rounds | p99 / wrk's | max / wrk's "
           "| load average |", "|---|---|---|---|---|---|"]

    def span(values, fmt):
        lo, hi = min(values), max(values)
        return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}} to {hi:{fmt}}"
    for design, conns in dict.fromkeys((r["loadgen"], r["connections"]) for r in rows):
        mine = [r for r in rows if r["loadgen"] == design and r["connections"] == conns]
        loads = [float(r[k]) for r in mine for k in ("loadavg_before", "loadavg_after")]
        out.append(f"| {design} | {conns} | {len(mine)} "
                   f"| {span([float(r['ratio_p99']) for r in mine], '.2f')} "
                   f"| {span([float(r['ratio_max']) for r in mine], '.2f')} "
                   f"| {span(loads, '.0f')} |")
    return "\n".join(out) + "\n"


def region_lab_9_verbosity(tables):
    """Lab 9's handout: each tool's rate at each logger verbosity (the
    scenario's is 2; the others are extra configurations)."""
    tools = [("stress", "stress: symptom (lost payments)"),
             ("tsan-clang", "ThreadSanitizer (clang): reported"),
             ("tsan-gcc", "ThreadSanitizer (gcc): reported"), ("helgrind", "Helgrind: reported")]
    default = tables.scenario(9).get("verbosity")
    configs = [("spread-verbosity=0", "0"), ("spread-verbosity=1", "1"), ("spread", default)]
    out = ["| build | tool | " + " | ".join(f"verbosity {v}" for _, v in configs) + " |",
           "|---|---|" + "---|" * len(configs)]
    for build in ("broken", "fixed"):
        for tool, label in tools:
            cells = []
            for config, _ in configs:
                r = tables.table.get((9, build, tool, config))
                cells.append(f"{r['successes']}/{r['trials']}" if r else "")
            if any(cells):
                what = label if build == "broken" else label.split(":")[0] + (
                    ": broken invariant" if tool == "stress" else ": any report")
                out.append(f"| {build} | {what} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def region_fast_bar(tables):
    """GUIDE.md: each lab's slowest right fix in the grading self-test
    (expected/grade-selftest.tsv) against FAST's bar and the lab's floor,
    so the ratios quoted are the last measured ones, never a log's."""
    from racelab import fast
    path = tables.root / "expected" / "grade-selftest.tsv"
    lines = [x for x in path.read_text(encoding="utf-8").splitlines()
             if x and not x.startswith("#")]
    head = lines[0].split("\t")
    if "lowest_right_fast" not in head or "right" not in head:
        raise Failure(f"{path.name} has no right or lowest_right_fast column")
    out = ["| lab | right fixes | slowest right fix (FAST) | bar | lab's floor | verdict |",
           "|---|---|---|---|---|---|"]
    for row in (dict(zip(head, x.split("\t"))) for x in lines[1:]):
        if row["lab"] == "total":
            continue
        lab = int(row["lab"])
        floor = min(float(tables.scenario(lab).get("fast_floor") or fast.FAST_FLOOR),
                    fast.FAST_MIN)
        if row["lowest_right_fast"] == "-":
            ratio, verdict = "-", "not measured"
        else:
            r = float(row["lowest_right_fast"])
            ratio = f"{r:.2f}"
            verdict = ("as fast" if r >= fast.FAST_MIN else
                       "correct and slower" if r >= floor else "not FAST")
        out.append(f"| {_lab_label(tables, lab)} | {row['right']} | {ratio} | "
                   f"{fast.FAST_MIN:g} | {floor:g} | {verdict} |")
    return "\n".join(out) + "\n"


# The quick rate check (check_rates.py --profile quick): its tools, trials a
# cell (Valgrind's fewer) and reruns; tests/scripts/test_check_rates.py
# holds check_rates.py to the same figures.
QUICK_TOOLS = ("stress", "tsan-clang", "tsan-gcc", "helgrind", "sched")
QUICK_TRIALS = 10
QUICK_FIRST = {"helgrind": 6}
QUICK_RERUN = 40


def _memo(tables, key, compute):
    if key not in tables.memo:
        tables.memo[key] = compute()
    return tables.memo[key]


def check_error(tables, z, rerun):
    """(cells, P measured, P worst in band): how often the quick check
    fails a correct build, summed over its chancy cells, as check_rates.py
    --explain computes it."""
    from racelab import stats
    key = ("check-error", z, rerun)
    if key in tables.memo:
        return tables.memo[key]
    cells, measured, edge = 0, 0.0, 0.0
    for (lab, build, tool, config), row in sorted(tables.table.items()):
        if tool not in QUICK_TOOLS or config != "spread" or row["band"][1] == 0:
            continue
        if build != "broken" and row["metric"] != stats.EXPECTED_FP:
            continue
        band, first = row["band"], QUICK_FIRST.get(tool, QUICK_TRIALS)
        cells += 1
        measured += _memo(tables, ("posterior", band, row["successes"], row["trials"], first,
                                   rerun, z), lambda: stats.check_fails_posterior(
                                       band, row["successes"], row["trials"], first, rerun, z))
        edge += _memo(tables, ("edge", band, first, rerun, z), lambda: max(
            stats.check_fails(band, band[0] + (band[1] - band[0]) * i / 50, first, rerun, z)
            for i in range(51)))
    tables.memo[key] = cells, measured, edge
    return tables.memo[key]


def _odds(p):
    if p >= 1:
        return "above 1: no bound"
    n = 1 / p
    n = float(f"{n:.3g}") if n >= 100 else round(n)
    return f"{p:.2g} (1 in {n:,.0f})"


def region_check_error(tables):
    """expected/README.md: how often the quick check fails a correct build."""
    from racelab import stats
    rows = [("99.99% interval, rerun 40 (the check)", stats.Z_CHECK, QUICK_RERUN),
            ("99.99% interval, no rerun", stats.Z_CHECK, 0),
            ("95% interval, no rerun (the rule before these)", stats.Z95, 0)]
    out = ["| check | measured | worst in band |", "|---|---|---|"]
    cells = 0
    for label, z, rerun in rows:
        cells, measured, edge = check_error(tables, z, rerun)
        out.append(f"| {label} | {_odds(measured)} | {_odds(edge)} |")
    return (f"Over the {cells} cells of the quick check whose rate is measured, not 0 by "
            "design:\n\n" + "\n".join(out) + "\n")


EXPLORE_COLUMNS = ("lab", "build", "trials", "complete", "broken", "by_invariant",
                   "shortest_steps")


def region_explore(tables):
    """GUIDE.md: every lab's exhaustive count, from expected/explore.tsv
    (explore.py --write)."""
    path = tables.root / "expected" / "explore.tsv"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise Failure(f"cannot read expected/explore.tsv: {e.strerror or e}") from None
    head = lines[0].split("\t") if lines else []
    missing = [c for c in EXPLORE_COLUMNS if c not in head]
    if missing:
        raise Failure(f"expected/explore.tsv:1: no column {missing[0]}"
                      + (" (an old table: 'interleavings' is now 'trials'; "
                         "scripts/explore.py --write)" if "interleavings" in head else ""))
    rows = {(r["lab"], r["build"]): r for r in (dict(zip(head, x.split("\t")))
                                                 for x in lines[1:] if x)}
    out = ["| lab | trials (interleavings) | broke | which invariant | shortest (steps) | "
           "fixed build: trials, broke |", "|---|---|---|---|---|---|"]
    for lab in sorted({int(k[0]) for k in rows}):
        b, f = rows.get((str(lab), "broken")), rows.get((str(lab), "fixed"))
        if not b or not f:
            raise Failure(f"expected/explore.tsv has no broken or no fixed row for lab {lab}")
        which = ", ".join(f"`{x.split('=')[0]}`" for x in b["by_invariant"].split(",")
                          if x != "-") or "-"
        count = b["trials"] + ("" if b["complete"] == "yes" else " (at least)")
        out.append(f"| {_lab_label(tables, lab)} | {count} | {b['broken']} | {which} | "
                   f"{_thousands(b['shortest_steps'])} | {f['trials']}, {f['broken']} |")
    return "\n".join(out) + "\n"


def _thousands(text):
    return f"{int(text):,}" if text.isdigit() else text


# name: (source named in the marker, generator)
REGIONS = {
    "explore": ("expected/explore.tsv", region_explore),
    "one-cpu": ("labs/lab-*/expected.tsv", region_one_cpu),
    "safe-plan-1": ("labs/lab-1-cache/expected.tsv", region_safe_plan),
    "safe-labs": ("labs/lab-*/expected.tsv", region_safe_labs),
    "lab-9-verbosity": ("labs/lab-9-auditcache/expected.tsv", region_lab_9_verbosity),
    "check-error": ("labs/lab-*/expected.tsv", region_check_error),
    "war-sweep": ("expected/http/war-story.tsv", region_war_sweep),
    "loadgen-wrk": ("expected/http/loadgen-wrk.tsv", region_loadgen_wrk),
    "fast-bar": ("expected/grade-selftest.tsv", region_fast_bar),
}
# Regions of the same form that another check owns: left alone here.
# GUIDE.md's grading self-test summary is rendered by
# scripts/grade_selftest.py --summary ... --markdown from
# expected/grade-selftest.tsv and checked by tests/scripts/test_grade_contract.py.
CHECKED_ELSEWHERE = ("grade-selftest",)


# --- the checks --------------------------------------------------------------

class Problems(list):
    def add(self, doc, text, offset, message):
        self.append(f"{doc}:{line_of(text, offset)}: {message}")


def rewrite(doc, text, tables, problems):
    """The document with every region and value regenerated; a marker that
    cannot be generated is a problem."""
    def region(m):
        name, source, body = m.group(1), m.group(2), m.group(3)
        if name.startswith(CHECKED_ELSEWHERE):
            return m.group(0)
        if name not in REGIONS:
            problems.add(doc, text, m.start(), f"unknown region '{name}' "
                         f"(known: {', '.join(sorted(REGIONS))})")
            return m.group(0)
        want_source, make = REGIONS[name]
        if source != want_source:
            problems.add(doc, text, m.start(), f"region '{name}' says it is generated from "
                         f"{source}; it is generated from {want_source}")
            return m.group(0)
        try:
            new = make(tables)
        except (Failure, ValueError) as e:
            problems.add(doc, text, m.start(), f"region '{name}': {e}")
            return m.group(0)
        return f"<!-- {name}: generated from {source} -->\n{new}<!-- end {name} -->"

    def fact(m):
        kind, args = m.group(1), m.group(2).split()
        try:
            value, _ = fact_value(tables, kind, args)
        except (Failure, ValueError) as e:
            problems.add(doc, text, m.start(), f"fact {kind} {' '.join(args)}: {e}")
            return m.group(0)
        return f"<!-- fact {kind}{m.group(2)} -->{value}<!-- /fact -->"

    return FACT.sub(fact, REGION.sub(region, text))


def check_generated(doc, text, tables, problems):
    """Each region and value as the tables would write it."""
    for m in REGION.finditer(text):
        name, source, body = m.group(1), m.group(2), m.group(3)
        if name.startswith(CHECKED_ELSEWHERE):
            continue
        if name not in REGIONS or REGIONS[name][0] != source:
            rewrite(doc, m.group(0), tables, problems)  # reports the marker
            continue
        try:
            want = REGIONS[name][1](tables)
        except (Failure, ValueError) as e:
            problems.add(doc, text, m.start(), f"region '{name}': {e}")
            continue
        if body != want:
            got_lines, want_lines = body.splitlines(), want.splitlines()
            i = next((i for i, (a, b) in enumerate(zip(got_lines, want_lines)) if a != b),
                     min(len(got_lines), len(want_lines)))
            says = got_lines[i] if i < len(got_lines) else "(nothing)"
            src = want_lines[i] if i < len(want_lines) else "(nothing)"
            problems.add(doc, text, m.end(1) + len(": generated from ") + len(source) + 5
                         + sum(len(x) + 1 for x in got_lines[:i]),
                         f"region '{name}' says '{says}', {source} says '{src}' (make docs)")
    for m in FACT.finditer(text):
        kind, args = m.group(1), m.group(2).split()
        try:
            want, source = fact_value(tables, kind, args)
        except (Failure, ValueError) as e:
            problems.add(doc, text, m.start(), f"fact {kind} {' '.join(args)}: {e}")
            continue
        if _norm(m.group(3)) != _norm(want):
            problems.add(doc, text, m.start(), f"says '{_norm(m.group(3))}', {source} says "
                         f"'{want}' ({' '.join([kind] + args)}; make docs)")
    for m in re.finditer(r"<!-- (?:fact |/fact -->|end [a-z0-9-]+ -->|[a-z0-9-]+: generated from )",
                         text):
        if any(f"<!-- {x}" in m.group(0) or f"end {x}" in m.group(0) for x in CHECKED_ELSEWHERE):
            continue
        if not any(r.start() <= m.start() < r.end()
                   for r in list(REGION.finditer(text)) + list(FACT.finditer(text))):
            problems.add(doc, text, m.start(), f"a marker without its pair: "
                         f"'{text[m.start():text.find('-->', m.start()) + 3]}'")


def _code_blocks(text):
    """(start, end) of each fenced block."""
    spans, start = [], None
    for m in re.finditer(r"^ {0,3}```.*$", text, re.M):
        if start is None:
            start = m.end()
        else:
            spans.append((start, m.start()))
            start = None
    return spans


# A stack frame in an excerpt: ThreadSanitizer (#1 cache_get broken/cache.c:102),
# Valgrind (by cache_put (broken/cache.c:141)), gdb (#4  refund_transfer (...)
# at broken/refund.c:87).
FRAME = re.compile(r"^\s*(?:#(\d+)\s+(?:0x[0-9a-f]+ in )?([\w.]+)(?: \(.*\) at| \(?)\s*"
                   r"|(at|by) (?:0x[0-9A-Fa-f]+: )?([\w.]+) \()(\S+?):(\d+)")
FRAME_EXTERNAL = re.compile(r"^\s*(?:#(\d+)\s+(?:0x[0-9a-f]+ in )?([\w.]+)"
                            r"|(at|by) (?:0x[0-9A-Fa-f]+: )?([\w.?]+)) ")


def _callee(name):
    """The name a caller's line spells: __interceptor_pthread_mutex_lock,
    ___pthread_mutex_lock -> pthread_mutex_lock."""
    name = re.sub(r"^(?:__interceptor_|__)", "", name).lstrip("_")
    return re.sub(r"@.*", "", name)


def _calls(line, callee):
    """Does a caller's source line call `callee`? A call through a pointer
    (ts->fn(...)) may call anything; a struct copy is the memcpy a tool shows."""
    if re.search(r"\b" + re.escape(callee) + r"\b", line):
        return True
    # a trimmed glibc frame: pthread_mutex_unlock for __pthread_mutex_unlock_usercnt
    if any(len(x) >= 6 and callee.startswith(x) for x in re.findall(r"(\w+)\s*\(", line)):
        return True
    if re.search(r"(?:->|\.)\s*\w+\s*\(|\(\s*\*\s*\w+\s*\)\s*\(", line):
        return True
    return callee in ("memcpy", "memmove", "memset") and re.search(r"[^=!<>]=[^=]", line)


def check_frames(doc, text, sources, problems, start, end):
    """In one excerpt: each frame's line is in its function, and each
    caller's line calls the frame above it."""
    lines = text[start:end].split("\n")
    starts = [start]
    for raw in lines:
        starts.append(starts[-1] + len(raw) + 1)
    for i, m, func, prev in _frame_chain(lines):
        here, continues = starts[i], prev is not None
        if m:
            path, number = m.group(5), int(m.group(6))
            f, _ = sources.resolve(path, doc=doc)
            if f and f.endswith((".c", ".h")) and number <= len(sources.lines(f)):
                line = sources.lines(f)[number - 1]
                if continues and "?" not in prev and not _calls(line, _callee(prev)):
                    problems.add(doc, text, here, f"says {path}:{number} ({func}) calls "
                                 f"{_callee(prev)}; {f}:{number} is '{line.strip()}'")


def _frame_chain(lines):
    """(i, FRAME match or None, function, caller's callee) for each line of
    an excerpt that is a stack frame (FRAME, or FRAME_EXTERNAL: m is None);
    the last is the function of the frame just above when this frame
    continues its stack (the next #N, or Valgrind's "by"), else None."""
    prev = None  # (index or None, function) of the frame above
    for i, raw in enumerate(lines):
        m = FRAME.match(raw)
        ext = None if m else FRAME_EXTERNAL.match(raw)
        if not m and not ext:
            prev = None
            continue
        g = (m or ext).groups()
        index, func = (int(g[0]), g[1]) if g[0] is not None else (None, g[3])
        continues = prev is not None and ((index is not None and prev[0] is not None
                                           and index == prev[0] + 1)
                                          or (index is None and g[2] == "by"))
        yield i, m, func, prev[1] if continues else None
        prev = (index, func)


def fix_frames(text, sources, doc=None):
    """The excerpts' caller frames moved to the line that makes the call,
    when the function has exactly one such line (make docs): a module edited
    above a call moves the line a tool would print, not the call."""
    lines = text.split("\n")
    for i, m, func, prev in _frame_chain(lines):
        if m and prev is not None and "?" not in prev:
            raw = lines[i]
            f, _ = sources.resolve(m.group(5), doc=doc)
            n = int(m.group(6))
            callee = _callee(prev)
            if f and f.endswith(".c") and (
                    n > len(sources.lines(f)) or sources.function_at(f, n) != func
                    or not _calls(sources.lines(f)[n - 1], callee)):
                body = [k for k, x in enumerate(sources.lines(f), 1)
                        if sources.function_at(f, k) == func]
                calls = [k for k in body
                         if re.search(r"\b" + re.escape(callee) + r"\s*\(", sources.lines(f)[k - 1])]
                if not calls:
                    calls = [k for k in body if _calls(sources.lines(f)[k - 1], callee)]
                if len(calls) == 1:
                    lines[i] = raw[:m.start(6)] + str(calls[0]) + raw[m.end(6):]
    return "\n".join(lines)


def check_quotes(doc, text, sources, problems):
    blocks = _code_blocks(text)
    for s, e in blocks:
        check_frames(doc, text, sources, problems, s, e)
    for m in QUOTE.finditer(text):
        path, number = m.group(1), int(m.group(2))
        f, why = sources.resolve(path, doc=doc)
        if f is None:
            if why and not path.startswith("work/"):
                problems.add(doc, text, m.start(), f"quotes {path}:{number}: {why}")
            continue
        lines = sources.lines(f)
        if number > len(lines):
            problems.add(doc, text, m.start(), f"quotes {path}:{number}; {f} has "
                         f"{len(lines)} lines")
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.end())
        before = text[line_start:m.start()]
        after = text[m.end():line_end if line_end >= 0 else len(text)]
        func = None
        fm = FUNC_BEFORE.search(before)
        if fm and fm.group(1) not in C_KEYWORDS:
            func = fm.group(1)
        am = FUNC_AFTER.match(after)
        if am:
            func = am.group(1)
        if func and f.endswith((".c", ".h")):
            actual = sources.function_at(f, number)
            if actual != func:
                problems.add(doc, text, m.start(), f"says {path}:{number} is in {func}; "
                             f"{f}:{number} is " + (f"in {actual}" if actual else
                                                    "in no function") +
                             f": '{lines[number - 1].strip()}'")
        inside = any(s <= m.start() < e for s, e in blocks)
        cm = None if inside else CODE_AFTER.match(after)
        if cm and not code_on_line(cm.group(1), lines[number - 1]):
            problems.add(doc, text, m.start(), f"quotes `{cm.group(1)}` at {path}:{number}; "
                         f"that line is '{lines[number - 1].strip()}'")


def _race_file(root, doc):
    """A handout's module: its scenario's race_file."""
    m = re.fullmatch(r"labs/(lab-\d+-[^/]+)/README\.md", doc)
    if not m:
        return None
    try:
        values = scenario.parse((root / "labs" / m.group(1) / "scenario.conf").read_text())
    except (OSError, Failure):
        return None
    return values.get("race_file")


FUNC_PAREN = re.compile(r"`([A-Za-z_]\w*)`\s*\($")


def check_line_refs(doc, text, sources, problems):
    """'line N' in prose: a line of a file an excerpt of the document quotes
    at N (else of the handout's broken module); code quoted beside it is on
    that line, and `function` (line N) names its function."""
    blocks = _code_blocks(text)
    quoted = {}
    for s, e in blocks:
        for q in QUOTE.finditer(text, s, e):
            f, _ = sources.resolve(q.group(1), doc=doc)
            if f:
                quoted.setdefault(int(q.group(2)), set()).add(f)
    module = _race_file(sources.root, doc)
    for m in LINE_REF.finditer(text):
        if any(s <= m.start() < e for s, e in blocks):
            continue
        for n in (m.group(1), m.group(2)):
            if n is None:
                continue
            files = sorted(quoted.get(int(n), ())) or ([module] if module else [])
            files = [f for f in files if f in sources.files and int(n) <= len(sources.lines(f))]
            if not files:
                problems.add(doc, text, m.start(), f"says 'line {n}': no excerpt of this "
                             "document quotes a file at that line" +
                             (f", and {module} has no line {n}" if module else ""))
                continue
            if m.group(2):
                continue
            cm = CODE_NEAR.match(text, m.end())
            if cm and not any(code_on_line(cm.group(1), sources.lines(f)[int(n) - 1])
                              for f in files):
                problems.add(doc, text, m.start(), f"quotes `{cm.group(1)}` at line {n}; "
                             + "; ".join(f"{f}:{n} is '{sources.lines(f)[int(n) - 1].strip()}'"
                                         for f in files))
            fm = FUNC_PAREN.search(text, max(0, m.start() - 40), m.start())
            if fm and fm.end() == m.start() and any(
                    fm.group(1) in sources.functions(f) for f in files):
                found = [sources.function_at(f, int(n)) for f in files]
                if fm.group(1) not in found:
                    problems.add(doc, text, m.start(), f"says line {n} is in {fm.group(1)}; "
                                 + "; ".join(f"{f}:{n} is in {x}" for f, x in zip(files, found)))


SCENARIO_KEY = re.compile(r"`([A-Za-z_][\w.]*) = ([^`\n]+)`")


def check_scenario_keys(doc, text, tables, problems):
    """A handout's `key = value` of a key its lab's scenario.conf has says
    what the scenario says."""
    m = re.fullmatch(r"labs/lab-(\d+)-[^/]+/README\.md", doc)
    if not m:
        return
    values = tables.scenario(int(m.group(1)))
    for q in SCENARIO_KEY.finditer(text):
        key, value = q.group(1), q.group(2).strip()
        if key in values and values[key] != value:
            problems.add(doc, text, q.start(), f"says `{key} = {value}`; its scenario.conf "
                         f"says {key} = {values[key]}")


def _doc_exists(name, cited_in, files):
    pattern = re.sub(r"<[^>]*>", "*", name)
    pattern = re.sub(r"(?<=-)N(?=[-/.])", "*", pattern)
    candidates = {pattern, str(Path(cited_in).parent / pattern), "*/" + pattern}
    if "/" not in pattern:
        return any(fnmatch.fnmatch(Path(f).name, pattern) for f in files)
    return any(fnmatch.fnmatch(f, c) for f in files for c in candidates)


def check_citations(root, files, problems):
    """Every document a file of the tree names is in the tree."""
    for f in files:
        if not f.endswith((".md", ".c", ".h", ".py", ".sh", ".mk", ".conf", ".sched")) \
                and Path(f).name != "Makefile":
            continue
        try:
            text = (root / f).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for m in DOC_NAME.finditer(text):
            if not _doc_exists(m.group(1), f, files):
                problems.add(f, text, m.start(), f"cites {m.group(1)}, which is not in the tree")


PROFILE = {"tsan-clang": "tsan", "tsan-gcc": "tsan", "helgrind": "valgrind",
           "drd": "valgrind", "chaos": "chaos"}
NOTE_LIMIT = re.compile(r"(\d+(?:\.\d+)?) s (?:time )?limit")


def check_notes(tables, problems):
    """An expected table's note that names a time limit ("hangs at the 3 s
    limit") names the scenario's, or says it was the limit when measured."""
    for (lab, build, tool, config), row in sorted(tables.table.items()):
        for m in NOTE_LIMIT.finditer(row["note"]):
            if "when measured" in row["note"][m.start():m.start() + 60]:
                continue
            scen = scenario.Scenario(None, tables.scenario(lab))
            limit = scen.get("time_limit_s", PROFILE.get(tool))
            if limit is not None and float(limit) != float(m.group(1)):
                where = f"{tables.table_src(lab)}:{row['where'].rsplit(':', 1)[1]}"
                problems.append(f"{where}: the note says '{m.group(0)}'; "
                                f"labs/lab-{lab}-*/scenario.conf's limit for {tool} is {limit} s "
                                "(or write 'when measured')")


def run(root, write=False, only=None):
    """The problems found (after rewriting, with write=True)."""
    files = repo_files(root)
    docs = documents(root, files)
    if only:
        docs = [d for d in docs if d in only]
    sources, tables, problems = Sources(root, files), Tables(root), Problems()
    for doc in docs:
        path = root / doc
        text = path.read_text(encoding="utf-8")
        if write:
            new = fix_frames(rewrite(doc, text, tables, problems), sources, doc)
            if new != text:
                path.write_text(new, encoding="utf-8")
                print(f"check_docs.py: rewrote {doc}")
            text = new
        check_generated(doc, text, tables, problems)
        check_quotes(doc, text, sources, problems)
        check_line_refs(doc, text, sources, problems)
        check_scenario_keys(doc, text, tables, problems)
    check_notes(tables, problems)
    check_citations(root, files, problems)
    return problems


def main(argv=None):
    p = cli.Parser(
        prog="check_docs.py",
        description="Check (or with --write, regenerate) the facts the documents take from "
                    "the expected tables and the sources.",
        epilog="Exit 0 when every fact holds, 1 with one line per stale fact, 2 on bad "
               "arguments.")
    p.add_argument("--write", action="store_true",
                   help="rewrite every marked region and value (make docs), then check")
    p.add_argument("--root", metavar="DIR", type=Path, default=scenario.root(),
                   help="the tree to check (default: this checkout)")
    p.add_argument("docs", nargs="*", metavar="DOC",
                   help="only these documents (repo-relative); citations are always checked")
    args = p.parse_args(argv)
    if not (args.root / "expected").is_dir():
        raise Failure(f"{args.root}: not a racelab tree (no expected/)")
    problems = run(args.root.resolve(), args.write, set(args.docs) or None)
    for line in problems:
        print(line)
    sys.stdout.flush()
    if problems:
        print(f"check_docs.py: {len(problems)} stale fact(s); a region or value: make docs; "
              "a quote: fix the document", file=sys.stderr)
        return 1
    print("check_docs.py: every fact checked holds")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run("check_docs.py", main))
