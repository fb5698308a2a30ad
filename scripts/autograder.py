#!/usr/bin/env python3
"""autograder.py: racelab as a Gradescope autograder (make autograder).

  autograder.py bundle [--lab N] [--out ZIP]   the zip to upload
  autograder.py run [--root DIR]               what run_autograder does

The bundle is this checkout's tracked files with setup.sh and
run_autograder at the top, as Gradescope wants them. Gradescope unpacks it
into /autograder/source and runs setup.sh once, as root, to build its
image: it installs racelab's Debian packages (scripts/deps.sh) and builds
what grading reuses (make grading-build). Then, for each submission, it
runs run_autograder, which runs `autograder.py run`:

  1. Which lab: the bundle's own (--lab N, kept in autograder.conf; the
     RACELAB_LAB environment variable overrides it), else the lab whose
     module files the submission holds (cache.c is lab 1's, from the labs'
     manifests). One assignment per lab, each with its bundle built with
     --lab, is the safe setup: a whole checkout with several labs started
     names more than one lab.
  2. The module file(s): <module>.c anywhere in the submission but in the
     course's own folders (work/lab-N/cache.c or cache.c at the top).
  3. Nothing else may change what is measured: a file in the course's own
     folders (broken/, fixed/, common/, the Makefile, ...) that differs
     from the course's, or is new, and any symbolic link (a link can point
     outside the submission, at fixed/ for one) refuse the submission
     before anything is built. The course's files as they are (a whole
     checkout submitted) and files grading never reads (notes, .git) are
     ignored.
  4. The module file(s) are copied into work/lab-N/ of the source (the
     working copy), and grade.py grades them with --gradescope writing
     /autograder/results/results.json.

Whatever happens, results.json is written: a submission without a
recognisable module, with an edit outside it, or that the grader could not
grade gets score 0 and one message saying why. RACELAB_AUTOGRADER_ROOT
(or --root) stands for /autograder, so that all this can be tested.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from racelab import cli, gradeformats, honest, labs, records, scenario
from racelab.cli import Failure, say

PROG = "autograder.py"
ROOT_ENV = "RACELAB_AUTOGRADER_ROOT"
CONF = "autograder.conf"
# Gradescope's own limit is set per assignment (up to 40 minutes); grading
# takes 20 s to 2 min a lab, so a grading still running after this is stuck.
GRADE_LIMIT_S = 1200

SETUP_SH = """\
#!/usr/bin/env bash
# setup.sh: Gradescope runs this once, as root, when it builds the
# autograder's image (the bundle is in /autograder/source). Made by
# make autograder (scripts/autograder.py).
set -eu
cd "$(dirname "$0")"
# zip tools do not all keep the execute bits
chmod +x run_autograder racelab scripts/*.py scripts/*.sh
scripts/deps.sh
make -s -j2 grading-build
"""

RUN_AUTOGRADER = """\
#!/bin/sh
# run_autograder: Gradescope runs this once per submission. Made by make
# autograder (scripts/autograder.py run says what it does). If even that
# fails, a results.json still says so.
root=${RACELAB_AUTOGRADER_ROOT:-/autograder}
python3 "$root/source/scripts/autograder.py" run --root "$root"
status=$?
if [ ! -s "$root/results/results.json" ]; then
	mkdir -p "$root/results"
	printf '{"score": 0, "output": "The autograder failed (exit %s) before it could grade: not your fix. Tell your instructor.", "tests": []}\\n' \\
		"$status" >"$root/results/results.json"
fi
exit 0
"""


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0 done (run: whatever the grade, results.json is "
                          "written); 2 bad arguments or a bundle that cannot be made.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("bundle", help="make the zip to upload to Gradescope")
    b.add_argument("--lab", type=cli.positive_int,
                   help="grade this lab only (one assignment per lab); without it, the lab is "
                        "told by the submission's file names")
    b.add_argument("--out", metavar="ZIP",
                   help="where the zip goes (default build/autograder/racelab-autograder"
                        "[-lab-N].zip)")
    r = sub.add_parser("run", help="grade /autograder/submission into "
                                   "/autograder/results/results.json")
    r.add_argument("--root", metavar="DIR",
                   help=f"the folder Gradescope lays out (default: ${ROOT_ENV}, else /autograder)")
    return p


# --- the bundle -------------------------------------------------------------

def tracked_files(root):
    """The checkout's files as git sees them, tracked or new, never what it
    ignores (work/, build/, results/): what the bundle ships."""
    try:
        proc = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                               "--exclude-standard"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Failure(f"cannot list the checkout's files: git does not run ({e})") from None
    if proc.returncode != 0:
        raise Failure("make autograder needs racelab's git checkout (git ls-files: "
                      + (proc.stderr.strip().splitlines() or ["failed"])[0] + ")")
    return sorted({p for p in proc.stdout.split("\0") if p and (root / p).is_file()})


def _add(z, name, data, mode, when=None):
    info = zipfile.ZipInfo(name, date_time=when or time.localtime()[:6])
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data)


def bundle(lab, out):
    root = scenario.root()
    if lab is not None:
        scenario.stress_lab_dir(lab)  # a service lab is not graded
    files = tracked_files(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as z:
            for rel in files:
                path = root / rel
                st = path.stat()
                _add(z, rel, path.read_bytes(), st.st_mode & 0o777,
                     time.localtime(max(st.st_mtime, 315532800))[:6])
            _add(z, "setup.sh", SETUP_SH, 0o755)
            _add(z, "run_autograder", RUN_AUTOGRADER, 0o755)
            if lab is not None:
                _add(z, CONF, f"# the lab this bundle grades (make autograder LAB={lab})\n"
                              f"lab = {lab}\n", 0o644)
        os.replace(tmp, out)
    except OSError as e:
        raise Failure(f"cannot write {scenario.shown(out)}: {e.strerror}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return len(files)


# --- one submission ------------------------------------------------------------

class Refused(Exception):
    """A submission that is not graded: the message is the student's."""

    def __init__(self, message, lab=None):
        super().__init__(message)
        self.lab = lab


def module_labs(root):
    """{module name: lab number} from the labs' manifests."""
    return {m: lab.number for lab in labs.load_all(root) for m in lab.modules}


def submitted(folder):
    """(regular files, symbolic links) under folder, as relative paths."""
    files, links = [], []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        for name in dirnames + filenames:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                links.append(rel)
            elif path.is_file():
                files.append(rel)
    return sorted(files), sorted(links)


def guarded(rel):
    """Whether a path is in the course's own folders (what the build and
    the grading read: honest.GUARDED)."""
    return rel.split("/", 1)[0] in honest.GUARDED


def outside_edits(sub, files, source):
    """The submitted files in the course's own folders that differ from
    the course's, or that it does not have."""
    out = []
    for rel in files:
        if not guarded(rel):
            continue
        ours = source / rel
        try:
            same = ours.is_file() and ours.read_bytes() == (sub / rel).read_bytes()
        except OSError:
            same = False
        if not same:
            out.append(rel + ("" if ours.is_file() else " (new)"))
    return out


def choose(files, owners, fixed_lab):
    """(lab, {module: submitted path}). Refused when no lab, or more than
    one, can be told, or a module is missing or there twice."""
    found = {}
    for rel in files:
        name = rel.rsplit("/", 1)[-1]
        if name.endswith(".c") and name[:-2] in owners and not guarded(rel):
            found.setdefault(name[:-2], []).append(rel)
    if fixed_lab is None:
        named = sorted({owners[m] for m in found})
        if not named:
            shown = ", ".join(f"{m}.c (lab {n})" for m, n in sorted(owners.items(),
                                                                    key=lambda kv: kv[1]))
            raise Refused("no lab's module file in your submission: submit your "
                          f"work/lab-N/<module>.c, one of {shown}")
        if len(named) > 1:
            which = ", ".join(f"{m}.c (lab {owners[m]})" for m in sorted(found))
            raise Refused(f"files of more than one lab ({which}): submit one lab's module "
                          "file(s) only")
        fixed_lab = named[0]
    mods = sorted(m for m, n in owners.items() if n == fixed_lab)
    missing = [f"{m}.c" for m in mods if m not in found]
    if missing:
        raise Refused(f"lab {fixed_lab} grades {', '.join(f'{m}.c' for m in mods)}, and your "
                      f"submission has no {', '.join(missing)}: submit your "
                      f"work/lab-{fixed_lab}/ copy", fixed_lab)
    twice = [m for m in mods if len(found[m]) > 1]
    if twice:
        raise Refused(f"{twice[0]}.c is in your submission more than once "
                      f"({', '.join(found[twice[0]])}): submit one", fixed_lab)
    return fixed_lab, {m: found[m][0] for m in mods}


def bundle_lab(source):
    """The lab the bundle grades: RACELAB_LAB, else autograder.conf's lab,
    else None (told by the submission)."""
    text = os.environ.get("RACELAB_LAB")
    if not text:
        try:
            conf = scenario.parse((source / CONF).read_text(encoding="utf-8"), source / CONF)
        except OSError:
            return None
        text = conf.get("lab")
    if not text:
        return None
    if not str(text).isdigit():
        raise Failure(f"RACELAB_LAB (or {CONF}'s lab) is '{text}', not a lab number")
    return int(text)


def prepare(ag, source):
    """Checks the submission and copies its module file(s) into the
    working copy; returns the lab. Refused with the student's message."""
    sub = ag / "submission"
    fixed_lab = bundle_lab(source)
    if not sub.is_dir():
        raise Refused("no submission folder: nothing was submitted", fixed_lab)
    files, links = submitted(sub)
    if links:
        raise Refused(f"your submission has symbolic links ({', '.join(links[:3])}): a link "
                      "can point at files outside your module; submit the files themselves",
                      fixed_lab)
    owners = module_labs(source)
    lab, mods = choose(files, owners, fixed_lab)
    edits = outside_edits(sub, files, source)
    if edits:
        more = f" and {len(edits) - 5} more" if len(edits) > 5 else ""
        raise Refused(f"your submission changes files outside your module: "
                      f"{', '.join(edits[:5])}{more}. Only work/lab-{lab}/ is graded, "
                      "against the course's own build: submit your module file(s) alone", lab)
    work = source / "work" / f"lab-{lab}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for m, rel in mods.items():
        shutil.copyfile(sub / rel, work / f"{m}.c")
        say(f"autograder: lab {lab}: {rel} -> work/lab-{lab}/{m}.c")
    return lab


def grade(ag, source, lab, results):
    """grade.py on the working copy; the message of a grading that did not
    write results.json, or None."""
    # RACELAB_WORK: grade.py then leaves out HONEST's git checks (the
    # bundle is no checkout; prepare() did their job), and, relative to
    # the source, the compiler's messages name work/lab-N/<module>.c.
    env = dict(os.environ, RACELAB_WORK="work")
    for name in ("RACELAB_ROOT", "RACELAB_BUILD_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    argv = [sys.executable, str(source / "scripts" / "grade.py"), str(lab),
            "--gradescope", str(results)]
    try:
        proc = subprocess.run(argv, cwd=source, env=env, stdin=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=GRADE_LIMIT_S)
    except subprocess.TimeoutExpired:
        return f"grading took more than {GRADE_LIMIT_S} s and was stopped: not your fix's score"
    sys.stderr.write(proc.stderr)
    try:
        json.loads(results.read_text(encoding="utf-8"))["score"]
        return None
    except (OSError, ValueError, KeyError, TypeError):
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return f"the grader failed ({last}): not your fix. Tell your instructor"


def run(ag):
    source = ag / "source"
    results = ag / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    if results.exists():
        results.unlink()
    lab, problem = None, None
    try:
        lab = prepare(ag, source)
        problem = grade(ag, source, lab, results)
    except Refused as e:
        lab, problem = e.lab, str(e)
    except Failure as e:
        problem = f"the autograder cannot run: {e}. Tell your instructor"
    if problem:
        say(f"autograder: not graded: {problem}")
        data = gradeformats.gradescope_failure(f"Not graded: {problem}.", lab)
        records.write_atomically(results, (json.dumps(data, indent=1) + "\n").encode("utf-8"))
    return 0


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command == "bundle":
        root = scenario.root()
        name = f"racelab-autograder{f'-lab-{args.lab}' if args.lab else ''}.zip"
        out = Path(args.out) if args.out else root / "build" / "autograder" / name
        n = bundle(args.lab, out)
        say(f"{scenario.shown(out)}: {n} files of racelab, setup.sh and run_autograder"
            + (f"; grades lab {args.lab}" if args.lab else "; the lab is told by the "
               "submission's file names"))
        say("Upload it as the assignment's autograder (Gradescope: Configure Autograder, zip "
            "file upload); GUIDE.md, 'Grading on Gradescope, and results for CI', says what "
            "students see.")
        return 0
    if args.command == "run":
        return run(Path(args.root or os.environ.get(ROOT_ENV) or "/autograder").resolve())
    raise Failure("give a command: bundle or run")


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
