#!/usr/bin/env python3
"""check_rates.py: measure every cell of a lab and check it against its expected table.

A cell is one (build, tool, configuration): the broken and the fixed build,
each under the stress driver, ThreadSanitizer (clang and gcc), Helgrind and
racelab's scheduler (the sched flavour),
plus the configurations a lab lists in its scenario file: for the stress
driver only (`extra_stress = KEY=VALUE ...`) or for every tool
(`extra_configs = KEY=VALUE ...`). Each cell runs K trials through
trials.py into a fresh results folder, so the check judges this run only;
then report.py compares every measured interval with its expected band and
fails only when the two cannot meet.

Profiles: quick (10 trials a cell, 6 for the Valgrind tools, each lab's
own configuration only: what `make test` runs) and full (50 trials a cell, every configuration:
for re-measuring the expected tables on new hardware, with --write-expected
NEWDIR to write tables (NEWDIR/lab-N-<name>/expected.tsv) for review, never
over a lab's own). --all-configs adds the
extra configurations to a quick run.

A broken-build cell out of its band after its first trials is rerun with
--rerun more trials (40 by default) and judged on all of them: the way
LLVM's lit reruns a racy test, shown in the output and never hidden.
Fixed-build cells, and cells whose band is 0 to 0 by design, are never
rerun: one finding there is a bug; a fixed-build cell with an intended false
positive (metric expected-false-positive, racelab.expected) has a band
measured like a broken build's, and is rerun and explained like one.
--explain prints, without running anything, how often this check fails a
correct build, cell by cell.

--shard I/N measures the I-th of N parts of the plan (racelab.shards says
how the cells are shared, balanced by their expected cost) and writes its
records, each carrying its shard, and the shard's list of cells (shard.json)
into its own results folder; `report.py --check --results DIR1 --results
DIR2 ...` merges the N folders into the one verdict an unsharded run would
give. A trial's seed depends on its cell and its number only (--seed
names the campaign), never on the shard or the order cells ran in, so the
N shards run the same trials as one unsharded run. --list prints the
cells (of the shard) with their trials and seeds, and runs nothing.

On one CPU (an affinity mask of one CPU, `taskset -c 0`, or a cgroup
quota under two CPUs: racelab/cpus.py) a cell whose band holds only where
two threads run at once (a rate that must show, measured with threads
spread across CPUs, or a row whose note says "needs 2 CPUs") is not run:
the report shows it as "needs 2 CPUs here", it fails nothing, and one line
says how many were left out. Every other cell runs: the fixed builds (one
finding is a bug on one CPU too) and the rows measured on one CPU
(same-cpu).

A lab in labs/ (or asked for with --lab) that has no expected table is
refused before anything runs (one line, exit 2): there would be nothing to
check it against.
"""

import subprocess
import sys
import time
from pathlib import Path

from racelab import cli, cpus, expected, records, scenario, shards, stats, tools
from racelab.cells import collect
from racelab.cli import Failure

PROG = "check_rates.py"
PROFILES = {"quick": 10, "full": 50}
# The quick check gives the Valgrind tools 6 trials a cell, not 10: they
# take over half of its time (Helgrind runs one thread at a time, 30 to 90
# times slower than native), and 6 keep the chance of failing a correct
# build below 1 in 1000 (--explain: 0.00026 measured, 0.00062 worst in
# band, against 0.00027 and 0.00064 with 10). Fixed-build cells lose
# power: 6 clean Helgrind trials say less than 10 do.
QUICK_VALGRIND = 6
RERUN = 40
# sched: racelab's scheduler (the sched flavour) runs the threads one at a
# time and picks the interleaving from the trial's seed, so its bands hold
# on one CPU as on many; a trial takes well under a second.
TOOLS = ("stress", "tsan-clang", "tsan-gcc", "helgrind", "sched")
ALL_TOOLS = TOOLS + ("chaos", "drd")
# The rest of the detection matrix (--matrix, and the full profile): DRD,
# the stress driver with both threads on one CPU (which hides short
# races), and the chaos build (delays injected at the race points) on two
# CPUs and on one. Left out of the quick check, which must fit in make
# test's time: DRD alone would add about 12 minutes.
MATRIX = (("stress", ["--pin", "same-cpu"]), ("chaos", []), ("chaos", ["--pin", "same-cpu"]),
          ("drd", []))
HERE = Path(__file__).resolve().parent


def parser():
    p = cli.Parser(prog=PROG, description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                   epilog="Exit status: 0 every cell within its band, 1 a cell out of its band "
                          "(or with tool errors, or with no data), 2 bad arguments.")
    p.add_argument("--lab", type=cli.positive_int, action="append", metavar="N",
                   help="a lab to check (repeatable; default: every lab in labs/, each of "
                        "each of which must have its expected.tsv)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                   help="quick: 10 trials a cell (6 under Valgrind); full: 50 (default: quick)")
    p.add_argument("--trials", type=cli.positive_int, metavar="K",
                   help="trials a cell, instead of the profile's")
    p.add_argument("--tool", choices=ALL_TOOLS, action="append",
                   help="only this tool (repeatable; default: all)")
    p.add_argument("--results", metavar="DIR",
                   help="where the records go (default: results/check-<time>; must be new "
                        "or empty)")
    p.add_argument("--matrix", action="store_true",
                   help="also the rest of the detection matrix: DRD, stress on one CPU "
                        "(same-cpu), the chaos build on two CPUs and on one; the full "
                        "profile always measures them")
    p.add_argument("--cost", action="store_true",
                   help="also the native runs each detector's cost is measured against "
                        "(report.py's cost table); the full profile always runs them, "
                        "the quick check leaves them out to fit in make test")
    p.add_argument("--all-configs", action="store_true",
                   help="also the configurations a scenario lists (extra_stress, "
                        "extra_configs); the full profile always measures them")
    p.add_argument("--rerun", type=cli.non_negative_int, default=RERUN, metavar="K",
                   help=f"trials added to a broken-build cell that is out of its band "
                        f"after its first trials, before it is judged again on all of "
                        f"them (default: {RERUN}; 0: never rerun)")
    p.add_argument("--explain", action="store_true",
                   help="run nothing: print, cell by cell, the chance that this check "
                        "fails a correct build, from the expected tables")
    p.add_argument("--write-expected", metavar="NEWDIR",
                   help="after measuring, write expected tables to NEWDIR for review "
                        "instead of checking")
    p.add_argument("--shard", type=cli.shard, metavar="I/N",
                   help="measure only the I-th of N shares of the cells (balanced by "
                        "cost, the same on every machine); merge the N results folders "
                        "with report.py --results DIR ... --check")
    p.add_argument("--seed", type=cli.positive_int, default=1, metavar="S",
                   help="the campaign's seed: trial k of a cell gets a seed made from S, "
                        "the cell and k alone (default: 1)")
    p.add_argument("--list", action="store_true",
                   help="run nothing: print the cells (of --shard's share), one a line, "
                        "with their trials and first seed")
    return p


def cells(lab, extra=True, matrix=False):
    """[(build, tool, [extra trials.py args])] for one lab: every tool on
    both builds in the scenario's own configuration; with matrix=True also
    the MATRIX cells, and with extra=True also the configurations the
    scenario lists."""
    scen = scenario.load(lab)
    out = [(build, tool, []) for tool in TOOLS for build in ("broken", "fixed")]
    if matrix:
        out += [(build, tool, list(args)) for tool, args in MATRIX for build in ("broken", "fixed")]
    if not extra:
        return out
    for kv in scen.words("extra_stress") if scen.get("extra_stress") else []:
        out += [(build, "stress", ["--set", kv]) for build in ("broken", "fixed")]
    for kv in scen.words("extra_configs") if scen.get("extra_configs") else []:
        out += [(build, tool, ["--set", kv]) for tool in TOOLS if tool != "sched"
                for build in ("broken", "fixed")]
    return out


def with_baselines(plan):
    """The plan plus, after each lab's cells, the native runs its detectors'
    cost is measured against (report.py's cost table): the fixed release
    build under the stress tool, doing the workload of each detector
    profile the plan uses (trials.py --workload), in each configuration.
    Fixed build only: its trials do the whole workload, where a broken
    build's stop at the first symptom or hang until the time limit, so
    their times measure the race, not the tool. No expectation: they are
    not part of the matrix."""
    out = []
    for i, entry in enumerate(plan):
        out.append(entry)
        lab = entry[0]
        if i + 1 < len(plan) and plan[i + 1][0] == lab:
            continue
        seen = []
        for _, build, tool, extra in (e for e in plan if e[0] == lab):
            profile = tools.TOOLS[tool].profile
            base = (lab, "fixed", "stress", extra + ["--workload", profile])
            if build == "fixed" and profile and tool in tools.COSTED and base not in seen:
                seen.append(base)
        out += seen
    return out


def split_one_cpu(plan, args):
    """(the plan's cells to run, those left out, why) where this process
    has one CPU (cpus.one_cpu; why is None elsewhere): a cell whose
    expected row needs two CPUs (cpus.needs_two) is left out, and one line
    says so. A measurement (--write-expected) leaves nothing out and warns."""
    why = cpus.one_cpu()
    if not why:
        return plan, [], None
    if args.write_expected:
        print(f"{why}: the spread cells measured now will not hold on two",
              file=sys.stderr, flush=True)
        return plan, [], why
    table = expected.read_dir()
    run, skipped = [], []
    for entry in plan:
        lab, build, tool, extra = entry
        config = config_of(lab, tool, extra)
        needs = cpus.needs_two(tool, config, table.get((lab, build, tool, config)))
        (skipped if needs else run).append(entry)
    print(f"{why}: {len(skipped)} of {len(plan)} cells need 2 CPUs and are left out "
          f"('needs 2 CPUs here' below)", file=sys.stderr, flush=True)
    return run, skipped, why


def said_skipped(skipped, why):
    """The last line of a one-CPU check: how many cells were not run."""
    if skipped:
        print(f"{len(skipped)} cells need 2 CPUs here and were not run ({why}): "
              f"{', '.join(describe(*e) for e in skipped[:3])}"
              f"{', ...' if len(skipped) > 3 else ''}", file=sys.stderr)


def labs_with_tables():
    """The labs whose folder has its expected table (labs/lab-N-<name>/expected.tsv)."""
    return sorted(lab for lab in scenario.known_labs() if expected.table_path(lab).is_file())


def describe(lab, build, tool, extra):
    return " ".join([f"lab {lab}", build, tool] + extra[1::2])


def config_of(lab, tool, extra):
    """The configuration name trials.py will give this cell's records
    (records.scenario_config, as trials.py names them)."""
    scen = scenario.load(lab)
    args = dict(zip(extra[::2], extra[1::2]))
    sets = [v for k, v in zip(extra[::2], extra[1::2]) if k == "--set"]
    workload = args.get("--workload")  # trials.py runs that profile instead of the tool's
    return records.scenario_config(scen, workload or tools.TOOLS[tool].profile,
                                   args.get("--pin"), sets=sets, workload=workload)


def first_seed(args, lab, build, tool, extra):
    """The seed of a cell's first trial: its name and the campaign's alone
    (racelab.shards.cell_seed), whatever shard or order runs it."""
    return shards.cell_seed(args.seed, lab, build, tool, config_of(lab, tool, extra))


def run_trials(lab, build, tool, extra, trials, results, args, first=1):
    """Runs trials first..first+trials-1 of a cell; trial k's seed is the
    cell's first seed plus k - 1."""
    what = describe(lab, build, tool, extra)
    seed = first_seed(args, lab, build, tool, extra) + first - 1
    cmd = [sys.executable, str(HERE / "trials.py"), "--lab", str(lab), "--build", build,
           "--tool", tool, "--trials", str(trials), "--results", str(results), "--quiet",
           "--seed", str(seed), *extra]
    if args.shard:
        cmd += ["--shard", "/".join(map(str, args.shard))]
    rc = subprocess.run(cmd).returncode
    if rc == 2:
        raise Failure(f"trials.py could not run {what} (see above)")
    if rc not in (0, 1):  # 1: some tool errors, which the report counts
        raise Failure(f"trials.py stopped with exit {rc} on {what}")


def plan_entry(plan, cell):
    """The plan entry that measured a report cell."""
    for entry in plan:
        lab, build, tool, extra = entry
        if (lab, build, tool) == (cell.lab, cell.build, cell.tool) and \
                config_of(lab, tool, extra) == cell.config:
            return entry
    return None


def rerun_out_of_band(plan, results, more, args):
    """Reruns, with `more` trials, every broken-build cell that is out of
    its band and whose band is not 0 to 0 by design; the report then
    judges each on all its trials. Said out loud, so a flaky cell shows."""
    cells = collect(results, expected.tree_dir(), None)
    for cell in cells:
        if cell.verdict != "OUT" or not chancy(cell.build, cell.expected):
            continue
        entry = plan_entry(plan, cell)
        if entry is None:
            continue
        low, high = cell.expected["band"]
        print(f"rerun: {describe(*entry)} was {cell.successes}/{cell.n}, out of its band "
              f"{low:.2f}-{high:.2f}: {more} more trials, then judged on all "
              f"{cell.n + more}", file=sys.stderr, flush=True)
        run_trials(*entry, more, results, args, first=cell.n + cell.tool_errors + 1)


def chancy(build, row):
    """Whether a cell's expectation is a measured rate, where a miss may be
    bad luck (a broken build, or an intended false positive on the fixed
    one) rather than a 0-0 band where one finding is a bug."""
    if row is None or row["band"][1] == 0:
        return False
    return build == "broken" or row["metric"] == stats.EXPECTED_FP


def trials_for(tool, args):
    """Trials a cell of `tool` gets: --trials, else the profile's, except
    the quick profile's Valgrind cells (QUICK_VALGRIND)."""
    if args.trials:
        return args.trials
    if args.profile == "quick" and tools.TOOLS[tool].wrapper[:1] == ("valgrind",):
        return QUICK_VALGRIND
    return PROFILES[args.profile]


def explain(plan, first_for, rerun):
    """Prints, for every broken-build cell in the plan, the chance that the
    check fails a correct build, and the total over cells (a union bound:
    the chance that at least one cell fails is at most the sum).

    Two models of "correct". Measured: the true rate is what the expected
    table's own measurement says it may be (successes out of trials,
    uniform prior). Band edge: the true rate is anywhere in the band,
    taking the worst place for each cell, the strictest reading."""
    table = expected.read_dir()
    firsts = sorted({first_for(tool) for _, _, tool, _ in plan})
    print(f"first {' or '.join(map(str, firsts))} trials a cell (by tool), judged with the "
          f"{stats.CHECK_CONFIDENCE} Wilson interval; out of band: {rerun} more, judged on "
          f"all of them")
    print()
    print("| lab | tool | config | band | measured | P(fail), measured | "
          "P(fail), worst in band |")
    print("|---|---|---|---|---|---|---|")
    total_measured = total_edge = 0.0
    design_zero = missing = 0
    for lab, build, tool, extra in plan:
        config = config_of(lab, tool, extra)
        row = table.get((lab, build, tool, config))
        if build != "broken" and not chancy(build, row):
            continue
        if row is None:
            missing += 1
            continue
        band = row["band"]
        if band[1] == 0:
            design_zero += 1  # one finding is a bug: no chance involved
            continue
        first = first_for(tool)
        measured = stats.check_fails_posterior(band, row["successes"], row["trials"], first,
                                               rerun)
        edge = max(stats.check_fails(band, band[0] + (band[1] - band[0]) * i / 50, first, rerun)
                   for i in range(51))
        total_measured += measured
        total_edge += edge
        print(f"| {lab} | {tool if build == 'broken' else f'{tool} ({build})'} | {config} | "
              f"{band[0]:.2f}-{band[1]:.2f} | "
              f"{row['successes']}/{row['trials']} | {measured:.6f} | {edge:.6f} |")
    print()
    print(f"at most {total_measured:.5f} (about 1 in {1 / max(total_measured, 1e-12):,.0f} runs) "
          f"with the measured rates; at most {total_edge:.5f} (1 in "
          f"{1 / max(total_edge, 1e-12):,.0f}) with every rate at its worst place in its band")
    print(f"({design_zero} broken-build cells with a 0-0 band and every fixed-build cell "
          f"but an intended false positive fail only on a real finding, which is a bug, "
          f"not chance"
          + (f"; {missing} broken-build cells have no expected row yet" if missing else "") + ")")
    return 0


def cell_key(entry):
    """(lab, build, tool, config): a plan entry as its records name it."""
    lab, build, tool, extra = entry
    return (lab, build, tool, config_of(lab, tool, extra))


def share(plan, args):
    """The plan entries of shard args.shard = (I, N), in the plan's order
    (racelab.shards.assign). Every shard must get a cell: N is at most the
    plan's length."""
    index, count = args.shard
    if count > len(plan):
        raise Failure(f"--shard {index}/{count}: only {len(plan)} cells to share; "
                      f"use at most {len(plan)} shards")
    which = shards.assign(plan, count,
                          cost=lambda e: trials_for(e[2], args) * shards.TRIAL_COST[e[2]],
                          name=lambda e: (records.lab_key(e[0]), *cell_key(e)[1:]))
    return [e for e, s in zip(plan, which) if s == index]


def list_plan(plan, args):
    """--list: one line a cell, 'lab build tool config TAB trials TAB first seed'."""
    for entry in plan:
        lab, build, tool, config = cell_key(entry)
        print(f"{lab} {build} {tool} {config}\t{trials_for(tool, args)} trials\t"
              f"seed {first_seed(args, *entry)}")
    return 0


def refuse_newdir(plan, newdir):
    """Failure, before anything runs, when --write-expected NEWDIR cannot
    take the tables of the plan's labs."""
    newdir = Path(newdir)
    if newdir.resolve() == expected.tree_dir().resolve():
        raise Failure("--write-expected must not be labs/ itself: write, review, then copy")
    if newdir.exists() and not newdir.is_dir():
        raise Failure(f"--write-expected {scenario.shown(newdir)} is a file, not a directory")
    # report.py refuses too, but only after the whole measurement has run.
    for lab in sorted({lab for lab, *_ in plan}):
        table = expected.table_path(lab, newdir)
        if table.exists():
            raise Failure(f"{scenario.shown(table)} exists: write to a new directory "
                          "and compare")


def labs_to_run(args):
    """The labs --lab names, else every lab in labs/ (each must have its
    table, unless measuring)."""
    if args.lab:
        labs = args.lab
        for lab in labs:
            scenario.stress_lab_dir(lab)  # Failure for an unknown or a service lab
    elif args.write_expected:  # measuring: a new lab has no table yet
        labs = sorted(scenario.known_labs())
        if not labs:
            raise Failure("no lab to measure: labs/ has no lab-N-<name>/ directory")
    else:
        labs = labs_with_tables()
        if not labs:
            raise Failure("no lab to check: no labs/lab-N-<name>/ has its expected.tsv")
        # Every lab in labs/ is checked: one without a table fails below,
        # rather than being left out of a run that then passes.
        labs = sorted(set(labs) | scenario.known_labs())
    return labs


def main(argv=None):
    args = parser().parse_args(argv)
    labs = labs_to_run(args)
    results = Path(args.results or scenario.root() / "results" /
                   time.strftime("check-%Y%m%dT%H%M%SZ", time.gmtime()))
    if results.exists() and not results.is_dir():
        raise Failure(f"--results {scenario.shown(results)} is a file, not a directory")
    if results.exists() and any(results.iterdir()):
        raise Failure(f"{scenario.shown(results)} is not empty: the check must judge one run")
    if not args.write_expected:
        have = labs_with_tables()
        for lab in labs:
            scenario.stress_lab_dir(lab)  # Failure for an unknown or a service lab
            if lab not in have:
                raise Failure(f"lab {lab} has no expected table "
                              f"({scenario.shown(expected.table_path(lab))}): "
                              f"nothing to check it against; measure it with "
                              f"--write-expected NEWDIR, review, and copy the table in")
    every = args.all_configs or args.profile == "full"
    matrix = args.matrix or args.profile == "full"
    plan = [(lab, *cell) for lab in labs for cell in cells(lab, extra=every, matrix=matrix)
            if not args.tool or cell[1] in args.tool]
    if args.explain:
        return explain(plan, lambda tool: trials_for(tool, args), args.rerun)
    plan, skipped, one_cpu = split_one_cpu(plan, args)
    if args.cost or args.profile == "full":
        plan = with_baselines(plan)
    if args.shard:
        plan = share(plan, args)
    if args.list:
        return list_plan(plan, args)
    if args.write_expected:
        refuse_newdir(plan, args.write_expected)

    if args.shard:
        shards.write(results, *args.shard, [cell_key(e) for e in plan])
    started = time.monotonic()
    for i, (lab, build, tool, extra) in enumerate(plan, 1):
        spent = time.monotonic() - started
        eta = f", about {spent / (i - 1) * (len(plan) - i + 1):.0f} s left" if i > 1 else ""
        trials = trials_for(tool, args)
        print(f"[{i}/{len(plan)}] {describe(lab, build, tool, extra)}: {trials} trials{eta}",
              file=sys.stderr, flush=True)
        run_trials(lab, build, tool, extra, trials, results, args)

    if not args.write_expected and args.rerun:
        rerun_out_of_band(plan, results, args.rerun, args)

    report = [sys.executable, str(HERE / "report.py"), "--results", str(results)]
    if args.write_expected and args.shard:
        # One shard's rates are not a table: the merge writes it.
        print(f"records: {scenario.shown(results)}: shard {args.shard[0]}/{args.shard[1]} of "
              f"a measurement; with the other shards' folders, write the tables with "
              f"report.py --results DIR ... --write-expected {args.write_expected}",
              file=sys.stderr)
        return 0
    if args.write_expected:
        return subprocess.run(report + ["--write-expected", args.write_expected]).returncode
    for lab in labs:
        report += ["--lab", str(lab)] if len(labs) == 1 else []
    print(f"records: {scenario.shown(results)} ({time.monotonic() - started:.0f} s)",
          file=sys.stderr)
    # Every expected cell needs data, unless this run left some out on
    # purpose (a quick run, --tool): then only what was measured is shown.
    partial = not every or args.tool or args.shard
    # The HTML page and the CSV go next to the records they were made from.
    report += ["--html", str(results), "--csv", str(results / "trials.csv")]
    report += (["--part"] if args.shard else []) + (["--one-cpu"] if one_cpu else [])
    rc = subprocess.run(report + ["--check"] + (["--measured-only"] if partial else
                                                ["--require-data"])).returncode
    said_skipped(skipped, one_cpu)
    return rc


if __name__ == "__main__":
    sys.exit(cli.run(PROG, main))
