#!/usr/bin/env python3
"""grade.py: grade a student's fix of a lab (make grade-N, make grade).

Three verdicts, in this order, each with its reason and a hint:

  HONEST  no suppressions, no annotations that hide races, no build-aware
          code, every race point kept, nothing edited outside work/lab-N/
          (racelab/honest.py). A refused copy is not measured.
  SAFE    the student's build passes every trial: the lab's invariants
          under the stress driver (release and chaos builds) and under
          racelab's scheduler (the sched flavour, when the lab's table
          has its rows: it holds on one CPU as on many), and no
          report from ThreadSanitizer (clang, gcc) or Helgrind, on the
          lab's everyday workload and on its contract workloads (every
          operation of the API, promises checked while the threads run).
          The trial counts make the broken module pass less than once in
          1000 gradings (racelab/grading.py; --explain shows the
          calculation). A report a tool is known to make on correct code
          of the kind the copy uses (Helgrind on C11 atomics, trylock
          order or a signal after the unlock; ThreadSanitizer on fences)
          is shown as advice, with the tool that judged instead.
  FAST    the student's build at 2 threads does at least the lab's
          fast_min of the reference fix's operations per second, measured
          side by side in this run (racelab/fast.py).

The result is also written as JSON (work/lab-N/grade.json; make grade adds
work/grade.json) for a course's own grader, and on request as Gradescope's
results.json (--gradescope) and as JUnit XML (--junit), both made from the
same result (racelab/gradeformats.py says how the points are given).
"""

import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from racelab import (cli, fast, gradeformats, grading, honest, match, records, scenario,
                     tools, trial, workcopy)
from racelab.cli import Failure, say
from racelab.frames import trim_stacks

PROG = "grade.py"
SCHEMA = "racelab.grade/1"
BUILD_LIMIT_S = 600
# A trial past the lab's time limit is run again with a longer one, at most
# this long (seconds), before it counts as a hang.
SLOW_LIMIT_S = 30
# A tool error (the tool itself failed) says nothing about the fix: the
# trial is run again, this many times at most, before grading gives up.
RETRIES = 2
# Environment variables that change what a tool reports, or how hard the
# chaos build hunts (RACELAB_CHAOS_*: 1 race point in 256 delayed, at most
# 20 us, is what the expected tables measured and SAFE's trial counts
# assume): dropped while grading, so every student is graded by the same
# defaults (a suppression among them is refused by HONEST first).
TOOL_ENV = ("TSAN_OPTIONS", "VALGRIND_OPTS", "ASAN_OPTIONS", "UBSAN_OPTIONS",
            "RACELAB_CHAOS_EVERY", "RACELAB_CHAOS_MAX_US")


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0 HONEST, SAFE and FAST; 1 graded, not all three; "
                          "2 bad arguments, or the lab cannot be graded (no working copy, "
                          "a tool that keeps failing).")
    p.add_argument("lab", nargs="?", type=cli.positive_int, help="the lab number")
    p.add_argument("--all", action="store_true",
                   help="every started lab (work/lab-N/), then the total")
    p.add_argument("--explain", action="store_true",
                   help="print how the SAFE trial counts were chosen, and the FAST workload")
    p.add_argument("--plan", action="store_true",
                   help="only print the calculation (--explain) and exit: nothing is built or run")
    p.add_argument("--json", metavar="FILE",
                   help="where the JSON result goes (default: work/lab-N/grade.json)")
    p.add_argument("--gradescope", metavar="FILE",
                   help="also write Gradescope's results.json there (one test per verdict; "
                        "written even when the lab cannot be graded)")
    p.add_argument("--junit", metavar="FILE",
                   help="also write a JUnit XML report there (one testsuite per lab, one "
                        "testcase per verdict)")
    p.add_argument("--no-build", action="store_true",
                   help="grade the student builds already in build/ (a course's CI that "
                        "built them in an earlier step)")
    return p


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- building -----------------------------------------------------------------

def build(lab):
    """Builds the student's variant in every flavour, and the reference's
    release build FAST compares with. Failure when the copy does not compile:
    the compiler's first lines are the reason."""
    targets = [f"build/{f}/student-{lab}/racelab-stress"
               for f in ("release", "chaos", "debug", "tsan-clang", "tsan-gcc", "sched")]
    targets.append("build/release/fixed/racelab-stress")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    work = [f"WORK={scenario.work_root()}"] if os.environ.get("RACELAB_WORK") else []
    try:
        proc = subprocess.run(["make", "-s", "-j2", *work, *targets], cwd=scenario.root(), env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=BUILD_LIMIT_S)
    except subprocess.TimeoutExpired:
        return f"the build took more than {BUILD_LIMIT_S} s", []
    except OSError as e:
        return f"cannot run make: {e.strerror}", []
    if proc.returncode == 0:
        return None, []
    lines = [l for l in (proc.stderr + proc.stdout).splitlines()
             if l.strip() and not l.startswith("make")]
    errors = [l for l in lines if "error" in l] or lines
    return "your copy does not compile", errors[:8]


# --- SAFE ---------------------------------------------------------------------

def safe_plan(scen, lab, cell, tmpdir):
    tool = tools.TOOLS[cell.tool]
    threads = scen.number("threads", tool.profile, int)
    race_file = scen.require("race_file")
    copy_file = f"work/lab-{lab}/{Path(race_file).name}"
    try:
        source = workcopy.copy_of(lab, Path(race_file).stem).read_text(encoding="utf-8",
                                                                       errors="replace")
    except OSError:
        source = None
    return trial.Plan(
        run=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-grade", lab=lab,
        build="student", variant=f"student-{lab}", tool=tool,
        exe=tools.binary(tool, "student", lab).resolve(), scenario=scen.path.resolve(),
        site=match.Site(copy_file, scen.words("race_functions"), source),
        time_limit_s=scen.number("time_limit_s", tool.profile, int), threads=threads,
        pinning="spread", cpus=None, ops=None, quiet=True,
        config=records.config_name("spread", None, threads, threads, None, cell.sets),
        root=scenario.root(), tmpdir=tmpdir, sets=cell.sets)


def run_safe(scen, lab, plan, spots=None):
    """Runs the planned trials, cheapest tool first, and stops at the first
    trial that fails. Returns the SAFE verdict (a dict for the JSON).
    spots: what in the copy the tools cannot judge (grading.blind_spots)."""
    base_seed = int.from_bytes(os.urandom(4), "big") % (2**31 - 1) + 1
    cells_out, ran, advice = [], 0, {}
    verdict = {"pass": True, "reason": None, "hint": None}
    with tempfile.TemporaryDirectory(prefix="racelab-grade-") as tmpdir:
        for cell in plan:
            p = safe_plan(scen, lab, cell, tmpdir)
            if not p.exe.is_file():
                raise Failure(f"{scenario.shown(p.exe)} is missing: run make grade-{lab}")
            started, clean, errors, slow = time.monotonic(), 0, 0, 0
            failed = None
            for number in range(1, cell.k + 1):
                for _attempt in range(RETRIES + 1):
                    record, _ = trial.run_trial(p, number, base_seed + ran)
                    ran += 1
                    if record["outcome"] != "tool-error":
                        break
                    errors += 1
                else:
                    raise Failure(f"{grading.NAMES[cell.tool]} failed to run {RETRIES + 1} times "
                                  f"in a row ({record['error']}): the tool, not your fix; "
                                  "nothing was graded")
                why = grading.trial_failed(record, cell.tool, spots)
                if why == "hang" and p.time_limit_s < SLOW_LIMIT_S:
                    # Past the lab's limit: a deadlock, a lost wakeup or a
                    # looping chain, or only a machine too busy to run the
                    # trial in time. The same trial again, with a limit 10
                    # times longer, tells them apart: a real hang hangs again.
                    again = copy.copy(p)
                    again.time_limit_s = min(p.time_limit_s * 10, SLOW_LIMIT_S)
                    if cell.tool in ("stress", "chaos"):
                        # a hang again: show where every thread was stuck
                        again.extra = ("--hang-stacks",)
                    record, _ = trial.run_trial(again, number, base_seed + ran - 1)
                    why = grading.trial_failed(record, cell.tool, spots)
                    slow += why is None
                for f, told in grading.judged(cell.tool, record, spots)[1]:
                    advice.setdefault((cell.tool, told), {
                        "tool": cell.tool, "why": told, "trials": 0,
                        "example": grading.describe_finding(f)})["trials"] += 1
                if why:
                    failed = (number, record, why)
                    break
                clean += 1
            spent = time.monotonic() - started
            label = f"{cell.tool} {cell.config}"
            cells_out.append({"tool": cell.tool, "config": cell.config, "trials": cell.k,
                              "ran": clean + (1 if failed else 0), "clean": clean,
                              "tool_errors": errors, "slow_reruns": slow,
                              "measured_broken": f"{cell.successes}/{cell.trials}",
                              "p_low": round(cell.p_low, 4), "seconds": round(spent, 1)})
            if failed:
                number, record, why = failed
                reason, finding = grading.failure_reason(cell.tool, number, cell.k, record, why,
                                                         spots)
                say(f"  SAFE  {label:<30} FAILED at trial {number}/{cell.k} ({spent:.1f} s)")
                where, how = locate(scen, lab, cell, p, finding, why, tmpdir,
                                    base_seed + ran, spots)
                verdict = {"pass": False, "reason": (f"{where}: " if where else "") + reason + (
                    f" [{cell.config}]" if cell.config != "spread" else "") + how,
                    "hint": grading.hint_for(why, finding, scen)}
                stacks = trim_stacks((record.get("program") or {}).get("stacks") or [])
                if stacks:
                    verdict["stacks"] = stacks
                break
            say(f"  SAFE  {label:<30} {clean}/{cell.k} clean ({spent:.1f} s)"
                + (f"; {slow} finished only with a longer time limit (a busy machine)"
                   if slow else ""))
    verdict["probability_broken_passes"] = grading.probability(plan)
    verdict["target"] = grading.TARGET
    verdict["cells"] = cells_out
    verdict["advice"] = list(advice.values())
    if verdict["pass"]:
        verdict["reason"] = pass_reason(plan, advice)
    return verdict


def pass_reason(plan, advice):
    """SAFE's reason when every trial was clean."""
    total = sum(c.k for c in plan)
    contract = sum(c.k for c in plan if c.trials is None)
    scheduler = (", under racelab's scheduler (any interleaving, chosen by seed)"
                 if any(c.tool == "sched" for c in plan) else "")
    return (f"{total} trials ({contract} of them on the contract workloads), "
            "all clean: the invariants held under the stress driver (release "
            f"and chaos builds){scheduler}, and ThreadSanitizer (clang, gcc) and Helgrind "
            + ("reported nothing" if not advice else
               "reported nothing that counts (see the advice)"))


def locate(scen, lab, cell, p, finding, why, tmpdir, seed, spots):
    """Where in the student's copy a failure is: ('work/lab-N/x.c:LINE
    (function)', how it was found) or (None, ""). A detector's report names
    it; a symptom the program saw (a broken invariant, a hang) does not, so
    ThreadSanitizer (clang) runs the same workload, two trials at most, and
    its report in the copy names it; failing that, the lab's race window in
    the copy is named, as where to start looking."""
    if finding is not None:
        return grading.copy_site(finding), ""
    if why in ("violation", "hang", "crash"):
        tsan = copy.copy(p)
        tsan.tool = tools.TOOLS["tsan-clang"]
        tsan.exe = tools.binary(tsan.tool, "student", lab).resolve()
        tsan.time_limit_s = scen.number("time_limit_s", tsan.tool.profile, int)
        tsan.extra = ()
        if tsan.exe.is_file():
            for i in range(2):
                record, _ = trial.run_trial(tsan, 900 + i, seed + i)
                found = [f for f in grading.judged("tsan-clang", record, spots)[0]
                         if grading.copy_site(f)]
                if found:
                    return grading.copy_site(found[0]), (
                        "; ThreadSanitizer on the same workload: "
                        + grading.describe_finding(found[0]))
    source = p.site.lines and "\n".join(p.site.lines)
    points = (scen.get("race_points") or "").split()
    return grading.race_window(p.site.race_file, source, points), ""


# --- one lab --------------------------------------------------------------------

def not_run(why):
    return {"pass": None, "reason": f"not run: {why}", "hint": None}


def grade_lab(lab, args):
    started = time.monotonic()
    scen = scenario.load(lab)
    modules = workcopy.modules(lab)
    if not workcopy.started(lab):
        raise Failure(f"lab {lab} has no working copy yet: make start-{lab} makes it")
    try:
        grade_sets = grading.contract_sets(scen.get("grade_sets"))
    except ValueError as e:
        raise Failure(f"{scenario.shown(scen.path)}: {e}") from None
    plan = grading.plan(lab, grading_table(), blind=grading.blind_tools(scen),
                        grade_sets=grade_sets)
    workload = fast.workload(scen)
    if args.explain or args.plan:
        for line in grading.explain(lab, plan) + fast.explain(lab, workload):
            say(line)
        if args.plan:
            return None
    copies = {}
    for m in modules:
        path = workcopy.copy_of(lab, m)
        copies[f"work/lab-{lab}/{m}.c"] = {"sha256": sha256(path),
                                        "lines_changed": workcopy.lines_changed(lab, m)}
    say(f"== lab {lab}: grading {', '.join(copies)} "
        f"({', '.join(str(c['lines_changed']) for c in copies.values())} lines changed "
        "from broken/)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 2 * (os.cpu_count() or 1):
        say(f"  (this machine is busy: load {load:.0f} on {os.cpu_count()} CPUs; grading "
            "takes longer, and timings are noisier)")
    result = {"schema": SCHEMA, "lab": lab, "title": scen.get("title"), "modules": modules,
              "copies": copies, "graded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "cpus": os.cpu_count(), "load": round(load, 1)}

    refusals = honest.check(lab, modules, scenario.root(), workdir=workcopy.work_dir(lab),
                            tree=not os.environ.get("RACELAB_WORK"))
    result["honest"] = {"pass": not refusals, "refusals": [r._asdict() for r in refusals],
                        "reason": "; ".join(r.reason for r in refusals) or
                        "no suppressions, annotations or build-aware code; every race point "
                        "kept; nothing edited outside the working copy",
                        "hint": refusals[0].hint if refusals else None}
    if refusals:
        result["safe"] = not_run("HONEST refused the copy")
        result["fast"] = not_run("HONEST refused the copy")
        return finish(result, started, args)
    dropped = [v for v in TOOL_ENV if os.environ.pop(v, None) is not None]
    if dropped:
        say(f"  (graded without {', '.join(dropped)}: every student gets the same defaults)")

    if not args.no_build:
        say("  building your copy (5 flavours) and the reference ...")
        problem, errors = build(lab)
        if problem:
            result["build"] = {"pass": False, "reason": problem, "errors": errors}
            result["safe"] = {"pass": False, "reason": f"{problem}: " + (errors[0] if errors else ""),
                              "hint": "Build it yourself to see every message: make "
                                      f"build/release/student-{lab}/racelab-stress"}
            result["fast"] = not_run("the build failed")
            for line in errors:
                say(f"  | {line}")
            return finish(result, started, args)
    say(f"  SAFE runs {sum(c.k for c in plan)} trials; the broken module would pass with "
        f"probability {grading.probability(plan):.2g} (< {grading.TARGET:g}; --explain shows "
        "why)")
    result["safe"] = run_safe(scen, lab, plan, copy_spots(lab, modules))
    if result["safe"]["pass"]:
        result["fast"] = fast.measure(scen, lab, workload, say)
    else:
        result["fast"] = not_run("not SAFE: speed only counts for a correct fix")
    return finish(result, started, args)


def copy_spots(lab, modules):
    """What in the copies the tools cannot judge (grading.blind_spots)."""
    copy_text, broken_text = "", ""
    for m in modules:
        copy_text += honest.strip_comments(workcopy.read(workcopy.copy_of(lab, m)))
        broken_text += honest.strip_comments(workcopy.read(workcopy.broken_of(m)))
    return grading.blind_spots(copy_text, broken_text)


def grading_table():
    from racelab import expected
    return expected.read_dir()


def finish(result, started, args):
    result["passed"] = all(result[v]["pass"] is True for v in ("honest", "safe", "fast"))
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    lab = result["lab"]
    say(f"-- lab {lab} result ({result['elapsed_s']:.0f} s):")
    for name in ("honest", "safe", "fast"):
        v = result[name]
        word = {True: "yes", False: "NO", None: "-"}[v["pass"]]
        say(f"   {name.upper():<7}{word:<4} {v['reason']}")
        for line in v.get("stacks") or []:
            say(f"   {'':<11}| {line}")
        if v.get("hint"):
            say(f"   {'':<11}hint: {v['hint']}")
        for a in v.get("advice") or []:
            say(f"   {'':<11}advice ({a['trials']} trial{'s' if a['trials'] != 1 else ''}, "
                f"not counted): {a['example']}: {a['why']}")
    say(f"   {'PASSED' if result['passed'] else 'not passed yet'}: lab {lab} is "
        + ("HONEST, SAFE and FAST." if result["passed"] else
           "graded again by make grade-" + str(lab) + " after your next change."))
    if result["safe"].get("pass") is not None:
        say(f"   The reference fix, now that you have tried: make answer-{lab}")
    path = Path(args.json) if args.json and not args.all else workcopy.work_dir(lab) / "grade.json"
    write_json(path, result)
    say(f"   (JSON: {scenario.shown(path)})")
    return result


def write_json(path, data):
    write_bytes(path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def write_bytes(path, data):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        records.write_atomically(path, data)
    except OSError as e:
        raise Failure(f"cannot write {scenario.shown(path)}: {e.strerror}") from None


def write_formats(args, result=None, failure=None):
    """--gradescope and --junit, from the result grade.json holds, or, when
    grading stopped (failure: its one line), a result that says so."""
    if args.gradescope:
        data = (gradeformats.gradescope(result) if result is not None else
                gradeformats.gradescope_failure(f"not graded: {failure}", args.lab))
        write_json(Path(args.gradescope), data)
        say(f"   (Gradescope: {scenario.shown(args.gradescope)})")
    if args.junit:
        write_bytes(Path(args.junit), gradeformats.junit(result) if result is not None else
                    gradeformats.junit_failure(f"not graded: {failure}", args.lab))
        say(f"   (JUnit: {scenario.shown(args.junit)})")


def grade_one(args):
    """One lab; the formats are written even when grading stops."""
    try:
        scenario.stress_lab_dir(args.lab)  # a service lab is not graded
        result = grade_lab(args.lab, args)
    except Failure as e:
        write_formats(args, failure=str(e))
        raise
    if result is not None:
        write_formats(args, result)
    return 0 if result is None or result["passed"] else 1


def main(argv=None):
    args = parser().parse_args(argv)
    if args.all == (args.lab is not None):
        raise Failure("give a lab number or --all")
    if not args.all:
        return grade_one(args)
    labs = workcopy.started_labs(scenario.known_labs())
    if not labs:
        raise Failure("no lab started yet: make start-N (or make lab-N) makes a working copy")
    results = []
    for lab in labs:
        result = grade_lab(lab, args)
        if result is not None:
            results.append(result)
            say()
    if args.plan:
        return 0
    passed = [r["lab"] for r in results if r["passed"]]
    say(f"== total: {len(passed)} of {len(results)} started labs HONEST, SAFE and FAST"
        + (f" (labs {', '.join(map(str, passed))})" if passed else ""))
    path = Path(args.json) if args.json else scenario.root() / "work" / "grade.json"
    summary = {"schema": SCHEMA, "passed": len(passed), "graded": len(results), "labs": results}
    write_json(path, summary)
    say(f"   (JSON: {scenario.shown(path)})")
    write_formats(args, summary)
    return 0 if len(passed) == len(results) else 1


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
