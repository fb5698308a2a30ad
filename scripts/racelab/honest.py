"""HONEST: what grading refuses before it measures anything.

SAFE means "the tools and the invariants found nothing", so anything that
makes them find nothing without making the code safe is refused, each with
the reason and a hint:

  suppression   a ThreadSanitizer or Valgrind suppression: in TSAN_OPTIONS
                or VALGRIND_OPTS, in a .valgrindrc Valgrind reads, a .supp
                file in the working folder, or compiled into the copy
                (__tsan_default_suppressions and friends)
  annotation    a Valgrind client request (ANNOTATE_*, VALGRIND_HG_*, ...)
                or a sanitizer attribute in the copy. A lab whose reference
                fix uses annotations (lab 8 tells Helgrind about C11
                atomics it cannot see) allows the same macros, and no
                others; ThreadSanitizer ignores Valgrind's annotations, so
                it still judges what they would hide
  build-aware   code that asks which build it is in (RACELAB_VARIANT,
                __SANITIZE_THREAD__, RUNNING_ON_VALGRIND, ...): a fix must
                be the same code under every tool
  race point    a RACE_POINT("name") of the broken module missing from the
                copy (or RACE_POINT redefined): the names are the lab's
                vocabulary, for the race site, gdb and delay injection
  check code    the module's own check function (cache_check, evcache_check,
                gwclient_check: whatever the broken module defines ending in
                _check) and the static helpers it calls, changed from the
                broken module's: the stress driver asks it whether the
                structure survived, so a weakened check would hide a broken
                one (comments and spacing may differ)
  outside edit  a change, a new file or a commit of the student's own in the
                tracked tree that the build or the grading reads: the
                student's build is the fixed build with only work/lab-N/
                swapped in, so an edit in common/ or scenario.conf would
                change what is measured

Every check reads text; nothing here runs the program.
"""

import os
import re
import subprocess
from collections import namedtuple
from pathlib import Path

Refusal = namedtuple("Refusal", "rule reason hint")

# What the build and the grading read: an edit here changes the measurement.
GUARDED = ("Makefile", "mk", "include", "common", "stress", "fixed", "broken", "labs",
           "scripts", "expected")

_RACE_POINT = re.compile(r'\bRACE_POINT\s*\(\s*"([^"]+)"\s*\)')
_REDEFINE = re.compile(r"^\s*#\s*(?:define|undef)\s+RACE_POINT\b", re.M)
_VALGRIND_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]((?:valgrind/)?\w+\.h)[>"]', re.M)
_VALGRIND_HEADERS = ("valgrind.h", "helgrind.h", "drd.h", "memcheck.h")
# Valgrind client requests and the dynamic-annotation names both tools know.
_ANNOTATION = re.compile(r"\b(ANNOTATE_\w+|VALGRIND_\w+|DRD_\w+|Annotate[A-Z]\w*|"
                         r"TSAN_ANNOTATE\w*)\b")
_SANITIZER_HOOK = re.compile(r"\b(__tsan_\w+|__sanitizer_\w+|__asan_\w+|__ubsan_\w+)\b")
_ATTRIBUTE = re.compile(r"\b(no_sanitize\w*|__no_sanitize\w*|disable_sanitizer_instrumentation)\b")
_BUILD_AWARE = re.compile(r"\b(RACELAB_\w+|__SANITIZE_THREAD__|__SANITIZE_ADDRESS__|"
                          r"thread_sanitizer|RUNNING_ON_VALGRIND)\b")

HINTS = {
    "suppression": "A suppression tells a tool not to report a race; the race is still there, "
                   "and a user of the payment processor still meets it. Grading runs the tools "
                   "with their defaults: remove the suppression and make the race impossible "
                   "instead.",
    "annotation": "An annotation tells a tool that some ordering exists. It is honest only "
                  "where the ordering is real and the tool cannot see it (lab 8's reference "
                  "annotates C11 atomics for Helgrind). Order the accesses for real, with a "
                  "lock or an atomic, and the tools will see it without being told.",
    "build-aware": "A fix must be the same code under every tool: code that behaves differently "
                   "when ThreadSanitizer or Valgrind watches is not tested by them. Remove the "
                   "condition and keep the version that is safe.",
    "race point": "The RACE_POINT names mark the windows this lab is about; the race site, the "
                  "gdb walkthroughs and delay injection use them. A fix makes the window "
                  "harmless; it does not remove the marker. Put each one back where the broken "
                  "module has it (diff -u broken/{module}.c work/lab-{lab}/{module}.c).",
    "check code": "The stress driver calls {function}() to ask whether the structure "
                  "survived the run; it is the harness's check, kept in the module only "
                  "because it must see the module's private fields. A fix never needs to "
                  "change it: put it back as broken/{module}.c has it (copy the function "
                  "over), and make the data it checks safe instead.",
    "outside edit": "Your build is the fixed build with only work/lab-{lab}/ swapped in, so a "
                    "change anywhere else would change what is measured. Put those files back "
                    "as the course has them: git checkout -- <file> (or git stash) for an "
                    "uncommitted change, git clean for a new file; for a committed one, git "
                    "log --stat HEAD --not --remotes lists your commits: git pull, then git "
                    "checkout origin/main -- <file> and commit. Keep your whole fix in your "
                    "copy.",
}


def strip_comments(text):
    """C source without its comments (strings kept: race point names are
    strings). A comment that only mentions ANNOTATE_ or RACE_POINT is fine;
    code that uses them is what counts."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))  # keep line numbers
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _inactive_blocks(code):
    """`#if 0` ... `#endif` blocks blanked out: a race point inside one is
    not compiled."""
    lines, out, depth = code.split("\n"), [], 0
    for line in lines:
        s = line.strip()
        if depth:
            if re.match(r"#\s*if", s):
                depth += 1
            elif re.match(r"#\s*endif", s):
                depth -= 1
            elif depth == 1 and re.match(r"#\s*(else|elif)", s):
                depth = 0
            out.append("")
        elif re.match(r"#\s*if\s+0\b", s):
            depth = 1
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def race_points(text):
    """The race point names a C source really compiles."""
    return set(_RACE_POINT.findall(_inactive_blocks(strip_comments(text))))


def _names(pattern, code):
    return sorted(set(m.group(1) for m in pattern.finditer(code)))


_FUNCTION_DEF = re.compile(r"^(?:static\s+)?[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\(", re.M)
_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def functions(code):
    """{name: text} of the function definitions of comment-free C code laid
    out as this repository lays it out: the definition starts in column 0,
    the body ends at a '}' in column 0."""
    out = {}
    for m in _FUNCTION_DEF.finditer(code):
        start = m.start()
        end = code.find("\n}", m.end())
        head_end = code.find("{", m.end())
        semi = code.find(";", m.end())
        if end < 0 or head_end < 0 or (0 <= semi < head_end):
            continue  # a declaration, not a definition
        out.setdefault(m.group(1), code[start:end + 2])
    return out


def check_functions(broken_code):
    """The names of the broken module's check functions (ending in _check)
    and of the module's own functions they call, transitively."""
    defs = functions(broken_code)
    todo = [n for n in defs if n.endswith("_check")]
    seen = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        body = defs[name].split("{", 1)[-1]
        todo += [c for c in _CALL.findall(body) if c in defs and c not in seen]
    return sorted(seen)


def _normal(text):
    return " ".join(re.findall(r"\w+|[^\w\s]", text))


def changed_checks(copy_text, broken_text):
    """The check functions (see check_functions) whose code in the copy is
    not the broken module's, comments and spacing aside."""
    broken_defs = functions(strip_comments(broken_text))
    copy_defs = functions(strip_comments(copy_text))
    return [n for n in check_functions(strip_comments(broken_text))
            if _normal(copy_defs.get(n, "")) != _normal(broken_defs[n])]


def check_copy(lab, module, copy_text, broken_text, fixed_text, shown_copy):
    """Refusals for one working copy against its broken module and its reference."""
    out = []
    code = strip_comments(copy_text)
    allowed = set(_names(_ANNOTATION, strip_comments(fixed_text)))
    allowed_headers = set(h.split("/")[-1] for h in _names(_VALGRIND_INCLUDE, strip_comments(fixed_text)))

    hooks = _names(_SANITIZER_HOOK, code)
    if hooks:
        out.append(Refusal("suppression", f"{shown_copy} defines or calls sanitizer hooks "
                           f"({', '.join(hooks)}): a compiled-in suppression or option",
                           HINTS["suppression"]))
    headers = [h for h in _names(_VALGRIND_INCLUDE, code)
               if h.split("/")[-1] in _VALGRIND_HEADERS and h.split("/")[-1] not in allowed_headers]
    notes = [n for n in _names(_ANNOTATION, code) if n not in allowed]
    attrs = _names(_ATTRIBUTE, code)
    if headers or notes or attrs:
        what = ", ".join(headers + notes + attrs)
        where = (f" (lab {lab}'s reference uses only {', '.join(sorted(allowed))})"
                 if allowed else "")
        out.append(Refusal("annotation", f"{shown_copy} uses annotations that can hide a race: "
                           f"{what}{where}", HINTS["annotation"]))
    aware = _names(_BUILD_AWARE, code)
    if aware:
        out.append(Refusal("build-aware", f"{shown_copy} asks which build it is in "
                           f"({', '.join(aware)})", HINTS["build-aware"]))
    missing = sorted(race_points(broken_text) - race_points(copy_text))
    if missing:
        out.append(Refusal("race point", f"{shown_copy} no longer has "
                           + ", ".join(f'RACE_POINT("{m}")' for m in missing)
                           + " (removed, commented out or under #if 0)",
                           HINTS["race point"].format(module=module, lab=lab)))
    if _REDEFINE.search(code):
        out.append(Refusal("race point", f"{shown_copy} redefines RACE_POINT",
                           HINTS["race point"].format(module=module, lab=lab)))
    checks = changed_checks(copy_text, broken_text)
    if checks:
        out.append(Refusal("check code", f"{shown_copy} changes "
                           + ", ".join(f"{c}()" for c in checks)
                           + f", which grading uses to check the structure (as broken/{module}.c "
                           "has it, comments aside)",
                           HINTS["check code"].format(function=checks[0], module=module)))
    return out


def check_environment(env, root, home, workdir):
    """Suppressions the tools would read from the environment, a .valgrindrc,
    or files in the working folder."""
    out = []
    tsan = env.get("TSAN_OPTIONS", "")
    if "suppressions" in tsan:
        out.append(Refusal("suppression", f"TSAN_OPTIONS has a suppressions file ({tsan})",
                           HINTS["suppression"]))
    vg = env.get("VALGRIND_OPTS", "")
    if "--suppressions" in vg:
        out.append(Refusal("suppression", f"VALGRIND_OPTS has a suppressions file ({vg})",
                           HINTS["suppression"]))
    for rc in {Path(home) / ".valgrindrc", Path(root) / ".valgrindrc", Path(workdir) / ".valgrindrc"}:
        try:
            text = rc.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "--suppressions" in text:
            out.append(Refusal("suppression", f"{rc.name} in {'your home' if rc.parent == Path(home) else rc.parent.name + '/'} "
                               "gives Valgrind a suppressions file", HINTS["suppression"]))
    supp = sorted(p.name for p in Path(workdir).glob("*.supp")) if Path(workdir).is_dir() else []
    if supp:
        out.append(Refusal("suppression", f"suppression files in {Path(workdir).name}/: "
                           + ", ".join(supp), HINTS["suppression"]))
    return out


def _git(root, *args):
    """(returncode, stdout, first line of stderr) of one git command in root."""
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          timeout=30)
    return proc.returncode, proc.stdout, (proc.stderr.strip().splitlines() or ["git failed"])[0]


def _cannot(why):
    return [Refusal("outside edit", f"cannot check for edits outside your copy: {why}",
                    "Grading needs the racelab git checkout your course handed out.")]


def _uncommitted(root):
    """Paths under GUARDED that git status shows: modified, deleted, new
    (with -z: no quoting, and a rename's old path after its new one)."""
    rc, out, err = _git(root, "status", "--porcelain", "-z", "--untracked-files=all", "--",
                        *GUARDED)
    if rc != 0:
        raise _GitProblem(err)
    paths, fields = set(), out.split("\0")
    k = 0
    while k < len(fields):
        entry = fields[k]
        k += 1
        if len(entry) > 3:
            paths.add(entry[3:])
            if entry[0] in "RC":  # the old path follows
                paths.add(fields[k])
                k += 1
    return paths


def _committed(root):
    """Paths under GUARDED that this checkout's own commits changed: the
    commits of HEAD that no remote branch has. They are compared with each
    commit of the course's (a remote's) they start from, and a path counts
    only if it differs from all of them, so that a merge of the course's
    later changes is not the student's edit. Empty when the checkout has no
    remote branch to tell the course's commits from the student's."""
    rc, out, err = _git(root, "for-each-ref", "--count=1", "--format=%(refname)", "refs/remotes")
    if rc != 0:
        raise _GitProblem(err)
    if not out.strip():
        return set()
    rc, out, err = _git(root, "rev-list", "--boundary", "HEAD", "--not", "--remotes")
    if rc != 0:
        raise _GitProblem(err)
    lines = out.split()
    own = [c for c in lines if not c.startswith("-")]
    bases = [c[1:] for c in lines if c.startswith("-")]
    if not own:
        return set()
    if not bases:
        raise _GitProblem("none of HEAD's history is on a remote branch (git fetch the "
                          "course's branch)")
    changed = None
    for base in bases:
        rc, out, err = _git(root, "diff", "--name-only", "-z", base, "HEAD", "--", *GUARDED)
        if rc != 0:
            raise _GitProblem(err)
        paths = {p for p in out.split("\0") if p}
        changed = paths if changed is None else changed & paths
    return changed


class _GitProblem(Exception):
    pass


def check_tree(root, lab):
    """Edits outside the working copy: files under GUARDED that are
    modified, deleted or new (git status), or that the checkout's own
    commits changed (commits no remote branch has: a clone's remote is the
    course's repository, and a pull of its changes is not an edit). Without
    git (or outside a checkout) grading cannot tell, and refuses: one line
    says why. Not caught: commits pushed to the remote itself, or a checkout
    with no remote (only uncommitted edits are checked there); a course that
    needs certainty grades a fresh clone with only work/ copied in."""
    try:
        changed = _uncommitted(root)
        committed = _committed(root)
    except (OSError, subprocess.TimeoutExpired) as e:
        return _cannot(f"git does not run ({getattr(e, 'strerror', None) or e})")
    except _GitProblem as e:
        return _cannot(str(e))
    files = sorted(changed | committed)
    if not files:
        return []
    shown = ", ".join(f + (" (committed)" if f in committed and f not in changed else "")
                      for f in files[:5]) + (f" and {len(files) - 5} more"
                                             if len(files) > 5 else "")
    return [Refusal("outside edit", f"files outside work/lab-{lab}/ differ from the course's: "
                    f"{shown}", HINTS["outside edit"].format(lab=lab))]


def check(lab, modules, root, env=None, home=None, workdir=None, tree=True):
    """Every refusal for lab `lab` (modules: its module names), [] when honest.
    workdir: the copies' folder (default work/lab-N/); tree=False leaves out
    the git checks, for grading's self-test, whose copies are not a
    student's checkout."""
    root = Path(root)
    env = os.environ if env is None else env
    home = home or env.get("HOME") or str(Path.home())
    workdir = Path(workdir) if workdir else root / "work" / f"lab-{lab}"
    out = check_environment(env, root, home, workdir)
    for m in modules:
        copy = workdir / f"{m}.c"
        texts = []
        for path in (copy, root / "broken" / f"{m}.c", root / "fixed" / f"{m}.c"):
            try:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                texts.append("")
        out += check_copy(lab, m, *texts, f"work/lab-{lab}/{m}.c")
    if tree:
        out += check_tree(root, lab)
    return out
