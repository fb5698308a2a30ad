"""racelab's one command: `racelab SUBCOMMAND [ARGS]` runs a script's main().

Each subcommand is an entry script of scripts/ (trials.py, report.py, ...),
imported and called with the rest of the command line, so `racelab trials
--lab 1 ...` and `scripts/trials.py --lab 1 ...` are the same program; the
script's messages name it `racelab trials`. The Makefile's targets stay as
they are. The launcher (`racelab` at the top of the tree, or PREFIX/bin/racelab
after `make install`) puts scripts/ on Python's path and calls main() here.
"""

import importlib
import sys

from . import cli

# (subcommand, script module, arguments put first, what it does)
COMMANDS = (
    ("lab", "lab", (), "walk through lab N: the symptom, the detectors' reports, the rates "
                       "(make lab-N, once built)"),
    ("trials", "trials", (), "run a lab's scenario K times under one tool, one record a trial"),
    ("report", "report", (), "rates per lab, build, tool and config against the expected tables; "
                             "--html, --csv"),
    ("check-rates", "check_rates", (), "measure every cell of the labs and check it against "
                                       "its expected table (make check-rates)"),
    ("measure", "check_rates", ("--profile", "full", "--write-expected", "results/expected-new"),
     "check-rates --profile full --write-expected results/expected-new (make measure)"),
    ("pairs", "pairs", (), "true and false positives per tool and lab, judged on the race pair"),
    ("run", "run_program", (), "compile any C program and run it K times under each detector"),
    ("check-pack", "check_pack", (), "run a course pack's programs and check them against its "
                                     "expectations table"),
    ("workcopy", "workcopy", (), "start or reset your working copy of lab N (make start-N, "
                                 "reset-N)"),
    ("grade", "grade", (), "grade your fix of lab N: HONEST, SAFE, FAST (make grade-N)"),
    ("autograder", "autograder", (), "the Gradescope autograder: bundle (make autograder), and "
                                     "run (what its run_autograder does)"),
    ("grade-batch", "grade_batch", (), "grade a folder of submissions (one per student): one "
                                       "CSV of grades and a summary (make grade-batch)"),
    ("answer", "answer", (), "the reference fix of lab N, after your graded attempt "
                             "(make answer-N)"),
    ("grade-selftest", "grade_selftest", (), "grade the catalogue of wrong and right fixes "
                                             "(make grade-selftest)"),
    ("walkthrough", "gdb_walkthrough", (), "a lab's forced interleaving in gdb, live or in batch "
                                           "(make gdb-lab-N, demo-lab-N)"),
    ("war-story", "war_story", (), "the war story over HTTP (make war-story)"),
    ("war-measure", "war_measure", (), "the war story's numbers, measured"),
    ("ledger-check", "ledger_check", (), "does a service's ledger hold exactly what was paid"),
    ("labs", "labs", (), "the lab registry from the manifests: generate, check, tables"),
    ("check-docs", "check_docs", (), "the documents' facts against the tables and sources "
                                     "(make check-docs; --write: make docs)"),
    ("toc", "toc", (), "GUIDE.md's table of contents from its headings"),
    ("twin-diff", "twin_diff", (), "how much of each broken/fixed twin diff is code"),
)

USAGE = "usage: racelab [-h] SUBCOMMAND [ARGS...]"


def help_text():
    width = max(len(c[0]) for c in COMMANDS)
    lines = [USAGE, "",
             "racelab: race conditions reproduced, detected and measured as rates.", "",
             "subcommands (racelab SUBCOMMAND --help for each):"]
    lines += [f"  {name:<{width}}  {what}" for name, _, _, what in COMMANDS]
    lines += ["", "Exit status: the subcommand's; 2 for an unknown subcommand."]
    return "\n".join(lines) + "\n"


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        if len(argv) > 1 and argv[0] == "help":
            return main([argv[1], "--help"])
        (sys.stdout if argv else sys.stderr).write(help_text())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    found = next((c for c in COMMANDS if c[0] == name), None)
    if found is None:
        sys.stderr.write(f"racelab: error: unknown subcommand '{name}' (try racelab --help)\n")
        return 2
    _, module, preset, _ = found
    script = importlib.import_module(module)
    prog = f"racelab {name}"
    if hasattr(script, "PROG"):
        script.PROG = prog  # its usage and error lines then name the subcommand
    return cli.run(prog, script.main, list(preset) + rest)
