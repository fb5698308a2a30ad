#!/usr/bin/env python3
"""trials.py: run a lab's scenario K times under one tool and record each trial.

The runner turns "this race manifests / this tool sees it" into counts that
stats.py can put an interval on: every trial is one process with its own
seed and time limit, judged by racelab.trial and written as one JSON line.
Everything is validated before the first trial runs, so a typo costs one
line of error and leaves no file behind.
"""

import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from racelab import cli, match, records, scenario, stats, tools, trial
from racelab.cli import Failure

PIN_POLICIES = ("spread", "compact", "same-cpu", "none")
PROG = "trials.py"


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Records are appended to RESULTS/<lab>-<build>-<tool>-<config>.jsonl "
                          "when the run ends (an interrupted run adds nothing). Exit status: "
                          "0 done, 1 done but some trials were tool errors, 2 bad arguments, "
                          "130 interrupted.")
    p.add_argument("--lab", type=cli.positive_int, required=True, help="lab number, e.g. 1")
    p.add_argument("--build", choices=tools.BUILDS, required=True,
                   help="broken (the lab's racy module swapped in), fixed, or student "
                        "(your copy in work/lab-N/, built by make grade-N)")
    p.add_argument("--tool", choices=sorted(tools.TOOLS), required=True,
                   help="stress: invariants only; the others: a race detector")
    p.add_argument("--trials", type=cli.positive_int, required=True, metavar="K",
                   help="how many trials to run")
    p.add_argument("--results", default="results", metavar="DIR",
                   help="where records go (default: results)")
    p.add_argument("--time-limit", type=cli.positive_int, metavar="S",
                   help="seconds per trial before it is a hang (default: the scenario's "
                        "time_limit_s)")
    p.add_argument("--threads", type=cli.positive_int, metavar="N",
                   help="worker threads (default: the scenario's)")
    p.add_argument("--pin", choices=PIN_POLICIES, help="thread placement (default: the scenario's)")
    p.add_argument("--cpus", type=cli.cpu_list, metavar="LIST",
                   help="pin to these CPUs in turn, e.g. 0,2-3 (instead of --pin)")
    p.add_argument("--seed", type=cli.positive_int, metavar="S",
                   help="seed of trial 1; trial k uses S+k-1 (default: random)")
    p.add_argument("--ops", type=cli.positive_int, metavar="N",
                   help="operations per thread per round (default: the scenario's)")
    p.add_argument("--set", action="append", default=[], type=cli.key_value, metavar="KEY=VALUE",
                   dest="sets", help="override one of the lab's own scenario keys, e.g. "
                                     "buckets=65536 (repeatable; named in the config)")
    p.add_argument("--workload", choices=sorted({t.profile for t in tools.TOOLS.values()
                                                  if t.profile}),
                   help="with --tool stress: run the workload of this tool profile (the "
                        "scenario's tsan.*, valgrind.* or sched.* keys), the native run a detector's "
                        "cost is measured against; the config name ends in -PROFILE-workload")
    p.add_argument("--shard", type=cli.shard, metavar="I/N",
                   help="the shard of a sharded check this run belongs to (check_rates.py "
                        "--shard), written in each record; changes nothing else")
    p.add_argument("--quiet", action="store_true", help="no line per trial, only the summary")
    p.add_argument("--keep-output", action="store_true",
                   help="save the tool's raw report of the first matched trial to "
                        "RESULTS/<lab>-<build>-<tool>-<config>.report.txt (or .xml)")
    return p


def check_writable_dir(path):
    """Failure unless `path` is, or can be created as, a writable directory.
    Nothing is created here: that waits until every check has passed."""
    path = Path(path)
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise Failure(f"results directory {path}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise Failure(f"results directory {path} is not writable")


def plan_run(args):
    """Validates everything and returns a trial.Plan; writes nothing."""
    if args.pin and args.cpus:
        raise Failure("--pin and --cpus exclude each other (--cpus pins to a list)")
    scenario.stress_lab_dir(args.lab)  # a service lab has no stress driver
    scen = scenario.load(args.lab)
    tool = tools.TOOLS[args.tool]
    if args.workload:
        if tool.profile:
            raise Failure(f"--workload is for --tool stress; {tool.name} runs its own "
                          f"({tool.profile}) workload")
        tool = tool._replace(profile=args.workload)
    exe = tools.binary(tool, args.build, args.lab)
    if not exe.is_file():
        how = f"make grade-{args.lab} (it builds your copy)" if args.build == "student" else "make"
        raise Failure(f"{scenario.shown(exe)} is missing: run {how}")
    wrapper = tools.wrapper(tool)
    if wrapper and shutil.which(wrapper[0]) is None:
        raise Failure(f"{wrapper[0]} is not installed (scripts/deps.sh lists what is needed)")
    if args.cpus:
        usable = sorted(os.sched_getaffinity(0))
        bad = [c for c in args.cpus if c not in usable]
        if bad:
            raise Failure(f"--cpus: cpu {bad[0]} is not usable here "
                          f"(usable: {','.join(map(str, usable))})")
    time_limit = args.time_limit or scen.number("time_limit_s", tool.profile, int)
    threads = args.threads or scen.number("threads", tool.profile, int)
    pinning = args.pin or scen.require("pinning", tool.profile)
    if not args.cpus and pinning not in PIN_POLICIES:
        raise Failure(f"{scenario.shown(scen.path)}: unknown pinning '{pinning}'")
    race_file = scen.require("race_file")
    try:
        source = (scenario.root() / race_file).read_text(encoding="utf-8")
    except OSError:
        source = None  # race points are a nicety; matching needs only names
    site = match.Site(race_file, scen.words("race_functions"), source)
    check_writable_dir(args.results)
    run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)
    return trial.Plan(
        run=run, lab=args.lab, build=args.build, variant=tools.variant(args.build, args.lab),
        tool=tool, exe=exe.resolve(), scenario=scen.path.resolve(), site=site,
        time_limit_s=time_limit, threads=threads, pinning=pinning, cpus=args.cpus,
        ops=args.ops, quiet=args.quiet,
        config=records.scenario_config(scen, tool.profile, args.pin, args.cpus, args.threads,
                                       args.ops, args.sets, args.workload),
        root=scenario.root(), tmpdir=None, sets=args.sets, shard=args.shard)


def duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m{seconds % 60:02d}s"


def summary(plan, recs, results_file):
    name = stats.metric(plan.build, plan.tool.name)
    counted = [r for r in recs if r["outcome"] != "tool-error"]
    k = sum(stats.success(r, name) for r in counted)
    line = f"lab {plan.lab} {plan.build} {plan.tool.name}: {k}/{len(counted)} {stats.WORDS[name]}"
    line += f" (95% CI {stats.fmt_interval(stats.wilson(k, len(counted)))})"
    outcomes = Counter(r["outcome"] for r in recs)
    if len(outcomes) > 1 or "tool-error" in outcomes:
        line += "; " + ", ".join(f"{n} {o}" for o, n in outcomes.most_common())
    return line + f" -> {scenario.shown(results_file)}"


def interrupted_by_sigterm(signum, frame):
    """SIGTERM (make being stopped, CI cancelling) cleans up like Ctrl-C."""
    raise KeyboardInterrupt


def why(error, path=None):
    """An OSError in a few words, 'Permission denied', not a traceback;
    with `path`, naming the file it was about when that is another one (a
    folder on the way)."""
    text = error.strerror or str(error)
    if path is not None and error.filename and Path(error.filename) != Path(path):
        text = f"{scenario.shown(error.filename)}: {text}"
    return text


def discard(path):
    try:
        path.unlink()
    except OSError:
        pass  # already gone, or never written: nothing to clean up


def main(argv=None):
    args = parser().parse_args(argv)
    plan = plan_run(args)
    results_dir = Path(args.results)
    results_file = records.results_file(results_dir, plan.lab, plan.build, plan.tool.name,
                                        plan.config)
    partial = results_dir / ".partial" / f"{plan.run}.jsonl"
    base_seed = args.seed or secrets.randbelow(2**31 - 1) + 1

    signal.signal(signal.SIGTERM, interrupted_by_sigterm)
    recs, kept, started = [], None, time.monotonic()
    try:
        tmp = tempfile.TemporaryDirectory(prefix="racelab-")
    except OSError as e:
        raise Failure(f"cannot make a temporary directory: {why(e)}") from None
    with tmp as tmpdir:
        plan.tmpdir = tmpdir
        try:
            for number in range(1, args.trials + 1):
                record, raw = trial.run_trial(plan, number, base_seed + number - 1)
                try:
                    if not recs:
                        partial.parent.mkdir(parents=True, exist_ok=True)
                    with open(partial, "a", encoding="utf-8") as out:
                        out.write(records.dumps(record))
                except OSError as e:
                    raise Failure(f"cannot write {scenario.shown(partial)}: "
                                  f"{why(e, partial)}") from None
                recs.append(record)
                if kept is None and record["findings_matched"] and raw is not None:
                    kept = raw
                if not args.quiet:
                    spent = time.monotonic() - started
                    eta = spent / number * (args.trials - number)
                    width = len(str(args.trials))
                    sys.stderr.write(f"[{number:>{width}}/{args.trials}] {plan.tool.name} "
                                     f"{plan.build}: {record['outcome']} "
                                     f"({record['elapsed_s']:.1f}s) eta {duration(eta)}\n")
        except KeyboardInterrupt:
            sys.stderr.write(f"{PROG}: interrupted after {len(recs)}/{args.trials} trials; "
                             f"nothing added to {scenario.shown(results_file)}"
                             + (f" (finished trials are in {scenario.shown(partial)})\n" if recs else "\n"))
            return 130
        except Failure:
            discard(partial)
            raise

    try:
        records.append_atomically(results_file, partial.read_bytes())
    except OSError as e:
        raise Failure(f"cannot add the records to {scenario.shown(results_file)}: {why(e)} "
                      f"(the {len(recs)} finished trials are in "
                      f"{scenario.shown(partial)})") from None
    discard(partial)
    try:
        partial.parent.rmdir()
    except OSError:
        pass  # another run's partial file is still there
    print(summary(plan, recs, results_file), file=sys.stderr)
    if args.keep_output:
        if kept is None:
            sys.stderr.write(f"{PROG}: no trial matched the race site: no report kept\n")
        else:
            report = results_dir / records.report_name(results_file.name, plan.tool.report)
            try:
                records.write_atomically(report, kept)
            except OSError as e:
                raise Failure(f"cannot keep the report in {scenario.shown(report)}: "
                              f"{why(e)}") from None
            sys.stderr.write(f"{PROG}: the first matched report is in {scenario.shown(report)}\n")
    return 1 if any(r["outcome"] == "tool-error" for r in recs) else 0


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
