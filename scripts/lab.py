#!/usr/bin/env python3
"""lab.py: walk a student through a lab, `make lab-N`.

1. the broken build under the stress driver: the symptom, with numbers;
2. the broken build under ThreadSanitizer (clang, gcc) and Helgrind: the
   first report that points at the lab's race site, trimmed to what a
   student needs;
3. the fixed build, the same way: nothing;
4. this run's rates beside the expected table;
5. what to read next, the student's working copy (made the first time),
   make grade-N, and make answer-N only after that.

Every number printed is counted from this run's trial records, written
under results/lab-N-<time>/ so they can be reported on again later.

On one CPU (racelab/cpus.py: the affinity mask, or the cgroup's quota) the
two threads take turns and a race window is almost never cut, so the
header says so instead of naming a placement that cannot happen, and step
1 runs the broken build in the sched flavour: racelab's own scheduler runs
the threads one at a time and switches at the race points, choosing by
each trial's seed, so the symptom shows and any trial can be replayed
(make replay LAB=N SEED=S).
"""

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from racelab import cli, cpus, records, scenario, sched, stats, tools, tsan, valgrind, workcopy
from racelab.cli import Failure, say, heading
from racelab.frames import trim_stacks

PROG = "lab.py"
HERE = Path(__file__).resolve().parent

# Trials per step: enough to show a rate, few enough for about a minute.
BROKEN = {"stress": 10, "tsan-clang": 3, "tsan-gcc": 3, "helgrind": 3, "sched": 10}
FIXED = {"stress": 5, "tsan-clang": 2, "tsan-gcc": 2, "helgrind": 2, "sched": 5}
WARM_TRIALS = 5
NAMES = {"stress": "the stress driver", "tsan-clang": "ThreadSanitizer (clang)",
         "tsan-gcc": "ThreadSanitizer (gcc)", "helgrind": "Helgrind",
         "sched": "racelab's scheduler"}


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("lab", type=cli.positive_int, help="the lab number")
    p.add_argument("--results", metavar="DIR",
                   help="where this run's records go (default: results/lab-N-<time>)")
    return p


def results_file(scen, lab, build, tool, results, extra=()):
    """The records file trials.py writes for this cell: the scenario's own
    pinning and threads for the tool's profile, plus any --set in extra."""
    config = records.scenario_config(scen, tools.TOOLS[tool].profile, sets=extra[1::2])
    return records.results_file(results, lab, build, tool, config)


def run_trials(scen, lab, build, tool, trials, results, extra=()):
    """Runs trials.py; returns this cell's records and their file."""
    cmd = [sys.executable, str(HERE / "trials.py"), "--lab", str(lab), "--build", build,
           "--tool", tool, "--trials", str(trials), "--results", str(results), "--quiet",
           *extra]
    if build == "broken" and tool != "stress":
        cmd.append("--keep-output")
    proc = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr)
        raise Failure(f"trials.py failed on {build} {tool}")
    path = results_file(scen, lab, build, tool, results, extra)
    return list(records.read(path)), path


def rate_text(recs, key):
    """'k/n (95% CI ...)' over the trials that ran; tool errors (the tool
    itself failed) say nothing about the race, so they are counted apart,
    as report.py does."""
    counted = [r for r in recs if r["outcome"] != "tool-error"]
    errors = len(recs) - len(counted)
    k, n = sum(bool(r[key]) for r in counted), len(counted)
    text = f"{k}/{n} (95% CI {stats.fmt_interval(stats.wilson(k, n))}"
    if errors:
        text += f"; {errors} tool error{'s' if errors > 1 else ''}"
    return text + ")"


def outcomes(recs):
    parts = []
    signals = Counter(r["exit"]["signal"] for r in recs if r["outcome"] == "crash")
    for sig, n in signals.most_common():
        parts.append(f"{n} crashed ({sig})")
    hangs = sum(r["outcome"] == "hang" for r in recs)
    if hangs:
        parts.append(f"{hangs} hung (killed at the {recs[0]['time_limit_s']} s limit)")
    wrong = [r for r in recs if r["outcome"] == "manifested"]
    if wrong:
        parts.append(f"{len(wrong)} finished with broken invariants")
    clean = sum(r["outcome"] == "clean" for r in recs)
    if clean:
        parts.append(f"{clean} looked clean")
    return ", ".join(parts)


def first_violation(record):
    return (record.get("program") or {}).get("first_violation")


def invariant_totals(recs):
    totals = Counter()
    for r in recs:
        for name, value in (r.get("invariants") or {}).items():
            totals[name] += value
    return {k: v for k, v in totals.items() if v}


def show_report(path, tool, race_file):
    """Prints the trimmed report kept at `path` (trials.py --keep-output)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        say("   No trial matched the race site, so there is no report to show.")
        return
    except OSError as e:
        say(f"   Cannot read the kept report {scenario.shown(path)}: {e.strerror or e}.")
        return
    try:
        if tool == "helgrind":
            text = valgrind.trim(data, race_file)
        else:
            text = tsan.trim(data.decode("utf-8", "replace"), race_file)
    except valgrind.ParseError as e:
        say(f"   The kept report {scenario.shown(path)} is not valid XML ({e}), "
            "so there is nothing to show.")
        return
    if text:
        say("   The first report that points at " + race_file + " (trimmed):")
        say("\n".join("   | " + line for line in text.splitlines()))


def main(argv=None):
    args = parser().parse_args(argv)
    lab = args.lab
    scenario.stress_lab_dir(lab)  # a service lab is make lab-N's, not this walk's
    scen = scenario.load(lab)
    title = scen.get("title") or f"lab {lab}"
    results = Path(args.results or scenario.root() / "results" /
                   time.strftime(f"lab-{lab}-%Y%m%dT%H%M%SZ", time.gmtime()))
    if results.exists() and not results.is_dir():
        raise Failure(f"--results {scenario.shown(results)} is a file, not a directory")
    if results.exists() and any(results.iterdir()):
        raise Failure(f"{scenario.shown(results)} is not empty")
    started = time.monotonic()
    threads, pin = scen.get("threads"), scen.get("pinning")
    one_cpu = cpus.one_cpu()
    say(f"racelab lab {lab}: {title}")
    say(placement_line(threads, pin, results, one_cpu))

    if one_cpu and sched_built(lab):
        step_symptom_sched(scen, lab, results)
    else:
        step_symptom(scen, lab, results, one_cpu)
    step_detectors(scen, lab, results)
    step_configs(scen, lab, results)
    step_fixed(scen, lab, results, bool(one_cpu) and sched_built(lab))

    heading("4. This run's rates against the lab's expected.tsv (a few trials: wide intervals)")
    subprocess.run([sys.executable, str(HERE / "report.py"), "--results", str(results),
                    "--lab", str(lab)] + (["--one-cpu"] if one_cpu else []))

    heading("5. Next")
    next_steps(lab)
    say(f"   ({time.monotonic() - started:.0f} s)")
    return 0


def placement_line(threads, pin, results, one_cpu):
    """The header's second line: where the threads run. On one CPU it says
    so (cpus.one_cpu's reason): 'pinned spread' would name a placement
    the driver cannot make there."""
    where = f"records go to {scenario.shown(results)}"
    if one_cpu:
        return f"({one_cpu}: the {threads} threads take turns on it; {where})"
    return f"({threads} threads pinned '{pin}'; {where})"


def extra_words(scen, key):
    return scen.words(key) if scen.get(key) else []


def step_symptom(scen, lab, results, one_cpu=None):
    """1. The broken build under the stress driver, then at each of the
    scenario's extra_stress settings."""
    heading(f"1. The symptom: the broken build ({scen.require('race_file')}) under the "
            "stress driver")
    recs, _ = run_trials(scen, lab, "broken", "stress", BROKEN["stress"], results)
    say(f"   {rate_text(recs, 'manifested')} trials went wrong: {outcomes(recs)}.")
    if one_cpu and not any(r["manifested"] for r in recs):
        say("   On one CPU the threads take turns, and a turn is far longer than the race's "
            "window: the bug is there, the timing to show it is not. The sched flavour "
            f"shows it on one CPU (build {scenario.shown(sched_binary(lab))} with make, "
            "then run this again).")
    last_words = Counter(r["stderr_tail"][-1] for r in recs if r.get("stderr_tail"))
    for words, n in last_words.most_common(3):
        say(f"   {n} x the program's last words: {words}")
    firsts = [first_violation(r) for r in recs if first_violation(r)]
    if firsts:
        say(f"   e.g. {firsts[0]}")
    stuck = next((r for r in recs if (r.get("program") or {}).get("stacks")), None)
    if stuck:
        say(f"   Where the threads of trial {stuck['trial']} were stuck (gdb, trimmed):")
        for line in trim_stacks(stuck["program"]["stacks"]):
            say(f"   | {line}")
    for kv in extra_words(scen, "extra_stress"):
        recs, _ = run_trials(scen, lab, "broken", "stress", WARM_TRIALS, results, ["--set", kv])
        say(f"   With {kv}: {rate_text(recs, 'manifested')} went wrong: {outcomes(recs)}.")
        firsts = [first_violation(r) for r in recs if first_violation(r)]
        if firsts:
            say(f"   e.g. {firsts[0]}")
        totals = invariant_totals(recs)
        if totals:
            say("   invariant counters over those trials: "
                + ", ".join(f"{k} {v}" for k, v in totals.items()))


def sched_binary(lab, build="broken"):
    return sched.binary(build, lab)


def sched_built(lab):
    """Whether both builds of the sched flavour are there for this lab."""
    return sched_binary(lab).is_file() and sched_binary(lab, "fixed").is_file()


def step_symptom_sched(scen, lab, results):
    """1, on one CPU: the broken build in the sched flavour. Its scheduler
    runs one thread at a time and switches where the trial's seed says, at
    the race points too, so the symptom does not wait for two CPUs; every
    trial's interleaving can be replayed from its seed."""
    heading(f"1. The symptom: the broken build ({scen.require('race_file')}) under "
            "racelab's scheduler")
    recs, _ = run_trials(scen, lab, "broken", "sched", BROKEN["sched"], results)
    say(f"   {rate_text(recs, 'manifested')} trials went wrong: {outcomes(recs)}.")
    firsts = [first_violation(r) for r in recs if first_violation(r)]
    if firsts:
        say(f"   e.g. {firsts[0]}")
    say("   One CPU runs one thread at a time, so the interleaving was chosen by racelab's "
        "scheduler: it ran the threads in turn and switched at the race points where each "
        "trial's seed said.")
    wrong = next((r for r in recs if r["manifested"] and sched.schedule_of(r)), None)
    if wrong:
        plan = sched.schedule_of(wrong)
        say(f"   Trial {wrong['trial']} (seed {wrong['seed']}, strategy {plan['strategy']}, "
            f"{plan['steps']} steps) again, the same interleaving and the same broken step:")
        say(f"   make replay LAB={lab} SEED={wrong['seed']}"
            + (f" STRATEGY={plan['strategy']}" if plan["strategy"] != default_strategy(scen)
               else ""))


def default_strategy(scen):
    """The strategy a sched trial runs without --sched: the scenario's."""
    return scen.get("sched_strategy", "sched") or "random"


def step_detectors(scen, lab, results):
    """2. The broken build under each detector, with its first report."""
    race_file = scen.require("race_file")
    heading("2. The broken build under the race detectors")
    for tool in ("tsan-clang", "tsan-gcc", "helgrind"):
        recs, path = run_trials(scen, lab, "broken", tool, BROKEN[tool], results)
        say(f"   {NAMES[tool]}: detected the race at the race site in {rate_text(recs, 'detected')}"
            f" trials ({sum(r['findings_total'] for r in recs)} reports in all).")
        if tool != "tsan-gcc":
            kept = path.with_name(records.report_name(path.name, tools.TOOLS[tool].report))
            show_report(kept, tool, race_file)
            say()


def step_configs(scen, lab, results):
    """2b. The broken build at the scenario's extra_configs, if any."""
    configs = extra_words(scen, "extra_configs")
    if not configs:
        return
    heading("2b. The same, at the lab's other configurations")
    for kv in configs:
        parts = []
        for tool in ("stress", "tsan-clang", "tsan-gcc", "helgrind"):
            recs, _ = run_trials(scen, lab, "broken", tool, BROKEN[tool], results, ["--set", kv])
            key = "manifested" if tool == "stress" else "detected"
            word = "symptom" if tool == "stress" else NAMES[tool]
            parts.append(f"{word} {rate_text(recs, key).split(' (')[0]}")
        say(f"   {kv}: " + "; ".join(parts))


def step_fixed(scen, lab, results, with_sched=False):
    """3. The fixed build, the same ways: nothing should show."""
    heading("3. The fixed build, the same way")
    for tool in ("sched",) * with_sched + ("stress", "tsan-clang", "tsan-gcc", "helgrind"):
        recs, _ = run_trials(scen, lab, "fixed", tool, FIXED[tool], results)
        if tool in tools.NATIVE:
            say(f"   {NAMES[tool]}: invariants broken in {rate_text(recs, 'manifested')} trials.")
        else:
            with_findings = sum(r["findings_total"] > 0 for r in recs)
            say(f"   {NAMES[tool]}: reports in {with_findings}/{len(recs)} trials.")
    for kv in extra_words(scen, "extra_stress"):
        recs, _ = run_trials(scen, lab, "fixed", "stress", WARM_TRIALS, results, ["--set", kv])
        say(f"   {NAMES['stress']} with {kv}: invariants broken in "
            f"{rate_text(recs, 'manifested')} trials.")
    for kv in extra_words(scen, "extra_configs"):
        bad = []
        for tool in ("stress", "tsan-clang", "tsan-gcc", "helgrind"):
            recs, _ = run_trials(scen, lab, "fixed", tool, FIXED[tool], results, ["--set", kv])
            bad.append(sum(r["manifested"] if tool == "stress" else r["findings_total"] > 0
                           for r in recs))
        say(f"   {kv}: {sum(bad)} trials with a violation or a report, of "
            f"{sum(FIXED.values())}.")


def next_steps(lab):
    """The ending: the handout, then the student's own attempt and its
    grading; the reference fix only after that (make answer-N), never here."""
    say(f"   Read {scenario.shown(scenario.lab_dir(lab) / 'README.md')}: the story, how to read "
        "each report, and the questions.")
    # The first lab-N makes the student's working copy (make start-N does too).
    for m, made in workcopy.start(lab):
        say(f"   Your copy is {workcopy.describe(lab, m)}"
            f"{', made just now' if made else ''}: try a fix there.")
    say(f"   Then make grade-{lab} grades it (HONEST, SAFE, FAST), as often as you like.")
    say(f"   After your graded attempt: make answer-{lab} compares it with the reference fix.")


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
